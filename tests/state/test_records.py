"""Records: JSON round trip, strict decoding, session-token hashing."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.state.records import (
    NodeInfo,
    RecordDecodeError,
    RoomRecord,
    SessionRecord,
    decode_record,
    encode_record,
    hash_session_token,
    verify_session_token,
)

NODE = NodeInfo("node-a", "ws://a/ws", "192.0.2.1", 7882, 7881, 2, 9, 3_000_000, 0.5, 1.5)
ROOM = RoomRecord("demo", "node-a", 3, 6, 100, 1_700_000_000.25)
SESSION = SessionRecord("s1", hash_session_token("t"), "demo", "p1", "alice", "Alice", "node-a")

text = st.text(max_size=20)
nodes = st.builds(
    NodeInfo,
    text,
    text,
    text,
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**12),
    st.floats(0, 1e3),
    st.floats(0, 1e10),
)


def test_encoding_is_compact_json_with_every_field() -> None:
    assert encode_record(ROOM) == (
        b'{"name":"demo","owner_node":"node-a","peer_count":3,"track_count":6,'
        b'"max_peers":100,"created_at":1700000000.25}'
    )


def test_round_trip() -> None:
    assert decode_record(NodeInfo, encode_record(NODE)) == NODE
    assert decode_record(RoomRecord, encode_record(ROOM)) == ROOM
    assert decode_record(SessionRecord, encode_record(SESSION)) == SESSION


@given(nodes)
def test_node_round_trip(info: NodeInfo) -> None:
    assert decode_record(NodeInfo, encode_record(info)) == info


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"name": "demo"}', "fields"),
        (encode_record(ROOM).replace(b'"peer_count":3', b'"peer_count":"3"'), "peer_count"),
        (encode_record(ROOM).replace(b'"peer_count":3', b'"peer_count":true'), "peer_count"),
        (encode_record(ROOM).replace(b'"peer_count":3', b'"peer_count":3.5'), "peer_count"),
        (encode_record(ROOM).replace(b'"name":"demo"', b'"name":null'), "name"),
        (encode_record(ROOM)[:-1] + b',"extra":1}', "fields"),
    ],
)
def test_bad_bytes_raise_record_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(RecordDecodeError, match=reason):
        decode_record(RoomRecord, data)


def test_integral_float_fields_accept_json_integers() -> None:
    data = encode_record(ROOM).replace(b"1700000000.25", b"1700000000")
    assert decode_record(RoomRecord, data).created_at == 1_700_000_000


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_record_decode_error(data: bytes) -> None:
    with contextlib.suppress(RecordDecodeError):
        decode_record(SessionRecord, data)


def test_session_token_hash_is_sha256_hex_of_the_token() -> None:
    assert hash_session_token("t") == hashlib.sha256(b"t").hexdigest()
    assert verify_session_token(SESSION, "t") is True
    assert verify_session_token(SESSION, "T") is False
    assert verify_session_token(SESSION, "t ") is False
