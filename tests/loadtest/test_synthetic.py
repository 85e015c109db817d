"""Synthetic streams: what the SFU reads of them (header, mid, VP8 keyframe bit) and the trailer."""

from __future__ import annotations

import pytest

from sfu_trio.loadtest.synthetic import (
    MAX_PAYLOAD,
    TRAILER_SIZE,
    AudioStream,
    StreamSpec,
    VideoStream,
    read_trailer,
    simulcast_bitrates,
)
from sfu_trio.webrtc.codecs_vp8 import parse_vp8_untrusted
from sfu_trio.webrtc.rtp import RtpPacket

VIDEO = StreamSpec(ssrc=0xABCD, payload_type=96, mid_extension_id=1, mid="1")


def test_video_frame_packets_carry_header_mid_and_trailer() -> None:
    stream = VideoStream(VIDEO, bitrate=1_500_000, fps=30, first_seq=65534, first_ts=1000)

    packets = stream.frame(keyframe=True, now_ns=123_456_789)

    assert stream.packets_per_frame == 6  # 6250 bytes a frame, at most 1100 bytes a packet
    parsed = [RtpPacket.parse_untrusted(p) for p in packets]
    assert [p.sequence_number for p in parsed] == [65534, 65535, 0, 1, 2, 3]
    assert {p.timestamp for p in parsed} == {1000}
    assert [p.marker for p in parsed] == [False] * 5 + [True]
    assert {p.ssrc for p in parsed} == {0xABCD}
    assert {p.payload_type for p in parsed} == {96}
    assert all(p.extensions == {1: b"1"} for p in parsed)
    assert all(len(p.payload) <= MAX_PAYLOAD for p in parsed)
    assert [read_trailer(p) for p in packets] == [(i, 123_456_789) for i in range(6)]
    first = parse_vp8_untrusted(parsed[0].payload)
    assert (first.keyframe, first.frame_start, first.picture_id) == (True, True, 0)
    assert parse_vp8_untrusted(parsed[1].payload).frame_start is False


def test_next_frame_advances_timestamp_picture_id_and_is_a_delta_frame() -> None:
    stream = VideoStream(VIDEO, bitrate=300_000, fps=30)
    stream.frame(keyframe=True, now_ns=0)

    packets = stream.frame(keyframe=False, now_ns=5)

    parsed = RtpPacket.parse_untrusted(packets[0])
    assert parsed.timestamp == 3000
    info = parse_vp8_untrusted(parsed.payload)
    assert (info.keyframe, info.frame_start, info.picture_id) == (False, True, 1)
    assert read_trailer(packets[0]) == (stream.packets_per_frame, 5)


def test_simulcast_layer_carries_its_rid() -> None:
    spec = StreamSpec(1, 96, 1, "1", rid="h", rid_extension_id=10)

    packet = RtpPacket.parse_untrusted(VideoStream(spec, 500_000, 30).frame(True, 0)[0])

    assert packet.extensions == {1: b"1", 10: b"h"}


def test_audio_packets_every_20ms_of_timestamp() -> None:
    stream = AudioStream(StreamSpec(7, 111, 1, "0"), first_seq=10, first_ts=0)

    packets = [RtpPacket.parse_untrusted(stream.packet(now_ns=i)) for i in range(3)]

    assert [(p.sequence_number, p.timestamp) for p in packets] == [(10, 0), (11, 960), (12, 1920)]
    assert len(packets[0].payload) == 120
    assert read_trailer(packets[2].serialize()) == (2, 2)
    assert TRAILER_SIZE == 12


@pytest.mark.parametrize(
    ("bitrate", "layers", "expected"),
    [(1_600_000, 3, [100_000, 400_000, 1_600_000]), (200_000, 3, [30_000, 50_000, 200_000])],
)
def test_simulcast_bitrates(bitrate: int, layers: int, expected: list[int]) -> None:
    assert simulcast_bitrates(bitrate, layers) == expected
