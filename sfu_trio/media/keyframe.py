"""Keyframe request policy for one published video stream (PLI/FIR toward the publisher).

Every PLI costs the publisher a large frame, so requests are coalesced: at most one per
``min_interval``. A request made while that window is open is remembered and fires when it
ends (:meth:`KeyframeRequester.get_timer` / :meth:`KeyframeRequester.handle_timer`), unless a
keyframe arrives first. A request that gets no keyframe within ``retry_interval`` is sent
again, at most ``max_retries`` times (a PLI can be lost like any packet).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FirFilter", "KeyframeRequestStatistics", "KeyframeRequester"]


@dataclass(frozen=True, slots=True)
class KeyframeRequestStatistics:
    """Counters of one :class:`KeyframeRequester`."""

    requests: int
    sent: int
    retries: int
    keyframes: int
    last_reason: str


class KeyframeRequester:
    """Decides when to send a PLI (or FIR) for one source stream; `now` is in seconds."""

    __slots__ = (
        "_awaiting",
        "_fir_seq",
        "_keyframes",
        "_last_reason",
        "_last_sent",
        "_max_retries",
        "_min_interval",
        "_pending",
        "_requests",
        "_retries",
        "_retries_sent",
        "_retry_interval",
        "_sent",
    )

    def __init__(
        self,
        *,
        min_interval: float = 0.5,
        retry_interval: float | None = 1.0,
        max_retries: int = 2,
    ) -> None:
        self._min_interval = min_interval
        self._retry_interval = retry_interval
        self._max_retries = max_retries
        self._last_sent: float | None = None
        self._pending = False  # a request waits for the throttle window to end
        self._awaiting = False  # a request was sent and no keyframe has arrived since
        self._retries = 0  # retries of the request in flight
        self._fir_seq = 0
        self._requests = self._sent = self._retries_sent = self._keyframes = 0
        self._last_reason = ""

    @property
    def pending(self) -> bool:
        """A request is waiting for the throttle window to end."""
        return self._pending

    @property
    def fir_sequence_number(self) -> int:
        """Command sequence number for an FIR of the request last sent (RFC 5104 §4.3.1.1).

        It changes for each new request and stays the same for its retries.
        """
        return self._fir_seq

    def request(self, now: float, reason: str = "") -> bool:
        """A keyframe is wanted (`reason` is kept for statistics); True: send a PLI now."""
        self._requests += 1
        self._last_reason = reason
        last = self._last_sent
        if last is None or now - last >= self._min_interval:
            self._send(now)
            return True
        self._pending = True
        return False

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` should next run, or None."""
        last = self._last_sent
        if last is None:
            return None
        if self._pending:
            return last + self._min_interval
        retry = self._retry_interval
        if self._awaiting and retry is not None and self._retries < self._max_retries:
            return last + max(retry, self._min_interval)
        return None

    def handle_timer(self, now: float) -> bool:
        """True: send a PLI now (a coalesced request whose window ended, or a retry)."""
        timer = self.get_timer()
        if timer is None or now < timer:
            return False
        if self._pending:
            self._send(now)
        else:
            self._retries += 1
            self._retries_sent += 1
            self._last_sent = now
        return True

    def keyframe_received(self, now: float) -> None:
        """A keyframe of this stream arrived: nothing is outstanding any more."""
        self._keyframes += 1
        self._pending = False
        self._awaiting = False
        self._retries = 0

    def statistics(self) -> KeyframeRequestStatistics:
        return KeyframeRequestStatistics(
            self._requests, self._sent, self._retries_sent, self._keyframes, self._last_reason
        )

    def _send(self, now: float) -> None:
        self._last_sent = now
        self._pending = False
        self._awaiting = True
        self._retries = 0
        self._sent += 1
        self._fir_seq = (self._fir_seq + 1) & 0xFF


class FirFilter:
    """Recognises repeated FIR commands from subscribers (RFC 5104 §4.3.1.2).

    A sender repeats an FIR with the same sequence number until it sees the keyframe; only a
    new number is a new request.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[tuple[int, int], int] = {}

    def is_new(self, sender_ssrc: int, media_ssrc: int, seq: int) -> bool:
        """Whether this FIR entry is a new request rather than a repetition."""
        key = (sender_ssrc, media_ssrc)
        if self._last.get(key) == seq:
            return False
        self._last[key] = seq & 0xFF
        return True

    def forget(self, sender_ssrc: int) -> None:
        """Drop the state of a subscriber that left."""
        for key in [k for k in self._last if k[0] == sender_ssrc]:
            del self._last[key]
