"""First-byte demultiplexing of the one 5-tuple WebRTC shares (RFC 7983, RFC 5761).

`classify` is a single tuple index; `is_rtcp` two comparisons. Both run on every packet.
"""

from __future__ import annotations

import enum

__all__ = ["PacketClass", "PacketKind", "classify", "is_rtcp"]


class PacketClass(enum.Enum):
    """What a datagram is, judged by its first byte (RFC 7983 §7)."""

    STUN = "stun"  # 0-3
    ZRTP = "zrtp"  # 16-19, ignored
    DTLS = "dtls"  # 20-63
    TURN_CHANNEL = "turn-channel"  # 64-79, ignored
    RTP = "rtp"  # 128-191: RTP or RTCP, told apart by `is_rtcp`
    UNKNOWN = "unknown"


PacketKind = PacketClass  # the name PeerConnectionCore uses


def _build_table() -> tuple[PacketClass, ...]:
    table = [PacketClass.UNKNOWN] * 256
    for first, last, kind in (
        (0, 3, PacketClass.STUN),
        (16, 19, PacketClass.ZRTP),
        (20, 63, PacketClass.DTLS),
        (64, 79, PacketClass.TURN_CHANNEL),
        (128, 191, PacketClass.RTP),
    ):
        for byte in range(first, last + 1):
            table[byte] = kind
    return tuple(table)


_TABLE = _build_table()


def classify(first_byte: int) -> PacketClass:
    """Classify a datagram by its first byte (0-255)."""
    return _TABLE[first_byte]


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """Tell RTCP from RTP in the 128-191 range: RTCP packet types 192-223 (RFC 5761 §4)."""
    return len(data) > 1 and 192 <= data[1] <= 223
