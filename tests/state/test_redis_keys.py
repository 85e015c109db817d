"""The Redis backend's keys as stored: names, expiries (PTTL), pruned indexes, namespacing, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import coredis
import pytest
import trio

from sfu_trio.state.keys import KeySpace, node_channel
from sfu_trio.state.records import encode_record
from sfu_trio.state.redis import RedisStateBackend, redis_url

from .conftest import RedisServer, start_redis, unique_prefix
from .test_contract import node, room, session


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[coredis.Redis[bytes]]:
    """A plain client on the session's redis-server, to look at what the backend stored."""
    client: coredis.Redis[bytes] = coredis.Redis(host="127.0.0.1", port=redis_server.port)
    async with client:
        yield client


@pytest.fixture
async def backend(redis_server: RedisServer) -> AsyncIterator[RedisStateBackend]:
    backend = RedisStateBackend.from_address(redis_server.address, prefix=unique_prefix())
    async with backend:
        yield backend


async def pttl(raw: coredis.Redis[bytes], key: str) -> int:
    return await raw.pttl(key)


async def keys_under(raw: coredis.Redis[bytes], prefix: str) -> set[str]:
    return {key.decode() async for key in raw.scan_iter(match=f"{prefix}*")}


def test_key_names() -> None:
    keys = KeySpace("p:")
    assert keys.node("n1") == "p:node:n1"
    assert keys.nodes_index == "p:index:nodes"
    assert keys.room_owner("a:b") == "p:owner:a:b"
    assert keys.room("a:b") == "p:room:a:b"
    assert keys.rooms_index == "p:index:rooms"
    assert keys.session("s1") == "p:session:s1"
    assert keys.channel(node_channel("n1")) == "p:relay:node:n1"
    assert KeySpace().node("n1") == "sfu:node:n1"


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("10.0.0.5:6380", "redis://10.0.0.5:6380"),
        ("redis://:pw@cache:6379/2", "redis://:pw@cache:6379/2"),
        ("rediss://cache:6380", "rediss://cache:6380"),
    ],
)
def test_redis_url(address: str, url: str) -> None:
    assert redis_url(address) == url


async def test_every_key_is_namespaced_and_expires(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    keys = backend.keys
    await backend.register_node(node("node-a"), 5)
    await backend.claim_room("demo", "node-a", 10)
    await backend.put_room(room("demo"), 15)
    await backend.save_session(session("s1"), 120)

    assert await keys_under(raw, keys.prefix) == {
        keys.node("node-a"),
        keys.nodes_index,
        keys.room_owner("demo"),
        keys.room("demo"),
        keys.rooms_index,
        keys.session("s1"),
    }
    assert 4000 < await pttl(raw, keys.node("node-a")) <= 5000
    assert 4000 < await pttl(raw, keys.nodes_index) <= 5000
    assert 9000 < await pttl(raw, keys.room_owner("demo")) <= 10000
    assert 14000 < await pttl(raw, keys.room("demo")) <= 15000
    assert 14000 < await pttl(raw, keys.rooms_index) <= 15000
    assert 119000 < await pttl(raw, keys.session("s1")) <= 120000

    assert await raw.get(keys.node("node-a")) == encode_record(node("node-a"))
    assert await raw.get(keys.room_owner("demo")) == b"node-a"
    assert await raw.get(keys.room("demo")) == encode_record(room("demo"))
    assert await raw.get(keys.session("s1")) == encode_record(session("s1"))


async def test_heartbeat_and_renewal_reset_the_expiry(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    keys = backend.keys
    await backend.register_node(node("node-a"), 1)
    await backend.register_node(node("node-a"), 30)
    assert 29000 < await pttl(raw, keys.node("node-a")) <= 30000
    await backend.claim_room("demo", "node-a", 1)
    assert await backend.renew_room("demo", "node-a", 20) is True
    assert 19000 < await pttl(raw, keys.room_owner("demo")) <= 20000
    assert await backend.renew_room("demo", "node-b", 60) is False
    assert 19000 < await pttl(raw, keys.room_owner("demo")) <= 20000


async def test_index_expiry_follows_its_longest_lived_member(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    await backend.put_room(room("long"), 60)
    await backend.put_room(room("short"), 1)
    assert 59000 < await pttl(raw, backend.keys.rooms_index) <= 60000


async def test_listing_prunes_index_entries_past_their_deadline(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    keys = backend.keys
    await backend.register_node(node("node-live"), 30)
    # a node that died: its record expired and its index deadline is in the past
    await raw.zadd(keys.nodes_index, {"node-dead": 1})
    assert await raw.zcard(keys.nodes_index) == 2
    assert await backend.list_nodes() == [node("node-live")]
    assert await raw.zcard(keys.nodes_index) == 1


async def test_index_entry_without_record_is_skipped(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    await backend.put_room(room("kept"), 30)
    await backend.put_room(room("vanished"), 30)
    await raw.delete([backend.keys.room("vanished")])
    assert await backend.list_rooms() == [room("kept")]


async def test_corrupt_records_are_skipped_and_counted(
    backend: RedisStateBackend, raw: coredis.Redis[bytes]
) -> None:
    keys = backend.keys
    await backend.put_room(room("good"), 30)
    await backend.put_room(room("bad"), 30)
    await raw.set(keys.room("bad"), b"{not json", px=30000)
    await raw.set(keys.session("s1"), b'{"session_id": 1}', px=30000)
    assert await backend.list_rooms() == [room("good")]
    assert await backend.load_session("s1") is None
    assert backend.statistics().errors == 2


async def test_prefixes_keep_clusters_apart(redis_server: RedisServer) -> None:
    first = RedisStateBackend.from_address(redis_server.address, prefix=unique_prefix())
    second = RedisStateBackend.from_address(redis_server.address, prefix=unique_prefix())
    async with first, second:
        await first.register_node(node("node-a"), 30)
        await first.put_room(room("demo"), 30)
        assert await first.claim_room("demo", "node-a", 30) == "node-a"
        assert await second.list_nodes() == []
        assert await second.list_rooms() == []
        assert await second.claim_room("demo", "node-b", 30) == "node-b"
        async with first.subscribe("relay") as heard_by_first:
            await second.publish("relay", b"second's")
            await first.publish("relay", b"first's")
            with trio.fail_after(5):
                assert await anext(heard_by_first) == b"first's"


async def test_password_and_database_are_used(redis_executable: str) -> None:
    server = start_redis(redis_executable, "--requirepass", "s3cret")
    try:
        prefix = unique_prefix()
        backend = RedisStateBackend.from_address(
            server.address, password="s3cret", db=3, prefix=prefix
        )
        async with backend:
            assert (await backend.check_health()).healthy is True
            await backend.put_room(room("demo"), 30)
        url_backend = RedisStateBackend.from_address(
            f"redis://:s3cret@{server.address}/3", prefix=prefix
        )
        async with url_backend:
            assert await url_backend.list_rooms() == [room("demo")]
        raw: coredis.Redis[bytes] = coredis.Redis(
            host="127.0.0.1", port=server.port, password="s3cret", db=3
        )
        async with raw:
            assert await raw.exists([backend.keys.room("demo")]) == 1
        wrong = RedisStateBackend.from_address(server.address, password="wrong", prefix=prefix)
        async with wrong:
            health = await wrong.check_health()
            assert health.healthy is False
            assert "ping failed" in health.detail
    finally:
        server.stop()
