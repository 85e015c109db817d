"""The REST API: rooms (list, create, show, delete) and node drain. Room ids are room names.

In a cluster (Redis configured) the room routes work from any node: the list is the cluster's,
and a room hosted elsewhere is created, shown or deleted by its node through the relay.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, jsonify, request

from ..runtime.errors import BadRequest, Conflict, SignalingError, Unavailable
from ..state.backend import StateUnavailable
from .auth import AuthError, TokenClaims
from .context import ServerContext
from .messages import validate_identifier
from .relay_requests import record_summary, room_summary


def error_response(ctx: ServerContext, code: int, message: str) -> tuple[Response, int]:
    ctx.metrics.signaling_errors.labels(code=str(code)).inc()
    return jsonify({"error": {"code": code, "message": message}}), code


def create_rest_blueprint(ctx: ServerContext) -> Blueprint:
    """The /api routes, bound to one server's context."""
    api = Blueprint("api", __name__, url_prefix="/api")

    def bearer_claims() -> TokenClaims | None:
        """The caller's token claims; None when auth is off. Raises on a bad or missing token."""
        if ctx.verifier is None:
            return None
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        try:
            return ctx.verifier.verify(token or request.args.get("token"))
        except AuthError as exc:
            ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
            raise SignalingError(exc.message, code=exc.status) from None

    def require_admin() -> None:
        claims = bearer_claims()
        if claims is not None and ctx.verifier is not None:
            try:
                ctx.verifier.authorize_admin(claims)
            except AuthError as exc:
                ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
                raise SignalingError(exc.message, code=exc.status) from None

    def require_room_access(name: str) -> None:
        claims = bearer_claims()
        if claims is None or ctx.verifier is None or claims.grants.room_admin:
            return
        try:
            ctx.verifier.authorize_room(claims, name)
        except AuthError as exc:
            ctx.metrics.auth_rejected.labels(reason=exc.reason).inc()
            raise SignalingError(exc.message, code=exc.status) from None

    @api.errorhandler(SignalingError)
    async def on_signaling_error(exc: SignalingError) -> tuple[Response, int]:
        return error_response(ctx, exc.code, exc.message)

    async def relayed(name: str, op: str, **args: Any) -> tuple[Response, int] | None:
        """Run ``op`` on the node hosting ``name`` when that is another node; None if local."""
        cluster, relay = ctx.cluster, ctx.relay
        if cluster is None or relay is None or cluster.hosts(name):
            return None
        try:
            owner = await ctx.state.room_owner(name)
            live = {node.node_id for node in await ctx.state.list_nodes()}
        except StateUnavailable as exc:
            ctx.metrics.state_backend_errors.inc()
            if op == "create-room":
                return None
            raise Unavailable(f"cluster state unavailable: {exc}") from None
        if op == "create-room":
            if owner in live:
                raise Conflict(f"room {name!r} already exists (on node {owner})")
            owner = await cluster.route(name)
        if owner is None or owner == ctx.instance_id or owner not in live:
            return None
        status, body = await relay.request(owner, op, {"name": name, **args})
        return jsonify(body), status

    @api.get("/rooms")
    async def list_rooms() -> Response:
        bearer_claims()
        local = [room for room in ctx.registry.rooms.values() if not room.closed]
        if ctx.cluster is None:
            rooms = [room.describe() for room in local]
            return jsonify({"rooms": rooms, "total": len(rooms)})
        cluster = ctx.cluster
        listed = {room.name: record_summary(cluster.room_record(room)) for room in local}
        complete = True
        try:
            for record in await ctx.state.list_rooms():
                listed.setdefault(record.name, record_summary(record))
        except StateUnavailable:
            ctx.metrics.state_backend_errors.inc()
            complete = False
        rooms = [listed[name] for name in sorted(listed)]
        return jsonify({"rooms": rooms, "total": len(rooms), "complete": complete})

    @api.post("/rooms")
    async def create_room() -> tuple[Response, int]:
        require_admin()
        body = await request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object with a name")
        name = validate_identifier(
            body.get("name"), field="name", max_length=ctx.config.max_room_id_length
        )
        max_peers = body.get("maxPeers")
        if max_peers is not None and (
            isinstance(max_peers, bool) or not isinstance(max_peers, int) or max_peers < 1
        ):
            raise BadRequest("maxPeers must be a positive integer")
        if (answer := await relayed(name, "create-room", maxPeers=max_peers)) is not None:
            return answer
        room = await ctx.registry.create_room(name, max_peers=max_peers)
        if ctx.cluster is not None:
            return jsonify(room_summary(ctx, room.name)), 201
        return jsonify(room.describe()), 201

    @api.get("/rooms/<name>")
    async def show_room(name: str) -> Response | tuple[Response, int]:
        require_room_access(name)
        if (answer := await relayed(name, "show-room")) is not None:
            return answer
        if ctx.cluster is not None:
            return jsonify(room_summary(ctx, name, with_participants=True))
        return jsonify(ctx.registry.get(name).describe(with_participants=True))

    @api.delete("/rooms/<name>")
    async def delete_room(name: str) -> tuple[str | Response, int]:
        require_admin()
        if (answer := await relayed(name, "delete-room")) is not None:
            return answer
        ctx.registry.delete_room(name, reason="deleted")
        return "", 204

    @api.post("/admin/drain")
    async def drain() -> tuple[Response, int]:
        """Stop taking rooms, send the clients elsewhere, exit when empty or at the timeout."""
        require_admin()
        if ctx.registry.draining or ctx.shutdown_requested.is_set():
            raise Conflict("already draining")
        ctx.shutdown_requested.set()
        return jsonify({"draining": True, "instanceId": ctx.instance_id}), 202

    return api
