"""Connection quality levels from windowed loss, round-trip time and jitter.

Thresholds (a level needs every figure below its limits; otherwise the next level is tried):

=============  ==========  ==========  ===========
level          loss        RTT         jitter
=============  ==========  ==========  ===========
excellent      < 1%        < 100 ms    < 30 ms
good           < 3%        < 250 ms    < 50 ms
poor           < 10%       < 500 ms    < 100 ms
critical       anything else
=============  ==========  ==========  ===========
"""

from __future__ import annotations

from enum import StrEnum


class QualityLevel(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    POOR = "poor"
    CRITICAL = "critical"


# (level, max loss ratio, max rtt seconds, max jitter seconds), all bounds exclusive
QUALITY_THRESHOLDS: tuple[tuple[QualityLevel, float, float, float], ...] = (
    (QualityLevel.EXCELLENT, 0.01, 0.100, 0.030),
    (QualityLevel.GOOD, 0.03, 0.250, 0.050),
    (QualityLevel.POOR, 0.10, 0.500, 0.100),
)


def classify_quality(loss_ratio: float, rtt: float, jitter: float) -> QualityLevel:
    """The level for a loss ratio (0..1), an RTT and a jitter (both in seconds)."""
    for level, max_loss, max_rtt, max_jitter in QUALITY_THRESHOLDS:
        if loss_ratio < max_loss and rtt < max_rtt and jitter < max_jitter:
            return level
    return QualityLevel.CRITICAL


class QualityTracker:
    """Reports a quality level change only once the new level has held for ``hold`` seconds.

    The first sample sets the level at once. A candidate level that does not hold for the
    whole period (the figures flip back or to a third level) restarts the wait.
    """

    def __init__(self, hold: float = 3.0) -> None:
        self._hold = hold
        self.level: QualityLevel | None = None
        self._candidate: QualityLevel | None = None
        self._candidate_since = 0.0

    def update(
        self, loss_ratio: float, rtt: float, jitter: float, now: float
    ) -> QualityLevel | None:
        """Feed the current figures; returns the new level when it changes, else None."""
        observed = classify_quality(loss_ratio, rtt, jitter)
        if self.level is None:
            self.level = observed
            return observed
        if observed is self.level:
            self._candidate = None
            return None
        if observed is not self._candidate:
            self._candidate = observed
            self._candidate_since = now
        if now - self._candidate_since >= self._hold:
            self.level = observed
            self._candidate = None
            return observed
        return None
