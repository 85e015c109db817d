"""Delay-gradient overuse detection (GCC's trendline filter and adaptive threshold).

Packets are grouped by send time into bursts of ``group_span``; for each pair of consecutive
groups the delay variation is (arrival delta - send delta). The accumulated, smoothed delay is
fitted by least squares over the last ``window`` groups; a positive slope means a queue is
building. The slope, scaled, is compared with a threshold that adapts to the path's noise.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum


class BandwidthUsage(StrEnum):
    NORMAL = "normal"
    OVERUSING = "overusing"
    UNDERUSING = "underusing"


class ArrivalGroups:
    """Groups (send_time, arrival_time) samples and yields deltas between whole groups."""

    __slots__ = (
        "_group_first_send",
        "_group_last_arrival",
        "_group_last_send",
        "_prev_last_arrival",
        "_prev_last_send",
        "_span",
    )

    def __init__(self, group_span: float = 0.005) -> None:
        self._span = group_span
        self._group_first_send: float | None = None
        self._group_last_send = 0.0
        self._group_last_arrival = 0.0
        self._prev_last_send: float | None = None
        self._prev_last_arrival = 0.0

    def add(self, send_time: float, arrival_time: float) -> tuple[float, float, float] | None:
        """Add a packet; when it starts a new group, return (send_delta, arrival_delta,
        arrival_time) in seconds for the group just completed against the one before."""
        first = self._group_first_send
        if first is None:
            self._start(send_time, arrival_time)
            return None
        if send_time < first:
            return None  # reordered from an older group: ignore
        if send_time - first <= self._span:
            self._group_last_send = max(self._group_last_send, send_time)
            self._group_last_arrival = max(self._group_last_arrival, arrival_time)
            return None
        result = None
        if self._prev_last_send is not None:
            result = (
                self._group_last_send - self._prev_last_send,
                self._group_last_arrival - self._prev_last_arrival,
                self._group_last_arrival,
            )
        self._prev_last_send = self._group_last_send
        self._prev_last_arrival = self._group_last_arrival
        self._start(send_time, arrival_time)
        return result

    def _start(self, send_time: float, arrival_time: float) -> None:
        self._group_first_send = send_time
        self._group_last_send = send_time
        self._group_last_arrival = arrival_time


class TrendlineDetector:
    """Turns group delay variations into a :class:`BandwidthUsage` signal."""

    def __init__(
        self,
        *,
        window: int = 20,
        smoothing: float = 0.9,
        threshold_gain: float = 4.0,
        initial_threshold_ms: float = 12.5,
        overuse_time_ms: float = 10.0,
    ) -> None:
        self._window = window
        self._smoothing = smoothing
        self._gain = threshold_gain
        self._overuse_time_ms = overuse_time_ms
        self.threshold = initial_threshold_ms
        self.state = BandwidthUsage.NORMAL
        self.trend = 0.0
        self._samples: deque[tuple[float, float]] = deque(maxlen=window)
        self._first_arrival_ms: float | None = None
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._num_deltas = 0
        self._time_over_using = -1.0
        self._overuse_count = 0
        self._prev_trend = 0.0
        self._last_threshold_update: float | None = None

    def update(
        self, send_delta: float, arrival_delta: float, arrival_time: float
    ) -> BandwidthUsage:
        """Feed one group delta (seconds); returns the usage signal after it."""
        send_delta_ms = send_delta * 1000.0
        arrival_ms = arrival_time * 1000.0
        if self._first_arrival_ms is None:
            self._first_arrival_ms = arrival_ms
        self._num_deltas = min(self._num_deltas + 1, 1000)
        self._accumulated += arrival_delta * 1000.0 - send_delta_ms
        self._smoothed = (
            self._smoothing * self._smoothed + (1 - self._smoothing) * self._accumulated
        )
        self._samples.append((arrival_ms - self._first_arrival_ms, self._smoothed))
        if len(self._samples) == self._window:
            self.trend = _slope(self._samples)
        self._detect(send_delta_ms, arrival_ms)
        return self.state

    def _detect(self, send_delta_ms: float, now_ms: float) -> None:
        if self._num_deltas < 2:
            return
        modified = min(self._num_deltas, 60) * self.trend * self._gain
        if modified > self.threshold:
            if self._time_over_using < 0:
                self._time_over_using = send_delta_ms / 2
            else:
                self._time_over_using += send_delta_ms
            self._overuse_count += 1
            if (
                self._time_over_using > self._overuse_time_ms
                and self._overuse_count > 1
                and self.trend >= self._prev_trend
            ):
                self._time_over_using = 0.0
                self._overuse_count = 0
                self.state = BandwidthUsage.OVERUSING
        elif modified < -self.threshold:
            self._time_over_using = -1.0
            self._overuse_count = 0
            self.state = BandwidthUsage.UNDERUSING
        else:
            self._time_over_using = -1.0
            self._overuse_count = 0
            self.state = BandwidthUsage.NORMAL
        self._prev_trend = self.trend
        self._update_threshold(modified, now_ms)

    def _update_threshold(self, modified: float, now_ms: float) -> None:
        last = self._last_threshold_update
        self._last_threshold_update = now_ms
        if last is None or abs(modified) > self.threshold + 15.0:
            return
        k = 0.039 if abs(modified) < self.threshold else 0.0087
        elapsed = min(max(now_ms - last, 0.0), 100.0)
        self.threshold += k * (abs(modified) - self.threshold) * elapsed
        self.threshold = min(600.0, max(6.0, self.threshold))


def _slope(samples: deque[tuple[float, float]]) -> float:
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    num = 0.0
    den = 0.0
    for x, y in samples:
        dx = x - mean_x
        num += dx * (y - mean_y)
        den += dx * dx
    return num / den if den > 0 else 0.0
