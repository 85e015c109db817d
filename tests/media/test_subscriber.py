from __future__ import annotations

import random

import pytest

from sfu_trio.media.bwe import create_estimator
from sfu_trio.media.subscriber import AUDIO_RESERVE_BPS, SubscriberFeedback
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.rtcp import (
    FullIntraRequest,
    GenericNack,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    TransportCcFeedback,
    parse_compound_untrusted,
    serialize_compound,
)
from sfu_trio.webrtc.rtp import RtpHeader
from tests.media.forwarding_fixtures import (
    SFU_RTCP_SSRC,
    RtcpLog,
    audio_info,
    down_track,
    rtp,
    up_track,
)

SUBSCRIBER_SSRC = 0x5B5B


def feed(up: UpTrack, packet: bytes, now: float, layer: int = 0) -> None:
    up.on_rtp(packet, RtpHeader.parse_untrusted(packet), layer, now)


class FakeDown:
    """Records what the feedback dispatcher asks of a down-track."""

    def __init__(self, ssrc: int, kind: str = "video", rates: tuple[int, ...] = (100_000,)) -> None:
        self.ssrc = ssrc
        self.kind = kind
        self.wants_media = True
        self.rates = list(rates)
        self.calls: list[tuple[object, ...]] = []
        self.budget: float | None = None

    def on_nack(self, lost: tuple[int, ...], now: float) -> None:
        self.calls.append(("nack", lost))

    def on_keyframe_request(self, now: float) -> None:
        self.calls.append(("keyframe",))

    def on_report_block(self, block: ReportBlock, wall: float) -> float | None:
        self.calls.append(("report", block.fraction_lost))
        return 0.2

    def layer_bitrates(self, now: float) -> list[int]:
        return self.rates

    def set_budget(self, bps: float, now: float) -> None:
        self.budget = bps

    def sender_report(self, now: float, wall: float) -> SenderReport | None:
        return SenderReport(self.ssrc, 1, 2, 3, 4)


def make(
    *downs: FakeDown, estimator: str = "remb", twcc: bool = False, initial: int = 1_000_000
) -> tuple[SubscriberFeedback, RtcpLog]:
    log = RtcpLog()
    feedback = SubscriberFeedback(
        estimator=create_estimator(estimator, initial),
        send_rtcp=log,
        transport_cc=TransportCcSender() if twcc else None,
        rng=random.Random(3),
    )
    for down in downs:
        feedback.add_down_track(down, 0.0)  # type: ignore[arg-type]
    return feedback, log


def test_feedback_is_dispatched_by_ssrc() -> None:
    a, b = FakeDown(0xA), FakeDown(0xB)
    feedback, _ = make(a, b)
    feedback.on_rtcp(
        serialize_compound(
            [
                PictureLossIndication(SUBSCRIBER_SSRC, 0xA),
                GenericNack(SUBSCRIBER_SSRC, 0xB, (5, 6)),
                PictureLossIndication(SUBSCRIBER_SSRC, 0xC),  # not ours
                FullIntraRequest(SUBSCRIBER_SSRC, ((0xB, 1),)),
                FullIntraRequest(SUBSCRIBER_SSRC, ((0xB, 1),)),  # a repeat of the same FIR
                FullIntraRequest(SUBSCRIBER_SSRC, ((0xB, 2),)),
            ]
        ),
        0.0,
    )
    assert a.calls == [("keyframe",)]
    assert b.calls == [("nack", (5, 6)), ("keyframe",), ("keyframe",)]
    stats = feedback.statistics()
    assert (stats.keyframe_requests, stats.nacks, stats.feedback_unknown_ssrc) == (3, 1, 1)


def test_receiver_report_feeds_rtt_and_loss() -> None:
    a = FakeDown(0xA)
    feedback, _ = make(a)
    block = ReportBlock(0xA, 128, 0, 0, 0, 0, 0)
    feedback.on_rtcp(ReceiverReport(SUBSCRIBER_SSRC, (block,)).serialize(), 1.0)
    assert a.calls == [("report", 128)]
    assert feedback.estimator.rtt == 0.2


def test_remb_sets_the_estimate_and_reallocates() -> None:
    a = FakeDown(0xA, rates=(100_000, 400_000, 1_500_000))
    feedback, _ = make(a)
    feedback.on_rtcp(ReceiverEstimatedMaxBitrate(SUBSCRIBER_SSRC, 600_000, (0xA,)).serialize(), 1)
    assert feedback.estimate == 600_000
    assert a.budget == 600_000  # layer 1 (400k) + the 200k left over


def test_bandwidth_limit_caps_the_estimate() -> None:
    a = FakeDown(0xA, rates=(100_000, 400_000))
    feedback, _ = make(a)
    feedback.set_bandwidth_limit(250_000, 0.0)
    assert feedback.estimate == 250_000 and a.budget == 250_000
    feedback.set_bandwidth_limit(0, 0.0)
    assert feedback.estimate == 1_000_000


# (estimate, rates of each video down-track) -> budget given to each
ALLOCATION_ROWS = [
    # everyone gets the lowest layer first, then upgrades one step at a time
    (1_000_000, [(100_000, 300_000, 900_000), (100_000, 300_000, 900_000)], [500_000, 500_000]),
    (700_000, [(100_000, 300_000, 900_000), (100_000, 300_000, 900_000)], [350_000, 350_000]),
    (2_000_000, [(100_000, 300_000, 900_000), (200_000,)], [1_350_000, 650_000]),
    # not even the lowest layers fit: each keeps its lowest layer's rate
    (100_000, [(150_000, 500_000), (150_000, 500_000)], [150_000, 150_000]),
]


@pytest.mark.parametrize(("estimate", "rates", "budgets"), ALLOCATION_ROWS)
def test_allocation(estimate: int, rates: list[tuple[int, ...]], budgets: list[int]) -> None:
    downs = [FakeDown(i + 1, rates=r) for i, r in enumerate(rates)]
    audio = FakeDown(99, kind="audio")
    feedback, _ = make(*downs, audio, initial=10_000_000)
    feedback.set_bandwidth_limit(estimate + AUDIO_RESERVE_BPS, 0.0)
    assert [d.budget for d in downs] == budgets


def test_transport_cc_feedback_reaches_the_estimator() -> None:
    feedback, _ = make(FakeDown(0xA), estimator="twcc", twcc=True)
    assert feedback.transport_cc is not None
    for i in range(3):
        assert feedback.transport_cc.next_sequence(1000, i * 0.01) == 1 + i
    report = TransportCcFeedback(SUBSCRIBER_SSRC, 0xA, 1, 0, 0, (4, 40, None))
    feedback.on_rtcp(report.serialize(), 0.1)
    stats = feedback.estimator.statistics()
    assert stats.name == "twcc"
    assert feedback.transport_cc.feedback_received == 1


def test_sender_reports_are_sent_about_every_second() -> None:
    feedback, log = make(FakeDown(0xA), FakeDown(0xB))
    assert feedback.get_timer() == float("-inf")
    feedback.handle_timer(10.0)
    due = feedback.get_timer()
    assert due is not None and 10.5 <= due <= 11.5
    feedback.handle_timer(due - 0.01)
    assert log.datagrams == []
    feedback.handle_timer(due)
    assert log.packets == [SenderReport(0xA, 1, 2, 3, 4), SenderReport(0xB, 1, 2, 3, 4)]


def test_sender_reports_are_split_into_small_datagrams() -> None:
    feedback, log = make(*(FakeDown(i) for i in range(1, 101)))
    feedback.send_sender_reports(0.0)
    assert len(log.packets) == 100
    assert all(len(d) <= 1200 for d in log.datagrams)
    assert len(log.datagrams) == 3


def test_with_real_down_tracks_pli_reaches_the_publisher() -> None:
    up, upstream = up_track()
    up.bind_ssrc(0, 0x1111, False)
    down, _ = down_track(up, ssrc=0xD1)
    audio_up, _ = up_track(audio_info())
    audio_down, _ = down_track(audio_up, ssrc=0xD2)
    feedback, _ = make()
    feedback.add_down_track(down, 0.0)
    feedback.add_down_track(audio_down, 0.0)
    feed(up, rtp(1, keyframe=True), 0.0)
    feedback.on_rtcp(PictureLossIndication(SUBSCRIBER_SSRC, 0xD1).serialize(), 1.0)
    feedback.on_rtcp(PictureLossIndication(SUBSCRIBER_SSRC, 0xD2).serialize(), 1.0)  # audio
    assert upstream.packets == [PictureLossIndication(SFU_RTCP_SSRC, 0x1111)]
    (report,) = parse_compound_untrusted(
        b"".join(r.serialize() for r in [down.sender_report(1.0, 5.0)] if r is not None)
    )
    assert isinstance(report, SenderReport) and report.ssrc == 0xD1
    feedback.remove_down_track(down, 1.0)
    assert [d.ssrc for d in feedback.down_tracks] == [0xD2]
