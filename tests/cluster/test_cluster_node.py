"""ClusterNode against the in-memory backend: placement, claims, records, sessions, outages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from sfu_trio.runtime.link import SignalingLink
from sfu_trio.runtime.participant import Permissions
from sfu_trio.runtime.rooms import RoomRegistry
from sfu_trio.state.backend import StateUnavailable
from sfu_trio.state.cluster import ClusterNode
from sfu_trio.state.memory import MemoryStateBackend
from sfu_trio.state.records import verify_session_token
from tests.conftest import make_config
from tests.state.test_contract import node


@dataclass
class Harness:
    backend: MemoryStateBackend
    registry: RoomRegistry
    cluster: ClusterNode
    errors: list[None]


@pytest.fixture
async def harness(nursery: trio.Nursery) -> AsyncIterator[Harness]:
    backend = MemoryStateBackend(clock=trio.current_time)
    registry = RoomRegistry(make_config())
    await nursery.start(registry.run)
    errors: list[None] = []
    cluster = ClusterNode(
        backend,
        registry,
        node_id="node-m",
        session_ttl=30,
        count_error=lambda: errors.append(None),
    )
    await cluster.heartbeat()
    yield Harness(backend, registry, cluster, errors)


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        ([], "node-m"),  # alone: this node
        ([("node-b", 0)], "node-b"),  # tie on load: the smaller id
        ([("node-b", 4), ("node-z", 1)], "node-m"),  # this node is the least loaded
        ([("node-x", 0), ("node-b", 2)], "node-m"),  # "node-m" < "node-x" on a tie
    ],
)
async def test_a_new_room_is_claimed_for_the_least_loaded_node(
    harness: Harness, others: list[tuple[str, int]], expected: str
) -> None:
    for node_id, participants in others:
        await harness.backend.register_node(node(node_id, participants), 5)
    assert await harness.cluster.route("standup") == expected
    assert await harness.backend.room_owner("standup") == expected


async def test_a_live_owner_keeps_its_room(harness: Harness) -> None:
    await harness.backend.register_node(node("node-b", participants=50), 5)
    await harness.backend.claim_room("standup", "node-b", 15)
    assert await harness.cluster.route("standup") == "node-b"


async def test_a_dead_owners_claim_is_taken_over(harness: Harness) -> None:
    await harness.backend.claim_room("standup", "node-dead", 15)
    assert await harness.cluster.route("standup") == "node-m"
    assert await harness.backend.room_owner("standup") == "node-m"


async def join(harness: Harness, room_name: str, user_id: str) -> Any:
    room = await harness.registry.get_or_create_room(room_name)
    participant = await room.add_participant(
        user_id=user_id,
        name=user_id,
        permissions=Permissions(),
        link=SignalingLink(),
        now=trio.current_time(),
    )
    harness.registry.remember_session(participant)
    return participant


async def test_room_and_session_records_follow_the_local_room(harness: Harness) -> None:
    backend, cluster = harness.backend, harness.cluster
    participant = await join(harness, "standup", "alice")
    await cluster.sync()
    assert await backend.room_owner("standup") == "node-m"
    [record] = await backend.list_rooms()
    assert (record.name, record.owner_node, record.peer_count) == ("standup", "node-m", 1)
    session = await backend.load_session(participant.session_id)
    assert session is not None
    assert (session.room, session.peer_id, session.node_id) == (
        "standup",
        participant.peer_id,
        "node-m",
    )
    assert verify_session_token(session, participant.session_token)

    participant.room.remove(participant, reason="left")
    await cluster.sync()
    assert await backend.load_session(participant.session_id) is None
    assert (await backend.list_rooms())[0].peer_count == 0

    harness.registry.delete_room("standup")
    await trio.testing.wait_all_tasks_blocked()
    await cluster.sync()
    assert await backend.room_owner("standup") is None
    assert await backend.list_rooms() == []


async def test_a_room_claimed_elsewhere_sends_its_clients_away(harness: Harness) -> None:
    participant = await join(harness, "standup", "alice")
    link = participant.link
    await harness.backend.claim_room("standup", "node-b", 15)
    await harness.cluster.sync()
    assert link is not None and link.closed and link.close_code == 1001
    sent = []
    while True:
        try:
            sent.append(link.receive.receive_nowait().type)
        except (trio.WouldBlock, trio.EndOfChannel):
            break
    assert "server-shutdown" in sent and "room-closed" not in sent
    assert harness.registry.rooms == {} or all(r.closed for r in harness.registry.rooms.values())


class UnreachableStore(MemoryStateBackend):
    """Every operation fails, as a Redis backend does while Redis is down."""

    def __getattribute__(self, name: str) -> Any:
        if name in ("register_node", "list_nodes", "room_owner", "claim_room", "put_room"):

            async def fail(*args: Any) -> Any:
                raise StateUnavailable(f"{name} failed: connection refused")

            return fail
        return super().__getattribute__(name)


async def test_an_unreachable_store_leaves_the_node_serving_locally(nursery: trio.Nursery) -> None:
    registry = RoomRegistry(make_config())
    await nursery.start(registry.run)
    errors: list[None] = []
    cluster = ClusterNode(
        UnreachableStore(),
        registry,
        node_id="node-m",
        session_ttl=30,
        count_error=lambda: errors.append(None),
    )
    await cluster.heartbeat()
    assert cluster.registered is False
    assert await cluster.route("standup") == "node-m"
    room = await registry.get_or_create_room("standup")
    await cluster.sync()
    assert not room.closed
    assert len(errors) == 2
