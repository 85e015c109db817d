"""The REST API: rooms (list, create, show, delete). Room ids in URLs are room names."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from ..runtime.errors import BadRequest, SignalingError
from .auth import AuthError, TokenClaims
from .context import ServerContext
from .messages import validate_identifier


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

    @api.get("/rooms")
    async def list_rooms() -> Response:
        bearer_claims()
        rooms = [room.describe() for room in ctx.registry.rooms.values() if not room.closed]
        return jsonify({"rooms": rooms, "total": len(rooms)})

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
        room = await ctx.registry.create_room(name, max_peers=max_peers)
        return jsonify(room.describe()), 201

    @api.get("/rooms/<name>")
    async def show_room(name: str) -> Response:
        require_room_access(name)
        return jsonify(ctx.registry.get(name).describe(with_participants=True))

    @api.delete("/rooms/<name>")
    async def delete_room(name: str) -> tuple[str, int]:
        require_admin()
        ctx.registry.delete_room(name, reason="deleted")
        return "", 204

    _ = (list_rooms, create_room, show_room, delete_room, on_signaling_error)
    return api
