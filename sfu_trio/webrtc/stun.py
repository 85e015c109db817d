"""STUN for an ICE-lite server, over aioice's message codec (RFC 8489, RFC 8445 §7.3).

aioice parses and builds messages; this module adds what a server facing the internet needs:
strict framing checks before aioice sees the bytes (so only `StunParseError` escapes),
MESSAGE-INTEGRITY verified against the raw bytes, a USERNAME peek that allocates nothing but
the string (to route a datagram from an unknown address), and the responses an ICE-lite
agent sends.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from aioice import stun
from aioice.stun import Class, Message, Method

from sfu_trio.webrtc.errors import ParseError

__all__ = [
    "ERROR_REASONS",
    "MAGIC_COOKIE",
    "Class",
    "Message",
    "Method",
    "StunParseError",
    "build_binding_success",
    "build_error_response",
    "check_message_integrity",
    "local_ufrag_of",
    "parse_stun_untrusted",
    "stun_username_untrusted",
]

MAGIC_COOKIE = 0x2112A442
HEADER_LENGTH = 20
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_FINGERPRINT = 0x8028
_HEADER = struct.Struct("!HHI")
_ATTR = struct.Struct("!HH")
_INTEGRITY_VALUE_LENGTH = 20  # HMAC-SHA1

ERROR_REASONS = {400: "Bad Request", 401: "Unauthorized", 487: "Role Conflict"}


class StunParseError(ParseError):
    """A datagram in the STUN range is not a well-formed STUN message."""


def _header_ok(data: bytes | bytearray | memoryview) -> bool:
    """True when `data` has a STUN header whose length field matches the datagram."""
    if len(data) < HEADER_LENGTH:
        return False
    message_type: int
    length: int
    cookie: int
    message_type, length, cookie = _HEADER.unpack_from(data, 0)
    return (
        message_type & 0xC000 == 0
        and cookie == MAGIC_COOKIE
        and length & 3 == 0
        and length + HEADER_LENGTH == len(data)
    )


def _find_attribute(data: bytes | bytearray | memoryview, wanted: int) -> int:
    """Offset of the header of the first `wanted` attribute, -1 if absent or malformed.

    Assumes `_header_ok(data)`. Stops at MESSAGE-INTEGRITY unless it is what is wanted or
    FINGERPRINT (attributes after it are not authenticated, RFC 8489 §14.5).
    """
    pos = HEADER_LENGTH
    end = len(data)
    while pos + 4 <= end:
        attr_type, attr_len = _ATTR.unpack_from(data, pos)
        if pos + 4 + attr_len > end:
            return -1
        if attr_type == wanted:
            return pos
        if attr_type == ATTR_MESSAGE_INTEGRITY and wanted != ATTR_FINGERPRINT:
            return -1
        pos += 4 + ((attr_len + 3) & ~3)
    return -1


def _check_attribute_layout(data: bytes) -> None:
    pos = HEADER_LENGTH
    end = len(data)
    while pos < end:
        if pos + 4 > end:
            raise StunParseError("truncated STUN attribute header")
        attr_type, attr_len = _ATTR.unpack_from(data, pos)
        padded = (attr_len + 3) & ~3
        if pos + 4 + padded > end:
            raise StunParseError(f"STUN attribute 0x{attr_type:04x} overruns the message")
        if attr_type == ATTR_FINGERPRINT and (attr_len != 4 or pos + 8 != end):
            raise StunParseError("FINGERPRINT must be the last attribute, 4 bytes long")
        if attr_type == ATTR_MESSAGE_INTEGRITY and attr_len != _INTEGRITY_VALUE_LENGTH:
            raise StunParseError("MESSAGE-INTEGRITY must be 20 bytes long")
        pos += 4 + padded


def parse_stun_untrusted(data: bytes | bytearray | memoryview) -> Message:
    """Parse a STUN message from the network; FINGERPRINT, when present, must match.

    Raises only `StunParseError`. MESSAGE-INTEGRITY is checked separately
    (`check_message_integrity`), since the key depends on the USERNAME.
    """
    raw = bytes(data)
    if not _header_ok(raw):
        raise StunParseError("not a STUN message (header, magic cookie or length)")
    _check_attribute_layout(raw)
    try:
        return stun.parse_message(raw)
    except (ValueError, struct.error, IndexError, KeyError, TypeError) as exc:
        raise StunParseError(f"malformed STUN message: {exc}") from None


def stun_username_untrusted(data: bytes | bytearray | memoryview) -> str | None:
    """The USERNAME of a STUN message, read without parsing it; None when absent or bad.

    Cheap enough for the UDP socket to route a datagram from an unknown address by the
    local ufrag in it before anything is allocated for the sender.
    """
    if not _header_ok(data):
        return None
    pos = _find_attribute(data, ATTR_USERNAME)
    if pos < 0:
        return None
    (attr_len,) = struct.unpack_from("!H", data, pos + 2)
    try:
        return bytes(data[pos + 4 : pos + 4 + attr_len]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def local_ufrag_of(username: str) -> str:
    """Our ufrag in a Binding request's USERNAME "<our ufrag>:<their ufrag>"."""
    return username.partition(":")[0]


def check_message_integrity(msg: Message, raw: bytes | bytearray | memoryview, key: bytes) -> bool:
    """Verify MESSAGE-INTEGRITY (HMAC-SHA1) of `raw`, the bytes `msg` was parsed from.

    The HMAC covers the message up to MESSAGE-INTEGRITY with the header length set as if it
    were the last attribute, so a FINGERPRINT after it does not change the result. A message
    without MESSAGE-INTEGRITY fails.
    """
    if "MESSAGE-INTEGRITY" not in msg.attributes or not _header_ok(raw):
        return False
    if bytes(raw[8:20]) != msg.transaction_id:
        return False
    pos = _find_attribute(raw, ATTR_MESSAGE_INTEGRITY)
    if pos < 0 or raw[pos + 2] != 0 or raw[pos + 3] != _INTEGRITY_VALUE_LENGTH:
        return False
    mac = hmac.new(key, digestmod=hashlib.sha1)
    mac.update(bytes(raw[0:2]))
    mac.update(struct.pack("!H", pos - HEADER_LENGTH + 4 + _INTEGRITY_VALUE_LENGTH))
    mac.update(bytes(raw[4:pos]))
    expected = bytes(raw[pos + 4 : pos + 4 + _INTEGRITY_VALUE_LENGTH])
    return hmac.compare_digest(mac.digest(), expected)


def build_binding_success(request: Message, addr: tuple[str, int], pwd: str) -> bytes:
    """Binding success response: XOR-MAPPED-ADDRESS of `addr`, MESSAGE-INTEGRITY, FINGERPRINT."""
    response = Message(
        message_method=Method.BINDING,
        message_class=Class.RESPONSE,
        transaction_id=request.transaction_id,
        attributes={"XOR-MAPPED-ADDRESS": (addr[0], addr[1])},
    )
    response.add_message_integrity(pwd.encode("utf-8"))
    return bytes(response)


def build_error_response(request: Message, code: int, pwd: str | None = None) -> bytes:
    """Error response to `request` with ERROR-CODE `code` and FINGERPRINT.

    Pass `pwd` only when the request was authenticated (e.g. 487 Role Conflict); a 400 or a
    401 to a request that failed authentication carries no MESSAGE-INTEGRITY (RFC 8489 §9.1.3).
    """
    response = Message(
        message_method=request.message_method,
        message_class=Class.ERROR,
        transaction_id=request.transaction_id,
        attributes={"ERROR-CODE": (code, ERROR_REASONS.get(code, "Error"))},
    )
    if pwd is None:
        response.add_fingerprint()
    else:
        response.add_message_integrity(pwd.encode("utf-8"))
    return bytes(response)
