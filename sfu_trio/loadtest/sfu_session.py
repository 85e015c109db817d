"""A load-test participant against sfu_trio: its WebSocket signaling (docs/protocol.md)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from .participant import ParticipantSpec, Publication, WorkerContext, run_media
from .peer import LoadPeer
from .session_description import build_offer, parse_remote

MIN_SLOTS = 4
LEAVE_TIMEOUT = 2.0


def websocket_url(base_url: str, user: str) -> str:
    scheme_fixed = base_url.replace("https://", "wss://").replace("http://", "ws://")
    return f"{scheme_fixed.rstrip('/')}/ws?{urlencode({'userId': user, 'name': user})}"


async def _send(ws: WebSocketConnection, type: str, data: Any = None) -> None:
    envelope: dict[str, Any] = {"type": type}
    if data is not None:
        envelope["data"] = data
    await ws.send_message(json.dumps(envelope))


class SfuSession:
    """Join, offer, answer renegotiations; the media runs in `run_media`."""

    def __init__(self, ctx: WorkerContext, spec: ParticipantSpec, ready: trio.Event) -> None:
        self.ctx = ctx
        self.spec = spec
        self.ready = ready
        self.peer: LoadPeer = ctx.new_peer()
        self.cname = f"{spec.user}-stream"
        self.publication = (
            Publication(spec.user, ctx.media, ctx.rng, first_mid=0) if spec.publish else None
        )
        per_kind = max(-(-spec.expected_streams // 2), 1) if spec.subscribe else 0
        self.slots: list[tuple[str, str]] = []
        self._add_slots(per_kind)
        self.version = 0
        self.join_ns = 0

    def _add_slots(self, per_kind: int) -> None:
        for kind in ("audio", "video"):
            have = sum(1 for _, k in self.slots if k == kind)
            for _ in range(per_kind - have):
                self.slots.append((f"r{len(self.slots)}", kind))

    async def _offer(self, ws: WebSocketConnection) -> None:
        self.version += 1
        sdp = build_offer(
            self.peer.local,
            self.cname,
            self.publication.sections if self.publication else [],
            self.slots,
            self.version,
        )
        data: dict[str, Any] = {"sdp": sdp, "type": "offer"}
        if self.publication is not None:
            data["tracks"] = self.publication.sources
        await _send(ws, "offer", data)

    async def run(self) -> None:
        """Until ``ctx.stop`` is set; then leave."""
        try:
            async with open_websocket_url(
                websocket_url(self.ctx.url, self.spec.user), max_message_size=4 * 1024 * 1024
            ) as ws:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._signaling, ws, nursery)
                    await self.ctx.stop.wait()
                    nursery.cancel_scope.cancel()
                with trio.move_on_after(LEAVE_TIMEOUT):
                    await _send(ws, "leave")
        except* (OSError, HandshakeError, ConnectionClosed, trio.BrokenResourceError) as group:
            self.ctx.stats.failures.append(f"{self.spec.user}: signaling: {group.exceptions[0]!r}")
        finally:
            self.peer.close()

    async def _signaling(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        spec = self.spec
        self.join_ns = time.monotonic_ns()
        await _send(ws, "join", {"roomId": spec.room, "userId": spec.user, "name": spec.user})
        await self._offer(ws)
        nursery.start_soon(self.peer.receive_forever)
        while True:
            try:
                message = json.loads(await ws.get_message())
            except ConnectionClosed as exc:
                self.ctx.stats.failures.append(f"{spec.user}: signaling closed: {exc.reason}")
                nursery.cancel_scope.cancel()
                return
            kind, data = message.get("type"), message.get("data") or {}
            if kind == "answer" and self.peer.remote is None:
                self.peer.remote = parse_remote(data["sdp"])
                nursery.start_soon(
                    run_media,
                    self.ctx,
                    spec,
                    self.peer,
                    self.publication,
                    True,
                    self.join_ns,
                    self.ready,
                )
            elif kind == "renegotiate" and spec.subscribe:
                self._add_slots(max(-(-int(data.get("trackCount", 0)) // 2), MIN_SLOTS))
                await self._offer(ws)
            elif kind == "ping":
                await _send(ws, "pong")
            elif kind == "error":
                self.ctx.stats.failures.append(f"{spec.user}: server error {data}")
            elif kind == "join" and not data.get("success", False):
                self.ctx.stats.failures.append(f"{spec.user}: join refused {data}")
