"""RTCP compound packets (RFC 3550, RFC 3611 XR) and round-trip-time helpers.

`parse_compound_untrusted` turns one (decrypted) RTCP datagram into typed packets, keeping
the ones it does not know as `UnknownRtcpPacket`; `serialize_compound` does the reverse.
Feedback messages live in `rtcp_feedback` and are re-exported here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sfu_trio.webrtc.rtcp_feedback import (
    PT_PSFB,
    PT_RTPFB,
    FullIntraRequest,
    GenericNack,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    RtcpParseError,
    TransportCcFeedback,
    pack_header,
    parse_payload_feedback_untrusted,
    parse_transport_feedback_untrusted,
)

__all__ = [
    "SDES_CNAME",
    "DlrrBlock",
    "DlrrItem",
    "ExtendedReport",
    "FullIntraRequest",
    "GenericNack",
    "Goodbye",
    "PictureLossIndication",
    "ReceiverEstimatedMaxBitrate",
    "ReceiverReferenceTime",
    "ReceiverReport",
    "ReportBlock",
    "RtcpPacket",
    "RtcpParseError",
    "SdesChunk",
    "SenderReport",
    "SourceDescription",
    "TransportCcFeedback",
    "UnknownRtcpPacket",
    "UnknownXrBlock",
    "ntp_from_unix",
    "ntp_to_compact",
    "parse_compound_untrusted",
    "rtt_from_report_block",
    "serialize_compound",
]

PT_SR, PT_RR, PT_SDES, PT_BYE, PT_XR = 200, 201, 202, 203, 207
SDES_CNAME = 1
XR_RRTR, XR_DLRR = 4, 5

_REPORT_BLOCK = struct.Struct("!IIIIII")
_SENDER_INFO = struct.Struct("!IQIII")
_XR_BLOCK_HEADER = struct.Struct("!BBH")
_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """A reception report about the stream `ssrc` (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int  # signed 24-bit
    highest_sequence: int  # extended (cycles << 16 | seq)
    jitter: int
    lsr: int
    dlsr: int

    def serialize(self) -> bytes:
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost << 24 | (self.cumulative_lost & 0xFFFFFF),
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_report_blocks(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    if len(body) < offset + 24 * count:
        raise RtcpParseError("RTCP report blocks truncated")
    blocks = []
    for i in range(count):
        ssrc, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(body, offset + 24 * i)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 1 << 24
        blocks.append(ReportBlock(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr))
    return tuple(blocks)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR: sender info plus reception reports; `extension` is the profile-specific tail."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        body = b"".join(
            [
                _SENDER_INFO.pack(
                    self.ssrc,
                    self.ntp_timestamp,
                    self.rtp_timestamp,
                    self.packet_count,
                    self.octet_count,
                ),
                *(r.serialize() for r in self.reports),
                self.extension,
            ]
        )
        return pack_header(len(self.reports), PT_SR, len(body)) + body


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR: reception reports from `ssrc`; `extension` is the profile-specific tail."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        body = b"".join(
            [struct.pack("!I", self.ssrc), *(r.serialize() for r in self.reports), self.extension]
        )
        return pack_header(len(self.reports), PT_RR, len(body)) + body


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The SDES items of one source: (item type, value) pairs, e.g. (SDES_CNAME, b"x")."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...]

    @property
    def cname(self) -> str | None:
        for kind, value in self.items:
            if kind == SDES_CNAME:
                return value.decode("utf-8", "replace")
        return None

    def serialize(self) -> bytes:
        out = struct.pack("!I", self.ssrc) + b"".join(
            bytes((kind, len(value))) + value for kind, value in self.items
        )
        return out + bytes(4 - len(out) % 4)  # the terminating null item, then alignment


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5)."""

    chunks: tuple[SdesChunk, ...]

    def serialize(self) -> bytes:
        body = b"".join(c.serialize() for c in self.chunks)
        return pack_header(len(self.chunks), PT_SDES, len(body)) + body


def _parse_sdes(count: int, body: bytes) -> SourceDescription:
    chunks = []
    pos, end = 0, len(body)
    for _ in range(count):
        if pos + 4 > end:
            raise RtcpParseError("SDES chunk truncated")
        (ssrc,) = struct.unpack_from("!I", body, pos)
        pos += 4
        items = []
        while True:
            if pos >= end:
                raise RtcpParseError("SDES items not terminated")
            kind = body[pos]
            if kind == 0:
                pos = (pos + 4) & ~3
                break
            if pos + 2 > end or pos + 2 + body[pos + 1] > end:
                raise RtcpParseError("SDES item truncated")
            length = body[pos + 1]
            items.append((kind, body[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


@dataclass(frozen=True, slots=True)
class Goodbye:
    """BYE (RFC 3550 §6.6)."""

    ssrcs: tuple[int, ...]
    reason: str = ""

    def serialize(self) -> bytes:
        body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason:
            text = self.reason.encode()
            if len(text) > 255:
                raise ValueError("BYE reason longer than 255 bytes")
            body += bytes((len(text),)) + text
            body += bytes(-len(body) % 4)
        return pack_header(len(self.ssrcs), PT_BYE, len(body)) + body


def _parse_bye(count: int, body: bytes) -> Goodbye:
    if len(body) < 4 * count:
        raise RtcpParseError("BYE SSRC list truncated")
    ssrcs = struct.unpack_from(f"!{count}I", body)
    reason = ""
    pos = 4 * count
    if pos < len(body):
        length = body[pos]
        if pos + 1 + length > len(body):
            raise RtcpParseError("BYE reason truncated")
        reason = body[pos + 1 : pos + 1 + length].decode("utf-8", "replace")
    return Goodbye(ssrcs, reason)


@dataclass(frozen=True, slots=True)
class ReceiverReferenceTime:
    """XR RRTR block (RFC 3611 §4.4): lets a receiver-only endpoint get an RTT."""

    ntp_timestamp: int

    def serialize(self) -> bytes:
        return struct.pack("!BBHQ", XR_RRTR, 0, 2, self.ntp_timestamp)


@dataclass(frozen=True, slots=True)
class DlrrItem:
    """One DLRR sub-block: last RR timestamp (compact NTP) and delay since it (1/65536 s)."""

    ssrc: int
    lrr: int
    dlrr: int


@dataclass(frozen=True, slots=True)
class DlrrBlock:
    """XR DLRR block (RFC 3611 §4.5)."""

    items: tuple[DlrrItem, ...]

    def serialize(self) -> bytes:
        return struct.pack("!BBH", XR_DLRR, 0, 3 * len(self.items)) + b"".join(
            struct.pack("!III", i.ssrc, i.lrr, i.dlrr) for i in self.items
        )


@dataclass(frozen=True, slots=True)
class UnknownXrBlock:
    """An XR block of a type this module does not interpret (`data` is whole words)."""

    block_type: int
    type_specific: int
    data: bytes

    def serialize(self) -> bytes:
        return (
            _XR_BLOCK_HEADER.pack(self.block_type, self.type_specific, len(self.data) // 4)
            + self.data
        )


XrBlock = ReceiverReferenceTime | DlrrBlock | UnknownXrBlock


@dataclass(frozen=True, slots=True)
class ExtendedReport:
    """XR (RFC 3611) from `ssrc`."""

    ssrc: int
    blocks: tuple[XrBlock, ...]

    def serialize(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(b.serialize() for b in self.blocks)
        return pack_header(0, PT_XR, len(body)) + body


def _parse_xr(body: bytes) -> ExtendedReport:
    if len(body) < 4:
        raise RtcpParseError("XR too short")
    (ssrc,) = struct.unpack_from("!I", body)
    blocks: list[XrBlock] = []
    pos, end = 4, len(body)
    while pos < end:
        if pos + 4 > end:
            raise RtcpParseError("XR block header truncated")
        block_type, specific, words = _XR_BLOCK_HEADER.unpack_from(body, pos)
        pos += 4
        data = body[pos : pos + 4 * words]
        if len(data) != 4 * words:
            raise RtcpParseError("XR block truncated")
        pos += 4 * words
        if block_type == XR_RRTR and words == 2:
            blocks.append(ReceiverReferenceTime(int.from_bytes(data, "big")))
        elif block_type == XR_DLRR and words % 3 == 0:
            items = tuple(DlrrItem(*v) for v in struct.iter_unpack("!III", data))
            blocks.append(DlrrBlock(items))
        else:
            blocks.append(UnknownXrBlock(block_type, specific, data))
    return ExtendedReport(ssrc, tuple(blocks))


@dataclass(frozen=True, slots=True)
class UnknownRtcpPacket:
    """An RTCP packet this module does not interpret; `payload` follows the common header."""

    packet_type: int
    fmt: int
    payload: bytes

    def serialize(self) -> bytes:
        if len(self.payload) % 4:
            raise ValueError("RTCP payload must be whole 32-bit words")
        return pack_header(self.fmt, self.packet_type, len(self.payload)) + self.payload


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Goodbye
    | ExtendedReport
    | PictureLossIndication
    | FullIntraRequest
    | GenericNack
    | ReceiverEstimatedMaxBitrate
    | TransportCcFeedback
    | UnknownRtcpPacket
)


def _parse_one(count: int, packet_type: int, body: bytes) -> RtcpPacket:
    parsed: RtcpPacket | None = None
    if packet_type == PT_SR:
        if len(body) < 24:
            raise RtcpParseError("SR too short")
        ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body)
        reports = _parse_report_blocks(body, 24, count)
        extension = body[24 + 24 * count :]
        parsed = SenderReport(ssrc, ntp, rtp_ts, packets, octets, reports, extension)
    elif packet_type == PT_RR:
        if len(body) < 4:
            raise RtcpParseError("RR too short")
        (ssrc,) = struct.unpack_from("!I", body)
        reports = _parse_report_blocks(body, 4, count)
        parsed = ReceiverReport(ssrc, reports, body[4 + 24 * count :])
    elif packet_type == PT_SDES:
        parsed = _parse_sdes(count, body)
    elif packet_type == PT_BYE:
        parsed = _parse_bye(count, body)
    elif packet_type == PT_XR:
        parsed = _parse_xr(body)
    elif packet_type == PT_RTPFB:
        parsed = parse_transport_feedback_untrusted(count, body)
    elif packet_type == PT_PSFB:
        parsed = parse_payload_feedback_untrusted(count, body)
    return parsed or UnknownRtcpPacket(packet_type, count, body)


def parse_compound_untrusted(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Parse every packet of an RTCP compound datagram (raises `RtcpParseError`)."""
    data = bytes(data)
    size = len(data)
    if size < 4:
        raise RtcpParseError(f"RTCP datagram too short ({size} bytes)")
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < size:
        if pos + 4 > size:
            raise RtcpParseError("trailing bytes after the last RTCP packet")
        b0, packet_type, words = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            raise RtcpParseError(f"RTCP version {b0 >> 6} is not 2")
        end = pos + 4 * (words + 1)
        if end > size:
            raise RtcpParseError("RTCP packet length overruns the datagram")
        body = data[pos + 4 : end]
        if b0 & 0x20:
            pad = data[end - 1]
            if pad == 0 or pad > len(body):
                raise RtcpParseError(f"bad RTCP padding length {pad}")
            body = body[:-pad]
        packets.append(_parse_one(b0 & 0x1F, packet_type, body))
        pos = end
    return packets


def serialize_compound(packets: list[RtcpPacket] | tuple[RtcpPacket, ...]) -> bytes:
    """Concatenate the packets into one compound datagram."""
    return b"".join(p.serialize() for p in packets)


def ntp_from_unix(seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time in seconds."""
    return int((seconds + _NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def ntp_to_compact(ntp64: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp, as used in LSR/LRR (1/65536 s units)."""
    return (ntp64 >> 16) & 0xFFFFFFFF


def rtt_from_report_block(now_ntp_compact: int, lsr: int, dlsr: int) -> float | None:
    """Round-trip time in seconds from a report block's LSR/DLSR (RFC 3550 §6.4.1).

    None when the block carries no LSR (no SR received yet); a slightly negative result
    (clock granularity) is clamped to 0.0.
    """
    if lsr == 0:
        return None
    rtt = (now_ntp_compact - lsr - dlsr) & 0xFFFFFFFF
    if rtt >= 0x80000000:
        return 0.0
    return rtt / 65536.0
