"""Join, room-state, peer-joined, leave and room capacity over real WebSockets."""

from __future__ import annotations

from contextlib import AsyncExitStack

import trio

from sfu_trio.server import ServerAddresses
from tests.conftest import start_server
from tests.signaling_client import SignalingClient, connect


async def assert_alive(client: SignalingClient) -> None:
    """The socket still answers: a ping gets its pong."""
    await client.send("ping")
    await client.wait_for("pong")


async def test_two_clients_see_each_other_and_leave(server: ServerAddresses) -> None:
    async with (
        connect(server.http_url, user_id="alice") as alice,
        connect(server.http_url, user_id="bob") as bob,
    ):
        ack = await alice.join("demo", "alice", "Alice")
        assert ack["roomId"] == "demo"
        assert ack["resumed"] is False
        assert ack["sessionId"] and ack["sessionToken"] and ack["peerId"]
        state = await alice.wait_for("room-state")
        assert state == {"roomId": "demo", "peers": [], "dominantSpeaker": None}

        bob_ack = await bob.join("demo", "bob", "Bob")
        bob_state = await bob.wait_for("room-state")
        assert [(p["peerId"], p["userId"], p["name"]) for p in bob_state["peers"]] == [
            (ack["peerId"], "alice", "Alice")
        ]
        joined = await alice.wait_for("peer-joined")
        assert joined["peerId"] == bob_ack["peerId"]
        assert (joined["userId"], joined["name"], joined["roomId"]) == ("bob", "Bob", "demo")

        await bob.send("leave")
        left = await alice.wait_for("peer-left")
        assert left["peerId"] == bob_ack["peerId"]
        assert left["userId"] == "bob"
        await assert_alive(bob)  # the socket stays open after leave


async def test_data_as_object_is_accepted(server: ServerAddresses) -> None:
    async with connect(server.http_url) as client:
        await client.send("join", {"roomId": "r1", "userId": "u1", "name": "U"}, as_string=False)
        ack = await client.wait_for("join")
        assert ack["success"] is True


async def test_user_id_from_query_string(server: ServerAddresses) -> None:
    async with connect(server.http_url, user_id="fromquery", name="Q") as client:
        await client.send("join", {"roomId": "r1"})
        await client.wait_for("join")
        room = server.context.registry.get("r1")
        (participant,) = room.participants.values()
        assert (participant.user_id, participant.name) == ("fromquery", "Q")


async def test_media_state_reaches_the_others(server: ServerAddresses) -> None:
    async with connect(server.http_url) as a, connect(server.http_url) as b:
        a_ack = await a.join("m", "a")
        await b.join("m", "b")
        await a.wait_for("peer-joined")
        await a.send("media-state", {"source": "microphone", "muted": True})
        state = await b.wait_for("media-state")
        assert state == {"peerId": a_ack["peerId"], "source": "microphone", "muted": True}


async def test_hundred_fill_a_room_and_the_next_is_refused(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, rate_limit_per_sec=1000.0, rate_limit_burst=1000)
    async with AsyncExitStack() as stack:
        clients = []
        for index in range(100):
            client = await stack.enter_async_context(connect(addresses.http_url))
            await client.join("big", f"user{index}")
            clients.append(client)
        extra = await stack.enter_async_context(connect(addresses.http_url))
        await extra.send("join", {"roomId": "big", "userId": "user100"})
        error = await extra.wait_for("error")
        assert error["code"] == 403
        assert "full" in error["message"]
        room = addresses.context.registry.get("big")
        assert len(room.participants) == 100
        # The last joiner's room-state lists the 99 others.
        state = await clients[99].wait_for("room-state")
        assert len(state["peers"]) == 99
        for client in (clients[0], clients[50], clients[99]):
            await assert_alive(client)
    addresses.context.shutdown_requested.set()
