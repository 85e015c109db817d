"""The embedded state backend: this node is the whole cluster, nothing to reach."""

from __future__ import annotations

import heapq
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Generic, Self, TypeVar

import trio

from .backend import BackendHealth, BackendStatistics
from .keys import ttl_to_ms
from .records import NodeInfo, RoomRecord, SessionRecord

Value = TypeVar("Value")

SUBSCRIBER_BUFFER = 1024
"""Relay messages queued per subscriber before further ones are dropped (and counted)."""


class ExpiringMap(Generic[Value]):
    """A dict whose entries vanish at their deadline; expired entries are pruned on every access.

    A heap of deadlines makes pruning O(log n) per expired entry; a renewed entry leaves a stale
    heap item behind that is discarded when its (old) deadline passes.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[Value, float]] = {}
        self._deadlines: list[tuple[float, str]] = []

    def __len__(self) -> int:
        self._prune()
        return len(self._entries)

    def heap_size(self) -> int:
        """Pending deadlines, stale ones included (for tests of bounded growth)."""
        self._prune()
        return len(self._deadlines)

    def set(self, key: str, value: Value, ttl: float) -> None:
        deadline = self._clock() + ttl_to_ms(ttl) / 1000
        self._entries[key] = (value, deadline)
        heapq.heappush(self._deadlines, (deadline, key))
        self._prune()

    def get(self, key: str) -> Value | None:
        self._prune()
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def extend(self, key: str, ttl: float) -> None:
        """Move the deadline of an existing entry ``ttl`` seconds from now."""
        value = self.get(key)
        if value is not None:
            self.set(key, value, ttl)

    def pop(self, key: str) -> Value | None:
        self._prune()
        entry = self._entries.pop(key, None)
        return None if entry is None else entry[0]

    def values(self) -> Iterator[Value]:
        self._prune()
        return (value for value, _deadline in list(self._entries.values()))

    def _prune(self) -> None:
        now = self._clock()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is not None and entry[1] <= deadline:
                del self._entries[key]


class MemoryStateBackend:
    """State kept in this process; always healthy. A single-node "cluster".

    ``clock`` (seconds, monotonic) decides expiry, so tests can advance time by hand.
    """

    kind = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        subscriber_buffer: int = SUBSCRIBER_BUFFER,
    ) -> None:
        self._nodes = ExpiringMap[NodeInfo](clock)
        self._owners = ExpiringMap[str](clock)
        self._rooms = ExpiringMap[RoomRecord](clock)
        self._sessions = ExpiringMap[SessionRecord](clock)
        self._subscriber_buffer = subscriber_buffer
        self._subscribers: dict[str, set[trio.MemorySendChannel[bytes]]] = {}
        self._dropped_messages = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def check_health(self) -> BackendHealth:
        return BackendHealth(kind=self.kind, healthy=True, detail="embedded")

    def statistics(self) -> BackendStatistics:
        return BackendStatistics(errors=0, dropped_messages=self._dropped_messages)

    def stored_entries(self) -> int:
        """Live entries of every kind (for tests that check nothing grows forever)."""
        maps = (self._nodes, self._owners, self._rooms, self._sessions)
        return sum(len(entries) for entries in maps)

    # Nodes

    async def register_node(self, info: NodeInfo, ttl: float) -> None:
        self._nodes.set(info.node_id, info, ttl)

    async def list_nodes(self) -> list[NodeInfo]:
        return sorted(self._nodes.values(), key=lambda info: info.node_id)

    async def remove_node(self, node_id: str) -> None:
        self._nodes.pop(node_id)

    # Rooms

    async def claim_room(self, name: str, node_id: str, ttl: float) -> str:
        ttl_to_ms(ttl)
        owner = self._owners.get(name)
        if owner is None or owner == node_id:
            self._owners.set(name, node_id, ttl)
            return node_id
        return owner

    async def renew_room(self, name: str, node_id: str, ttl: float) -> bool:
        ttl_to_ms(ttl)
        if self._owners.get(name) != node_id:
            return False
        self._owners.extend(name, ttl)
        return True

    async def release_room(self, name: str, node_id: str) -> None:
        if self._owners.get(name) == node_id:
            self._owners.pop(name)

    async def room_owner(self, name: str) -> str | None:
        return self._owners.get(name)

    async def put_room(self, record: RoomRecord, ttl: float) -> None:
        self._rooms.set(record.name, record, ttl)

    async def list_rooms(self) -> list[RoomRecord]:
        return sorted(self._rooms.values(), key=lambda record: record.name)

    async def delete_room_record(self, name: str) -> None:
        self._rooms.pop(name)

    # Sessions

    async def save_session(self, record: SessionRecord, ttl: float) -> None:
        self._sessions.set(record.session_id, record, ttl)

    async def load_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def delete_session(self, session_id: str) -> None:
        self._sessions.pop(session_id)

    # Relay

    async def publish(self, channel: str, payload: bytes) -> int:
        receivers = 0
        for send_channel in list(self._subscribers.get(channel, ())):
            try:
                send_channel.send_nowait(payload)
                receivers += 1
            except trio.WouldBlock:
                receivers += 1
                self._dropped_messages += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._unsubscribe(channel, send_channel)
        await trio.lowlevel.checkpoint()
        return receivers

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        send_channel, receive_channel = trio.open_memory_channel[bytes](self._subscriber_buffer)
        self._subscribers.setdefault(channel, set()).add(send_channel)
        try:
            async with receive_channel:
                yield receive_channel
        finally:
            self._unsubscribe(channel, send_channel)
            send_channel.close()

    def _unsubscribe(self, channel: str, send_channel: trio.MemorySendChannel[bytes]) -> None:
        subscribers = self._subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(send_channel)
            if not subscribers:
                del self._subscribers[channel]
