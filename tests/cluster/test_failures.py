"""A node killed, Redis stopped and restarted, a node drained: the cluster heals."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError

from sfu_trio.state.keys import NODE_TTL, ROOM_TTL
from tests.signaling_client import SignalingClient, connect

from .conftest import Cluster, http, wait_until
from .test_signaling import peers_seen

pytestmark = pytest.mark.cluster

RETRY = 0.2
"""Seconds a test client waits before reconnecting, like the browser client's first retry."""


async def join_until_accepted(
    stack: AsyncExitStack, url: str, room: str, user_id: str, **extra: Any
) -> tuple[SignalingClient, dict[str, Any]]:
    """Connect and join, again and again until a join is acknowledged (the socket stays open)."""
    while True:
        async with AsyncExitStack() as attempt:
            try:
                client = await attempt.enter_async_context(connect(url))
            except (HandshakeError, OSError):
                client = None
            try:
                if client is not None:
                    await client.send("join", {"roomId": room, "userId": user_id, **extra})
                    while (message := await client.next_message())["type"] not in (
                        "join",
                        "error",
                    ):
                        pass
                    if message["type"] == "join":
                        await stack.enter_async_context(attempt.pop_all())
                        return client, message["data"]
                    await client.wait_closed()
            except ConnectionClosed:
                # trio-websocket leaves the TCP stream open after a server-initiated close.
                await client.ws._stream.aclose()  # type: ignore[union-attr]
        await trio.sleep(RETRY)


async def test_owner_killed_participants_meet_again_on_a_live_node(cluster: Cluster) -> None:
    a, b, c = cluster.start("node-a", "node-b", "node-c")
    async with AsyncExitStack() as stack:
        clients = {}
        for user, node in (("alice", a), ("bob", b), ("carol", c)):
            clients[user] = await join_until_accepted(stack, node.url, "crash", user)
        assert (await http("GET", b.url + "/api/rooms/crash"))[1]["ownerNode"] == "node-a"

        a.process.kill()
        killed_at = trio.current_time()
        met: dict[str, set[str]] = {}
        peer_ids: dict[str, str] = {}
        everyone_met = trio.Event()
        everyone_back = trio.Event()

        async def come_back(user: str, door: str) -> None:
            old, ack = clients[user]
            if user != "alice":
                await old.wait_closed(seconds=10)  # the door notices its owner is gone
            session = {"sessionId": ack["sessionId"], "sessionToken": ack["sessionToken"]}
            async with AsyncExitStack() as own:
                client, new_ack = await join_until_accepted(own, door, "crash", user, **session)
                peer_ids[user] = new_ack["peerId"]
                met[user] = await peers_seen(client, 2)
                if len(met) == 3:
                    everyone_met.set()
                await everyone_back.wait()

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for user, door in (("alice", b.url), ("bob", b.url), ("carol", c.url)):
                    nursery.start_soon(come_back, user, door)
                await everyone_met.wait()
                assert trio.current_time() - killed_at < 10
                status, room = await http("GET", c.url + "/api/rooms/crash")
                everyone_back.set()
        for user, seen in met.items():
            assert seen == {peer for other, peer in peer_ids.items() if other != user}
        assert status == 200
        assert room["ownerNode"] in ("node-b", "node-c")
        assert sorted(p["userId"] for p in room["participants"]) == ["alice", "bob", "carol"]

        async def nothing_of_node_a() -> bool:
            return not [k for k, v in cluster.keys().items() if "node-a" in k + v]

        await wait_until(nothing_of_node_a, ROOM_TTL + NODE_TTL, "node-a's keys expire")
        keys = cluster.keys()
        assert keys["sfu:owner:crash"] == room["ownerNode"]
        assert json.loads(keys["sfu:room:crash"])["owner_node"] == room["ownerNode"]


async def test_redis_outage_leaves_local_rooms_working(cluster: Cluster) -> None:
    a, b = cluster.start("node-a", "node-b")
    async with AsyncExitStack() as stack:
        alice, _ = await join_until_accepted(stack, a.url, "local", "alice")
        cluster.redis.stop()
        stopped_at = trio.current_time()

        async def degraded() -> Any:
            status, body = await http("GET", a.url + "/ready")
            return body if status == 503 else None

        body = await wait_until(degraded, 8, "node-a reports the outage on /ready")
        assert body["status"] == "degraded"
        assert body["stateBackend"]["healthy"] is False
        assert (await http("GET", a.url + "/health"))[0] == 200

        bob, _ = await join_until_accepted(stack, a.url, "local", "bob")
        assert [peer["userId"] for peer in (await bob.wait_for("room-state"))["peers"]] == ["alice"]
        assert (await alice.wait_for("peer-joined"))["userId"] == "bob"
        await alice.send("ping")
        await alice.wait_for("pong")

        await trio.sleep(max(0.0, 10 - (trio.current_time() - stopped_at)))
        await trio.to_thread.run_sync(cluster.redis.start)

        async def back() -> bool:
            ready = (await http("GET", a.url + "/ready"))[0] == 200
            rooms = (await http("GET", b.url + "/api/rooms"))[1]["rooms"]
            listed = [(r["name"], r["ownerNode"], r["peerCount"]) for r in rooms]
            nodes = (await http("GET", b.url + "/health"))[1]["cluster"]["nodes"]
            return ready and listed == [("local", "node-a", 2)] and nodes == ["node-a", "node-b"]

        await wait_until(back, 10, "node-a back in the cluster with its room")
        await bob.send("ping")
        await bob.wait_for("pong")

    metrics = (await trio.to_thread.run_sync(_read, a.url + "/metrics")).decode()
    errors = [line for line in metrics.splitlines() if line.startswith("sfu_state_backend_errors")]
    assert errors and float(errors[0].split()[-1]) > 0
    assert a.process.poll() is None
    assert "Traceback" not in a.log()
    assert "Traceback" not in b.log()


@pytest.mark.parametrize("how", ["admin-api", "sigterm"])
async def test_drained_node_sends_its_clients_to_another(cluster: Cluster, how: str) -> None:
    a, b = cluster.start("node-a", "node-b", SFU_SHUTDOWN_TIMEOUT="5")
    async with AsyncExitStack() as stack:
        alice, first = await join_until_accepted(stack, a.url, "moving", "alice")
        bob, _ = await join_until_accepted(stack, b.url, "moving", "bob")
        if how == "sigterm":
            a.process.terminate()
        else:
            status, body = await http("POST", a.url + "/api/admin/drain")
            assert (status, body["draining"]) == (202, True)
        assert await alice.wait_for("server-shutdown") == {
            "reason": "server shutting down",
            "reconnect": True,
        }
        assert (await bob.wait_for("server-shutdown"))["reconnect"] is True
        assert await alice.wait_closed() == 1001
        # bob's door closes his socket when node-a's "end" arrives (1001), or, if its heartbeat
        # sees node-a gone first, as a lost relay (1012): either way the client reconnects.
        assert await bob.wait_closed() in (1001, 1012)
        await trio.to_thread.run_sync(a.process.wait, 10)
        assert a.process.returncode == 0

        session = {"sessionId": first["sessionId"], "sessionToken": first["sessionToken"]}
        alice, _ = await join_until_accepted(stack, b.url, "moving", "alice", **session)
        bob, _ = await join_until_accepted(stack, b.url, "moving", "bob")
        assert len(await peers_seen(alice, 1)) == 1
        status, room = await http("GET", b.url + "/api/rooms/moving")
        assert (status, room["ownerNode"]) == (200, "node-b")


def _read(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body
