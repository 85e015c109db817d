"""First-byte demultiplexing (RFC 7983) and RTP/RTCP separation (RFC 5761)."""

from __future__ import annotations

import pytest

from sfu_trio.webrtc.demux import PacketClass, PacketKind, classify, is_rtcp


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (0, 3, PacketClass.STUN),
        (4, 15, PacketClass.UNKNOWN),
        (16, 19, PacketClass.ZRTP),
        (20, 63, PacketClass.DTLS),
        (64, 79, PacketClass.TURN_CHANNEL),
        (80, 127, PacketClass.UNKNOWN),
        (128, 191, PacketClass.RTP),
        (192, 255, PacketClass.UNKNOWN),
    ],
)
def test_classify_ranges(first: int, last: int, expected: PacketClass) -> None:
    assert [classify(byte) for byte in range(first, last + 1)] == [expected] * (last - first + 1)


def test_packet_kind_is_the_same_enum() -> None:
    assert PacketKind is PacketClass
    assert classify(0x80) is PacketKind.RTP


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes([0x80, 0xC8]) + bytes(26), True),  # SR, PT 200
        (bytes([0x81, 0xC9]) + bytes(6), True),  # RR, PT 201
        (bytes([0x81, 0xCD]) + bytes(10), True),  # RTPFB, PT 205
        (bytes([0x80, 0xC0]), True),  # 192: lowest of the RTCP range
        (bytes([0x80, 0xDF]), True),  # 223: highest
        (bytes([0x80, 0xBF]) + bytes(10), False),  # RTP, marker set, PT 63
        (bytes([0x80, 0xE0]) + bytes(10), False),  # RTP, marker set, PT 96
        (bytes([0x80, 0x6F]) + bytes(10), False),  # RTP PT 111 (Opus)
        (bytes([0x80, 0x60]) + bytes(10), False),  # RTP PT 96
        (bytes([0x80]), False),
        (b"", False),
    ],
)
def test_is_rtcp(data: bytes, expected: bool) -> None:
    assert is_rtcp(data) is expected
