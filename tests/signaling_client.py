"""A WebSocket client for tests that speaks the signaling protocol like the seed's page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

DEFAULT_TIMEOUT = 5.0


class SignalingClient:
    """Send envelopes (data as a JSON string, as the seed's page does) and wait for replies."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, type: str, data: Any = None, *, as_string: bool = True) -> None:
        envelope: dict[str, Any] = {"type": type, "timestamp": "2026-01-01T00:00:00Z"}
        if data is not None:
            envelope["data"] = json.dumps(data) if as_string else data
        await self.ws.send_message(json.dumps(envelope))

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send_message(text)

    async def next_message(self, seconds: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        with trio.fail_after(seconds):
            text = await self.ws.get_message()
        message: dict[str, Any] = json.loads(text)
        self.received.append(message)
        return message

    async def wait_for(self, type: str, seconds: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next message of ``type`` (others are kept in ``received``); its data."""
        with trio.fail_after(seconds):
            while True:
                message = await self.next_message(seconds=seconds)
                if message["type"] == type:
                    data: dict[str, Any] = message.get("data", {})
                    return data

    async def join(
        self, room: str, user_id: str, name: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        await self.send(
            "join", {"roomId": room, "userId": user_id, "name": name or user_id, **extra}
        )
        ack = await self.wait_for("join")
        assert ack["success"] is True
        return ack

    async def drop(self) -> None:
        """Lose the connection without a Close frame, as a dropped network does."""
        await self.ws._stream.aclose()

    async def wait_closed(self, seconds: float = DEFAULT_TIMEOUT) -> int | None:
        """Read until the server closes the socket; the close code."""
        with trio.fail_after(seconds):
            try:
                while True:
                    await self.next_message(seconds=seconds)
            except ConnectionClosed as exc:
                # trio-websocket leaves the TCP stream open after a server-initiated close.
                await self.ws._stream.aclose()
                return exc.reason.code if exc.reason else None


@asynccontextmanager
async def connect(
    base_url: str, *, user_id: str | None = None, name: str | None = None, **query: str
) -> AsyncIterator[SignalingClient]:
    params = dict(query)
    if user_id is not None:
        params["userId"] = user_id
    if name is not None:
        params["name"] = name
    url = base_url.replace("http://", "ws://") + "/ws"
    if params:
        url += "?" + urlencode(params)
    async with open_websocket_url(url, max_message_size=4 * 1024 * 1024) as ws:
        yield SignalingClient(ws)
