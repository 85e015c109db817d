"""Where cluster-visible state lives: one protocol, an in-memory and a Redis implementation.

Everything "live" is stored with an explicit ``ttl`` (seconds) and disappears unless renewed, so a
node that dies leaves nothing behind for long. Backends raise :class:`StateUnavailable` (never their
client library's or the OS's errors) when the store cannot be reached; callers keep serving their
local rooms and retry later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from .records import NodeInfo, RoomRecord, SessionRecord


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """The backend's reachability, reported by /health and /ready."""

    kind: str
    healthy: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BackendStatistics:
    """Counters for metrics: failed operations and relay messages dropped for slow subscribers."""

    errors: int
    dropped_messages: int


class StateUnavailable(Exception):
    """The state store could not be reached (or answered nonsense); the operation did not happen."""


class StateBackend(Protocol):
    """Shared state of the cluster (a single node's memory when no Redis is configured).

    Enter it (``async with backend:``) in the server nursery before use; leaving closes its
    connections.
    """

    kind: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def check_health(self) -> BackendHealth:
        """Probe the store; never raises."""
        ...

    def statistics(self) -> BackendStatistics: ...

    # Nodes

    async def register_node(self, info: NodeInfo, ttl: float) -> None:
        """Announce or refresh (heartbeat) a node; it is listed for ``ttl`` seconds."""
        ...

    async def list_nodes(self) -> list[NodeInfo]:
        """The live nodes, sorted by node id."""
        ...

    async def remove_node(self, node_id: str) -> None: ...

    # Rooms

    async def claim_room(self, name: str, node_id: str, ttl: float) -> str:
        """Claim ``name`` for ``node_id`` unless another node owns it; return the owner.

        Claiming a room the node already owns renews the claim.
        """
        ...

    async def renew_room(self, name: str, node_id: str, ttl: float) -> bool:
        """Extend the claim if ``node_id`` still owns the room; False if it does not."""
        ...

    async def release_room(self, name: str, node_id: str) -> None:
        """Drop the claim if ``node_id`` owns it (another node's claim is left alone)."""
        ...

    async def room_owner(self, name: str) -> str | None: ...

    async def put_room(self, record: RoomRecord, ttl: float) -> None:
        """Publish (or refresh) the room's listing for ``ttl`` seconds."""
        ...

    async def list_rooms(self) -> list[RoomRecord]:
        """The live rooms of the whole cluster, sorted by name."""
        ...

    async def delete_room_record(self, name: str) -> None: ...

    # Sessions

    async def save_session(self, record: SessionRecord, ttl: float) -> None: ...

    async def load_session(self, session_id: str) -> SessionRecord | None: ...

    async def delete_session(self, session_id: str) -> None: ...

    # Relay between nodes

    async def publish(self, channel: str, payload: bytes) -> int:
        """Deliver ``payload`` to the current subscribers of ``channel``; how many received it.

        None (0) means the message is dropped: the relay uses this to notice a peer node that no
        longer listens.
        """
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Receive what is published to ``channel`` from the moment the context is entered.

        With Redis, losing the connection ends the context with :class:`StateUnavailable`;
        subscribe again once the store is back.
        """
        ...
