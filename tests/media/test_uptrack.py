from __future__ import annotations

import pytest

from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.rtcp import GenericNack, PictureLossIndication
from sfu_trio.webrtc.rtp import RtpHeader
from sfu_trio.webrtc.rtp_extensions import encode_audio_level
from tests.media.forwarding_fixtures import (
    OPUS_PT,
    RTX_PT,
    SFU_RTCP_SSRC,
    audio_info,
    down_track,
    rtp,
    up_track,
    video_info,
)

SSRC = 0x1111


def feed(up: UpTrack, packet: bytes, now: float, layer: int = 0) -> None:
    up.on_rtp(packet, RtpHeader.parse_untrusted(packet), layer, now)


def test_packets_are_cached_and_fanned_out() -> None:
    up, _ = up_track()
    up.bind_ssrc(0, SSRC, False)
    _d1, sent1 = down_track(up, ssrc=0xD1)
    _d2, sent2 = down_track(up, ssrc=0xD2)
    feed(up, rtp(7, keyframe=True), 0.0)
    feed(up, rtp(8), 0.01)
    assert up.cached_packet(0, 7) == rtp(7, keyframe=True)
    assert up.cached_packet(0, 9) is None
    assert sent1.seqs == sent2.seqs == [7, 8]
    assert {p.ssrc for p in sent1.packets} == {0xD1}
    stats = up.statistics(0.01)
    assert (stats.packets_received, stats.keyframes_received, stats.down_tracks) == (2, 1, 2)


def test_loss_is_nacked_upstream_after_the_reordering_delay() -> None:
    up, log = up_track()
    up.bind_ssrc(0, SSRC, False)
    feed(up, rtp(1), 0.0)
    feed(up, rtp(4), 0.1)
    assert up.get_timer() == pytest.approx(0.11)
    up.handle_timer(0.105)
    assert log.packets == []
    up.handle_timer(0.11)
    assert log.packets == [GenericNack(SFU_RTCP_SSRC, SSRC, (2, 3))]
    feed(up, rtp(2), 0.12)  # recovered
    up.handle_timer(0.3)
    assert log.packets[-1] == GenericNack(SFU_RTCP_SSRC, SSRC, (3,))
    assert up.statistics(0.3).nacks_sent == 2


def test_audio_loss_is_not_nacked() -> None:
    up, log = up_track(audio_info())
    up.bind_ssrc(0, SSRC, False)
    feed(up, rtp(1, pt=OPUS_PT, payload=b"a"), 0.0)
    feed(up, rtp(3, pt=OPUS_PT, payload=b"a"), 0.02)
    up.handle_timer(1.0)
    assert log.packets == []


# (time, event) -> PLIs sent so far; event "req" = request_keyframe, "key" = keyframe arrives,
# "timer" = handle_timer.
KEYFRAME_ROWS = [
    ([(0.0, "req"), (0.1, "req"), (0.2, "req")], 1),
    ([(0.0, "req"), (0.1, "req"), (0.5, "timer")], 2),  # the coalesced request fires at 0.5
    ([(0.0, "req"), (0.1, "req"), (0.2, "key"), (0.5, "timer")], 1),  # keyframe came first
    ([(0.0, "req"), (0.6, "req")], 2),
    ([(0.0, "req"), (0.2, "key"), (1.5, "timer")], 1),  # answered: no retry
    ([(0.0, "req"), (1.0, "timer")], 2),  # unanswered: retried after 1 s
]


@pytest.mark.parametrize(("events", "plis"), KEYFRAME_ROWS)
def test_keyframe_requests_are_coalesced(events: list[tuple[float, str]], plis: int) -> None:
    up, log = up_track()
    up.bind_ssrc(0, SSRC, False)
    seq = 0
    for now, event in events:
        if event == "req":
            up.request_keyframe(0, now)
        elif event == "key":
            seq += 1
            feed(up, rtp(seq, keyframe=True), now)
        else:
            up.handle_timer(now)
    assert log.packets == [PictureLossIndication(SFU_RTCP_SSRC, SSRC)] * plis


def test_keyframe_requests_are_per_layer() -> None:
    up, log = up_track(video_info(("q", "h")))
    up.bind_ssrc(0, 0xA, False)
    up.bind_ssrc(1, 0xB, False)
    up.request_keyframe(0, 0.0)
    up.request_keyframe(1, 0.1)
    up.request_keyframe(1, 0.2)
    assert log.packets == [
        PictureLossIndication(SFU_RTCP_SSRC, 0xA),
        PictureLossIndication(SFU_RTCP_SSRC, 0xB),
    ]


def test_rtx_is_unwrapped_to_the_original_packet() -> None:
    up, _ = up_track()
    up.bind_ssrc(0, SSRC, False)
    up.bind_ssrc(0, 0x2222, True)
    _down, sent = down_track(up)
    feed(up, rtp(10, keyframe=True), 0.0)
    original = rtp(11, ts=12000, marker=True)
    header = RtpHeader.parse_untrusted(original)
    payload = original[header.header_length :]
    rtx = rtp(500, ssrc=0x2222, pt=RTX_PT, ts=12000, marker=True, payload=b"\x00\x0b" + payload)
    up.on_rtx(rtx, RtpHeader.parse_untrusted(rtx), 0, 0.1)
    assert up.cached_packet(0, 11) == original
    assert sent.seqs == [10, 11]
    assert sent.packets[1].payload == payload and sent.packets[1].marker
    # The same repair again, and a padding-only probe, are dropped.
    up.on_rtx(rtx, RtpHeader.parse_untrusted(rtx), 0, 0.2)
    probe = rtp(501, ssrc=0x2222, pt=RTX_PT, payload=b"", padding=200)
    up.on_rtx(probe, RtpHeader.parse_untrusted(probe), 0, 0.2)
    assert sent.seqs == [10, 11]
    stats = up.statistics(0.2)
    assert (stats.rtx_received, stats.rtx_padding_dropped) == (3, 1)


def test_wrong_payload_type_is_dropped() -> None:
    up, _ = up_track()
    feed(up, rtp(1, pt=35), 0.0)
    assert up.cached_packet(0, 1) is None
    assert up.statistics(0.0).wrong_payload_type == 1


def test_audio_level_and_voice_activity() -> None:
    up, _ = up_track(audio_info())
    assert (up.audio_level, up.voice_activity) == (127, 0.0)
    for i in range(10):
        exts = {1: encode_audio_level(True, 30)}
        feed(up, rtp(i, pt=OPUS_PT, payload=b"a", extensions=exts), i * 0.02)
    assert up.audio_level == 30
    assert up.voice_activity == pytest.approx(1 - 0.9**10)
    feed(up, rtp(10, pt=OPUS_PT, payload=b"a", extensions={1: encode_audio_level(False, 90)}), 1)
    assert up.audio_level == 90
    assert up.voice_activity == pytest.approx((1 - 0.9**10) * 0.9)


def test_layer_bitrates_and_activity() -> None:
    up, _ = up_track(video_info(("q", "h")))
    assert list(up.layer_bitrates(0.0)) == [0, 0]
    for i in range(50):
        feed(up, rtp(i, payload=bytes(100)), i * 0.01, layer=1)
    packet_size = len(rtp(0, payload=bytes(100)))
    assert list(up.layer_bitrates(0.5)) == [0, int(50 * packet_size * 8 / 0.5)]
    assert up.layer_active(1, 0.5) and not up.layer_active(0, 0.5)
    assert not up.layer_active(1, 1.5)


def test_report_blocks_per_bound_layer() -> None:
    up, _ = up_track(video_info(("q", "h")))
    assert up.report_blocks(0.0) == []
    up.bind_ssrc(1, 0xB, False)
    feed(up, rtp(100), 0.0, layer=1)
    feed(up, rtp(102), 0.0, layer=1)
    (block,) = up.report_blocks(1.0)
    assert (block.ssrc, block.highest_sequence, block.cumulative_lost) == (0xB, 102, 1)
