"""The Redis state backend (coredis, which runs on Trio through anyio).

Key names and expiries are documented in :mod:`sfu_trio.state.keys`. Every operation that must not
interleave with another node's (claims, renewals, indexed writes) is one Lua script, so it is
atomic on the server. Listings use a per-record key with an expiry plus a sorted-set index whose
scores are the records' deadlines on the Redis clock, pruned on every write and read: nothing grows
without bound, and no node's clock matters.

Errors: any failure to reach Redis, a timeout, or an unexpected reply becomes
:class:`StateUnavailable`; the client reconnects by itself on the next call once Redis is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import coredis
import trio
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from coredis.connection import TCPConnection
from coredis.exceptions import RedisError
from coredis.retry import NoRetryPolicy
from coredis.typing import ResponseType

from . import redis_scripts as scripts
from .backend import BackendHealth, BackendStatistics, StateUnavailable
from .keys import DEFAULT_PREFIX, KeySpace, ttl_to_ms
from .records import (
    NodeInfo,
    Record,
    RecordDecodeError,
    RoomRecord,
    SessionRecord,
    decode_record,
    encode_record,
)

OPERATION_TIMEOUT = 2.0
"""Seconds one operation may take before it fails with StateUnavailable."""

HEALTH_TIMEOUT = 1.0
"""Seconds a health probe waits for PONG (/health must answer quickly)."""

_FAILURES = (RedisError, OSError, TimeoutError)


class _TCPConnection(TCPConnection):
    """coredis's TCP connection, closing its memory streams when a connection attempt fails.

    coredis 6.9 leaves them to the garbage collector, whose ResourceWarnings then surface in
    whatever code (or test) runs at that moment; closing twice is harmless.
    """

    async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            for value in list(vars(self).values()):
                if isinstance(value, MemoryObjectSendStream | MemoryObjectReceiveStream):
                    value.close()


def redis_url(address: str) -> str:
    """``host:port`` or a ``redis://`` / ``rediss://`` URL, as a URL."""
    return address if "://" in address else f"redis://{address}"


def _only_failures(group: BaseExceptionGroup[BaseException]) -> bool:
    _matched, rest = group.split(_FAILURES)
    return rest is None


def _is_failure(error: BaseException) -> bool:
    """Whether ``error`` is, or a group holding, a failure to talk to Redis."""
    if isinstance(error, BaseExceptionGroup):
        matched, _rest = error.split(_FAILURES)
        return matched is not None
    return isinstance(error, _FAILURES)


def _single_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class RedisStateBackend:
    """Cluster state in Redis. Enter it (``async with backend:``) before use."""

    kind = "redis"

    def __init__(
        self,
        client: coredis.Redis[bytes],
        *,
        prefix: str = DEFAULT_PREFIX,
        operation_timeout: float = OPERATION_TIMEOUT,
        description: str = "redis",
    ) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._operation_timeout = operation_timeout
        self._description = description
        self._errors = 0
        self._claim = client.register_script(scripts.CLAIM)
        self._renew = client.register_script(scripts.RENEW)
        self._release = client.register_script(scripts.RELEASE)
        self._put_indexed = client.register_script(scripts.PUT_INDEXED)
        self._list_indexed = client.register_script(scripts.LIST_INDEXED)
        self._delete_indexed = client.register_script(scripts.DELETE_INDEXED)

    @classmethod
    def from_address(
        cls,
        address: str,
        *,
        password: str | None = None,
        db: int = 0,
        prefix: str = DEFAULT_PREFIX,
        operation_timeout: float = OPERATION_TIMEOUT,
    ) -> RedisStateBackend:
        """A backend for ``REDIS_ADDR`` (``host:port`` or ``redis://...``), password and db."""
        url = redis_url(address)
        options: dict[str, Any] = {"connect_timeout": operation_timeout / 2}
        if password is not None:
            options["password"] = password
        client: coredis.Redis[bytes] = coredis.Redis.from_url(url, db=db, **options)
        if client.connection_pool.connection_class is TCPConnection:
            client.connection_pool.connection_class = _TCPConnection
        parts = urlsplit(url)
        description = f"redis {parts.hostname}:{parts.port or 6379}"
        return cls(
            client, prefix=prefix, operation_timeout=operation_timeout, description=description
        )

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    @property
    def keys(self) -> KeySpace:
        return self._keys

    async def check_health(self) -> BackendHealth:
        try:
            with self._guard("ping", min(HEALTH_TIMEOUT, self._operation_timeout)):
                await self._client.ping()
        except StateUnavailable as exc:
            return BackendHealth(kind=self.kind, healthy=False, detail=str(exc))
        return BackendHealth(kind=self.kind, healthy=True, detail=self._description)

    def statistics(self) -> BackendStatistics:
        return BackendStatistics(errors=self._errors, dropped_messages=0)

    # Nodes

    async def register_node(self, info: NodeInfo, ttl: float) -> None:
        key = self._keys.node(info.node_id)
        await self._put("register_node", key, self._keys.nodes_index, info.node_id, info, ttl)

    async def list_nodes(self) -> list[NodeInfo]:
        nodes = await self._list("list_nodes", self._keys.nodes_index, self._keys.node, NodeInfo)
        return sorted(nodes, key=lambda info: info.node_id)

    async def remove_node(self, node_id: str) -> None:
        keys = [self._keys.node(node_id), self._keys.nodes_index]
        with self._guard("remove_node"):
            await self._delete_indexed(keys=keys, args=[node_id])

    # Rooms

    async def claim_room(self, name: str, node_id: str, ttl: float) -> str:
        ttl_ms = ttl_to_ms(ttl)
        with self._guard("claim_room"):
            owner: ResponseType = await self._claim(
                keys=[self._keys.room_owner(name)], args=[node_id, ttl_ms]
            )
        if not isinstance(owner, bytes):
            raise self._unavailable("claim_room", f"unexpected reply {owner!r}")
        return owner.decode()

    async def renew_room(self, name: str, node_id: str, ttl: float) -> bool:
        ttl_ms = ttl_to_ms(ttl)
        with self._guard("renew_room"):
            renewed: ResponseType = await self._renew(
                keys=[self._keys.room_owner(name)], args=[node_id, ttl_ms]
            )
        return bool(renewed == 1)

    async def release_room(self, name: str, node_id: str) -> None:
        with self._guard("release_room"):
            await self._release(keys=[self._keys.room_owner(name)], args=[node_id])

    async def room_owner(self, name: str) -> str | None:
        with self._guard("room_owner"):
            owner = await self._client.get(self._keys.room_owner(name))
        return None if owner is None else owner.decode()

    async def put_room(self, record: RoomRecord, ttl: float) -> None:
        key = self._keys.room(record.name)
        await self._put("put_room", key, self._keys.rooms_index, record.name, record, ttl)

    async def list_rooms(self) -> list[RoomRecord]:
        rooms = await self._list("list_rooms", self._keys.rooms_index, self._keys.room, RoomRecord)
        return sorted(rooms, key=lambda record: record.name)

    async def delete_room_record(self, name: str) -> None:
        keys = [self._keys.room(name), self._keys.rooms_index]
        with self._guard("delete_room_record"):
            await self._delete_indexed(keys=keys, args=[name])

    # Sessions

    async def save_session(self, record: SessionRecord, ttl: float) -> None:
        ttl_ms = ttl_to_ms(ttl)
        with self._guard("save_session"):
            await self._client.set(
                self._keys.session(record.session_id), encode_record(record), px=ttl_ms
            )

    async def load_session(self, session_id: str) -> SessionRecord | None:
        with self._guard("load_session"):
            data = await self._client.get(self._keys.session(session_id))
        return None if data is None else self._decode(SessionRecord, data)

    async def delete_session(self, session_id: str) -> None:
        with self._guard("delete_session"):
            await self._client.delete([self._keys.session(session_id)])

    # Relay

    async def publish(self, channel: str, payload: bytes) -> int:
        with self._guard("publish"):
            receivers = await self._client.publish(self._keys.channel(channel), payload)
        return int(receivers)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        # coredis runs the subscription in a task group: a lost connection cancels our body and
        # comes out as an exception group, as does any exception the body raises; the body's own
        # exception is passed on as itself.
        pubsub = self._client.pubsub(
            channels=[self._keys.channel(channel)],
            ignore_subscribe_messages=True,
            retry_policy=NoRetryPolicy(),
            subscription_timeout=self._operation_timeout,
            max_idle_seconds=5,
        )
        body_error: BaseException | None = None
        try:
            async with pubsub:
                try:
                    yield _Payloads(pubsub)
                except BaseException as exc:
                    body_error = exc
                    raise
        except BaseException as exc:
            if body_error is not None and not isinstance(body_error, trio.Cancelled):
                if exc is body_error:
                    raise
                raise body_error from None
            if _is_failure(exc):
                raise self._unavailable("subscribe", str(_single_leaf(exc))) from exc
            raise

    # Helpers

    async def _put(
        self,
        operation: str,
        key: str,
        index: str,
        member: str,
        record: NodeInfo | RoomRecord,
        ttl: float,
    ) -> None:
        args: list[str | bytes | int] = [member, encode_record(record), ttl_to_ms(ttl)]
        with self._guard(operation):
            await self._put_indexed(keys=[key, index], args=args)

    async def _list(
        self, operation: str, index: str, record_key: Callable[[str], str], cls: type[Record]
    ) -> list[Record]:
        with self._guard(operation):
            members: ResponseType = await self._list_indexed(keys=[index])
            if not isinstance(members, Sequence) or not members:
                return []
            names = [member.decode() for member in members if isinstance(member, bytes)]
            values = await self._client.mget([record_key(name) for name in names])
        records = []
        for data in values:
            if data is not None and (record := self._decode(cls, data)) is not None:
                records.append(record)
        return records

    def _decode(self, cls: type[Record], data: bytes) -> Record | None:
        try:
            return decode_record(cls, data)
        except RecordDecodeError:
            self._errors += 1
            return None

    @contextmanager
    def _guard(self, operation: str, timeout: float | None = None) -> Iterator[None]:
        seconds = self._operation_timeout if timeout is None else timeout
        try:
            with trio.fail_after(seconds):
                yield
        except trio.TooSlowError as exc:
            raise self._unavailable(operation, f"no reply within {seconds} s") from exc
        except _FAILURES as exc:
            raise self._unavailable(operation, str(exc) or type(exc).__name__) from exc
        except BaseExceptionGroup as group:
            if _only_failures(group):
                raise self._unavailable(operation, str(_single_leaf(group))) from group
            raise

    def _unavailable(self, operation: str, reason: str) -> StateUnavailable:
        self._errors += 1
        return StateUnavailable(f"{self._description}: {operation} failed: {reason}")


class _Payloads:
    """The payloads of a subscription's messages, as an async iterator."""

    def __init__(self, pubsub: coredis.patterns.pubsub.PubSub[bytes]) -> None:
        self._pubsub = pubsub

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        while True:
            message = await self._pubsub.get_message()
            if message is not None and message["type"] == "message":
                data = message["data"]
                if isinstance(data, bytes):
                    return data
