"""Liveness (/health) and readiness (/ready)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, jsonify

from .context import ServerContext


def create_health_blueprint(ctx: ServerContext) -> Blueprint:
    """/health says how the node is; /ready says whether it should get new clients."""
    health = Blueprint("health", __name__)

    async def report() -> tuple[dict[str, Any], bool]:
        backend = await ctx.state.check_health()
        cluster, relay = ctx.cluster, ctx.relay
        joined = cluster is None or (cluster.registered and relay is not None and relay.listening)
        if ctx.draining:
            status = "draining"
        elif not backend.healthy or not joined:
            status = "degraded"
        else:
            status = "ok"
        registry = ctx.registry
        payload = {
            "status": status,
            "instanceId": ctx.instance_id,
            "version": ctx.version,
            "uptime": round(ctx.uptime(), 3),
            "rooms": len(registry.rooms),
            "peers": registry.peer_count(),
            "stateBackend": {
                "kind": backend.kind,
                "healthy": backend.healthy,
                "detail": backend.detail,
            },
        }
        if cluster is not None:
            payload["cluster"] = {
                "nodeId": cluster.node_id,
                "registered": cluster.registered,
                "relayListening": relay is not None and relay.listening,
                "nodes": sorted(cluster.live_nodes),
                "relayedSockets": 0 if relay is None else relay.doors,
                "hostedSessions": 0 if relay is None else relay.hosted,
            }
        return payload, status == "ok"

    @health.get("/health")
    async def liveness() -> Response:
        payload, _ready = await report()
        return jsonify(payload)

    @health.get("/ready")
    async def readiness() -> tuple[Response, int]:
        payload, ready = await report()
        payload["ready"] = ready
        return jsonify(payload), 200 if ready else 503

    return health
