"""RTP packets (RFC 3550) with RFC 8285 header extensions, and hot-path rewriters.

`RtpHeader.parse_untrusted` is the per-packet parser: it validates the fixed header, the CSRC
list, the extension block bounds and the padding, but walks extension elements only on demand.
`RtpPacket` is the convenient (slower) full model used for building packets and in tests.
The `rewrite_*`/`remap_*`/`set_*` functions edit a forwarded packet in place in its bytearray.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from sfu_trio.webrtc.errors import ParseError

__all__ = [
    "ONE_BYTE_PROFILE",
    "TWO_BYTE_PROFILE",
    "RtpHeader",
    "RtpPacket",
    "RtpParseError",
    "remap_extension_ids",
    "rewrite_header",
    "set_extension_value",
]

ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # 0x1000-0x100F; the low 4 bits are "appbits"

_FIXED = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
_REWRITE = struct.Struct("!BHII")


class RtpParseError(ParseError):
    """An RTP packet from the network is malformed."""


def _locate(
    data: bytes | bytearray | memoryview, start: int, end: int, two_byte: bool, ext_id: int
) -> int:
    """Return ``offset << 8 | length`` of element `ext_id` in ``data[start:end]``, or -1."""
    pos = start
    if two_byte:
        while pos < end:
            eid = data[pos]
            if eid == 0:
                pos += 1
                continue
            if pos + 1 >= end:
                raise RtpParseError("truncated two-byte extension element")
            length = data[pos + 1]
            pos += 2
            if pos + length > end:
                raise RtpParseError("two-byte extension element overruns the extension block")
            if eid == ext_id:
                return pos << 8 | length
            pos += length
        return -1
    while pos < end:
        b = data[pos]
        if b == 0:
            pos += 1
            continue
        eid = b >> 4
        if eid == 15:  # RFC 8285 §4.2: stop processing the block
            return -1
        length = (b & 0x0F) + 1
        pos += 1
        if pos + length > end:
            raise RtpParseError("one-byte extension element overruns the extension block")
        if eid == ext_id:
            return pos << 8 | length
        pos += length
    return -1


def _elements(
    data: bytes | bytearray | memoryview, start: int, end: int, two_byte: bool
) -> list[tuple[int, int, int]]:
    """List (id, value offset, value length) of every element, validating the block."""
    found: list[tuple[int, int, int]] = []
    pos = start
    while pos < end:
        b = data[pos]
        if b == 0:
            pos += 1
            continue
        if two_byte:
            if pos + 1 >= end:
                raise RtpParseError("truncated two-byte extension element")
            eid, length = b, data[pos + 1]
            pos += 2
        else:
            eid = b >> 4
            if eid == 15:
                break
            length = (b & 0x0F) + 1
            pos += 1
        if pos + length > end:
            raise RtpParseError("extension element overruns the extension block")
        found.append((eid, pos, length))
        pos += length
    return found


class RtpHeader:
    """The parsed header of one RTP packet; keeps a reference to the packet's buffer.

    Extension elements are looked up lazily in that buffer, so the header stays valid for
    lookups while the buffer is unchanged (in-place rewrites of ids/values are seen).
    """

    __slots__ = (
        "_data",
        "_ext_end",
        "_ext_start",
        "csrcs",
        "extension_profile",
        "header_length",
        "marker",
        "padding",
        "padding_length",
        "payload_length",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
        "version",
    )

    version: int
    padding: bool
    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int | None
    header_length: int
    payload_length: int
    padding_length: int
    _data: bytes | bytearray | memoryview
    _ext_start: int
    _ext_end: int

    @classmethod
    def parse_untrusted(cls, data: bytes | bytearray | memoryview) -> RtpHeader:
        """Parse and bound-check the header of `data` (raises `RtpParseError`)."""
        size = len(data)
        if size < 12:
            raise RtpParseError(f"RTP packet too short ({size} bytes)")
        b0, b1, seq, ts, ssrc = _FIXED.unpack_from(data)
        if b0 >> 6 != 2:
            raise RtpParseError(f"RTP version {b0 >> 6} is not 2")
        self = cls.__new__(cls)
        self._data = data
        self.version = 2
        self.marker = b1 >= 0x80
        self.payload_type = b1 & 0x7F
        self.sequence_number = seq
        self.timestamp = ts
        self.ssrc = ssrc
        cc = b0 & 0x0F
        pos = 12
        if cc:
            pos += 4 * cc
            if pos > size:
                raise RtpParseError("RTP CSRC list overruns the packet")
            self.csrcs = struct.unpack_from(f"!{cc}I", data, 12)
        else:
            self.csrcs = ()
        if b0 & 0x10:
            if pos + 4 > size:
                raise RtpParseError("RTP extension header overruns the packet")
            profile, words = _EXT_HEADER.unpack_from(data, pos)
            pos += 4
            self._ext_start = pos
            pos += 4 * words
            if pos > size:
                raise RtpParseError("RTP extension block overruns the packet")
            self._ext_end = pos
            self.extension_profile = profile
        else:
            self._ext_start = self._ext_end = pos
            self.extension_profile = None
        self.header_length = pos
        if b0 & 0x20:
            pad = data[size - 1]
            if pad == 0 or pos + pad > size:
                raise RtpParseError(f"bad RTP padding length {pad}")
            self.padding = True
            self.padding_length = pad
            self.payload_length = size - pos - pad
        else:
            self.padding = False
            self.padding_length = 0
            self.payload_length = size - pos
        return self

    def _find(self, ext_id: int) -> int:
        profile = self.extension_profile
        if profile == ONE_BYTE_PROFILE:
            return _locate(self._data, self._ext_start, self._ext_end, False, ext_id)
        if profile is not None and profile >> 4 == 0x100:
            return _locate(self._data, self._ext_start, self._ext_end, True, ext_id)
        return -1

    def extension(self, ext_id: int) -> bytes | None:
        """The value of extension element `ext_id`, or None (raises `RtpParseError` if the
        elements before it are malformed)."""
        found = self._find(ext_id)
        if found < 0:
            return None
        start = found >> 8
        return bytes(self._data[start : start + (found & 0xFF)])

    def extensions(self) -> dict[int, bytes]:
        """All RFC 8285 extension elements by id (later duplicates win)."""
        profile = self.extension_profile
        if profile is None or not (profile == ONE_BYTE_PROFILE or profile >> 4 == 0x100):
            return {}
        data = self._data
        elems = _elements(data, self._ext_start, self._ext_end, profile != ONE_BYTE_PROFILE)
        return {eid: bytes(data[off : off + n]) for eid, off, n in elems}

    @property
    def payload(self) -> bytes:
        """A copy of the payload, without padding."""
        start = self.header_length
        return bytes(self._data[start : start + self.payload_length])


class RtpPacket:
    """A complete RTP packet as plain values; `serialize()` writes canonical bytes.

    Canonical means: extension elements packed in dict order without padding between them,
    zero bytes up to the 32-bit boundary, and padding as zeros followed by its length byte.
    A non-RFC 8285 extension profile is kept with its raw body in `extension_data`.
    """

    __slots__ = (
        "csrcs",
        "extension_data",
        "extension_profile",
        "extensions",
        "marker",
        "padding_length",
        "payload",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        *,
        payload_type: int,
        sequence_number: int,
        timestamp: int,
        ssrc: int,
        marker: bool = False,
        csrcs: tuple[int, ...] = (),
        extensions: dict[int, bytes] | None = None,
        extension_profile: int | None = None,
        extension_data: bytes = b"",
        payload: bytes = b"",
        padding_length: int = 0,
    ) -> None:
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.marker = marker
        self.csrcs = csrcs
        self.extensions = {} if extensions is None else extensions
        self.extension_profile = extension_profile
        self.extension_data = extension_data
        self.payload = payload
        self.padding_length = padding_length

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self.__slots__))
        return f"RtpPacket({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RtpPacket):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def parse_untrusted(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        """Parse a whole packet (raises `RtpParseError`)."""
        header = RtpHeader.parse_untrusted(data)
        profile = header.extension_profile
        rfc8285 = profile is not None and (profile == ONE_BYTE_PROFILE or profile >> 4 == 0x100)
        return cls(
            payload_type=header.payload_type,
            sequence_number=header.sequence_number,
            timestamp=header.timestamp,
            ssrc=header.ssrc,
            marker=header.marker,
            csrcs=header.csrcs,
            extensions=header.extensions(),
            extension_profile=profile,
            extension_data=b"" if rfc8285 else bytes(data[header._ext_start : header._ext_end]),
            payload=header.payload,
            padding_length=header.padding_length,
        )

    def _extension_block(self) -> tuple[int, bytes] | None:
        profile = self.extension_profile
        exts = self.extensions
        if profile is None:
            if not exts:
                return None
            fits = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in exts.items())
            profile = ONE_BYTE_PROFILE if fits else TWO_BYTE_PROFILE
        if profile == ONE_BYTE_PROFILE:
            parts = []
            for eid, value in exts.items():
                if not (1 <= eid <= 14 and 1 <= len(value) <= 16):
                    raise ValueError(f"extension {eid} does not fit the one-byte form")
                parts.append(bytes([eid << 4 | (len(value) - 1)]) + value)
            body = b"".join(parts)
        elif profile >> 4 == 0x100:
            parts = []
            for eid, value in exts.items():
                if not (1 <= eid <= 255 and len(value) <= 255):
                    raise ValueError(f"extension {eid} does not fit the two-byte form")
                parts.append(bytes([eid, len(value)]) + value)
            body = b"".join(parts)
        else:
            if exts:
                raise ValueError(f"extension profile {profile:#06x} cannot carry RFC 8285 elements")
            body = self.extension_data
        return profile, body + bytes(-len(body) % 4)

    def serialize(self) -> bytes:
        """Encode the packet."""
        block = self._extension_block()
        cc = len(self.csrcs)
        if cc > 15:
            raise ValueError("at most 15 CSRCs")
        b0 = 0x80 | cc | (0x10 if block else 0) | (0x20 if self.padding_length else 0)
        b1 = (0x80 if self.marker else 0) | self.payload_type
        out = [_FIXED.pack(b0, b1, self.sequence_number, self.timestamp, self.ssrc)]
        if cc:
            out.append(struct.pack(f"!{cc}I", *self.csrcs))
        if block:
            profile, body = block
            out.append(_EXT_HEADER.pack(profile, len(body) // 4))
            out.append(body)
        out.append(self.payload)
        if self.padding_length:
            if not 1 <= self.padding_length <= 255:
                raise ValueError("padding_length must be 0..255")
            out.append(bytes(self.padding_length - 1) + bytes([self.padding_length]))
        return b"".join(out)

    __bytes__ = serialize


def rewrite_header(
    buf: bytearray, payload_type: int, sequence_number: int, timestamp: int, ssrc: int
) -> None:
    """Overwrite payload type, sequence number, timestamp and SSRC in place; keeps the marker."""
    _REWRITE.pack_into(buf, 1, (buf[1] & 0x80) | payload_type, sequence_number, timestamp, ssrc)


def remap_extension_ids(buf: bytearray, header: RtpHeader, id_map: Mapping[int, int]) -> None:
    """Rename extension ids in place per `id_map` (sender's id -> receiver's id).

    Elements whose id is not in `id_map` are dropped by zeroing their bytes: RFC 8285 treats
    zero bytes as padding in both forms, so the packet length never changes. `header` must
    describe `buf`. Raises ValueError for a target id the packet's form cannot carry.
    """
    profile = header.extension_profile
    if profile is None:
        return
    two_byte = profile != ONE_BYTE_PROFILE
    if two_byte and profile >> 4 != 0x100:
        return
    for eid, off, length in _elements(buf, header._ext_start, header._ext_end, two_byte):
        new = id_map.get(eid)
        if two_byte:
            if new is None:
                buf[off - 2 : off + length] = bytes(length + 2)
            elif 1 <= new <= 255:
                buf[off - 2] = new
            else:
                raise ValueError(f"extension id {new} does not fit the two-byte form")
        elif new is None:
            buf[off - 1 : off + length] = bytes(length + 1)
        elif 1 <= new <= 14:
            buf[off - 1] = new << 4 | (length - 1)
        else:
            raise ValueError(f"extension id {new} does not fit the one-byte form")


def set_extension_value(buf: bytearray, header: RtpHeader, ext_id: int, value: bytes) -> bool:
    """Overwrite the value of element `ext_id` (as currently numbered in `buf`) in place.

    The value must keep its length. Returns False when the packet has no such element.
    """
    profile = header.extension_profile
    if profile is None:
        return False
    two_byte = profile != ONE_BYTE_PROFILE
    if two_byte and profile >> 4 != 0x100:
        return False
    found = _locate(buf, header._ext_start, header._ext_end, two_byte, ext_id)
    if found < 0:
        return False
    length = found & 0xFF
    if len(value) != length:
        raise ValueError(f"extension {ext_id} holds {length} bytes, not {len(value)}")
    start = found >> 8
    buf[start : start + length] = value
    return True
