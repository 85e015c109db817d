"""One signaling WebSocket: rate limit, parse, dispatch, keepalive, and the join/resume flow."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
import trio
from quart import websocket

from ..runtime.errors import BadRequest, Conflict, Forbidden, SignalingError, Unavailable
from ..runtime.link import SignalingLink
from ..runtime.participant import Participant, Permissions
from .auth import AuthError, TokenClaims
from .close_codes import closed_cleanly
from .context import ServerContext
from .messages import (
    CLIENT_MESSAGE_TYPES,
    encode_message,
    parse_bandwidth,
    parse_candidate,
    parse_envelope_untrusted,
    parse_join,
    parse_layer_switch,
    parse_media_state,
    parse_offer,
    parse_sdp,
    parse_subscription,
)
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .relay import DoorConnection

logger = structlog.get_logger("sfu_trio.ws")

SMALL_MESSAGE_BYTES = 4096
# Trickled candidates: Chromium sends one per m-line and address, i.e. hundreds per 42-m-line offer.
CANDIDATE_RATE_FACTOR = 10
CANDIDATE_BURST = 1024

Handler = Callable[["SocketSession", dict[str, Any]], Awaitable[None]]


class SocketSession:
    """The server's state for one signaling socket; at most one joined participant at a time.

    ``remote`` sessions run on the room's node for a socket held by another node (the door,
    which already checked size and rate); ``relayed`` is set on a door whose session runs on
    another node: its messages are forwarded there.
    """

    def __init__(
        self,
        ctx: ServerContext,
        *,
        query_user_id: str | None,
        query_name: str | None,
        query_claims: TokenClaims | None,
        query_token: str | None = None,
        remote: bool = False,
    ) -> None:
        self.ctx = ctx
        self.link = SignalingLink()
        self.participant: Participant | None = None
        self.query_user_id = query_user_id
        self.query_name = query_name
        self.query_claims = query_claims
        self.query_token = query_token
        self.remote = remote
        self.relayed: DoorConnection | None = None
        config = ctx.config
        self.bucket = TokenBucket(config.rate_limit_per_sec, config.rate_limit_burst)
        self.candidate_bucket = TokenBucket(
            config.rate_limit_per_sec * CANDIDATE_RATE_FACTOR,
            max(CANDIDATE_BURST, config.rate_limit_burst),
        )
        self._last_rate_error = -math.inf
        self.last_received = trio.current_time()

    # -- socket loops ---------------------------------------------------------------------

    async def read_loop(self) -> None:
        while True:
            message = await websocket.receive()
            await self.handle_message(message, trio.current_time())

    async def write_loop(self) -> None:
        metrics = self.ctx.metrics
        async for outbound in self.link.receive:
            text = encode_message(outbound.type, outbound.data)
            await websocket.send(text)
            metrics.messages_sent.inc()
            metrics.bytes_transferred.labels(direction="out").inc(len(text))
        await websocket.close(self.link.close_code, self.link.close_reason)

    async def keepalive_loop(self) -> None:
        config = self.ctx.config
        while True:
            await trio.sleep(config.ping_interval)
            silent_for = trio.current_time() - self.last_received
            if silent_for > config.ping_timeout:
                logger.info("socket silent past keepalive timeout", silent_for=silent_for)
                self.link.close(4000, "keepalive timeout")
                return
            self.link.send("ping")

    def disconnected(self, *, client_left: bool = False) -> None:
        """The socket is gone. A client that closed it cleanly (a closed tab) has left; after
        a dropped connection the participant is suspended, resumable for a while."""
        self.link.close(1001, "disconnected")
        if self.relayed is not None and self.ctx.relay is not None:
            self.ctx.relay.door_closed(self.relayed, client_left=client_left)
        participant = self.participant
        if participant is None or participant.removed or participant.link is not self.link:
            return
        if client_left:
            participant.room.remove(participant, reason="socket closed")
        else:
            participant.detach(self.link, trio.current_time())

    # -- messages -------------------------------------------------------------------------

    async def handle_message(self, message: str | bytes, now: float) -> None:
        metrics = self.ctx.metrics
        metrics.messages_received.inc()
        metrics.bytes_transferred.labels(direction="in").inc(len(message))
        self.last_received = now
        if self.participant is not None:
            self.participant.heard_from(now)
        # Large messages are charged before they are parsed; small ones are classified first, so
        # that trickled ICE candidates (hundreds per offer from the SFU-Go page) have their own
        # budget and never starve the offer that follows them.
        large = len(message) > SMALL_MESSAGE_BYTES
        if large and not self._allow(self.bucket, now):
            return
        try:
            if len(message) > self.ctx.config.max_message_bytes:
                raise SignalingError(
                    f"message of {len(message)} bytes is over the limit of "
                    f"{self.ctx.config.max_message_bytes}",
                    code=413,
                )
            envelope = parse_envelope_untrusted(message)
        except SignalingError as exc:
            if large or self._allow(self.bucket, now):
                self.send_error(exc.code, exc.message)
            return
        if not large:
            candidate = envelope.type == "ice-candidate"
            if not self._allow(self.candidate_bucket if candidate else self.bucket, now):
                return
        await self.dispatch(envelope.type, envelope.data)

    def _allow(self, bucket: TokenBucket, now: float) -> bool:
        """Charge one message; over the limit it is dropped, with at most one 429 a second."""
        if bucket.allow(now):
            return True
        self.ctx.metrics.rate_limited.inc()
        if now - self._last_rate_error >= 1.0:
            self._last_rate_error = now
            self.send_error(429, "rate limit exceeded: message dropped")
        return False

    async def dispatch(self, type: str, data: dict[str, Any]) -> None:
        """Handle one checked message here, or forward it to the node running this session."""
        try:
            door = self.relayed
            relay = self.ctx.relay
            if door is not None and relay is not None:
                if type != "join" or door.joined:
                    await relay.forward(door, type, data)
                    return
                relay.door_closed(door)  # a new join is routed afresh
            handler = HANDLERS.get(type)
            if handler is None:
                raise BadRequest(f"unknown message type {type!r}")
            await handler(self, data)
        except SignalingError as exc:
            self.send_error(exc.code, exc.message)

    def send_error(self, code: int, message: str) -> None:
        self.ctx.metrics.signaling_errors.labels(code=str(code)).inc()
        self.link.send("error", {"code": code, "message": message})

    def joined(self, message_type: str) -> Participant:
        if self.participant is None or self.participant.removed:
            self.participant = None
            raise BadRequest(f"{message_type}: join a room first")
        return self.participant

    # -- join, resume, leave --------------------------------------------------------------

    async def on_join(self, data: dict[str, Any]) -> None:
        if self.participant is not None and not self.participant.removed:
            raise Conflict("already joined; leave first")
        ctx = self.ctx
        config = ctx.config
        started = trio.current_time()
        request = parse_join(
            data,
            query_user_id=self.query_user_id,
            query_name=self.query_name,
            max_room_id_length=config.max_room_id_length,
            max_user_id_length=config.max_user_id_length,
        )
        user_id = request.user_id
        name = request.name
        permissions = Permissions()
        if ctx.verifier is not None:
            claims = self._claims(request.token)
            if user_id is not None and user_id != claims.identity:
                raise Forbidden(f"userId {user_id!r} does not match the token's identity")
            user_id = claims.identity
            name = request.name or claims.name or user_id
            self._authorize_room(claims, request.room)
            grants = claims.grants
            permissions = Permissions(grants.can_publish, grants.can_subscribe, grants.room_admin)
        if user_id is None:
            raise BadRequest("userId is required")
        if ctx.draining:
            raise Unavailable("server is shutting down")
        if ctx.cluster is not None:
            host = await self._route(request.room, request.session_id, request.session_token)
            if host != ctx.instance_id:
                if self.remote or ctx.relay is None:
                    raise Unavailable(f"room {request.room!r} is on node {host}; reconnect")
                await ctx.relay.open_door(self, host, data)
                return

        if request.session_id and request.session_token:
            resumed = ctx.registry.find_session(request.session_id, request.session_token)
            if resumed is not None and resumed.room.name == request.room:
                if resumed.user_id != user_id:
                    raise Forbidden("session belongs to another userId")
                self._resume(resumed)
                return
            if ctx.cluster is not None:
                ctx.cluster.forget_session(request.session_id)  # its node is gone

        room = await ctx.registry.get_or_create_room(request.room)
        participant = await room.add_participant(
            user_id=user_id,
            name=name or user_id,
            permissions=permissions,
            link=self.link,
            now=trio.current_time(),
        )
        self.participant = participant
        ctx.registry.remember_session(participant)
        structlog.contextvars.bind_contextvars(room=room.name, peer_id=participant.peer_id)
        self.link.send("join", self._join_ack(participant, resumed=False))
        room.announce(participant)
        ctx.metrics.join_duration.observe(trio.current_time() - started)
        logger.info("participant joined", user_id=user_id)

    async def _route(self, room: str, session_id: str | None, token: str | None) -> str:
        """The node that should run this join: where the session lives, else the room's host."""
        cluster = self.ctx.cluster
        assert cluster is not None
        if session_id and token and not cluster.hosts(room):
            node = await cluster.session_node(session_id, token, room)
            if node is not None:
                return node
        return await cluster.route(room)

    def _resume(self, participant: Participant) -> None:
        participant.attach(self.link, trio.current_time())
        self.participant = participant
        self.ctx.registry.count_resume()
        structlog.contextvars.bind_contextvars(
            room=participant.room.name, peer_id=participant.peer_id
        )
        self.link.send("join", self._join_ack(participant, resumed=True))
        participant.send("room-state", participant.room.state_for(participant))
        logger.info("participant resumed")

    def _join_ack(self, participant: Participant, *, resumed: bool) -> dict[str, Any]:
        return {
            "success": True,
            "peerId": participant.peer_id,
            "roomId": participant.room.name,
            "resumed": resumed,
            "sessionId": participant.session_id,
            "sessionToken": participant.session_token,
        }

    def _claims(self, join_token: str | None) -> TokenClaims:
        assert self.ctx.verifier is not None
        if join_token is None and self.query_claims is not None:
            return self.query_claims
        try:
            return self.ctx.verifier.verify(join_token)
        except AuthError as exc:
            self.ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
            raise SignalingError(exc.message, code=exc.status) from None

    def _authorize_room(self, claims: TokenClaims, room: str) -> None:
        assert self.ctx.verifier is not None
        try:
            self.ctx.verifier.authorize_room(claims, room)
        except AuthError as exc:
            self.ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
            raise SignalingError(exc.message, code=exc.status) from None

    async def on_leave(self, data: dict[str, Any]) -> None:
        participant = self.joined("leave")
        participant.room.remove(participant, reason="left")
        self.participant = None
        structlog.contextvars.unbind_contextvars("room", "peer_id")

    # -- small requests -------------------------------------------------------------------

    async def on_ping(self, data: dict[str, Any]) -> None:
        self.link.send("pong")

    async def on_pong(self, data: dict[str, Any]) -> None:
        return None

    async def on_is_allow_renegotiation(self, data: dict[str, Any]) -> None:
        self.joined("is-allow-renegotiation")
        self.link.send("allow-renegotiation", {"allowed": True})

    async def on_set_bandwidth_limit(self, data: dict[str, Any]) -> None:
        participant = self.joined("set-bandwidth-limit")
        bandwidth = parse_bandwidth(data)
        participant.bandwidth_limit = bandwidth or None
        if participant.media is not None:
            participant.media.set_bandwidth_limit(participant.bandwidth_limit)
        self.link.send("set-bandwidth-limit", {"success": True, "bandwidth": bandwidth})

    async def on_media_state(self, data: dict[str, Any]) -> None:
        participant = self.joined("media-state")
        source, muted = parse_media_state(data)
        participant.room.set_media_state(participant, source, muted)

    async def on_offer(self, data: dict[str, Any]) -> None:
        participant = self.joined("offer")
        offer = parse_offer(data)
        media = await participant.ensure_media()
        if data.get("echo") is True:
            media.echo = True
        answer = await media.handle_offer(offer.sdp, offer.sources)
        self.link.send("answer", answer)

    async def on_answer(self, data: dict[str, Any]) -> None:
        participant = self.joined("answer")
        media = participant.media
        if media is None:
            raise BadRequest("answer: no ice-restart-offer to answer")
        media.handle_restart_answer(parse_sdp(data, "answer"))

    async def on_ice_candidate(self, data: dict[str, Any]) -> None:
        # ICE-lite: the server learns the client's addresses from its connectivity checks,
        # so trickled candidates need no action; they are still validated.
        self.joined("ice-candidate")
        parse_candidate(data)

    async def on_ice_restart_request(self, data: dict[str, Any]) -> None:
        participant = self.joined("ice-restart-request")
        if participant.media is None:
            raise BadRequest("ice-restart-request: no media session yet")
        self.link.send("ice-restart-offer", participant.media.restart_offer())

    async def on_subscription(self, data: dict[str, Any]) -> None:
        participant = self.joined("subscription")
        track_id, action = parse_subscription(data)
        participant.room.change_subscription(participant, track_id, action)

    async def on_layer_switch(self, data: dict[str, Any]) -> None:
        participant = self.joined("layer-switch")
        track_id, rid = parse_layer_switch(data)
        if participant.media is None:
            raise BadRequest("layer-switch: no media session yet")
        participant.media.set_layer(track_id, rid)


HANDLERS: dict[str, Handler] = {
    "join": SocketSession.on_join,
    "leave": SocketSession.on_leave,
    "ping": SocketSession.on_ping,
    "pong": SocketSession.on_pong,
    "is-allow-renegotiation": SocketSession.on_is_allow_renegotiation,
    "set-bandwidth-limit": SocketSession.on_set_bandwidth_limit,
    "media-state": SocketSession.on_media_state,
    "offer": SocketSession.on_offer,
    "answer": SocketSession.on_answer,
    "ice-candidate": SocketSession.on_ice_candidate,
    "ice-restart-request": SocketSession.on_ice_restart_request,
    "subscription": SocketSession.on_subscription,
    "layer-switch": SocketSession.on_layer_switch,
}
assert set(HANDLERS) == CLIENT_MESSAGE_TYPES


async def serve_socket(ctx: ServerContext) -> Any:
    """The /ws endpoint: check origin and token, then run the session until the socket ends."""
    headers = websocket.headers
    if not ctx.origins.is_allowed(headers.get("Origin"), headers.get("Host")):
        ctx.metrics.auth_rejected.labels(reason="origin").inc()
        return "origin not allowed", 403
    query_claims = None
    query_token = websocket.args.get("token")
    if ctx.verifier is not None and query_token:
        try:
            query_claims = ctx.verifier.verify(query_token)
        except AuthError as exc:
            ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
            return exc.message, exc.status
    if ctx.draining:
        return "server is shutting down", 503
    session = SocketSession(
        ctx,
        query_user_id=websocket.args.get("userId"),
        query_name=websocket.args.get("name"),
        query_claims=query_claims,
        query_token=query_token or None,
    )
    await websocket.accept()
    ctx.metrics.connections.inc()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.keepalive_loop)

            async def write_then_stop() -> None:
                await session.write_loop()
                nursery.cancel_scope.cancel()

            nursery.start_soon(write_then_stop)
            await session.read_loop()
    finally:
        session.disconnected(client_left=closed_cleanly(websocket.scope))
    return None
