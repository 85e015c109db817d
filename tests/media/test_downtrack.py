from __future__ import annotations

import pytest

from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.codecs import parse_vp8_untrusted
from sfu_trio.webrtc.rtcp import (
    PictureLossIndication,
    ReportBlock,
    ntp_from_unix,
    ntp_to_compact,
)
from sfu_trio.webrtc.rtp import RtpHeader
from sfu_trio.webrtc.rtp_extensions import encode_sdes, encode_twcc_sequence
from tests.media.forwarding_fixtures import (
    SFU_RTCP_SSRC,
    audio_info,
    down_track,
    rtp,
    up_track,
    video_info,
)


def feed(up: UpTrack, packet: bytes, now: float, layer: int = 0) -> None:
    up.on_rtp(packet, RtpHeader.parse_untrusted(packet), layer, now)


def simulcast() -> tuple[UpTrack, list[bytes]]:
    up, log = up_track(video_info(("q", "h", "f")))
    for layer in range(3):
        up.bind_ssrc(layer, 0xA0 + layer, False)
    return up, log.datagrams


def test_forwarded_packet_gets_the_subscribers_ssrc_pt_and_extension_ids() -> None:
    up, _ = up_track()
    down, sent = down_track(up, ssrc=0xD0D0, payload_type=100)
    exts = {4: encode_sdes("0"), 10: encode_sdes("q"), 2: b"\x01\x02\x03", 3: b"\x00\x07"}
    packet = rtp(40, ts=5000, keyframe=True, extensions=exts, marker=True)
    feed(up, packet, 0.0)
    (out,) = sent.packets
    assert (out.ssrc, out.payload_type, out.sequence_number, out.timestamp, out.marker) == (
        0xD0D0,
        100,
        40,
        5000,
        True,
    )
    # mid and rid are removed; abs-send-time renumbered 2 -> 6; twcc 3 -> 5 is dropped (the
    # subscriber did not negotiate transport-cc here, so it keeps only what it negotiated).
    assert out.extensions == {6: b"\x01\x02\x03", 5: b"\x00\x07"}
    assert out.payload == RtpHeader.parse_untrusted(packet).payload
    assert down.statistics().packets_sent == 1


def test_transport_wide_sequence_numbers_are_the_subscribers() -> None:
    up, _ = up_track()
    twcc = TransportCcSender(initial_sequence=70)
    _down, sent = down_track(up, transport_cc=twcc)
    for seq in range(3):
        feed(up, rtp(seq, keyframe=seq == 0, extensions={3: encode_twcc_sequence(900)}), 0.0)
    assert [p.extensions[5] for p in sent.packets] == [b"\x00\x46", b"\x00\x47", b"\x00\x48"]


def test_start_waits_for_a_keyframe_and_asks_for_one() -> None:
    up, plis = up_track()
    up.bind_ssrc(0, 0x1111, False)
    down, sent = down_track(up)
    feed(up, rtp(1), 0.0)
    feed(up, rtp(2), 0.01)
    assert sent.seqs == []
    assert plis.packets == [PictureLossIndication(SFU_RTCP_SSRC, 0x1111)]
    feed(up, rtp(3, keyframe=True), 0.02)
    feed(up, rtp(4), 0.03)
    assert sent.seqs == [3, 4]
    assert down.current_layer == 0


def test_padding_only_packets_are_not_forwarded_and_leave_no_hole() -> None:
    up, _ = up_track()
    _down, sent = down_track(up)
    feed(up, rtp(1, keyframe=True), 0.0)
    feed(up, rtp(2, payload=b"", padding=100), 0.01)
    feed(up, rtp(3), 0.02)
    assert sent.seqs == [1, 2]


def test_layer_switch_happens_at_a_keyframe_with_continuous_numbering() -> None:
    up, _ = simulcast()
    down, sent = down_track(up)
    down.set_max_layer(0, 0.0)
    feed(up, rtp(100, ssrc=0xA0, ts=1000, keyframe=True, picture_id=10), 0.0, layer=0)
    feed(up, rtp(7000, ssrc=0xA2, ts=555, keyframe=True, picture_id=300), 0.0, layer=2)
    feed(up, rtp(101, ssrc=0xA0, ts=4000, picture_id=11), 0.033, layer=0)
    down.set_max_layer(2, 0.04)
    assert down.target_layer == 2
    feed(up, rtp(7001, ssrc=0xA2, ts=3555, picture_id=301), 0.05, layer=2)  # not a keyframe
    feed(up, rtp(102, ssrc=0xA0, ts=7000, picture_id=12), 0.066, layer=0)  # still layer 0
    feed(up, rtp(7002, ssrc=0xA2, ts=6555, keyframe=True, picture_id=302), 0.1, layer=2)
    feed(up, rtp(103, ssrc=0xA0, ts=10000, picture_id=13), 0.1, layer=0)
    feed(up, rtp(7003, ssrc=0xA2, ts=9555, picture_id=303), 0.133, layer=2)
    assert sent.seqs == [100, 101, 102, 103, 104]
    ts = [p.timestamp for p in sent.packets]
    assert ts[:3] == [1000, 4000, 7000]
    assert ts[3] == 7000 + round((0.1 - 0.066) * 90_000)
    assert ts[4] == ts[3] + 3000
    pictures = [parse_vp8_untrusted(p.payload).picture_id for p in sent.packets]
    assert pictures == [10, 11, 12, 13, 14]
    assert down.current_layer == 2 and down.statistics().layer_switches == 2


def test_nack_is_answered_with_the_same_packet_without_rtx() -> None:
    up, _ = up_track()
    down, sent = down_track(up)
    feed(up, rtp(1, keyframe=True), 0.0)
    feed(up, rtp(2, payload=b"", padding=50), 0.01)  # skipped: out 2 is the source's 3
    feed(up, rtp(3, ts=12000), 0.02)
    down.on_nack([2, 3], 0.1)
    assert sent.seqs == [1, 2, 2]
    assert sent.packets[2] == sent.packets[1]
    assert down.statistics().nacks_unrecoverable == 1  # out seq 3 was never sent


def test_nack_is_answered_with_rtx_when_negotiated() -> None:
    up, _ = up_track()
    down, sent = down_track(up, ssrc=0xD0, rtx=True)
    feed(up, rtp(50, keyframe=True), 0.0)
    feed(up, rtp(51, ts=9999, marker=True), 0.01)
    down.on_nack([51, 50], 0.1)
    first, second = sent.packets[2:]
    assert (first.ssrc, first.payload_type, first.sequence_number) == (0xD1, 101, 0)
    assert (second.ssrc, second.sequence_number) == (0xD1, 1)
    assert first.payload[:2] == b"\x00\x33" and first.payload[2:] == sent.packets[1].payload
    assert (first.timestamp, first.marker) == (9999, True)
    assert second.payload[:2] == b"\x00\x32"
    assert down.statistics().retransmissions_sent == 2


def test_keyframe_request_from_the_subscriber_goes_to_the_forwarded_layer() -> None:
    up, log = simulcast()
    down, _ = down_track(up)
    down.set_max_layer(1, 0.0)
    feed(up, rtp(1, ssrc=0xA1, keyframe=True), 0.0, layer=1)
    down.on_keyframe_request(0.6)
    assert log[-1] == PictureLossIndication(SFU_RTCP_SSRC, 0xA1).serialize()


def test_pause_and_resume_restart_at_a_keyframe_without_a_hole() -> None:
    up, _ = up_track()
    down, sent = down_track(up)
    feed(up, rtp(1, keyframe=True, ts=0), 0.0)
    down.set_paused(True, 0.01)
    assert not down.wants_media
    feed(up, rtp(2, ts=3000), 0.033)
    down.set_paused(False, 0.05)
    feed(up, rtp(3, ts=6000), 0.066)  # not a keyframe: dropped
    feed(up, rtp(4, ts=9000, keyframe=True), 0.1)
    assert sent.seqs == [1, 2]
    assert sent.packets[1].timestamp == round(0.1 * 90_000)


def test_audio_is_forwarded_without_waiting() -> None:
    up, _ = up_track(audio_info())
    _down, sent = down_track(up)
    feed(up, rtp(9, pt=111, payload=b"opus"), 0.0)
    assert sent.seqs == [9]
    assert sent.packets[0].payload_type == 100


def test_sender_report_extrapolates_the_last_timestamp() -> None:
    up, _ = up_track()
    down, _ = down_track(up)
    assert down.sender_report(0.0, 1_700_000_000.0) is None
    feed(up, rtp(1, ts=90_000, keyframe=True), 10.0)
    report = down.sender_report(10.5, 1_700_000_000.0)
    assert report is not None
    assert report.ssrc == down.ssrc
    assert report.rtp_timestamp == 90_000 + 45_000
    assert report.ntp_timestamp == ntp_from_unix(1_700_000_000.0)
    assert (report.packet_count, report.octet_count) == (1, down.bytes_sent)


def test_report_block_gives_rtt_and_loss() -> None:
    up, _ = up_track()
    down, _ = down_track(up)
    sent_at = ntp_to_compact(ntp_from_unix(1000.0))
    block = ReportBlock(down.ssrc, 64, 3, 10, 12, sent_at, int(0.05 * 65536))
    rtt = down.on_report_block(block, 1000.2)
    assert rtt == pytest.approx(0.15, abs=1e-3)
    stats = down.statistics()
    assert (stats.fraction_lost, stats.packets_lost, stats.jitter) == (0.25, 3, 12)


def test_down_tracks_with_the_same_ids_share_one_renumbering() -> None:
    up, _ = up_track()
    first, sent1 = down_track(up, ssrc=0xD1, transport_cc=TransportCcSender(initial_sequence=1))
    _second, sent2 = down_track(up, ssrc=0xD2, transport_cc=TransportCcSender(initial_sequence=9))
    exts = {4: encode_sdes("0"), 2: b"\x01\x02\x03", 3: b"\x00\x07"}
    feed(up, rtp(1, keyframe=True, extensions=exts), 0.0)
    feed(up, rtp(2, extensions=exts), 0.01)
    assert [p.extensions for p in sent1.packets] == [
        {6: b"\x01\x02\x03", 5: b"\x00\x01"},
        {6: b"\x01\x02\x03", 5: b"\x00\x02"},
    ]
    assert [p.extensions[5] for p in sent2.packets] == [b"\x00\x09", b"\x00\x0a"]
    first.close()
    feed(up, rtp(3, extensions=exts), 0.02)
    assert len(sent1.packets) == 2
    assert sent2.packets[-1].extensions == {6: b"\x01\x02\x03", 5: b"\x00\x0b"}


def test_malformed_extension_block_is_not_forwarded_and_leaves_no_hole() -> None:
    up, _ = up_track()
    down, sent = down_track(up)
    feed(up, rtp(1, keyframe=True), 0.0)
    bad = bytearray(rtp(2, extensions={2: b"\x01\x02\x03"}))
    bad[16] = 0x2F  # element id 2 claims 16 bytes: overruns the block
    feed(up, bytes(bad), 0.01)
    feed(up, rtp(3), 0.02)
    assert sent.seqs == [1, 2]
    assert down.statistics().packets_malformed == 1
    down.on_nack([2], 0.1)
    assert sent.seqs == [1, 2, 2]


def test_forwarding_waits_for_the_subscribers_transport_and_then_a_keyframe() -> None:
    up, plis = up_track()
    up.bind_ssrc(0, 0x1111, False)
    down, sent = down_track(up)
    down.set_transport_ready(False, 0.0)
    feed(up, rtp(1, keyframe=True), 0.0)  # would be lost: the subscriber cannot decrypt yet
    feed(up, rtp(2), 0.01)
    assert sent.seqs == []
    assert plis.packets == []  # no keyframe asked for while nothing can be sent
    down.set_transport_ready(True, 0.5)
    assert plis.packets == [PictureLossIndication(SFU_RTCP_SSRC, 0x1111)]
    feed(up, rtp(3), 0.51)
    feed(up, rtp(4, keyframe=True), 0.52)
    feed(up, rtp(5), 0.53)
    assert sent.seqs == [4, 5]
