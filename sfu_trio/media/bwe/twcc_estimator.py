"""Send-side bandwidth estimation from transport-wide CC feedback (a simple GCC)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from sfu_trio.media.bwe.aimd import AimdRateControl
from sfu_trio.media.bwe.base import BandwidthEstimator, EstimatorStatistics
from sfu_trio.media.bwe.loss_based import LossBasedController
from sfu_trio.media.bwe.trendline import ArrivalGroups, BandwidthUsage, TrendlineDetector
from sfu_trio.media.twcc import PacketResult


class AckedBitrate:
    """Bitrate the receiver acknowledged, over the last ``window`` seconds of arrival time."""

    def __init__(self, window: float = 0.5, min_span: float = 0.15) -> None:
        self._window = window
        self._min_span = min_span
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0
        self._latest = float("-inf")

    def add(self, arrival_time: float, size: int) -> None:
        self._samples.append((arrival_time, size))
        self._bytes += size
        if arrival_time > self._latest:
            self._latest = arrival_time
        horizon = self._latest - self._window
        samples = self._samples
        while samples and samples[0][0] <= horizon:
            self._bytes -= samples.popleft()[1]

    @property
    def bps(self) -> float | None:
        if not self._samples:
            return None
        span = self._latest - self._samples[0][0]
        if span < self._min_span:
            return None
        return self._bytes * 8 / max(span, self._window * 0.9)


class TwccEstimator(BandwidthEstimator):
    """GCC-like estimate: min(delay-based AIMD rate, loss-based cap, REMB if any).

    Loss is measured from the TWCC results themselves, evaluated every ``loss_interval``
    seconds once ``min_loss_packets`` results have accumulated (or at 100 results); receiver
    report fractions feed the same loss controller.
    """

    name = "twcc"

    def __init__(
        self,
        initial_bps: int,
        *,
        min_bps: int = 30_000,
        max_bps: int = 20_000_000,
        loss_interval: float = 0.5,
        min_loss_packets: int = 10,
    ) -> None:
        super().__init__(initial_bps, min_bps=min_bps, max_bps=max_bps)
        initial = self._clamp(initial_bps)
        self._aimd = AimdRateControl(initial, min_bps=min_bps, max_bps=max_bps)
        self._groups = ArrivalGroups()
        self._detector = TrendlineDetector()
        self._acked = AckedBitrate()
        self._loss = LossBasedController()
        self._loss_interval = loss_interval
        self._min_loss_packets = min_loss_packets
        self._loss_sent = 0
        self._loss_lost = 0
        self._loss_started: float | None = None
        self._loss_bytes = 0
        self._loss_first_send = float("inf")
        self._loss_last_send = float("-inf")
        self._remb: float | None = None
        self._feedback_rtt = 0.0
        self._estimate = initial

    @property
    def estimate(self) -> int:
        return int(self._estimate)

    def on_packet_results(self, results: Sequence[PacketResult], now: float) -> None:
        if not results:
            return
        received = [r for r in results if r.arrival_time is not None]
        self._loss_sent += len(results)
        self._loss_lost += len(results) - len(received)
        for result in results:
            self._loss_bytes += result.size
            self._loss_first_send = min(self._loss_first_send, result.send_time)
            self._loss_last_send = max(self._loss_last_send, result.send_time)
        received.sort(key=_arrival)
        if received:
            self._feedback_rtt = max(0.0, now - max(r.send_time for r in received))
        acked = self._acked
        groups = self._groups
        usage = self._detector.state
        for result in received:
            arrival = _arrival(result)
            acked.add(arrival, result.size)
            delta = groups.add(result.send_time, arrival)
            if delta is not None:
                usage = self._detector.update(*delta)
        if received:
            self._aimd.update(usage, acked.bps, now, self.effective_rtt)
        self._maybe_update_loss(now)
        self._combine()

    def on_remb(self, bitrate: int, now: float) -> None:
        self._remb = float(bitrate)
        self._combine()

    def on_loss_report(self, fraction: float, now: float) -> None:
        self._loss.update(fraction, self._estimate, now, self.effective_rtt)
        self._combine()

    def statistics(self) -> EstimatorStatistics:
        acked = self._acked.bps
        return EstimatorStatistics(
            name=self.name,
            estimate_bps=self.estimate,
            acked_bps=None if acked is None else int(acked),
            delay_state=self._detector.state.value,
            loss_ratio=self._loss.last_loss,
            rtt=self.effective_rtt,
        )

    @property
    def effective_rtt(self) -> float:
        """The larger of the reported RTT and the latest feedback delay (which includes the
        queueing delay and the feedback interval)."""
        return max(self.rtt, self._feedback_rtt)

    @property
    def delay_state(self) -> BandwidthUsage:
        return self._detector.state

    def _maybe_update_loss(self, now: float) -> None:
        if self._loss_started is None:
            self._loss_started = now
        if self._loss_sent < self._min_loss_packets:
            return
        if self._loss_sent < 100 and now - self._loss_started < self._loss_interval:
            return
        loss = self._loss_lost / self._loss_sent
        # The losses happened at the rate those packets were sent, not at today's estimate.
        span = self._loss_last_send - self._loss_first_send
        sent_bps = self._loss_bytes * 8 / span if span > 0.05 else self._estimate
        self._loss.update(loss, sent_bps, now, self.effective_rtt)
        self._loss_sent = self._loss_lost = self._loss_bytes = 0
        self._loss_first_send = float("inf")
        self._loss_last_send = float("-inf")
        self._loss_started = now

    def _combine(self) -> None:
        bps = self._loss.cap(self._aimd.bitrate)
        if self._remb is not None:
            bps = min(bps, self._remb)
        self._estimate = self._clamp(bps)


def _arrival(result: PacketResult) -> float:
    assert result.arrival_time is not None
    return result.arrival_time
