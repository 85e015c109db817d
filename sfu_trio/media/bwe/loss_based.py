"""The loss-based half of GCC (draft-ietf-rmcat-gcc-02 §6)."""

from __future__ import annotations

LOW_LOSS = 0.02
HIGH_LOSS = 0.10


class LossBasedController:
    """A cap on the send rate driven by reported packet loss.

    Below 2% loss the cap grows by ``increase_per_second`` (8%/s); between 2% and 10% it holds
    at the current rate; above 10% it drops to ``rate * (1 - 0.5 * loss)``, at most once per
    ``decrease_interval`` + RTT. Without any loss the cap is None (no limit).
    """

    def __init__(
        self, *, increase_per_second: float = 1.08, decrease_interval: float = 0.3
    ) -> None:
        self._increase = increase_per_second
        self._decrease_interval = decrease_interval
        self.limit: float | None = None
        self.last_loss = 0.0
        self._last_update: float | None = None
        self._last_decrease = float("-inf")

    def update(self, loss: float, rate: float, now: float, rtt: float) -> None:
        """Apply a loss fraction measured while sending at ``rate`` bits per second."""
        loss = min(1.0, max(0.0, loss))
        self.last_loss = loss
        elapsed = 0.0 if self._last_update is None else min(1.0, max(0.0, now - self._last_update))
        self._last_update = now
        if loss < LOW_LOSS:
            if self.limit is not None:
                self.limit *= self._increase**elapsed
                if self.limit > 2 * rate:
                    self.limit = None  # no longer the binding constraint
        elif loss <= HIGH_LOSS:
            if self.limit is None or self.limit > rate:
                self.limit = rate
        elif now - self._last_decrease >= self._decrease_interval + rtt:
            self.limit = rate * (1.0 - 0.5 * loss)
            self._last_decrease = now

    def cap(self, bps: float) -> float:
        return bps if self.limit is None else min(bps, self.limit)
