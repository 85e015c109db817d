"""Where cluster-visible state lives: one protocol, an in-memory and a Redis implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """The backend's reachability, reported by /health and /ready."""

    kind: str
    healthy: bool
    detail: str = ""


class StateBackend(Protocol):
    """Shared state of the cluster (a single node's memory when no Redis is configured)."""

    kind: str

    async def check_health(self) -> BackendHealth: ...
