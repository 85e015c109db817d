from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.receiver import PublisherReceiver
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.negotiated import RemoteSsrc
from sfu_trio.webrtc.rtcp import (
    ReceiverReport,
    SenderReport,
    TransportCcFeedback,
    ntp_to_compact,
)
from sfu_trio.webrtc.rtp_extensions import (
    REPAIRED_RID_URI,
    RID_URI,
    encode_sdes,
    encode_twcc_sequence,
)
from tests.media.forwarding_fixtures import (
    PUB_IDS,
    RTX_PT,
    SFU_RTCP_SSRC,
    RtcpLog,
    audio_info,
    down_track,
    rtp,
    video_info,
)

MID, RID, RRID, TWCC = 4, 10, 11, 3


def make(rids: tuple[str, ...] = ("q", "h", "f")) -> tuple[PublisherReceiver, UpTrack, RtcpLog]:
    log = RtcpLog()
    receiver = PublisherReceiver(
        extension_ids=PUB_IDS, send_rtcp=log, rtcp_ssrc=SFU_RTCP_SSRC, rng=random.Random(1)
    )
    up = UpTrack(video_info(rids), send_rtcp=log, rtcp_ssrc=SFU_RTCP_SSRC)
    receiver.add_track(up)
    return receiver, up, log


def sdes(mid: str, rid: str | None = None, rrid: str | None = None) -> dict[int, bytes]:
    exts = {MID: encode_sdes(mid)}
    if rid is not None:
        exts[RID] = encode_sdes(rid)
    if rrid is not None:
        exts[RRID] = encode_sdes(rrid)
    return exts


def test_simulcast_ssrcs_are_learned_from_mid_and_rid() -> None:
    receiver, up, _ = make()
    receiver.on_rtp(rtp(1, ssrc=0xA, extensions=sdes("0", "q")), 0.0)
    receiver.on_rtp(rtp(1, ssrc=0xC, extensions=sdes("0", "f")), 0.0)
    receiver.on_rtp(rtp(1, ssrc=0xB, pt=RTX_PT, extensions=sdes("0", rrid="h")), 0.0)
    assert receiver.route_of(0xA) == (up, 0, False)
    assert receiver.route_of(0xC) == (up, 2, False)
    assert receiver.route_of(0xB) == (up, 1, True)
    assert up.ssrcs == [0xA, None, 0xC]
    assert up.rtx_ssrcs == [None, 0xB, None]
    # Later packets carry no extension at all and still arrive on their layer.
    receiver.on_rtp(rtp(2, ssrc=0xC), 0.01)
    assert up.cached_packet(2, 2) == rtp(2, ssrc=0xC)
    assert receiver.statistics().ssrcs_learned == 3
    assert receiver.statistics().packets_unroutable == 0


def test_single_stream_tells_rtx_by_payload_type() -> None:
    receiver, up, _ = make(rids=())
    receiver.on_rtp(rtp(5, ssrc=0x50, extensions=sdes("0")), 0.0)
    receiver.on_rtp(rtp(9, ssrc=0x51, pt=RTX_PT, extensions=sdes("0")), 0.0)
    assert receiver.route_of(0x50) == (up, 0, False)
    assert receiver.route_of(0x51) == (up, 0, True)


def test_sdp_ssrcs_are_routed_without_extensions() -> None:
    log = RtcpLog()
    receiver = PublisherReceiver(extension_ids={}, send_rtcp=log, rtcp_ssrc=1)
    up = UpTrack(audio_info(), send_rtcp=log, rtcp_ssrc=1)
    receiver.add_track(up, [RemoteSsrc(0x77, None)])
    _down, sent = down_track(up)
    receiver.on_rtp(rtp(3, ssrc=0x77, pt=111, payload=b"opus"), 0.0)
    assert sent.seqs == [3]


def test_unroutable_and_malformed_packets_are_counted_and_dropped() -> None:
    receiver, up, _ = make()
    receiver.on_rtp(rtp(1, ssrc=0x1), 0.0)  # no mid
    receiver.on_rtp(rtp(1, ssrc=0x2, extensions=sdes("9", "q")), 0.0)  # unknown mid
    receiver.on_rtp(rtp(1, ssrc=0x3, extensions=sdes("0", "x")), 0.0)  # unknown rid
    receiver.on_rtp(rtp(1, ssrc=0x4, extensions=sdes("0")), 0.0)  # simulcast without rid
    receiver.on_rtp(b"\x80\x60\x00", 0.0)  # truncated
    receiver.on_rtp(rtp(1, ssrc=0x5, extensions={MID: b"\x01"}), 0.0)  # bad mid value
    stats = receiver.statistics()
    assert (stats.packets_received, stats.packets_unroutable, stats.packets_malformed) == (6, 4, 2)
    assert up.packets_received == 0


def test_new_ssrc_for_a_layer_replaces_the_old_route() -> None:
    receiver, up, _ = make()
    receiver.on_rtp(rtp(1, ssrc=0xA, extensions=sdes("0", "q")), 0.0)
    receiver.on_rtp(rtp(500, ssrc=0xAA, extensions=sdes("0", "q")), 1.0)
    assert receiver.route_of(0xA) is None
    assert receiver.route_of(0xAA) == (up, 0, False)
    assert up.cached_packet(0, 1) is None  # the cache of the old stream was cleared


def test_removed_track_is_no_longer_routed() -> None:
    receiver, up, _ = make()
    receiver.on_rtp(rtp(1, ssrc=0xA, extensions=sdes("0", "q")), 0.0)
    assert receiver.remove_track("0") is up
    receiver.on_rtp(rtp(2, ssrc=0xA), 0.0)
    assert receiver.route_of(0xA) is None
    assert up.packets_received == 1
    assert receiver.get_timer() is None


def test_transport_wide_feedback_goes_to_the_publisher() -> None:
    receiver, _up, log = make()
    for i, t in enumerate((0.000, 0.010, 0.020)):
        exts = sdes("0", "q") | {TWCC: encode_twcc_sequence(100 + i)}
        receiver.on_rtp(rtp(i, ssrc=0xA, extensions=exts), t)
    receiver.on_rtp(rtp(3, ssrc=0xA, extensions={TWCC: encode_twcc_sequence(104)}), 0.030)
    assert receiver.get_timer() == float("-inf")
    receiver.handle_timer(0.06)
    (feedback,) = log.of_type(TransportCcFeedback)
    assert isinstance(feedback, TransportCcFeedback)
    assert feedback.sender_ssrc == SFU_RTCP_SSRC
    assert feedback.base_sequence == 100
    assert feedback.receive_deltas == (0, 40, 40, None, 40)  # 250 us ticks; 103 missing


def test_receiver_reports_cover_every_layer_and_echo_the_sender_report() -> None:
    receiver, _up, log = make()
    receiver.on_rtp(rtp(10, ssrc=0xA, extensions=sdes("0", "q")), 0.0)
    receiver.on_rtp(rtp(20, ssrc=0xB, extensions=sdes("0", "h")), 0.0)
    receiver.handle_timer(0.0)  # schedules the first report
    due = receiver.get_timer()
    assert due is not None and 0.5 <= due <= 1.5
    ntp = 0x1234_5678_9ABC_DEF0
    receiver.on_rtcp(SenderReport(0xA, ntp, 1, 1, 1).serialize(), 0.1)
    receiver.handle_timer(due)
    (report,) = log.of_type(ReceiverReport)
    assert isinstance(report, ReceiverReport)
    assert report.ssrc == SFU_RTCP_SSRC
    blocks = {b.ssrc: b for b in report.reports}
    assert set(blocks) == {0xA, 0xB}
    assert blocks[0xA].highest_sequence == 10
    assert blocks[0xA].lsr == ntp_to_compact(ntp)
    assert blocks[0xA].dlsr == int((due - 0.1) * 65536)
    assert blocks[0xB].lsr == 0


def test_malformed_rtcp_is_counted() -> None:
    receiver, _up, _ = make()
    receiver.on_rtcp(b"\x80\xc8\x00\x09", 0.0)
    assert receiver.statistics().rtcp_malformed == 1


@given(st.binary(max_size=80))
def test_random_bytes_never_raise(data: bytes) -> None:
    receiver, _up, _ = make()
    receiver.on_rtp(data, 0.0)
    receiver.on_rtp(b"\x90" + data, 0.0)
    receiver.on_rtcp(data, 0.0)
    stats = receiver.statistics()
    assert stats.packets_received == 2


@given(
    st.binary(min_size=1, max_size=40).map(lambda b: b + bytes(-len(b) % 4)),
    st.sampled_from([0xBEDE, 0x1000, 0x1234]),
    st.binary(max_size=30),
)
def test_random_extension_blocks_through_the_whole_pipeline(
    block: bytes, profile: int, payload: bytes
) -> None:
    log = RtcpLog()
    receiver = PublisherReceiver(extension_ids=PUB_IDS, send_rtcp=log, rtcp_ssrc=1)
    up = UpTrack(video_info(), send_rtcp=log, rtcp_ssrc=1)
    receiver.add_track(up, [RemoteSsrc(0x42, 0x43)])
    down, sent = down_track(up, rtx=True)
    header = b"\x90\x60\x00\x01" + bytes(4) + b"\x00\x00\x00\x42"
    ext = profile.to_bytes(2, "big") + (len(block) // 4).to_bytes(2, "big") + block
    keyframe = rtp(0, ssrc=0x42, keyframe=True)
    receiver.on_rtp(keyframe, 0.0)
    receiver.on_rtp(header + ext + b"\x90\xe0\x80\x01\x07\x20\x01" + payload, 0.01)
    rtx_header = b"\x90\x61\x00\x05" + bytes(4) + b"\x00\x00\x00\x43"
    receiver.on_rtp(rtx_header + ext + b"\x00\x01\x90\xe0\x80\x01\x07\x20\x01" + payload, 0.02)
    down.on_nack([1, 2], 0.1)
    receiver.handle_timer(0.2)
    assert receiver.statistics().packets_received == 3
    assert 1 <= len(sent.packets) <= 4


def test_extension_ids_from_every_m_line_let_an_audio_first_answer_learn_video_rids() -> None:
    audio_first = {k: v for k, v in PUB_IDS.items() if k not in (RID_URI, REPAIRED_RID_URI)}
    receiver = PublisherReceiver(
        extension_ids=audio_first, send_rtcp=RtcpLog(), rtcp_ssrc=SFU_RTCP_SSRC
    )
    up = UpTrack(video_info(("q", "h", "f")), send_rtcp=RtcpLog(), rtcp_ssrc=SFU_RTCP_SSRC)
    receiver.add_track(up)
    receiver.on_rtp(rtp(1, ssrc=0xA, extensions=sdes("0", "h")), 0.0)
    assert receiver.route_of(0xA) is None  # without the rid id the layer cannot be learned
    assert receiver.statistics().packets_unroutable == 1
    receiver.set_extension_ids(PUB_IDS)  # the video m-line's rid ids, merged in
    receiver.on_rtp(rtp(2, ssrc=0xB, extensions=sdes("0", "h")), 0.0)
    assert receiver.route_of(0xB) == (up, 1, False)
