"""Three nodes, one Redis: any node is a door to any room (signaling only)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.signaling_client import SignalingClient, connect

from .conftest import Cluster, http, wait_until

pytestmark = pytest.mark.cluster


async def peers_seen(client: SignalingClient, count: int) -> set[str]:
    """Follow room-state and peer-joined until ``count`` other peers are known; their ids."""
    seen: set[str] = set()
    for message in client.received:
        seen |= peer_ids(message)
    while len(seen) < count:
        seen |= peer_ids(await client.next_message())
    return seen


def peer_ids(message: dict[str, Any]) -> set[str]:
    data = message.get("data") or {}
    if message["type"] == "room-state":
        return {peer["peerId"] for peer in data["peers"]}
    if message["type"] == "peer-joined":
        return {data["peerId"]}
    return set()


async def test_clients_through_three_nodes_share_one_room(cluster: Cluster) -> None:
    a, b, c = cluster.start("node-a", "node-b", "node-c")
    async with (
        connect(a.url) as alice,
        connect(b.url) as bob,
        connect(c.url) as carol,
    ):
        acks = {}
        for name, client in (("alice", alice), ("bob", bob), ("carol", carol)):
            acks[name] = await client.join("standup", name)
        ids = {name: ack["peerId"] for name, ack in acks.items()}
        assert await peers_seen(alice, 2) == {ids["bob"], ids["carol"]}
        assert await peers_seen(bob, 2) == {ids["alice"], ids["carol"]}
        assert await peers_seen(carol, 2) == {ids["alice"], ids["bob"]}

        async def listings() -> list[Any] | None:
            bodies = [(await http("GET", server.url + "/api/rooms"))[1] for server in (a, b, c)]
            same = all(body == bodies[0] for body in bodies) and bodies[0]["total"] == 1
            return bodies if same and bodies[0]["rooms"][0]["peerCount"] == 3 else None

        bodies = await wait_until(listings, 10, "the same room list on every node")
        room = bodies[0]["rooms"][0]
        # Least loaded, ties broken by the smallest node id: node-a hosts the room.
        assert (room["name"], room["ownerNode"], room["peerCount"]) == ("standup", "node-a", 3)
        assert bodies[0]["complete"] is True

        status, shown = await http("GET", c.url + "/api/rooms/standup")
        assert status == 200
        assert sorted(p["userId"] for p in shown["participants"]) == ["alice", "bob", "carol"]
        assert shown["ownerNode"] == "node-a"


async def test_room_deleted_through_another_node_closes_on_its_node(cluster: Cluster) -> None:
    a, _b, c = cluster.start("node-a", "node-b", "node-c")
    async with connect(a.url) as alice, connect(c.url) as carol:
        await alice.join("retro", "alice")
        await carol.join("retro", "carol")
        assert (await http("GET", c.url + "/api/rooms/retro"))[1]["ownerNode"] == "node-a"
        status, _ = await http("DELETE", c.url + "/api/rooms/retro")
        assert status == 204
        assert (await alice.wait_for("room-closed"))["reason"] == "deleted"
        assert await alice.wait_closed() == 1000
        assert (await carol.wait_for("room-closed"))["reason"] == "deleted"
        assert await carol.wait_closed() == 1000

    async def gone() -> bool:
        totals = [(await http("GET", node.url + "/api/rooms"))[1]["total"] for node in (a, c)]
        return totals == [0, 0]

    await wait_until(gone, 10, "the deleted room is no longer listed")
    assert (await http("DELETE", c.url + "/api/rooms/retro"))[0] == 404


async def test_room_created_through_rest_lands_on_the_least_loaded_node(cluster: Cluster) -> None:
    _a, b = cluster.start("node-a", "node-b")
    status, body = await http("POST", b.url + "/api/rooms", {"name": "planned", "maxPeers": 5})
    assert status == 201
    assert (body["name"], body["ownerNode"], body["maxPeers"]) == ("planned", "node-a", 5)
    assert (await http("POST", b.url + "/api/rooms", {"name": "planned"}))[0] == 409


async def test_socket_restarted_through_another_node_resumes_its_peer(cluster: Cluster) -> None:
    a, b, c = cluster.start("node-a", "node-b", "node-c")
    async with connect(a.url) as alice:
        await alice.join("resume", "alice")
        async with connect(b.url) as bob:
            first = await bob.join("resume", "bob")
            await bob.ws._stream.aclose()  # the connection drops (no close frame: not a leave)
        async with connect(c.url) as bob_again:
            ack = await bob_again.join(
                "resume",
                "bob",
                sessionId=first["sessionId"],
                sessionToken=first["sessionToken"],
            )
            assert (ack["peerId"], ack["resumed"]) == (first["peerId"], True)
            state = await bob_again.wait_for("room-state")
            assert [peer["userId"] for peer in state["peers"]] == ["alice"]
            # alice never saw bob leave: the resume is seamless for the others.
            assert all(message["type"] != "peer-left" for message in alice.received)
        # A clean close through a door is a leave on the room's node.
        assert (await alice.wait_for("peer-left"))["peerId"] == first["peerId"]
