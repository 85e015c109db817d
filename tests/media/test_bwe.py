"""Bandwidth estimators against a simulated bottleneck link, in fake time.

The link is a FIFO queue draining at ``capacity`` bit/s with 20 ms propagation each way and
a 500 ms tail-drop queue; the sender paces 1200-byte packets at the current estimate. The
receiver side is a real TransportCcRecorder and the feedback goes through a real
TransportCcSender, so this also checks that the TWCC loop closes.
"""

import heapq
import random
from collections.abc import Callable

import pytest

from sfu_trio.media.bwe import (
    ESTIMATORS,
    BandwidthEstimator,
    RembEstimator,
    TwccEstimator,
    create_estimator,
)
from sfu_trio.media.bwe.loss_based import LossBasedController
from sfu_trio.media.bwe.trendline import ArrivalGroups, BandwidthUsage, TrendlineDetector
from sfu_trio.media.twcc import PacketResult, TransportCcRecorder, TransportCcSender
from sfu_trio.webrtc.rtcp import TransportCcFeedback

PACKET = 1200
ONE_WAY = 0.02
MAX_QUEUE = 0.5


def simulate(
    estimator: BandwidthEstimator,
    capacity: Callable[[float], float],
    seconds: float,
    *,
    loss: float = 0.0,
    seed: int = 1,
) -> list[tuple[float, int]]:
    """Run the link; returns (time, estimate) sampled every 100 ms."""
    rng = random.Random(seed)
    sender = TransportCcSender()
    recorder = TransportCcRecorder()
    in_flight: list[tuple[float, int]] = []
    feedback_in_flight: list[tuple[float, int, TransportCcFeedback]] = []
    link_free = 0.0
    next_send = 0.0
    samples: list[tuple[float, int]] = []
    step = 0.001
    for tick in range(1, round(seconds / step) + 1):
        now = tick * step
        while next_send <= now:
            seq = sender.next_sequence(PACKET, next_send)
            if rng.random() >= loss:
                depart = max(next_send, link_free) + PACKET * 8 / capacity(next_send)
                if depart - next_send <= MAX_QUEUE:
                    link_free = depart
                    heapq.heappush(in_flight, (depart + ONE_WAY, seq))
            next_send += PACKET * 8 / estimator.estimate
        while in_flight and in_flight[0][0] <= now:
            arrival, seq = heapq.heappop(in_flight)
            recorder.on_packet(seq, arrival)
        while (feedback := recorder.build_feedback(now, 1, 2)) is not None:
            heapq.heappush(feedback_in_flight, (now + ONE_WAY, tick, feedback))
        while feedback_in_flight and feedback_in_flight[0][0] <= now:
            _, _, item = heapq.heappop(feedback_in_flight)
            results = sender.on_feedback(item, now)
            estimator.on_packet_results(results, now)
        if tick % 100 == 0:
            samples.append((now, estimator.estimate))
    return samples


def estimate_at(samples: list[tuple[float, int]], t: float) -> int:
    return min(samples, key=lambda s: abs(s[0] - t))[1]


def settled(samples: list[tuple[float, int]], start: float, end: float) -> list[int]:
    return [e for t, e in samples if start <= t <= end]


def constant(bps: float) -> Callable[[float], float]:
    return lambda t: bps


@pytest.mark.parametrize("start_bps", [300_000, 5_000_000])
def test_converges_to_link_capacity(start_bps: int) -> None:
    samples = simulate(TwccEstimator(start_bps), constant(1_000_000), 10.0)
    for estimate in settled(samples, 6.0, 10.0):
        assert 700_000 <= estimate <= 1_300_000


def test_ramp_up_from_300k_is_quick() -> None:
    samples = simulate(TwccEstimator(300_000), constant(1_000_000), 5.0)
    first_above = next(t for t, e in samples if e >= 700_000)
    assert first_above < 3.5


def test_random_loss_lowers_the_estimate() -> None:
    clean = simulate(TwccEstimator(1_000_000), constant(1_000_000), 20.0)
    lossy = simulate(TwccEstimator(1_000_000), constant(1_000_000), 20.0, loss=0.10, seed=7)
    assert max(settled(lossy, 15.0, 20.0)) < 0.75 * min(settled(clean, 15.0, 20.0))


def test_recovers_when_capacity_rises() -> None:
    samples = simulate(TwccEstimator(300_000), lambda t: 1_000_000 if t < 10 else 2_000_000, 25.0)
    assert 700_000 <= estimate_at(samples, 10.0) <= 1_300_000
    for estimate in settled(samples, 20.0, 25.0):
        assert 1_400_000 <= estimate <= 2_600_000


def test_estimate_stays_within_bounds() -> None:
    estimator = TwccEstimator(10_000_000, min_bps=50_000, max_bps=2_000_000)
    assert estimator.estimate == 2_000_000
    samples = simulate(estimator, constant(100_000_000), 5.0)
    assert all(50_000 <= e <= 2_000_000 for _, e in samples)


def test_remb_caps_the_twcc_estimate() -> None:
    estimator = TwccEstimator(1_000_000)
    estimator.on_remb(400_000, 0.0)
    assert estimator.estimate == 400_000


def test_loss_reports_drive_the_twcc_estimate() -> None:
    estimator = TwccEstimator(1_000_000)
    estimator.on_loss_report(0.5, 0.0)
    assert estimator.estimate == 750_000
    assert estimator.statistics().loss_ratio == 0.5


def test_statistics() -> None:
    estimator = TwccEstimator(500_000)
    estimator.on_rtt(0.08, 0.0)
    stats = estimator.statistics()
    assert (stats.name, stats.estimate_bps, stats.acked_bps, stats.delay_state, stats.rtt) == (
        "twcc",
        500_000,
        None,
        "normal",
        0.08,
    )


def test_remb_estimator_takes_remb_and_loss_cap() -> None:
    estimator = RembEstimator(300_000)
    assert estimator.estimate == 300_000
    estimator.on_packet_results([PacketResult(1, 0.0, 1200, None)], 0.0)
    assert estimator.estimate == 300_000
    estimator.on_remb(2_500_000, 0.0)
    assert estimator.estimate == 2_500_000
    estimator.on_loss_report(0.2, 1.0)  # > 10%: cap at 2.5M * (1 - 0.1)
    assert estimator.estimate == 2_250_000
    estimator.on_remb(1_000_000, 1.5)
    assert estimator.estimate == 1_000_000
    assert estimator.statistics().name == "remb"


# (loss, rate, now, expected limit after)
LOSS_TABLE: list[tuple[float, float, float, float | None]] = [
    (0.0, 1e6, 0.0, None),  # no loss: no cap
    (0.05, 1e6, 1.0, 1e6),  # 2-10%: hold at the current rate
    (0.2, 1e6, 2.0, 0.9e6),  # >10%: rate * (1 - 0.5 * loss)
    (0.4, 0.9e6, 2.1, 0.9e6),  # too soon after the last decrease
    (0.4, 0.9e6, 2.5, 0.72e6),
    (0.01, 0.72e6, 3.5, 0.72e6 * 1.08),  # <2%: +8% per second
]


def test_loss_based_controller_table() -> None:
    controller = LossBasedController()
    for loss, rate, now, expected in LOSS_TABLE:
        controller.update(loss, rate, now, rtt=0.05)
        if expected is None:
            assert controller.limit is None
        else:
            assert controller.limit == pytest.approx(expected)


def test_trendline_detects_growing_queue_and_drain() -> None:
    detector = TrendlineDetector()
    groups = ArrivalGroups()
    states = []
    for i in range(60):  # sent every 10 ms, arriving 12 ms apart: a queue grows
        delta = groups.add(i * 0.010, 1.0 + i * 0.012)
        if delta is not None:
            states.append(detector.update(*delta))
    assert states[-1] is BandwidthUsage.OVERUSING
    for i in range(60, 120):  # queue drains: arrivals 8 ms apart
        delta = groups.add(i * 0.010, 1.0 + 59 * 0.012 + (i - 59) * 0.008)
        if delta is not None:
            states.append(detector.update(*delta))
    assert detector.state is BandwidthUsage.UNDERUSING
    assert BandwidthUsage.UNDERUSING in states


def test_trendline_steady_link_is_normal() -> None:
    detector = TrendlineDetector()
    groups = ArrivalGroups()
    rng = random.Random(3)
    state = BandwidthUsage.NORMAL
    for i in range(300):
        delta = groups.add(i * 0.010, 1.0 + i * 0.010 + rng.random() * 0.002)
        if delta is not None:
            state = detector.update(*delta)
            assert state is not BandwidthUsage.OVERUSING
    assert state is BandwidthUsage.NORMAL


def test_registry() -> None:
    assert {"twcc": TwccEstimator, "remb": RembEstimator} == ESTIMATORS
    estimator = create_estimator("remb", 123_000)
    assert isinstance(estimator, RembEstimator)
    assert estimator.estimate == 123_000
    with pytest.raises(ValueError, match="unknown bandwidth estimator 'gcc'"):
        create_estimator("gcc", 1)


def test_light_loss_is_tolerated() -> None:
    samples = simulate(TwccEstimator(1_000_000), constant(1_000_000), 20.0, loss=0.01, seed=3)
    assert min(settled(samples, 10.0, 20.0)) >= 700_000
