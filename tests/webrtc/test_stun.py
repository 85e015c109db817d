"""STUN wrapper over aioice: untrusted parsing, integrity, USERNAME peek, ICE-lite responses."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from aioice import stun as aioice_stun
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.stun import (
    Class,
    Message,
    Method,
    StunParseError,
    build_binding_success,
    build_error_response,
    check_message_integrity,
    local_ufrag_of,
    parse_stun_untrusted,
    stun_username_untrusted,
)

DATA = Path(__file__).parent.parent / "data" / "stun"
RFC5769_PWD = b"VOkJxbRl1RmTxUk/WvJxBt"
RFC5769_TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
CHROMIUM_PWD = b"SfuTrioCaptureIcePwd0123"


def load_hex(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


def request(attributes: dict[str, object], tid: bytes = bytes(range(12))) -> Message:
    return Message(Method.BINDING, Class.REQUEST, transaction_id=tid, attributes=dict(attributes))


# --- golden messages ---------------------------------------------------------------------------


def test_rfc5769_request() -> None:
    data = load_hex("rfc5769_request.hex")
    msg = parse_stun_untrusted(data)
    assert msg.message_method == Method.BINDING
    assert msg.message_class == Class.REQUEST
    assert msg.transaction_id == RFC5769_TID
    assert msg.attributes == {
        "SOFTWARE": "STUN test client",
        "PRIORITY": 0x6E0001FF,
        "ICE-CONTROLLED": 0x932FF9B151263B36,
        "USERNAME": "evtj:h6vY",
        "MESSAGE-INTEGRITY": bytes.fromhex("9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"),
        "FINGERPRINT": 0xE57A3BCF,
    }
    assert check_message_integrity(msg, data, RFC5769_PWD)
    assert not check_message_integrity(msg, data, b"VOkJxbRl1RmTxUk/WvJxBu")
    assert stun_username_untrusted(data) == "evtj:h6vY"


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("rfc5769_response_ipv4.hex", ("192.0.2.1", 32853)),
        ("rfc5769_response_ipv6.hex", ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
)
def test_rfc5769_responses(name: str, address: tuple[str, int]) -> None:
    data = load_hex(name)
    msg = parse_stun_untrusted(data)
    assert msg.message_class == Class.RESPONSE
    assert msg.transaction_id == RFC5769_TID
    assert msg.attributes["SOFTWARE"] == "test vector"
    assert msg.attributes["XOR-MAPPED-ADDRESS"] == address
    assert check_message_integrity(msg, data, RFC5769_PWD)
    assert stun_username_untrusted(data) is None


def test_rfc5769_long_term_request_integrity_as_last_attribute() -> None:
    data = load_hex("rfc5769_request_long_term.hex")
    msg = parse_stun_untrusted(data)
    assert msg.attributes["USERNAME"] == "マトリックス"
    assert msg.attributes["REALM"] == "example.org"
    assert msg.attributes["NONCE"] == b"f//499k954d6OL34oL9FSTvy64sA"
    assert "FINGERPRINT" not in msg.attributes
    key = hashlib.md5("マトリックス:example.org:TheMatrIX".encode()).digest()
    assert check_message_integrity(msg, data, key)
    assert stun_username_untrusted(data) == "マトリックス"


@pytest.mark.parametrize(
    "name", ["chromium_binding_request.hex", "chromium_binding_use_candidate.hex"]
)
def test_chromium_binding_requests(name: str) -> None:
    data = load_hex(name)
    msg = parse_stun_untrusted(data)
    assert msg.message_class == Class.REQUEST
    assert msg.attributes["USERNAME"] == "SfuT:zcH3"
    assert msg.attributes["ICE-CONTROLLING"] == 0x8260C13747BBC3A4
    assert msg.attributes["PRIORITY"] == 0x6E001EFF
    assert ("USE-CANDIDATE" in msg.attributes) is ("use_candidate" in name)
    assert b"\xc0\x57\x00\x04" in data  # GOOG-NETWORK-INFO, skipped by the codec
    assert check_message_integrity(msg, data, CHROMIUM_PWD)
    assert stun_username_untrusted(data) == "SfuT:zcH3"
    assert local_ufrag_of("SfuT:zcH3") == "SfuT"


# --- mutations of a golden message ---------------------------------------------------------------


def test_flipped_bit_fails_fingerprint() -> None:
    data = bytearray(load_hex("rfc5769_request.hex"))
    data[30] ^= 1  # inside SOFTWARE
    with pytest.raises(StunParseError, match="fingerprint does not match"):
        parse_stun_untrusted(bytes(data))


def test_integrity_covers_everything_before_it() -> None:
    # Drop the FINGERPRINT so the mutated message still parses; then MESSAGE-INTEGRITY must fail.
    data = bytearray(load_hex("rfc5769_request.hex")[:-8])
    struct.pack_into("!H", data, 2, len(data) - 20)
    msg = parse_stun_untrusted(bytes(data))
    assert check_message_integrity(msg, bytes(data), RFC5769_PWD)  # length is adjusted anyway
    data[30] ^= 1
    assert not check_message_integrity(parse_stun_untrusted(bytes(data)), bytes(data), RFC5769_PWD)


def test_integrity_against_other_bytes_fails() -> None:
    data = load_hex("rfc5769_request.hex")
    msg = parse_stun_untrusted(load_hex("chromium_binding_request.hex"))
    assert not check_message_integrity(msg, data, RFC5769_PWD)  # transaction id differs
    no_integrity = parse_stun_untrusted(bytes(request({"USERNAME": "a:b"})))
    assert not check_message_integrity(no_integrity, bytes(request({"USERNAME": "a:b"})), b"k")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a STUN message"),
        (bytes(19), "not a STUN message"),
        (bytes.fromhex("0001000021120000") + bytes(12), "not a STUN message"),  # bad cookie
        (bytes.fromhex("c00100002112a442") + bytes(12), "not a STUN message"),  # top bits
        (bytes.fromhex("000100042112a442") + bytes(12), "not a STUN message"),  # short
        (bytes.fromhex("000100022112a442") + bytes(14), "not a STUN message"),  # length % 4
        (bytes.fromhex("000100042112a442") + bytes(12) + b"\x00\x06\x00\x09", "overruns"),
        (bytes.fromhex("000100082112a442") + bytes(12) + b"\x80\x28\x00\x04" + bytes(4), "finger"),
        (
            bytes.fromhex("000100102112a442") + bytes(12) + b"\x80\x28\x00\x04" + bytes(4) * 3,
            "FINGERPRINT must be the last",
        ),
        (
            bytes.fromhex("000100082112a442") + bytes(12) + b"\x00\x08\x00\x04" + bytes(4),
            "MESSAGE-INTEGRITY must be 20",
        ),
        (bytes.fromhex("000100082112a442") + bytes(12) + b"\x00\x24\x00\x02" + bytes(4), "malf"),
        (bytes.fromhex("0fff00002112a442") + bytes(12), "malformed"),  # unknown method
        (
            bytes.fromhex("000100082112a442") + bytes(12) + b"\x00\x06\x00\x02\xff\xfe\x00\x00",
            "mal",
        ),
    ],
)
def test_malformed_messages(data: bytes, message: str) -> None:
    with pytest.raises(StunParseError, match=message):
        parse_stun_untrusted(data)


# --- builders ------------------------------------------------------------------------------------


def test_binding_success_response_bytes() -> None:
    req = parse_stun_untrusted(load_hex("rfc5769_request.hex"))
    data = build_binding_success(req, ("192.0.2.1", 32853), "VOkJxbRl1RmTxUk/WvJxBt")
    # Header, XOR-MAPPED-ADDRESS exactly as in RFC 5769 §2.2, then MESSAGE-INTEGRITY and
    # FINGERPRINT over our (SOFTWARE-less) message.
    assert data[:20] == bytes.fromhex("0101002c2112a442") + RFC5769_TID
    assert data[20:32] == bytes.fromhex("002000080001a147e112a643")
    assert data[32:36] == bytes.fromhex("00080014")
    assert data[56:60] == bytes.fromhex("80280004")
    assert len(data) == 64
    msg = parse_stun_untrusted(data)
    assert msg.message_class == Class.RESPONSE
    assert list(msg.attributes) == ["XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"]
    assert check_message_integrity(msg, data, RFC5769_PWD)


def test_binding_success_ipv6() -> None:
    req = parse_stun_untrusted(load_hex("rfc5769_request.hex"))
    address = ("2001:db8:1234:5678:11:2233:4455:6677", 32853)
    data = build_binding_success(req, address, "VOkJxbRl1RmTxUk/WvJxBt")
    assert data[20:44] == bytes.fromhex("002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9")


@pytest.mark.parametrize(
    ("code", "reason", "pwd"),
    [(400, "Bad Request", None), (401, "Unauthorized", None), (487, "Role Conflict", "p" * 22)],
)
def test_error_responses(code: int, reason: str, pwd: str | None) -> None:
    req = parse_stun_untrusted(load_hex("rfc5769_request.hex"))
    data = build_error_response(req, code, pwd)
    msg = parse_stun_untrusted(data)
    assert msg.message_method == Method.BINDING
    assert msg.message_class == Class.ERROR
    assert msg.transaction_id == RFC5769_TID
    assert msg.attributes["ERROR-CODE"] == (code, reason)
    assert "FINGERPRINT" in msg.attributes
    assert ("MESSAGE-INTEGRITY" in msg.attributes) is (pwd is not None)
    if pwd is not None:
        assert check_message_integrity(msg, data, pwd.encode())
    assert data[20:28] == struct.pack("!HHHBB", 0x0009, 4 + len(reason), 0, code // 100, code % 100)


def test_local_ufrag_of() -> None:
    assert local_ufrag_of("abcd:efgh") == "abcd"
    assert local_ufrag_of("abcd:ef:gh") == "abcd"
    assert local_ufrag_of("abcd") == "abcd"


# --- stun_username_untrusted: the cheap peek -----------------------------------------------------


def test_username_peek_stops_at_message_integrity() -> None:
    msg = request({"PRIORITY": 1})
    msg.add_message_integrity(b"key")
    data = bytes(msg)
    # Append a USERNAME after MESSAGE-INTEGRITY/FINGERPRINT: not authenticated, not returned.
    tail = b"\x00\x06\x00\x04abcd"
    forged = bytearray(data + tail)
    struct.pack_into("!H", forged, 2, len(forged) - 20)
    assert stun_username_untrusted(bytes(forged)) is None
    assert stun_username_untrusted(b"\x80" + data[1:]) is None


def test_username_peek_invalid_utf8() -> None:
    data = bytes.fromhex("000100082112a442") + bytes(12) + b"\x00\x06\x00\x02\xff\xfe\x00\x00"
    assert stun_username_untrusted(data) is None


# --- hypothesis ----------------------------------------------------------------------------------

usernames = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    username=usernames,
    priority=st.integers(0, 2**32 - 1),
    tie_breaker=st.integers(0, 2**64 - 1),
    use_candidate=st.booleans(),
    tid=st.binary(min_size=12, max_size=12),
    key=st.binary(min_size=1, max_size=40),
)
def test_round_trip_with_aioice_builder(
    username: str, priority: int, tie_breaker: int, use_candidate: bool, tid: bytes, key: bytes
) -> None:
    attributes: dict[str, object] = {
        "USERNAME": username,
        "PRIORITY": priority,
        "ICE-CONTROLLING": tie_breaker,
    }
    if use_candidate:
        attributes["USE-CANDIDATE"] = None
    msg = request(attributes, tid)
    msg.add_message_integrity(key)
    data = bytes(msg)
    parsed = parse_stun_untrusted(data)
    assert parsed.transaction_id == tid
    assert parsed.attributes == msg.attributes
    assert check_message_integrity(parsed, data, key)
    assert not check_message_integrity(parsed, data, key + b"x")
    assert stun_username_untrusted(data) == username
    assert bytes(parsed) == data


def _only_parse_error(data: bytes) -> None:
    try:
        msg = parse_stun_untrusted(data)
    except StunParseError as exc:
        assert isinstance(exc, ParseError)
    else:
        check_message_integrity(msg, data, b"key")
    username = stun_username_untrusted(data)
    assert username is None or isinstance(username, str)


@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _only_parse_error(data)


@given(
    st.binary(max_size=120),
    st.integers(0, 0x3FFF),
)
def test_random_bodies_with_valid_header(body: bytes, message_type: int) -> None:
    body = body + bytes(-len(body) % 4)
    data = struct.pack("!HHI", message_type, len(body), 0x2112A442) + bytes(12) + body
    _only_parse_error(data)


@given(st.data())
def test_truncated_and_mutated_goldens(data: st.DataObject) -> None:
    name = data.draw(
        st.sampled_from(
            [
                "rfc5769_request.hex",
                "rfc5769_response_ipv4.hex",
                "rfc5769_response_ipv6.hex",
                "rfc5769_request_long_term.hex",
                "chromium_binding_use_candidate.hex",
            ]
        )
    )
    golden = bytearray(load_hex(name))
    cut = data.draw(st.integers(0, len(golden)))
    truncated = bytes(golden[:cut])
    _only_parse_error(truncated)
    if cut < len(golden):
        with pytest.raises(StunParseError):
            parse_stun_untrusted(truncated)
    position = data.draw(st.integers(0, len(golden) - 1))
    golden[position] ^= data.draw(st.integers(1, 255))
    _only_parse_error(bytes(golden))


def test_aioice_parse_errors_are_wrapped() -> None:
    # aioice itself raises struct.error for a 2-byte PRIORITY; we raise StunParseError.
    data = bytes.fromhex("000100082112a442") + bytes(12) + b"\x00\x24\x00\x02" + bytes(4)
    with pytest.raises(struct.error):
        aioice_stun.parse_message(data)
    with pytest.raises(StunParseError):
        parse_stun_untrusted(data)
