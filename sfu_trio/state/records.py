"""The records shared through the state backend, their JSON form, and session-token checks."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node of the cluster as it announces itself with every heartbeat."""

    node_id: str
    signaling_url: str
    media_host: str
    udp_port: int
    tcp_port: int
    rooms: int
    participants: int
    forwarded_bps: int
    cpu: float
    """CPU use of the node's process, in cores (1.0 = one core fully busy)."""
    updated_at: float
    """Wall-clock time (Unix seconds) the node wrote this record."""


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """A live room as the cluster lists it."""

    name: str
    owner_node: str
    peer_count: int
    track_count: int
    max_peers: int
    created_at: float
    """Wall-clock time (Unix seconds)."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a client needs to resume its place in a room, possibly through another node."""

    session_id: str
    token_hash: str
    """Hex SHA-256 of the session token; the token itself is never stored."""
    room: str
    peer_id: str
    user_id: str
    name: str
    node_id: str


class RecordDecodeError(ValueError):
    """Stored bytes are not a valid record (another version wrote them, or they are corrupt)."""


Record = TypeVar("Record", NodeInfo, RoomRecord, SessionRecord)

_FIELD_TYPES: dict[type, dict[str, tuple[type, ...]]] = {}


def _field_types(cls: type) -> dict[str, tuple[type, ...]]:
    types = _FIELD_TYPES.get(cls)
    if types is None:
        accepted = {"str": (str,), "int": (int,), "float": (int, float)}
        types = {field.name: accepted[str(field.type)] for field in dataclasses.fields(cls)}
        _FIELD_TYPES[cls] = types
    return types


def encode_record(record: NodeInfo | RoomRecord | SessionRecord) -> bytes:
    """The record as compact JSON."""
    return json.dumps(dataclasses.asdict(record), separators=(",", ":")).encode()


def decode_record(cls: type[Record], data: bytes) -> Record:
    """Parse what :func:`encode_record` produced; :class:`RecordDecodeError` for anything else."""
    try:
        fields: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordDecodeError(f"{cls.__name__}: not JSON") from exc
    if not isinstance(fields, dict):
        raise RecordDecodeError(f"{cls.__name__}: not a JSON object")
    types = _field_types(cls)
    if fields.keys() != types.keys():
        raise RecordDecodeError(f"{cls.__name__}: fields {sorted(fields)} != {sorted(types)}")
    for name, accepted in types.items():
        value = fields[name]
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise RecordDecodeError(f"{cls.__name__}.{name}: unexpected {type(value).__name__}")
    return cls(**fields)


def hash_session_token(token: str) -> str:
    """The hex SHA-256 stored in :attr:`SessionRecord.token_hash`."""
    return hashlib.sha256(token.encode()).hexdigest()


def verify_session_token(record: SessionRecord, token: str) -> bool:
    """Whether ``token`` is the session's token (constant-time comparison of the hashes)."""
    return hmac.compare_digest(hash_session_token(token), record.token_hash)
