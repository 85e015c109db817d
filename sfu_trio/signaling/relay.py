"""Signaling relay between nodes: any node is a door to a room hosted on another one.

The *door* keeps the client's WebSocket. Once routing says the room lives on node A, the door
forwards each client message (already size-checked, rate-limited and parsed) to A's channel
``node_channel(A)`` as a frame carrying a per-connection id. A runs an ordinary
:class:`SocketSession` for it (``remote=True``) whose outbox is published back to the door's
channel; the door writes those messages to the socket. Media never passes through the door: A
makes the SDP answer, so its ICE candidates point at A.

Frames are JSON objects on the node channels (``from`` is the sender's node id, ``c`` the
connection id, ``t``/``d`` a message's type and data)::

    door -> owner  {"k": "open", "q": {"userId", "name", "token"}}  {"k": "in", "t", "d"}
                   {"k": "close", "left": the client closed its socket cleanly}
    owner -> door  {"k": "out", "t", "d"}  {"k": "end", "code", "reason"}
    any -> any     {"k": "req", "id", "op", "args"} -> {"k": "res", "id", "status", "body"}

A door whose owner stops listening (publish reaches nobody, or the owner's heartbeat expires)
closes the client's socket with 1013/1012 so the client reconnects and is routed again; an owner
whose door is gone suspends the participant as a dropped socket would.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio

from ..runtime.errors import SignalingError, Unavailable
from ..state.backend import StateUnavailable
from ..state.keys import node_channel
from .auth import AuthError, TokenClaims
from .context import ServerContext
from .relay_requests import perform_request
from .ws import SocketSession

logger = structlog.get_logger("sfu_trio.relay")

HOSTED_INBOX = 256
"""Client messages queued for one hosted session before it counts as too slow and is dropped."""

REQUEST_TIMEOUT = 3.0
"""Seconds a request to another node (REST on a remote room) waits for its answer."""

JOIN_TIMEOUT = 3.0
"""Seconds a door waits for the owner's first answer before it sends the client to retry."""

RESUBSCRIBE_FIRST = 0.2
RESUBSCRIBE_MAX = 2.0


@dataclass(eq=False)
class DoorConnection:
    """A client socket on this node whose session runs on ``owner``."""

    conn_id: str
    owner: str
    session: SocketSession
    joined: bool = False
    answered: trio.Event = field(default_factory=trio.Event)


@dataclass(eq=False)
class HostedConnection:
    """A session this node runs for a client whose socket is on node ``door``."""

    door: str
    conn_id: str
    inbox: trio.MemorySendChannel[tuple[str, dict[str, Any]]]
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    client_left: bool = False


class SignalingRelay:
    """This node's end of the relay: its doors, its hosted sessions and its requests."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.node_id = ctx.instance_id
        self.listening = False
        self.frames_received = 0
        self.frames_sent = 0
        self.bad_frames = 0
        self._doors: dict[str, DoorConnection] = {}
        self._hosted: dict[tuple[str, str], HostedConnection] = {}
        self._pending: dict[str, trio.MemorySendChannel[tuple[int, dict[str, Any]]]] = {}
        self._nursery: trio.Nursery | None = None
        if ctx.cluster is not None:
            ctx.cluster.membership_listeners.append(self._membership_changed)

    @property
    def doors(self) -> int:
        return len(self._doors)

    @property
    def hosted(self) -> int:
        return len(self._hosted)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on this node's channel (re-subscribing after store failures) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await self._listen()

    async def _listen(self) -> None:
        delay = RESUBSCRIBE_FIRST
        while True:
            try:
                async with self.ctx.state.subscribe(node_channel(self.node_id)) as payloads:
                    self.listening = True
                    delay = RESUBSCRIBE_FIRST
                    logger.info("relay listening")
                    async for payload in payloads:
                        self._dispatch(payload)
            except StateUnavailable as exc:
                self.ctx.metrics.state_backend_errors.inc()
                if self.listening:
                    logger.warning("relay subscription lost", error=str(exc))
            finally:
                self.listening = False
                self._drop_all()
            await trio.sleep(delay)
            delay = min(delay * 2, RESUBSCRIBE_MAX)

    def _drop_all(self) -> None:
        for door in list(self._doors.values()):
            self._end_door(door, 1012, "relay to the room's node lost")
        for hosted in list(self._hosted.values()):
            hosted.cancel_scope.cancel()

    def _membership_changed(self, live: frozenset[str]) -> None:
        for door in list(self._doors.values()):
            if door.owner not in live:
                self._end_door(door, 1012, "the room's node is gone")
        for hosted in list(self._hosted.values()):
            if hosted.door not in live:
                hosted.cancel_scope.cancel()

    # -- publishing -----------------------------------------------------------------------

    async def _publish(self, node: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to ``node``; how many listeners got it (0 on a store failure)."""
        frame["from"] = self.node_id
        payload = json.dumps(frame, separators=(",", ":")).encode()
        try:
            receivers = await self.ctx.state.publish(node_channel(node), payload)
        except StateUnavailable as exc:
            self.ctx.metrics.state_backend_errors.inc()
            logger.debug("relay publish failed", node=node, error=str(exc))
            return 0
        self.frames_sent += 1
        return receivers

    # -- door side ------------------------------------------------------------------------

    async def open_door(self, session: SocketSession, owner: str, join: dict[str, Any]) -> None:
        """Relay ``session`` to ``owner`` from its join on (the join itself is forwarded)."""
        door = DoorConnection(secrets.token_hex(8), owner, session)
        self._doors[door.conn_id] = door
        session.relayed = door
        query = {
            "userId": session.query_user_id,
            "name": session.query_name,
            "token": session.query_token,
        }
        logger.info("relaying socket", owner=owner, conn=door.conn_id)
        if await self._to_owner(door, {"k": "open", "q": query}):
            await self._to_owner(door, {"k": "in", "t": "join", "d": join})
        if self._nursery is not None:
            self._nursery.start_soon(self._expect_answer, door)

    async def _expect_answer(self, door: DoorConnection) -> None:
        # A node killed a moment ago may still count as a subscriber: its frames are lost.
        with trio.move_on_after(JOIN_TIMEOUT):
            await door.answered.wait()
            return
        if self._doors.get(door.conn_id) is door:
            logger.info("relay target silent", owner=door.owner, conn=door.conn_id)
            door.session.send_error(503, f"the room's node {door.owner} did not answer; retry")
            self._end_door(door, 1013, "room's node did not answer")

    async def forward(self, door: DoorConnection, type: str, data: dict[str, Any]) -> None:
        """Pass one client message to the owner."""
        if type == "leave":
            door.joined = False
        await self._to_owner(door, {"k": "in", "t": type, "d": data})

    async def _to_owner(self, door: DoorConnection, frame: dict[str, Any]) -> bool:
        frame["c"] = door.conn_id
        if await self._publish(door.owner, frame) > 0:
            return True
        message = f"the room's node {door.owner} is unreachable; reconnect to retry"
        logger.info("relay target unreachable", owner=door.owner, conn=door.conn_id)
        door.session.send_error(503, message)
        self._end_door(door, 1013, "room's node unreachable")
        return False

    def door_closed(self, door: DoorConnection, *, client_left: bool = False) -> None:
        """The client's socket is gone (or leaves this relay): tell the owner, without waiting."""
        if self._doors.pop(door.conn_id, None) is not None and self._nursery is not None:
            frame = {"k": "close", "c": door.conn_id, "left": client_left}
            self._nursery.start_soon(self._publish, door.owner, frame)
        if door.session.relayed is door:
            door.session.relayed = None

    def _end_door(self, door: DoorConnection, code: int, reason: str) -> None:
        self._doors.pop(door.conn_id, None)
        door.session.link.close(code, reason)

    def shut_doors(self, reason: str) -> None:
        """Send every relayed client elsewhere (this node is draining)."""
        for door in list(self._doors.values()):
            door.session.link.send("server-shutdown", {"reason": reason, "reconnect": True})
            self.door_closed(door)
            door.session.link.close(1001, reason)

    # -- incoming frames ------------------------------------------------------------------

    def _dispatch(self, payload: bytes) -> None:
        self.frames_received += 1
        try:
            frame = json.loads(payload)
            kind = frame["k"]
            sender = frame["from"]
            if not isinstance(frame, dict) or not isinstance(sender, str):
                raise TypeError("not a frame")
            if kind in ("out", "end"):
                self._from_owner(frame, sender, kind)
            elif kind in ("open", "in", "close"):
                self._from_door(frame, sender, kind)
            elif kind == "req" and self._nursery is not None:
                self._nursery.start_soon(self._answer, sender, frame["id"], frame["op"], frame)
            elif kind == "res":
                reply = self._pending.get(frame["id"])
                if reply is not None:
                    reply.send_nowait((int(frame["status"]), dict(frame["body"])))
            else:
                raise ValueError(f"unknown frame kind {kind!r}")
        except (ValueError, TypeError, KeyError, trio.WouldBlock) as exc:
            self.bad_frames += 1
            logger.warning("bad relay frame dropped", error=repr(exc))

    def _from_owner(self, frame: dict[str, Any], sender: str, kind: str) -> None:
        door = self._doors.get(frame["c"])
        if door is None or door.owner != sender:
            return
        door.answered.set()
        if kind == "end":
            self._end_door(door, int(frame["code"]), str(frame["reason"]))
            return
        type, data = str(frame["t"]), frame.get("d")
        if type == "join" and isinstance(data, dict) and data.get("success") is True:
            door.joined = True
        door.session.link.send(type, data if isinstance(data, dict) else None)

    def _from_door(self, frame: dict[str, Any], sender: str, kind: str) -> None:
        key = (sender, str(frame["c"]))
        hosted = self._hosted.get(key)
        if kind == "open":
            if hosted is None and self._nursery is not None:
                send, receive = trio.open_memory_channel[tuple[str, dict[str, Any]]](HOSTED_INBOX)
                hosted = HostedConnection(sender, key[1], send)
                self._hosted[key] = hosted
                self._nursery.start_soon(self._host, hosted, receive, dict(frame["q"]))
        elif hosted is None:
            return
        elif kind == "in":
            data = frame.get("d")
            try:
                hosted.inbox.send_nowait((str(frame["t"]), data if isinstance(data, dict) else {}))
            except trio.WouldBlock:
                hosted.cancel_scope.cancel()
        else:
            hosted.client_left = frame.get("left") is True
            hosted.inbox.close()

    # -- owner side -----------------------------------------------------------------------

    async def _host(
        self,
        hosted: HostedConnection,
        inbox: trio.MemoryReceiveChannel[tuple[str, dict[str, Any]]],
        query: dict[str, Any],
    ) -> None:
        session = SocketSession(
            self.ctx,
            query_user_id=_optional_str(query.get("userId")),
            query_name=_optional_str(query.get("name")),
            query_claims=self._claims(_optional_str(query.get("token"))),
            remote=True,
        )
        try:
            with hosted.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_back, hosted, session)
                    async with inbox:
                        async for type, data in inbox:
                            now = trio.current_time()
                            session.last_received = now
                            if session.participant is not None:
                                session.participant.heard_from(now)
                            await session.dispatch(type, data)
                    nursery.cancel_scope.cancel()
        finally:
            session.disconnected(client_left=hosted.client_left)
            if self._hosted.get((hosted.door, hosted.conn_id)) is hosted:
                del self._hosted[(hosted.door, hosted.conn_id)]

    async def _write_back(self, hosted: HostedConnection, session: SocketSession) -> None:
        frame_base = {"c": hosted.conn_id}
        async for outbound in session.link.receive:
            frame = {**frame_base, "k": "out", "t": outbound.type, "d": outbound.data}
            if await self._publish(hosted.door, frame) == 0:
                break
            self.ctx.metrics.messages_sent.inc()
        else:
            link = session.link
            end = {**frame_base, "k": "end", "code": link.close_code, "reason": link.close_reason}
            await self._publish(hosted.door, end)
        hosted.cancel_scope.cancel()

    def _claims(self, token: str | None) -> TokenClaims | None:
        verifier = self.ctx.verifier
        if verifier is None or not token:
            return None
        try:
            return verifier.verify(token)
        except AuthError:
            return None

    # -- requests (REST on rooms of other nodes) ------------------------------------------

    async def request(self, node: str, op: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Ask ``node`` to perform ``op``; (HTTP status, JSON body). Unavailable if no answer."""
        request_id = secrets.token_hex(8)
        send, receive = trio.open_memory_channel[tuple[int, dict[str, Any]]](1)
        self._pending[request_id] = send
        try:
            frame = {"k": "req", "id": request_id, "op": op, "args": args}
            if await self._publish(node, frame) == 0:
                raise Unavailable(f"node {node} is unreachable")
            with trio.move_on_after(REQUEST_TIMEOUT):
                return await receive.receive()
            raise Unavailable(f"node {node} did not answer within {REQUEST_TIMEOUT} s")
        finally:
            del self._pending[request_id]

    async def _answer(self, sender: str, request_id: str, op: str, frame: dict[str, Any]) -> None:
        args = frame.get("args")
        try:
            status, body = await perform_request(self.ctx, str(op), args)
        except SignalingError as exc:
            status, body = exc.code, {"error": {"code": exc.code, "message": exc.message}}
        await self._publish(sender, {"k": "res", "id": request_id, "status": status, "body": body})


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
