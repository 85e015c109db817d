"""The interface every bandwidth estimator implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sfu_trio.media.twcc import PacketResult


@dataclass(frozen=True, slots=True)
class EstimatorStatistics:
    """A snapshot of a bandwidth estimator, for metrics and quality reports."""

    name: str
    estimate_bps: int
    acked_bps: int | None
    delay_state: str
    loss_ratio: float
    rtt: float


class BandwidthEstimator(ABC):
    """Estimates how many bits per second one subscriber connection can take.

    Inputs are feedback from the subscriber: TWCC packet results, REMB values and loss
    fractions from receiver reports, plus the RTT. ``estimate`` is the current answer.
    """

    name: ClassVar[str]

    def __init__(
        self, initial_bps: int, *, min_bps: int = 30_000, max_bps: int = 20_000_000
    ) -> None:
        if not 0 < min_bps <= max_bps:
            raise ValueError("need 0 < min_bps <= max_bps")
        self.min_bps = min_bps
        self.max_bps = max_bps
        self.rtt = 0.1

    @abstractmethod
    def on_packet_results(self, results: Sequence[PacketResult], now: float) -> None:
        """Feedback about sent packets (from :class:`TransportCcSender`)."""

    @abstractmethod
    def on_remb(self, bitrate: int, now: float) -> None:
        """A REMB value (bits per second) from the subscriber."""

    @abstractmethod
    def on_loss_report(self, fraction: float, now: float) -> None:
        """A loss fraction (0..1) from a receiver report."""

    def on_rtt(self, rtt: float, now: float) -> None:
        """The current round-trip time to the subscriber, in seconds."""
        self.rtt = max(rtt, 0.0)

    @property
    @abstractmethod
    def estimate(self) -> int:
        """Current estimate in bits per second."""

    @abstractmethod
    def statistics(self) -> EstimatorStatistics: ...

    def _clamp(self, bps: float) -> float:
        return min(float(self.max_bps), max(float(self.min_bps), bps))
