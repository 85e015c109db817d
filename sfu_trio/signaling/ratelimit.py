"""A token bucket for per-connection message rate limiting (pure, time injected)."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows `burst` events at once and `rate_per_sec` sustained; starts full.

    Tokens refill continuously. Time is the caller's `now` (seconds, monotonic); a `now` earlier
    than the last one seen refills nothing.
    """

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate_per_sec: float, burst: int) -> None:
        if rate_per_sec <= 0 or burst < 1:
            raise ValueError("rate_per_sec must be > 0 and burst >= 1")
        self._rate = float(rate_per_sec)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Take one token if available; return whether the event is allowed."""
        last = self._last
        if last is None or now > last:
            if last is not None:
                self._tokens = min(self._burst, self._tokens + (now - last) * self._rate)
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @property
    def tokens(self) -> float:
        """Tokens left after the last `allow` call (no refill applied)."""
        return self._tokens
