"""The delay-based rate controller of GCC: additive/multiplicative increase, multiplicative
decrease, driven by the overuse detector's signal and the acknowledged bitrate."""

from __future__ import annotations

import math
from enum import StrEnum

from sfu_trio.media.bwe.trendline import BandwidthUsage

BETA = 0.85  # on overuse, go to BETA x acknowledged bitrate
MAX_ACKED_RATIO = 1.5  # never increase beyond this x acknowledged bitrate (+10 kbit/s)


class RateState(StrEnum):
    HOLD = "hold"
    INCREASE = "increase"
    DECREASE = "decrease"


class LinkCapacity:
    """Average acknowledged bitrate at overuse events, with its spread (in kbit/s)."""

    def __init__(self) -> None:
        self.estimate_kbps: float | None = None
        self._deviation = 0.4

    def on_overuse(self, acked_bps: float) -> None:
        sample = acked_bps / 1000.0
        if self.estimate_kbps is None:
            self.estimate_kbps = sample
        else:
            self.estimate_kbps = 0.95 * self.estimate_kbps + 0.05 * sample
        norm = max(self.estimate_kbps, 1.0)
        error = self.estimate_kbps - sample
        self._deviation = 0.95 * self._deviation + 0.05 * error * error / norm
        self._deviation = min(2.5, max(0.4, self._deviation))

    def _spread_kbps(self) -> float:
        assert self.estimate_kbps is not None
        return 3.0 * math.sqrt(self.estimate_kbps * self._deviation)

    def upper_bps(self) -> float:
        if self.estimate_kbps is None:
            return math.inf
        return (self.estimate_kbps + self._spread_kbps()) * 1000.0

    def lower_bps(self) -> float:
        if self.estimate_kbps is None:
            return 0.0
        return max(0.0, self.estimate_kbps - self._spread_kbps()) * 1000.0

    def reset(self) -> None:
        self.estimate_kbps = None


class AimdRateControl:
    """Turns a :class:`BandwidthUsage` signal into a delay-based bitrate.

    Far from the known link capacity (or before any overuse) the rate grows multiplicatively:
    by ``startup_increase`` per second until the first overuse, then 8%/s. Near the link
    capacity it grows additively by about one packet per response time (RTT + 100 ms).
    """

    def __init__(
        self,
        initial_bps: float,
        *,
        min_bps: float,
        max_bps: float,
        startup_increase: float = 1.5,
        increase: float = 1.08,
    ) -> None:
        self.bitrate = initial_bps
        self.state = RateState.INCREASE
        self.link = LinkCapacity()
        self._min = min_bps
        self._max = max_bps
        self._startup_increase = startup_increase
        self._increase = increase
        self._in_startup = True
        self._last_change: float | None = None

    def update(
        self, usage: BandwidthUsage, acked_bps: float | None, now: float, rtt: float
    ) -> float:
        if usage is BandwidthUsage.OVERUSING:
            if self.state is not RateState.DECREASE or self._time_to_reduce(acked_bps, now, rtt):
                self.state = RateState.DECREASE
                self._decrease(acked_bps, now)
            return self.bitrate
        if usage is BandwidthUsage.UNDERUSING:
            self.state = RateState.HOLD
        elif self.state is not RateState.INCREASE:
            self.state = RateState.INCREASE
            self._last_change = now
            return self.bitrate
        if self.state is RateState.INCREASE:
            self._increase_rate(acked_bps, now, rtt)
        else:
            self._last_change = now
        return self.bitrate

    def _time_to_reduce(self, acked_bps: float | None, now: float, rtt: float) -> bool:
        interval = min(0.2, max(0.01, rtt))
        if self._last_change is None or now - self._last_change >= interval:
            return True
        return acked_bps is not None and self.bitrate / 2 > acked_bps

    def _decrease(self, acked_bps: float | None, now: float) -> None:
        self._in_startup = False
        if acked_bps is None:
            new = BETA * self.bitrate
        else:
            new = BETA * acked_bps
            if new > self.bitrate and self.link.estimate_kbps is not None:
                new = BETA * self.link.estimate_kbps * 1000.0
            if acked_bps < self.link.lower_bps():
                self.link.reset()
            self.link.on_overuse(acked_bps)
        if new < self.bitrate:
            self.bitrate = max(self._min, new)
        self._last_change = now

    def _increase_rate(self, acked_bps: float | None, now: float, rtt: float) -> None:
        elapsed = 0.0 if self._last_change is None else min(1.0, max(0.0, now - self._last_change))
        self._last_change = now
        if acked_bps is not None and acked_bps > self.link.upper_bps():
            self.link.reset()
        if self.link.estimate_kbps is not None:
            new = self.bitrate + self._additive_rate(rtt) * elapsed
        else:
            factor = self._startup_increase if self._in_startup else self._increase
            new = self.bitrate + max(self.bitrate * (factor**elapsed - 1.0), 1000.0 * elapsed)
        if acked_bps is not None:
            ceiling = MAX_ACKED_RATIO * acked_bps + 10_000.0
            if new > ceiling:
                new = max(self.bitrate, ceiling)
        self.bitrate = min(self._max, max(self._min, new))

    def _additive_rate(self, rtt: float) -> float:
        """Bits per second per second: about one average packet per response time."""
        bits_per_frame = self.bitrate / 30.0
        packets_per_frame = math.ceil(bits_per_frame / (1200 * 8))
        packet_bits = bits_per_frame / max(packets_per_frame, 1)
        return max(4000.0, packet_bits / (rtt + 0.1))
