"""A load-test participant against Janus's VideoRoom plugin, over Janus's WebSocket API.

The same media as against sfu_trio (`LoadPeer`, `Publication`); only the signaling differs. Janus
gives each handle its own PeerConnection, so a participant that publishes and subscribes has two:
a publisher handle (we offer, ICE controlling) and a subscriber handle (Janus offers every feed of
the room in one multistream PeerConnection, we answer and are ICE controlled). ``url`` is Janus's
WebSocket address (``ws://host:8188``); room names map to numeric VideoRoom ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from typing import Any

import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from .participant import ParticipantSpec, Publication, WorkerContext, run_media
from .peer import LoadPeer
from .session_description import build_answer, build_offer, parse_remote

KEEPALIVE_INTERVAL = 20.0
FEED_POLL_INTERVAL = 0.2
ROOM_EXISTS = 427
MAX_PUBLISHERS = 200


class JanusError(Exception):
    """Janus answered a request with an error."""


def janus_room_id(name: str) -> int:
    """A stable numeric VideoRoom id for a room name."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)


class JanusConnection:
    """One Janus session over one WebSocket: requests matched to replies by transaction."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.session_id = 0
        self._waiting: dict[str, trio.MemorySendChannel[dict[str, Any]]] = {}
        self.trickles: dict[int, list[dict[str, Any]]] = {}  # handle -> trickled candidates

    async def read_forever(self) -> None:
        while True:
            message = json.loads(await self.ws.get_message())
            waiting = self._waiting.get(message.get("transaction", ""))
            if message.get("janus") == "trickle":
                candidate = message.get("candidate", {})
                self.trickles.setdefault(message.get("sender", 0), []).append(candidate)
            elif waiting is not None and message.get("janus") != "ack":
                waiting.send_nowait(message)

    async def request(self, body: dict[str, Any], handle: int | None = None) -> dict[str, Any]:
        """Send ``body`` (plus session, handle, transaction); the final reply (not the ack)."""
        transaction = secrets.token_hex(6)
        message = {**body, "transaction": transaction}
        if self.session_id:
            message["session_id"] = self.session_id
        if handle is not None:
            message["handle_id"] = handle
        send, receive = trio.open_memory_channel[dict[str, Any]](4)
        self._waiting[transaction] = send
        try:
            await self.ws.send_message(json.dumps(message))
            reply = await receive.receive()
        finally:
            del self._waiting[transaction]
        if reply.get("janus") == "error":
            raise JanusError(str(reply.get("error")))
        return reply

    async def plugin(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A VideoRoom request: (plugin data, jsep or None); raises JanusError on its errors."""
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self.request(message, handle)
        data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(f"{data['error_code']}: {data.get('error')}")
        return data, reply.get("jsep")

    async def keep_alive(self) -> None:
        while True:
            await trio.sleep(KEEPALIVE_INTERVAL)
            await self.ws.send_message(
                json.dumps(
                    {
                        "janus": "keepalive",
                        "session_id": self.session_id,
                        "transaction": secrets.token_hex(6),
                    }
                )
            )


class JanusSession:
    """One participant in a VideoRoom."""

    def __init__(self, ctx: WorkerContext, spec: ParticipantSpec, ready: trio.Event) -> None:
        self.ctx = ctx
        self.spec = spec
        self.ready = ready
        self.room = janus_room_id(spec.room)
        self.peers: list[LoadPeer] = []

    async def run(self) -> None:
        try:
            async with open_websocket_url(
                self.ctx.url, subprotocols=["janus-protocol"], max_message_size=4 * 1024 * 1024
            ) as ws:
                janus = JanusConnection(ws)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(janus.read_forever)
                    nursery.start_soon(self._participate, janus, nursery)
                    await self.ctx.stop.wait()
                    nursery.cancel_scope.cancel()
                with trio.move_on_after(2.0):
                    await ws.send_message(
                        json.dumps(
                            {
                                "janus": "destroy",
                                "session_id": janus.session_id,
                                "transaction": "bye",
                            }
                        )
                    )
        except* (OSError, HandshakeError, ConnectionClosed, JanusError) as group:
            self.ctx.stats.failures.append(f"{self.spec.user}: janus: {group.exceptions[0]!r}")
        finally:
            for peer in self.peers:
                peer.close()

    async def _participate(self, janus: JanusConnection, nursery: trio.Nursery) -> None:
        join_ns = time.monotonic_ns()
        created = await janus.request({"janus": "create"})
        janus.session_id = created["data"]["id"]
        nursery.start_soon(janus.keep_alive)
        readies = []
        if self.spec.publish:
            handle = await self._attach(janus)
            await self._ensure_room(janus, handle)
            ready = trio.Event()
            readies.append(ready)
            await self._publish(janus, handle, nursery, join_ns, ready)
        if self.spec.subscribe and self.spec.expected_streams:
            handle = await self._attach(janus)
            await self._ensure_room(janus, handle)
            ready = trio.Event()
            readies.append(ready)
            await self._subscribe(janus, handle, nursery, join_ns, ready)
        for ready in readies:
            await ready.wait()
        self.ready.set()

    async def _attach(self, janus: JanusConnection) -> int:
        reply = await janus.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle: int = reply["data"]["id"]
        return handle

    async def _ensure_room(self, janus: JanusConnection, handle: int) -> None:
        try:
            await janus.plugin(
                handle,
                {
                    "request": "create",
                    "room": self.room,
                    "publishers": MAX_PUBLISHERS,
                    "bitrate": 0,
                    "audiocodec": "opus",
                    "videocodec": "vp8",
                    "notify_joining": False,
                },
            )
        except JanusError as exc:
            if not str(exc).startswith(f"{ROOM_EXISTS}:"):
                raise

    def _new_peer(self) -> LoadPeer:
        peer = self.ctx.new_peer()
        self.peers.append(peer)
        return peer

    async def _publish(
        self,
        janus: JanusConnection,
        handle: int,
        nursery: trio.Nursery,
        join_ns: int,
        ready: trio.Event,
    ) -> None:
        peer = self._new_peer()
        publication = Publication(self.spec.user, self.ctx.media, self.ctx.rng)
        await janus.plugin(
            handle,
            {"request": "join", "ptype": "publisher", "room": self.room, "display": self.spec.user},
        )
        nursery.start_soon(peer.receive_forever)
        offer = build_offer(peer.local, f"{self.spec.user}-stream", publication.sections, [])
        _, jsep = await janus.plugin(
            handle,
            {"request": "publish", "audio": True, "video": True},
            {"type": "offer", "sdp": offer},
        )
        if jsep is None:
            raise JanusError("publish: no answer")
        peer.remote = parse_remote(jsep["sdp"])
        self._add_trickled(janus, handle, peer)
        spec = dataclasses.replace(self.spec, subscribe=False, expected_streams=0)
        nursery.start_soon(run_media, self.ctx, spec, peer, publication, True, join_ns, ready)

    async def _subscribe(
        self,
        janus: JanusConnection,
        handle: int,
        nursery: trio.Nursery,
        join_ns: int,
        ready: trio.Event,
    ) -> None:
        feeds = await self._wait_for_feeds(janus, handle, self.spec.expected_streams // 2)
        peer = self._new_peer()
        nursery.start_soon(peer.receive_forever)
        _, jsep = await janus.plugin(
            handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": feed} for feed in feeds],
            },
        )
        if jsep is None:
            raise JanusError("subscribe: no offer")
        peer.remote = parse_remote(jsep["sdp"])
        self._add_trickled(janus, handle, peer)
        answer = build_answer(peer.remote, peer.local, f"{self.spec.user}-stream")
        await janus.plugin(handle, {"request": "start"}, {"type": "answer", "sdp": answer})
        spec = dataclasses.replace(self.spec, publish=False)
        nursery.start_soon(run_media, self.ctx, spec, peer, None, False, join_ns, ready)

    async def _wait_for_feeds(self, janus: JanusConnection, handle: int, count: int) -> list[int]:
        """The ids of ``count`` publishers of the room (not ourselves), once they publish."""
        while True:
            data, _ = await janus.plugin(handle, {"request": "listparticipants", "room": self.room})
            feeds = [
                p["id"]
                for p in data.get("participants", [])
                if p.get("publisher") and p.get("display") != self.spec.user
            ]
            if len(feeds) >= count:
                return sorted(feeds)[:count]
            await trio.sleep(FEED_POLL_INTERVAL)

    @staticmethod
    def _add_trickled(janus: JanusConnection, handle: int, peer: LoadPeer) -> None:
        assert peer.remote is not None
        for candidate in janus.trickles.get(handle, []):
            parts = str(candidate.get("candidate", "")).split()
            if len(parts) > 5 and parts[2].lower() == "udp":
                address = (parts[4], int(parts[5]))
                if address not in peer.remote.candidates:
                    peer.remote.candidates.append(address)
