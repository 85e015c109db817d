"""The REST API: rooms list/create/show/delete, errors, and token auth when configured."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from sfu_trio.server import ServerAddresses
from sfu_trio.signaling.auth import mint_token
from tests.conftest import start_server
from tests.signaling_client import connect

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-32b"


async def test_room_lifecycle(server: ServerAddresses) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        listed = (await http.get("/api/rooms")).json()
        assert listed == {"rooms": [], "total": 0}

        created = await http.post("/api/rooms", json={"name": "standup", "maxPeers": 5})
        assert created.status_code == 201
        body = created.json()
        assert (body["id"], body["name"], body["peerCount"], body["maxPeers"]) == (
            "standup",
            "standup",
            0,
            5,
        )
        assert "createdAt" in body and "trackCount" in body

        again = await http.post("/api/rooms", json={"name": "standup"})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == 409

        for bad in (b"not json", b"[]", b'{"name": "a b"}', b'{"name": "x", "maxPeers": 0}'):
            response = await http.post(
                "/api/rooms", content=bad, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, bad

        missing = await http.get("/api/rooms/nowhere")
        assert missing.status_code == 404
        assert (await http.delete("/api/rooms/nowhere")).status_code == 404

        async with connect(server.http_url) as client:
            ack = await client.join("standup", "ann", "Ann")
            shown = (await http.get("/api/rooms/standup")).json()
            assert shown["peerCount"] == 1
            assert shown["participants"][0]["peerId"] == ack["peerId"]
            assert shown["participants"][0]["name"] == "Ann"
            listed = (await http.get("/api/rooms")).json()
            assert listed["total"] == 1 and listed["rooms"][0]["peerCount"] == 1

            deleted = await http.delete("/api/rooms/standup")
            assert deleted.status_code == 204
            closed = await client.wait_for("room-closed")
            assert closed["roomId"] == "standup"
            assert await client.wait_closed() == 1000
        assert (await http.get("/api/rooms/standup")).status_code == 404


async def test_room_count_limit_over_rest(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, max_rooms=1)
    async with httpx.AsyncClient(base_url=addresses.http_url) as http:
        assert (await http.post("/api/rooms", json={"name": "one"})).status_code == 201
        refused = await http.post("/api/rooms", json={"name": "two"})
        assert refused.status_code == 503
    addresses.context.shutdown_requested.set()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_enforced_when_configured(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, api_key=KEY, api_secret=SECRET)
    url = addresses.http_url
    admin = mint_token(KEY, SECRET, identity="ops", room_admin=True)
    user = mint_token(KEY, SECRET, identity="ann", room="standup")
    expired = mint_token(KEY, SECRET, identity="ann", room="standup", now=time.time() - 7200)
    forged = mint_token(KEY, "another-secret-another-secret-32", identity="ann")
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/api/rooms")).status_code == 401
        assert (await http.get("/api/rooms", headers=bearer(expired))).status_code == 401
        assert (await http.get("/api/rooms", headers=bearer(forged))).status_code == 401
        assert (await http.get("/api/rooms", headers=bearer(user))).status_code == 200
        create = await http.post("/api/rooms", json={"name": "standup"}, headers=bearer(user))
        assert create.status_code == 403
        create = await http.post("/api/rooms", json={"name": "standup"}, headers=bearer(admin))
        assert create.status_code == 201
        other = mint_token(KEY, SECRET, identity="ann", room="other")
        assert (await http.get("/api/rooms/standup", headers=bearer(other))).status_code == 403
        assert (await http.get("/api/rooms/standup", headers=bearer(user))).status_code == 200

    # WebSocket: token in the join or in the query string.
    async with connect(url) as client:
        await client.send("join", {"roomId": "standup", "userId": "ann"})
        assert (await client.wait_for("error"))["code"] == 401
        await client.send("join", {"roomId": "standup", "userId": "ann", "token": expired})
        error = await client.wait_for("error")
        assert error["code"] == 401 and "expired" in error["message"]
        await client.send("join", {"roomId": "standup", "token": forged})
        assert (await client.wait_for("error"))["code"] == 401
        await client.send("join", {"roomId": "elsewhere", "token": user})
        assert (await client.wait_for("error"))["code"] == 403
        await client.send("join", {"roomId": "standup", "userId": "mallory", "token": user})
        assert (await client.wait_for("error"))["code"] == 403
        ack = await client.join("standup", "ann", token=user)
        assert ack["success"] is True
    async with connect(url, token=user) as client:
        await client.send("join", {"roomId": "standup"})
        assert (await client.wait_for("join"))["success"] is True
    rejected = addresses.context.metrics.render()[0].decode()
    assert 'sfu_auth_rejected_total{reason="expired"}' in rejected or "expired" in rejected
    addresses.context.shutdown_requested.set()


async def rejection_status(base_url: str, query: str = "", **headers: str) -> int | None:
    """The HTTP status refusing a WebSocket upgrade, or None when it is accepted."""
    url = base_url.replace("http://", "ws://") + "/ws" + query
    try:
        async with open_websocket_url(url, extra_headers=list(headers.items())):
            return None
    except ConnectionRejected as exc:
        status: int = exc.status_code
        return status


# trio-websocket leaves the client's TCP socket unclosed when the server refuses the upgrade.
CLIENT_SOCKET_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@CLIENT_SOCKET_LEAK
async def test_bad_query_token_refuses_the_upgrade(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, api_key=KEY, api_secret=SECRET)
    bad = jwt.encode(
        {"iss": KEY, "sub": "x"}, "wrong-secret-wrong-secret-wrong-secret", algorithm="HS256"
    )
    assert await rejection_status(addresses.http_url, f"?token={bad}") == 401
    good = mint_token(KEY, SECRET, identity="x")
    assert await rejection_status(addresses.http_url, f"?token={good}") is None
    addresses.context.shutdown_requested.set()


@CLIENT_SOCKET_LEAK
async def test_foreign_origin_is_refused(server: ServerAddresses) -> None:
    assert await rejection_status(server.http_url, Origin="https://evil.example") == 403
    assert await rejection_status(server.http_url, Origin="http://localhost:3000") is None
    assert await rejection_status(server.http_url, Origin="null") is None
