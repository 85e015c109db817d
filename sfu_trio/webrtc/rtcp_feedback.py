"""RTCP feedback messages (RFC 4585 / RFC 5104): NACK, PLI, FIR, REMB and transport-wide CC.

Import these through `sfu_trio.webrtc.rtcp`, which parses and builds compound packets.
Every `body` below is the packet without its 4-byte common header and without padding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sfu_trio.webrtc.errors import ParseError

__all__ = [
    "PT_PSFB",
    "PT_RTPFB",
    "FullIntraRequest",
    "GenericNack",
    "PictureLossIndication",
    "ReceiverEstimatedMaxBitrate",
    "RtcpParseError",
    "TransportCcFeedback",
    "pack_header",
    "parse_payload_feedback_untrusted",
    "parse_transport_feedback_untrusted",
]

PT_RTPFB = 205
PT_PSFB = 206
FMT_NACK = 1
FMT_TWCC = 15
FMT_PLI = 1
FMT_FIR = 4
FMT_AFB = 15

_SSRC_PAIR = struct.Struct("!II")
_TWCC_HEAD = struct.Struct("!IIHHI")


class RtcpParseError(ParseError):
    """An RTCP packet from the network is malformed."""


def pack_header(count: int, packet_type: int, body_length: int, padded: bool = False) -> bytes:
    """The 4-byte RTCP common header for a body of `body_length` bytes (a multiple of 4)."""
    return struct.pack(
        "!BBH", 0x80 | (0x20 if padded else 0) | count, packet_type, body_length // 4
    )


def _feedback(fmt: int, packet_type: int, sender: int, media: int, fci: bytes) -> bytes:
    return pack_header(fmt, packet_type, 8 + len(fci)) + _SSRC_PAIR.pack(sender, media) + fci


@dataclass(frozen=True, slots=True)
class PictureLossIndication:
    """PLI (RFC 4585 §6.3.1): ask the sender of `media_ssrc` for a keyframe."""

    sender_ssrc: int
    media_ssrc: int

    def serialize(self) -> bytes:
        return _feedback(FMT_PLI, PT_PSFB, self.sender_ssrc, self.media_ssrc, b"")


@dataclass(frozen=True, slots=True)
class FullIntraRequest:
    """FIR (RFC 5104 §4.3.1): `entries` of (media SSRC, command sequence number 0..255)."""

    sender_ssrc: int
    entries: tuple[tuple[int, int], ...]
    media_ssrc: int = 0

    def serialize(self) -> bytes:
        fci = b"".join(struct.pack("!IB3x", ssrc, seq) for ssrc, seq in self.entries)
        return _feedback(FMT_FIR, PT_PSFB, self.sender_ssrc, self.media_ssrc, fci)


@dataclass(frozen=True, slots=True)
class GenericNack:
    """Generic NACK (RFC 4585 §6.2.1) for the RTP sequence numbers in `lost`.

    `serialize` packs `lost` into PID/BLP pairs in the given order (pass it oldest first,
    without duplicates, to get the same tuple back from parsing).
    """

    sender_ssrc: int
    media_ssrc: int
    lost: tuple[int, ...]

    def serialize(self) -> bytes:
        pairs: list[list[int]] = []
        for seq in self.lost:
            if pairs:
                distance = (seq - pairs[-1][0]) & 0xFFFF
                if distance == 0:
                    continue
                if distance <= 16:
                    pairs[-1][1] |= 1 << (distance - 1)
                    continue
            pairs.append([seq & 0xFFFF, 0])
        fci = b"".join(struct.pack("!HH", pid, blp) for pid, blp in pairs)
        return _feedback(FMT_NACK, PT_RTPFB, self.sender_ssrc, self.media_ssrc, fci)


@dataclass(frozen=True, slots=True)
class ReceiverEstimatedMaxBitrate:
    """REMB (draft-alvestrand-rmcat-remb): `bitrate` in bit/s for the streams `ssrcs`.

    The wire form is an 18-bit mantissa and 6-bit exponent, so large values round down.
    """

    sender_ssrc: int
    bitrate: int
    ssrcs: tuple[int, ...]

    def serialize(self) -> bytes:
        exponent, mantissa = 0, self.bitrate
        while mantissa > 0x3FFFF:
            mantissa >>= 1
            exponent += 1
        if exponent > 63 or len(self.ssrcs) > 255:
            raise ValueError("REMB bitrate or SSRC count out of range")
        fci = struct.pack(
            f"!4sI{len(self.ssrcs)}I",
            b"REMB",
            len(self.ssrcs) << 24 | exponent << 18 | mantissa,
            *self.ssrcs,
        )
        return _feedback(FMT_AFB, PT_PSFB, self.sender_ssrc, 0, fci)


# Packet status symbols of transport-wide CC feedback.
_NOT_RECEIVED, _SMALL, _LARGE = 0, 1, 2
_MAX_RUN = 0x1FFF


def _encode_chunks(symbols: list[int]) -> list[int]:
    """Choose run-length and status-vector chunks greedily, as libwebrtc does.

    Pending symbols go into a two-bit vector (7 of anything), a one-bit vector (14 without
    large deltas) or a run of equal symbols, whichever can take the next symbol longest.
    """
    chunks: list[int] = []
    pending: list[int] = []  # at most 14 kept; a longer run only counts
    size = 0
    all_same = True
    has_large = False

    for symbol in symbols:
        if not (
            size < 7
            or (size < 14 and not has_large and symbol != _LARGE)
            or (size < _MAX_RUN and all_same and symbol == pending[0])
        ):
            if all_same:
                chunks.append(pending[0] << 13 | size)
                pending, size = [], 0
            elif size == 14:
                chunks.append(_one_bit_chunk(pending))
                pending, size = [], 0
            else:
                chunks.append(_two_bit_chunk(pending[:7]))
                pending = pending[7:]
                size -= 7
            all_same = all(s == pending[0] for s in pending)
            has_large = _LARGE in pending
        if size < 14:
            pending.append(symbol)
        size += 1
        all_same = all_same and symbol == pending[0]
        has_large = has_large or symbol == _LARGE

    if size:
        if all_same:
            chunks.append(pending[0] << 13 | size)
        elif size <= 7:
            chunks.append(_two_bit_chunk(pending))
        else:
            chunks.append(_one_bit_chunk(pending))
    return chunks


def _one_bit_chunk(symbols: list[int]) -> int:
    chunk = 0x8000
    for i, symbol in enumerate(symbols):
        chunk |= symbol << (13 - i)
    return chunk


def _two_bit_chunk(symbols: list[int]) -> int:
    chunk = 0xC000
    for i, symbol in enumerate(symbols):
        chunk |= symbol << (12 - 2 * i)
    return chunk


@dataclass(frozen=True, slots=True)
class TransportCcFeedback:
    """Transport-wide CC feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).

    `receive_deltas[i]` is about transport sequence ``base_sequence + i``: None when not
    received, else its receive time minus the previous packet's (the first one: minus
    ``reference_time * 64 ms``) in 250 us ticks, -32768..32767.
    """

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    reference_time: int
    feedback_packet_count: int
    receive_deltas: tuple[int | None, ...]

    def serialize(self) -> bytes:
        count = len(self.receive_deltas)
        if not 1 <= count <= 0xFFFF:
            raise ValueError("transport-cc feedback needs 1..65535 statuses")
        symbols: list[int] = []
        deltas: list[bytes] = []
        for delta in self.receive_deltas:
            if delta is None:
                symbols.append(_NOT_RECEIVED)
            elif 0 <= delta <= 0xFF:
                symbols.append(_SMALL)
                deltas.append(bytes((delta,)))
            elif -0x8000 <= delta <= 0x7FFF:
                symbols.append(_LARGE)
                deltas.append(delta.to_bytes(2, "big", signed=True))
            else:
                raise ValueError(f"receive delta {delta} does not fit 16 bits")
        chunks = _encode_chunks(symbols)
        body = b"".join(
            [
                _TWCC_HEAD.pack(
                    self.sender_ssrc,
                    self.media_ssrc,
                    self.base_sequence,
                    count,
                    (self.reference_time & 0xFFFFFF) << 8 | self.feedback_packet_count,
                ),
                struct.pack(f"!{len(chunks)}H", *chunks),
                *deltas,
            ]
        )
        # Like libwebrtc: pad to 32 bits with the P bit and a count in the last byte.
        pad = -len(body) % 4
        if pad:
            body += bytes(pad - 1) + bytes((pad,))
        return pack_header(FMT_TWCC, PT_RTPFB, len(body), padded=pad > 0) + body


def _parse_twcc(body: bytes) -> TransportCcFeedback:
    if len(body) < 16:
        raise RtcpParseError("transport-cc feedback too short")
    sender, media, base, count, ref_fb = _TWCC_HEAD.unpack_from(body)
    if count == 0:
        raise RtcpParseError("transport-cc feedback with no packet status")
    symbols: list[int] = []
    pos, end = 16, len(body)
    while len(symbols) < count:
        if pos + 2 > end:
            raise RtcpParseError("transport-cc packet chunks truncated")
        chunk = body[pos] << 8 | body[pos + 1]
        pos += 2
        if chunk & 0x8000 == 0:
            symbols.extend([chunk >> 13] * min(chunk & _MAX_RUN, count - len(symbols)))
        elif chunk & 0x4000:
            symbols.extend((chunk >> (12 - 2 * i)) & 3 for i in range(7))
        else:
            symbols.extend((chunk >> (13 - i)) & 1 for i in range(14))
    del symbols[count:]
    deltas: list[int | None] = []
    for symbol in symbols:
        if symbol == _NOT_RECEIVED:
            deltas.append(None)
        elif symbol == _SMALL:
            if pos >= end:
                raise RtcpParseError("transport-cc receive deltas truncated")
            deltas.append(body[pos])
            pos += 1
        elif symbol == _LARGE:
            if pos + 2 > end:
                raise RtcpParseError("transport-cc receive deltas truncated")
            deltas.append(int.from_bytes(body[pos : pos + 2], "big", signed=True))
            pos += 2
        else:
            raise RtcpParseError("transport-cc reserved status symbol 3")
    return TransportCcFeedback(sender, media, base, ref_fb >> 8, ref_fb & 0xFF, tuple(deltas))


def _parse_nack(sender: int, media: int, body: bytes) -> GenericNack:
    if len(body) % 4:
        raise RtcpParseError("NACK FCI is not a whole number of words")
    lost: list[int] = []
    for pid, blp in struct.iter_unpack("!HH", body[8:]):
        lost.append(pid)
        lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if blp >> bit & 1)
    return GenericNack(sender, media, tuple(lost))


def parse_transport_feedback_untrusted(
    fmt: int, body: bytes
) -> GenericNack | TransportCcFeedback | None:
    """Parse an RTPFB packet; None for a format this module does not know."""
    if len(body) < 8:
        raise RtcpParseError("RTCP feedback packet too short")
    if fmt == FMT_NACK:
        sender, media = _SSRC_PAIR.unpack_from(body)
        return _parse_nack(sender, media, body)
    if fmt == FMT_TWCC:
        return _parse_twcc(body)
    return None


def parse_payload_feedback_untrusted(
    fmt: int, body: bytes
) -> PictureLossIndication | FullIntraRequest | ReceiverEstimatedMaxBitrate | None:
    """Parse a PSFB packet; None for a format (or AFB kind) this module does not know."""
    if len(body) < 8:
        raise RtcpParseError("RTCP feedback packet too short")
    sender, media = _SSRC_PAIR.unpack_from(body)
    if fmt == FMT_PLI:
        return PictureLossIndication(sender, media)
    if fmt == FMT_FIR:
        if len(body) % 8:
            raise RtcpParseError("FIR FCI is not a whole number of entries")
        entries = tuple((ssrc, seq) for ssrc, seq in struct.iter_unpack("!IB3x", body[8:]))
        return FullIntraRequest(sender, entries, media)
    if fmt == FMT_AFB and body[8:12] == b"REMB":
        if len(body) < 16:
            raise RtcpParseError("REMB too short")
        (word,) = struct.unpack_from("!I", body, 12)
        count = word >> 24
        if len(body) < 16 + 4 * count:
            raise RtcpParseError("REMB SSRC list truncated")
        ssrcs = struct.unpack_from(f"!{count}I", body, 16)
        return ReceiverEstimatedMaxBitrate(sender, (word & 0x3FFFF) << (word >> 18 & 0x3F), ssrcs)
    return None
