"""The signaling envelope and the validation of what clients send (see docs/protocol.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..runtime.errors import BadRequest

IDENTIFIER = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_NAME_LENGTH = 100

CLIENT_MESSAGE_TYPES = frozenset(
    {
        "join",
        "leave",
        "offer",
        "answer",
        "ice-candidate",
        "ice-restart-request",
        "is-allow-renegotiation",
        "media-state",
        "subscription",
        "layer-switch",
        "set-bandwidth-limit",
        "ping",
        "pong",
    }
)

MEDIA_SOURCES = ("camera", "microphone", "screen")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message from a client: its type and its data, always an object (possibly empty)."""

    type: str
    data: dict[str, Any]


def parse_envelope_untrusted(text: str | bytes) -> Envelope:
    """Parse ``{"type", "data", "timestamp"}``; ``data`` may be an object or a JSON string."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("malformed JSON") from None
    if not isinstance(message, dict):
        raise BadRequest("a message must be a JSON object")
    type_ = message.get("type")
    if not isinstance(type_, str) or not type_:
        raise BadRequest("message has no type")
    data = message.get("data")
    if isinstance(data, str):
        if not data.strip():
            data = None
        else:
            try:
                data = json.loads(data)
            except ValueError:
                raise BadRequest(f"{type_}: data is a string that is not JSON") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest(f"{type_}: data must be an object")
    return Envelope(type_, data)


def encode_message(type: str, data: dict[str, Any] | None) -> str:
    """The envelope the server sends: ``data`` is an object, or left out."""
    envelope: dict[str, Any] = {"type": type}
    if data is not None:
        envelope["data"] = data
    envelope["timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    return json.dumps(envelope, separators=(",", ":"))


def validate_identifier(value: object, *, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field} is required")
    if len(value) > max_length:
        raise BadRequest(f"{field} is longer than {max_length} characters")
    if not IDENTIFIER.match(value):
        raise BadRequest(f"{field} may contain only letters, digits, '_', '.' and '-'")
    return value


def optional_string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


def display_name(value: object, fallback: str) -> str:
    if value is None or value == "":
        return fallback
    if not isinstance(value, str):
        raise BadRequest("name must be a string")
    cleaned = "".join(ch for ch in value.strip() if ch.isprintable())
    return cleaned[:MAX_NAME_LENGTH] or fallback


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """A validated ``join``."""

    room: str
    user_id: str | None
    name: str
    session_id: str | None
    session_token: str | None
    token: str | None


def parse_join(
    data: dict[str, Any],
    *,
    query_user_id: str | None,
    query_name: str | None,
    max_room_id_length: int,
    max_user_id_length: int,
) -> JoinRequest:
    """Validate a join; ``user_id`` may be None here when a token is to supply it."""
    room = validate_identifier(data.get("roomId"), field="roomId", max_length=max_room_id_length)
    raw_user_id = data.get("userId") or query_user_id
    user_id = None
    if raw_user_id is not None:
        user_id = validate_identifier(raw_user_id, field="userId", max_length=max_user_id_length)
    return JoinRequest(
        room=room,
        user_id=user_id,
        name=display_name(data.get("name") or query_name, user_id or ""),
        session_id=optional_string(data, "sessionId"),
        session_token=optional_string(data, "sessionToken"),
        token=optional_string(data, "token"),
    )


def parse_media_state(data: dict[str, Any]) -> tuple[str, bool]:
    source = data.get("source")
    if source not in MEDIA_SOURCES:
        raise BadRequest(f"media-state: source must be one of {', '.join(MEDIA_SOURCES)}")
    muted = data.get("muted")
    if not isinstance(muted, bool):
        raise BadRequest("media-state: muted must be true or false")
    return str(source), muted


def parse_bandwidth(data: dict[str, Any]) -> int:
    bandwidth = data.get("bandwidth")
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float):
        raise BadRequest("set-bandwidth-limit: bandwidth must be a number of bits per second")
    if bandwidth < 0 or bandwidth > 1_000_000_000:
        raise BadRequest("set-bandwidth-limit: bandwidth must be between 0 and 1e9")
    return int(bandwidth)


def parse_sdp(data: dict[str, Any], message_type: str) -> str:
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadRequest(f"{message_type}: sdp must be a non-empty string")
    return sdp


@dataclass(frozen=True, slots=True)
class OfferRequest:
    """A validated ``offer``: the SDP and the source of each published track id."""

    sdp: str
    sources: dict[str, str]


def parse_offer(data: dict[str, Any]) -> OfferRequest:
    sdp = parse_sdp(data, "offer")
    if data.get("type", "offer") != "offer":
        raise BadRequest("offer: type must be 'offer'")
    sources: dict[str, str] = {}
    tracks = data.get("tracks") or []
    if not isinstance(tracks, list):
        raise BadRequest("offer: tracks must be a list")
    for entry in tracks:
        if not isinstance(entry, dict):
            raise BadRequest("offer: each track must be an object")
        track_id, source = entry.get("trackId"), entry.get("source")
        if not isinstance(track_id, str) or source not in MEDIA_SOURCES:
            raise BadRequest("offer: each track needs a trackId and a known source")
        sources[track_id] = str(source)
    return OfferRequest(sdp, sources)


def parse_candidate(data: dict[str, Any]) -> None:
    candidate = data.get("candidate")
    if candidate is not None and not isinstance(candidate, str):
        raise BadRequest("ice-candidate: candidate must be a string")


SUBSCRIPTION_ACTIONS = ("subscribe", "unsubscribe", "pause", "resume")


def parse_subscription(data: dict[str, Any]) -> tuple[str, str]:
    track_id, action = data.get("trackId"), data.get("action")
    if not isinstance(track_id, str) or not track_id:
        raise BadRequest("subscription: trackId is required")
    if action not in SUBSCRIPTION_ACTIONS:
        raise BadRequest(f"subscription: action must be one of {', '.join(SUBSCRIPTION_ACTIONS)}")
    return track_id, str(action)


def parse_layer_switch(data: dict[str, Any]) -> tuple[str, str]:
    track_id, rid = data.get("trackId"), data.get("targetRid")
    if not isinstance(track_id, str) or not track_id:
        raise BadRequest("layer-switch: trackId is required")
    if not isinstance(rid, str) or not rid:
        raise BadRequest("layer-switch: targetRid is required")
    return track_id, rid
