"""The embedded state backend: this node is the whole cluster, nothing to reach."""

from __future__ import annotations

from .backend import BackendHealth


class MemoryStateBackend:
    """State kept in this process; always healthy."""

    kind = "memory"

    async def check_health(self) -> BackendHealth:
        return BackendHealth(kind=self.kind, healthy=True, detail="embedded")
