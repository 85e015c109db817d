"""Fallback estimator for subscribers that send REMB but no transport-wide CC feedback."""

from __future__ import annotations

from collections.abc import Sequence

from sfu_trio.media.bwe.base import BandwidthEstimator, EstimatorStatistics
from sfu_trio.media.bwe.loss_based import LossBasedController
from sfu_trio.media.twcc import PacketResult


class RembEstimator(BandwidthEstimator):
    """Estimate = the subscriber's last REMB value, capped by the loss-based controller.

    Until the first REMB arrives the estimate is ``initial_bps``.
    """

    name = "remb"

    def __init__(
        self, initial_bps: int, *, min_bps: int = 30_000, max_bps: int = 20_000_000
    ) -> None:
        super().__init__(initial_bps, min_bps=min_bps, max_bps=max_bps)
        self._remb = self._clamp(initial_bps)
        self._loss = LossBasedController()
        self._estimate = self._remb

    @property
    def estimate(self) -> int:
        return int(self._estimate)

    def on_packet_results(self, results: Sequence[PacketResult], now: float) -> None:
        """REMB estimation ignores per-packet feedback."""

    def on_remb(self, bitrate: int, now: float) -> None:
        self._remb = self._clamp(bitrate)
        self._estimate = self._clamp(self._loss.cap(self._remb))

    def on_loss_report(self, fraction: float, now: float) -> None:
        self._loss.update(fraction, self._estimate, now, self.rtt)
        self._estimate = self._clamp(self._loss.cap(self._remb))

    def statistics(self) -> EstimatorStatistics:
        return EstimatorStatistics(
            name=self.name,
            estimate_bps=self.estimate,
            acked_bps=None,
            delay_state="unknown",
            loss_ratio=self._loss.last_loss,
            rtt=self.rtt,
        )
