"""REST operations performed by the node hosting a room, for requests relayed by other nodes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..runtime.errors import BadRequest
from ..state.records import RoomRecord
from .context import ServerContext


def room_summary(
    ctx: ServerContext, name: str, *, with_participants: bool = False
) -> dict[str, Any]:
    """A local room's REST description, with the node that hosts it."""
    summary = ctx.registry.get(name).describe(with_participants=with_participants)
    summary["ownerNode"] = ctx.instance_id
    return summary


def record_summary(record: RoomRecord) -> dict[str, Any]:
    """A room of another node as the cluster lists it (the shape of ``Room.describe``)."""
    return {
        "id": record.name,
        "name": record.name,
        "peerCount": record.peer_count,
        "trackCount": record.track_count,
        "maxPeers": record.max_peers,
        "createdAt": datetime.fromtimestamp(record.created_at, UTC).isoformat(),
        "ownerNode": record.owner_node,
    }


async def perform_request(ctx: ServerContext, op: str, args: Any) -> tuple[int, dict[str, Any]]:
    """Run ``op`` on this node; (status, body). Raises SignalingError for refusals."""
    if not isinstance(args, dict) or not isinstance(args.get("name"), str):
        raise BadRequest("relayed request without a room name")
    name: str = args["name"]
    if op == "show-room":
        return 200, room_summary(ctx, name, with_participants=True)
    if op == "delete-room":
        ctx.registry.delete_room(name, reason="deleted")
        return 204, {}
    if op == "create-room":
        max_peers = args.get("maxPeers")
        limit = (
            max_peers if isinstance(max_peers, int) and not isinstance(max_peers, bool) else None
        )
        await ctx.registry.create_room(name, max_peers=limit)
        return 201, room_summary(ctx, name)
    raise BadRequest(f"unknown relayed request {op!r}")
