"""Every kind of bad input gets its own error, and the other client in the room keeps working."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from sfu_trio.server import ServerAddresses
from tests.conftest import start_server
from tests.signaling.test_rooms_ws import assert_alive
from tests.signaling_client import SignalingClient, connect


@asynccontextmanager
async def room_with_bystander(url: str) -> AsyncIterator[tuple[SignalingClient, SignalingClient]]:
    """A joined bystander and a joined offender in room 'r'."""
    async with connect(url) as bystander, connect(url) as offender:
        await bystander.join("r", "bystander")
        await offender.join("r", "offender")
        yield bystander, offender


async def send_unknown_type(client: SignalingClient) -> None:
    await client.send("teleport", {"where": "mars"})


async def send_malformed_json(client: SignalingClient) -> None:
    await client.send_raw('{"type": "join", "data": ')


async def send_non_object(client: SignalingClient) -> None:
    await client.send_raw('["join"]')


async def send_missing_type(client: SignalingClient) -> None:
    await client.send_raw('{"data": {}}')


async def send_data_string_not_json(client: SignalingClient) -> None:
    await client.send_raw(json.dumps({"type": "media-state", "data": "{not json"}))


async def send_oversized(client: SignalingClient) -> None:
    await client.send("offer", {"sdp": "x" * (600 * 1024), "type": "offer"})


async def send_bad_media_state(client: SignalingClient) -> None:
    await client.send("media-state", {"source": "hologram", "muted": True})


async def send_bad_bandwidth(client: SignalingClient) -> None:
    await client.send("set-bandwidth-limit", {"bandwidth": "fast"})


async def send_second_join(client: SignalingClient) -> None:
    await client.send("join", {"roomId": "r", "userId": "offender"})


CASES: list[tuple[str, Callable[[SignalingClient], Awaitable[None]], int, str]] = [
    ("unknown type", send_unknown_type, 400, "unknown message type"),
    ("malformed JSON", send_malformed_json, 400, "malformed JSON"),
    ("not an object", send_non_object, 400, "JSON object"),
    ("missing type", send_missing_type, 400, "no type"),
    ("data string not JSON", send_data_string_not_json, 400, "not JSON"),
    ("message over 512 KiB", send_oversized, 413, "over the limit"),
    ("bad media-state", send_bad_media_state, 400, "source must be"),
    ("bad bandwidth", send_bad_bandwidth, 400, "bandwidth must be"),
    ("join twice", send_second_join, 409, "already joined"),
]


@pytest.mark.parametrize(("label", "offend", "code", "text"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_gets_an_error(
    server: ServerAddresses,
    label: str,
    offend: Callable[[SignalingClient], Awaitable[None]],
    code: int,
    text: str,
) -> None:
    async with room_with_bystander(server.http_url) as (bystander, offender):
        await offend(offender)
        error = await offender.wait_for("error")
        assert error["code"] == code, error
        assert text in error["message"]
        await assert_alive(offender)
        await assert_alive(bystander)
        assert len(server.context.registry.get("r").participants) == 2


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"roomId": "has space", "userId": "u"}, "roomId may contain only"),
        ({"roomId": "r" * 129, "userId": "u"}, "roomId is longer than 128"),
        ({"roomId": "", "userId": "u"}, "roomId is required"),
        ({"roomId": "ok", "userId": "bad/id"}, "userId may contain only"),
        ({"roomId": "ok", "userId": "u" * 129}, "userId is longer than 128"),
        ({"roomId": "ok"}, "userId is required"),
        ({"roomId": 5, "userId": "u"}, "roomId is required"),
    ],
)
async def test_invalid_ids_are_refused(
    server: ServerAddresses, data: dict[str, Any], text: str
) -> None:
    async with room_with_bystander(server.http_url) as (bystander, _):
        async with connect(server.http_url) as client:
            await client.send("join", data)
            error = await client.wait_for("error")
            assert error["code"] == 400
            assert text in error["message"]
            await assert_alive(client)
        await assert_alive(bystander)


async def test_messages_before_join_are_refused(server: ServerAddresses) -> None:
    async with connect(server.http_url) as client:
        await client.send("media-state", {"source": "camera", "muted": True})
        error = await client.wait_for("error")
        assert (error["code"], error["message"]) == (400, "media-state: join a room first")


async def test_rate_limit(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, rate_limit_per_sec=20.0, rate_limit_burst=40)
    async with room_with_bystander(addresses.http_url) as (bystander, offender):
        for _ in range(60):
            await offender.send("pong")
        error = await offender.wait_for("error")
        assert error["code"] == 429
        assert addresses.context.metrics.rate_limited._value.get() >= 1
        await assert_alive(bystander)
        await trio.sleep(0.2)  # refill at 20/s is the behaviour under test, not a synchronisation
        await offender.send("ping")
        await offender.wait_for("pong")  # the socket was kept and messages pass again
    addresses.context.shutdown_requested.set()


async def test_too_many_rooms(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, max_rooms=1)
    async with room_with_bystander(addresses.http_url) as (bystander, _):
        async with connect(addresses.http_url) as client:
            await client.send("join", {"roomId": "second", "userId": "x"})
            error = await client.wait_for("error")
            assert error["code"] == 503
            assert "too many rooms" in error["message"]
        await assert_alive(bystander)
    addresses.context.shutdown_requested.set()


async def test_room_full_is_refused_with_a_small_limit(nursery: trio.Nursery) -> None:
    addresses = await start_server(nursery, max_peers_per_room=2)
    async with room_with_bystander(addresses.http_url) as (bystander, offender):
        async with connect(addresses.http_url) as client:
            await client.send("join", {"roomId": "r", "userId": "third"})
            error = await client.wait_for("error")
            assert error["code"] == 403
        await assert_alive(bystander)
        await assert_alive(offender)
    addresses.context.shutdown_requested.set()
