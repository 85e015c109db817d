"""The state backend contract, run against the in-memory backend and a real redis-server."""

from __future__ import annotations

import hashlib

import pytest
import trio

from sfu_trio.state.backend import BackendStatistics, StateBackend
from sfu_trio.state.keys import node_channel
from sfu_trio.state.records import (
    NodeInfo,
    RoomRecord,
    SessionRecord,
    hash_session_token,
    verify_session_token,
)

from .conftest import BackendUnderTest

SHORT = 0.3
LONG = 60.0


def node(node_id: str, participants: int = 0, rooms: int = 0) -> NodeInfo:
    return NodeInfo(
        node_id=node_id,
        signaling_url=f"ws://{node_id}.example:8080/ws",
        media_host="192.0.2.7",
        udp_port=7882,
        tcp_port=7881,
        rooms=rooms,
        participants=participants,
        forwarded_bps=1_500_000,
        cpu=0.25,
        updated_at=1_700_000_000.5,
    )


def room(name: str, owner: str = "node-a", peers: int = 2) -> RoomRecord:
    return RoomRecord(
        name=name,
        owner_node=owner,
        peer_count=peers,
        track_count=2 * peers,
        max_peers=100,
        created_at=1_700_000_123.25,
    )


def session(session_id: str, token: str = "secret-token") -> SessionRecord:
    return SessionRecord(
        session_id=session_id,
        token_hash=hash_session_token(token),
        room="demo",
        peer_id="peer-1",
        user_id="alice",
        name="Alice",
        node_id="node-a",
    )


# Health


async def test_health_reports_healthy(backend: StateBackend) -> None:
    health = await backend.check_health()
    assert (health.kind, health.healthy) == (backend.kind, True)
    assert backend.statistics() == BackendStatistics(errors=0, dropped_messages=0)


# Nodes


async def test_registered_nodes_are_listed_sorted_by_id(backend: StateBackend) -> None:
    await backend.register_node(node("node-b"), LONG)
    await backend.register_node(node("node-a"), LONG)
    assert await backend.list_nodes() == [node("node-a"), node("node-b")]


async def test_heartbeat_replaces_node_info(backend: StateBackend) -> None:
    await backend.register_node(node("node-a", participants=1), LONG)
    await backend.register_node(node("node-a", participants=7, rooms=2), LONG)
    assert await backend.list_nodes() == [node("node-a", participants=7, rooms=2)]


async def test_removed_node_is_not_listed(backend: StateBackend) -> None:
    await backend.register_node(node("node-a"), LONG)
    await backend.register_node(node("node-b"), LONG)
    await backend.remove_node("node-a")
    await backend.remove_node("never-registered")
    assert await backend.list_nodes() == [node("node-b")]


async def test_node_without_heartbeat_drops_out(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.register_node(node("node-dead"), SHORT)
    await backend.register_node(node("node-alive"), LONG)

    async def dead_gone() -> bool:
        return await backend.list_nodes() == [node("node-alive")]

    await backend_under_test.wait_until(dead_gone)


async def test_heartbeat_extends_node_life(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.register_node(node("node-a"), SHORT)
    await backend.register_node(node("control"), SHORT)
    await backend.register_node(node("node-a"), LONG)

    async def control_gone() -> bool:
        return [info.node_id for info in await backend.list_nodes()] == ["node-a"]

    await backend_under_test.wait_until(control_gone)


# Room claims


async def test_first_claim_wins_and_others_learn_the_owner(backend: StateBackend) -> None:
    assert await backend.room_owner("demo") is None
    assert await backend.claim_room("demo", "node-a", LONG) == "node-a"
    assert await backend.claim_room("demo", "node-b", LONG) == "node-a"
    assert await backend.claim_room("demo", "node-a", LONG) == "node-a"
    assert await backend.room_owner("demo") == "node-a"


async def test_concurrent_claims_agree_on_one_owner(backend: StateBackend) -> None:
    results: dict[str, str] = {}

    async def claim(node_id: str) -> None:
        results[node_id] = await backend.claim_room("contested", node_id, LONG)

    async with trio.open_nursery() as nursery:
        for index in range(10):
            nursery.start_soon(claim, f"node-{index}")

    owners = set(results.values())
    assert len(results) == 10
    assert len(owners) == 1
    (owner,) = owners
    assert owner in results
    assert await backend.room_owner("contested") == owner


async def test_only_the_owner_renews(backend: StateBackend) -> None:
    await backend.claim_room("demo", "node-a", LONG)
    assert await backend.renew_room("demo", "node-a", LONG) is True
    assert await backend.renew_room("demo", "node-b", LONG) is False
    assert await backend.renew_room("unclaimed", "node-a", LONG) is False
    assert await backend.room_owner("unclaimed") is None
    assert await backend.room_owner("demo") == "node-a"


async def test_only_the_owner_releases(backend: StateBackend) -> None:
    await backend.claim_room("demo", "node-a", LONG)
    await backend.release_room("demo", "node-b")
    assert await backend.room_owner("demo") == "node-a"
    await backend.release_room("demo", "node-a")
    assert await backend.room_owner("demo") is None
    assert await backend.claim_room("demo", "node-b", LONG) == "node-b"
    await backend.release_room("never-claimed", "node-a")


async def test_unrenewed_claim_expires(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.claim_room("demo", "node-a", SHORT)

    async def released() -> bool:
        return await backend.room_owner("demo") is None

    await backend_under_test.wait_until(released)
    assert await backend.claim_room("demo", "node-b", LONG) == "node-b"


async def test_renewal_extends_the_claim(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.claim_room("renewed", "node-a", SHORT)
    await backend.claim_room("control", "node-a", SHORT)
    assert await backend.renew_room("renewed", "node-a", LONG) is True

    async def control_released() -> bool:
        return await backend.room_owner("control") is None

    await backend_under_test.wait_until(control_released)
    assert await backend.room_owner("renewed") == "node-a"


async def test_reclaim_by_owner_extends_the_claim(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.claim_room("reclaimed", "node-a", SHORT)
    await backend.claim_room("control", "node-a", SHORT)
    assert await backend.claim_room("reclaimed", "node-a", LONG) == "node-a"

    async def control_released() -> bool:
        return await backend.room_owner("control") is None

    await backend_under_test.wait_until(control_released)
    assert await backend.room_owner("reclaimed") == "node-a"


# Room records


async def test_rooms_are_listed_sorted_by_name(backend: StateBackend) -> None:
    assert await backend.list_rooms() == []
    await backend.put_room(room("zeta", owner="node-b"), LONG)
    await backend.put_room(room("alpha"), LONG)
    await backend.put_room(room("room:with:colons"), LONG)
    assert await backend.list_rooms() == [
        room("alpha"),
        room("room:with:colons"),
        room("zeta", owner="node-b"),
    ]


async def test_put_room_replaces_the_record(backend: StateBackend) -> None:
    await backend.put_room(room("demo", peers=1), LONG)
    await backend.put_room(room("demo", peers=5), LONG)
    assert await backend.list_rooms() == [room("demo", peers=5)]


async def test_deleted_room_is_not_listed(backend: StateBackend) -> None:
    await backend.put_room(room("gone"), LONG)
    await backend.put_room(room("kept"), LONG)
    await backend.delete_room_record("gone")
    await backend.delete_room_record("never-existed")
    assert await backend.list_rooms() == [room("kept")]


async def test_room_record_expires(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.put_room(room("stale"), SHORT)
    await backend.put_room(room("live"), LONG)

    async def stale_gone() -> bool:
        return await backend.list_rooms() == [room("live")]

    await backend_under_test.wait_until(stale_gone)


async def test_room_record_and_claim_are_independent(backend: StateBackend) -> None:
    await backend.put_room(room("demo"), LONG)
    assert await backend.room_owner("demo") is None
    await backend.claim_room("demo", "node-a", LONG)
    await backend.delete_room_record("demo")
    assert await backend.room_owner("demo") == "node-a"


# Sessions


async def test_session_round_trip_and_delete(backend: StateBackend) -> None:
    await backend.save_session(session("s1"), LONG)
    assert await backend.load_session("s1") == session("s1")
    assert await backend.load_session("unknown") is None
    await backend.delete_session("s1")
    await backend.delete_session("unknown")
    assert await backend.load_session("s1") is None


async def test_session_expires(backend_under_test: BackendUnderTest) -> None:
    backend = backend_under_test.backend
    await backend.save_session(session("short"), SHORT)
    await backend.save_session(session("long"), LONG)

    async def short_gone() -> bool:
        return await backend.load_session("short") is None

    await backend_under_test.wait_until(short_gone)
    assert await backend.load_session("long") == session("long")


async def test_session_token_is_checked_by_hash(backend: StateBackend) -> None:
    await backend.save_session(session("s1", token="right"), LONG)
    loaded = await backend.load_session("s1")
    assert loaded is not None
    assert loaded.token_hash == hashlib.sha256(b"right").hexdigest()
    assert verify_session_token(loaded, "right") is True
    assert verify_session_token(loaded, "wrong") is False
    assert verify_session_token(loaded, "") is False


# Expiry arguments


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan"), float("inf")])
async def test_non_positive_ttl_is_refused(backend: StateBackend, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await backend.register_node(node("node-a"), ttl)
    with pytest.raises(ValueError, match="ttl"):
        await backend.claim_room("demo", "node-a", ttl)
    with pytest.raises(ValueError, match="ttl"):
        await backend.renew_room("demo", "node-a", ttl)
    with pytest.raises(ValueError, match="ttl"):
        await backend.put_room(room("demo"), ttl)
    with pytest.raises(ValueError, match="ttl"):
        await backend.save_session(session("s1"), ttl)
    assert await backend.list_nodes() == []
    assert await backend.room_owner("demo") is None


# Relay


async def test_subscriber_receives_payloads_in_order(backend: StateBackend) -> None:
    payloads = [b"first", b"\x00\xff binary \x80", b"", b"x" * 10_000]
    async with backend.subscribe(node_channel("node-a")) as messages:
        for payload in payloads:
            await backend.publish(node_channel("node-a"), payload)
        with trio.fail_after(5):
            received = [await anext(messages) for _ in payloads]
    assert received == payloads


async def test_every_subscriber_of_a_channel_receives(backend: StateBackend) -> None:
    async with (
        backend.subscribe("room:demo") as first,
        backend.subscribe("room:demo") as second,
        backend.subscribe("room:other") as other,
    ):
        await backend.publish("room:demo", b"for demo")
        await backend.publish("room:other", b"for other")
        with trio.fail_after(5):
            assert await anext(first) == b"for demo"
            assert await anext(second) == b"for demo"
            assert await anext(other) == b"for other"


async def test_publish_without_subscribers_is_dropped(backend: StateBackend) -> None:
    await backend.publish("nobody", b"lost")
    async with backend.subscribe("nobody") as messages:
        await backend.publish("nobody", b"heard")
        with trio.fail_after(5):
            assert await anext(messages) == b"heard"


async def test_leaving_a_subscription_stops_delivery(backend: StateBackend) -> None:
    async with backend.subscribe("channel") as messages:
        await backend.publish("channel", b"one")
        with trio.fail_after(5):
            assert await anext(messages) == b"one"
    await backend.publish("channel", b"after leaving")
    async with backend.subscribe("channel") as messages:
        await backend.publish("channel", b"two")
        with trio.fail_after(5):
            assert await anext(messages) == b"two"


async def test_error_in_subscription_body_propagates_as_itself(backend: StateBackend) -> None:
    with pytest.raises(KeyError, match="from the body"):
        async with backend.subscribe("channel"):
            raise KeyError("from the body")


async def test_cancelling_a_subscriber_is_clean(backend: StateBackend) -> None:
    with trio.move_on_after(0.1) as scope:
        async with backend.subscribe("channel") as messages:
            await anext(messages)
    assert scope.cancelled_caught
    async with backend.subscribe("channel") as messages:
        await backend.publish("channel", b"still works")
        with trio.fail_after(5):
            assert await anext(messages) == b"still works"
