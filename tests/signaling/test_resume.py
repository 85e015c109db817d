"""Session resume, refused takeover, the seed page's reconnect, and session expiry."""

from __future__ import annotations

import trio

from sfu_trio.server import ServerAddresses
from tests.conftest import start_server
from tests.signaling_client import SignalingClient, connect


async def drain_until_pong(client: SignalingClient) -> list[str]:
    """Types of every message before the pong answering a fresh ping (a barrier)."""
    await client.send("ping")
    seen = []
    while True:
        message = await client.next_message()
        if message["type"] == "pong":
            return seen
        seen.append(message["type"])


async def test_resume_keeps_peer_id_without_churn(server: ServerAddresses) -> None:
    async with connect(server.http_url) as watcher:
        await watcher.join("room", "watcher")
        async with connect(server.http_url) as first:
            ack = await first.join("room", "mover")
            await watcher.wait_for("peer-joined")
            await first.drop()
        # the connection dropped: the participant is suspended, not gone
        async with connect(server.http_url) as second:
            await second.send(
                "join",
                {
                    "roomId": "room",
                    "userId": "mover",
                    "sessionId": ack["sessionId"],
                    "sessionToken": ack["sessionToken"],
                },
            )
            resumed = await second.wait_for("join")
            assert resumed["resumed"] is True
            assert resumed["peerId"] == ack["peerId"]
            state = await second.wait_for("room-state")
            assert [p["userId"] for p in state["peers"]] == ["watcher"]
            seen = await drain_until_pong(watcher)
            assert "peer-left" not in seen and "peer-joined" not in seen
            assert server.context.registry.statistics().resumes == 1


async def test_wrong_session_token_does_not_resume(server: ServerAddresses) -> None:
    async with connect(server.http_url) as first:
        ack = await first.join("room", "owner")
        async with connect(server.http_url) as intruder:
            await intruder.send(
                "join",
                {
                    "roomId": "room",
                    "userId": "owner",
                    "sessionId": ack["sessionId"],
                    "sessionToken": "forged",
                },
            )
            error = await intruder.wait_for("error")
            assert error["code"] == 409
        await first.send("ping")
        await first.wait_for("pong")


async def test_takeover_of_a_connected_user_is_refused(server: ServerAddresses) -> None:
    async with connect(server.http_url) as first, connect(server.http_url) as other:
        ack = await first.join("room", "alice")
        await other.join("room", "bob")
        async with connect(server.http_url) as impostor:
            await impostor.send("join", {"roomId": "room", "userId": "alice"})
            error = await impostor.wait_for("error")
            assert error["code"] == 409
            assert "already connected" in error["message"]
        seen = await drain_until_pong(first)  # the first socket is still served
        assert "room-closed" not in seen
        room = server.context.registry.get("room")
        assert ack["peerId"] in room.participants


async def test_reconnect_without_token_replaces_a_dropped_participant(
    server: ServerAddresses,
) -> None:
    async with connect(server.http_url) as watcher:
        await watcher.join("room", "watcher")
        async with connect(server.http_url) as first:
            old = await first.join("room", "tab")
            await watcher.wait_for("peer-joined")
            await first.drop()
        async with connect(server.http_url) as reloaded:
            new = await reloaded.join("room", "tab")
            assert new["resumed"] is False
            assert new["peerId"] != old["peerId"]
            left = await watcher.wait_for("peer-left")
            assert left["peerId"] == old["peerId"]
            joined = await watcher.wait_for("peer-joined")
            assert joined["peerId"] == new["peerId"]


async def test_suspended_session_expires(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, session_ttl=0.3)
    async with connect(addresses.http_url) as watcher:
        await watcher.join("room", "watcher")
        async with connect(addresses.http_url) as leaver:
            ack = await leaver.join("room", "leaver")
            await watcher.wait_for("peer-joined")
            await leaver.drop()
        left = await watcher.wait_for("peer-left", seconds=5)
        assert left["peerId"] == ack["peerId"]
        assert (
            addresses.context.registry.find_session(ack["sessionId"], ack["sessionToken"]) is None
        )
    addresses.context.shutdown_requested.set()


async def test_empty_room_closes_after_its_ttl(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, empty_room_ttl=0.2)
    registry = addresses.context.registry
    async with connect(addresses.http_url) as client:
        await client.join("brief", "u")
        room = registry.get("brief")
        await client.send("leave")
        with trio.fail_after(5):
            await room.wait_closed()
        assert "brief" not in registry.rooms
    addresses.context.shutdown_requested.set()


async def test_a_clean_close_is_leaving(server: ServerAddresses) -> None:
    """A closed tab sends close code 1001: the others see it leave at once (SFU-Go's page)."""
    async with connect(server.http_url) as watcher:
        await watcher.join("room", "watcher")
        async with connect(server.http_url) as tab:
            ack = await tab.join("room", "tab")
            await watcher.wait_for("peer-joined")
            await tab.ws.aclose(code=1001, reason="tab closed")
        left = await watcher.wait_for("peer-left", seconds=5)
        assert left["peerId"] == ack["peerId"]
        assert server.context.registry.find_session(ack["sessionId"], ack["sessionToken"]) is None


async def test_trickled_candidates_have_their_own_budget(server: ServerAddresses) -> None:
    """Hundreds of ice-candidate messages (a 42-m-line offer) do not starve the next message."""
    async with connect(server.http_url) as client:
        await client.join("room", "trickler")
        candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
        for _ in range(400):
            await client.send("ice-candidate", candidate)
        await client.send("is-allow-renegotiation")
        allowed = await client.wait_for("allow-renegotiation")
        assert allowed == {"allowed": True}
        assert not [m for m in client.received if m["type"] == "error"]
