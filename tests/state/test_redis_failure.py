"""Redis going away and coming back: StateUnavailable, unhealthy, then recovery in place."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trio

from sfu_trio.state.backend import StateUnavailable
from sfu_trio.state.redis import RedisStateBackend

from .conftest import RedisServer, unique_prefix
from .test_contract import node, room, session

Operation = Callable[[RedisStateBackend], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "register_node": lambda b: b.register_node(node("node-a"), 5),
    "list_nodes": lambda b: b.list_nodes(),
    "remove_node": lambda b: b.remove_node("node-a"),
    "claim_room": lambda b: b.claim_room("demo", "node-a", 5),
    "renew_room": lambda b: b.renew_room("demo", "node-a", 5),
    "release_room": lambda b: b.release_room("demo", "node-a"),
    "room_owner": lambda b: b.room_owner("demo"),
    "put_room": lambda b: b.put_room(room("demo"), 5),
    "list_rooms": lambda b: b.list_rooms(),
    "delete_room_record": lambda b: b.delete_room_record("demo"),
    "save_session": lambda b: b.save_session(session("s1"), 5),
    "load_session": lambda b: b.load_session("s1"),
    "delete_session": lambda b: b.delete_session("s1"),
    "publish": lambda b: b.publish("channel", b"payload"),
}


async def restart(server: RedisServer) -> None:
    await trio.to_thread.run_sync(server.start)


@pytest.fixture
async def backend(own_redis_server: RedisServer) -> AsyncIterator[RedisStateBackend]:
    backend = RedisStateBackend.from_address(
        own_redis_server.address, prefix=unique_prefix(), operation_timeout=1.0
    )
    async with backend:
        yield backend


@pytest.mark.parametrize("name", sorted(OPERATIONS))
async def test_every_operation_raises_state_unavailable(
    backend: RedisStateBackend, own_redis_server: RedisServer, name: str
) -> None:
    await backend.register_node(node("node-a"), 5)
    own_redis_server.stop()
    with trio.fail_after(5), pytest.raises(StateUnavailable, match=name.split("_")[0]) as info:
        await OPERATIONS[name](backend)
    assert own_redis_server.address in str(info.value)
    assert backend.statistics().errors == 1


async def test_health_goes_unhealthy_then_recovers(
    backend: RedisStateBackend, own_redis_server: RedisServer
) -> None:
    healthy = await backend.check_health()
    assert (healthy.kind, healthy.healthy, healthy.detail) == (
        "redis",
        True,
        f"redis {own_redis_server.address}",
    )
    own_redis_server.stop()
    with trio.fail_after(5):
        down = await backend.check_health()
    assert (down.kind, down.healthy) == ("redis", False)
    assert "ping failed" in down.detail
    assert backend.statistics().errors == 1

    await restart(own_redis_server)
    assert await backend.check_health() == healthy


async def test_node_registers_again_after_restart(
    backend: RedisStateBackend, own_redis_server: RedisServer
) -> None:
    await backend.register_node(node("node-a"), 30)
    await backend.claim_room("demo", "node-a", 30)
    own_redis_server.stop()
    with pytest.raises(StateUnavailable):
        await backend.register_node(node("node-a"), 30)

    await restart(own_redis_server)
    # The restarted server kept nothing (no persistence): the heartbeat puts the node back, and
    # the room is claimed again (the Lua scripts are reloaded into the empty script cache).
    assert await backend.list_nodes() == []
    await backend.register_node(node("node-a"), 30)
    assert await backend.list_nodes() == [node("node-a")]
    assert await backend.claim_room("demo", "node-a", 30) == "node-a"


async def test_backend_entered_while_redis_is_down_works_once_it_is_up(
    own_redis_server: RedisServer,
) -> None:
    own_redis_server.stop()
    backend = RedisStateBackend.from_address(own_redis_server.address, prefix=unique_prefix())
    async with backend:
        assert (await backend.check_health()).healthy is False
        with pytest.raises(StateUnavailable):
            await backend.list_rooms()
        await restart(own_redis_server)
        assert (await backend.check_health()).healthy is True
        await backend.put_room(room("demo"), 30)
        assert await backend.list_rooms() == [room("demo")]


async def test_subscribe_while_down_raises_state_unavailable(
    backend: RedisStateBackend, own_redis_server: RedisServer
) -> None:
    own_redis_server.stop()
    with trio.fail_after(5), pytest.raises(StateUnavailable, match="subscribe"):
        async with backend.subscribe("channel"):
            pytest.fail("subscribed without a server")


async def test_lost_connection_ends_subscription_then_subscribe_again(
    backend: RedisStateBackend, own_redis_server: RedisServer
) -> None:
    with trio.fail_after(5), pytest.raises(StateUnavailable, match="subscribe"):
        async with backend.subscribe("channel") as messages:
            await backend.publish("channel", b"before")
            assert await anext(messages) == b"before"
            own_redis_server.stop()
            await anext(messages)
            pytest.fail("received a message from a stopped server")

    await restart(own_redis_server)
    async with backend.subscribe("channel") as messages:
        await backend.publish("channel", b"after")
        with trio.fail_after(5):
            assert await anext(messages) == b"after"


async def test_failed_connection_attempts_leave_nothing_to_collect(
    backend: RedisStateBackend, own_redis_server: RedisServer
) -> None:
    # coredis 6.9 leaves a failed connection's memory streams unclosed; the backend closes them.
    # Leaked ones would warn during this collection, and warnings are errors here.
    own_redis_server.stop()
    for _ in range(3):
        with pytest.raises(StateUnavailable):
            await backend.list_nodes()
    assert (await backend.check_health()).healthy is False
    with pytest.raises(StateUnavailable):
        async with backend.subscribe("channel"):
            pass
    gc.collect()
