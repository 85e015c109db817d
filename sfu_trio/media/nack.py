"""Upstream NACK policy for one received RTP stream (the publisher leg).

Sequence numbers are unwrapped to an extended (unbounded) counter internally. A gap in the
sequence makes its missing numbers pending; each is NACKed once it has been missing for
``reorder_delay`` (a late packet is usually reordering, not loss), then again every RTT, and
dropped after ``max_retries`` NACKs or ``max_age`` seconds. When too many packets are missing
to repair, pending numbers older than a received keyframe are dropped (they cannot matter to a
decoder once it has that keyframe); if that is not enough the list is cleared and the caller is
told to request a keyframe instead.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQ_MASK = 0xFFFF
HALF_SEQ = 0x8000


@dataclass(frozen=True, slots=True)
class NackStatistics:
    """Counters of one :class:`NackGenerator`."""

    pending: int
    nacks_sent: int
    packets_recovered: int
    packets_abandoned: int
    keyframes_requested: int


class _Missing:
    __slots__ = ("detected", "due", "retries")

    def __init__(self, detected: float, due: float) -> None:
        self.detected = detected
        self.due = due
        self.retries = 0


class NackGenerator:
    """Tracks missing sequence numbers of one received stream and says when to NACK them."""

    def __init__(
        self,
        *,
        rtt: float = 0.1,
        reorder_delay: float = 0.01,
        max_retries: int = 10,
        max_age: float = 2.0,
        max_pending: int = 256,
        max_packet_age: int = 3000,
    ) -> None:
        self._rtt = rtt
        self._reorder_delay = reorder_delay
        self._max_retries = max_retries
        self._max_age = max_age
        self._max_pending = max_pending
        self._max_packet_age = max_packet_age
        self._started = False
        self._last = 0  # extended highest sequence number received
        self._bad_seq = -1
        self._missing: dict[int, _Missing] = {}  # extended seq -> state, ascending order
        self._keyframes: list[int] = []  # extended seqs of received keyframe packets, ascending
        self._nacks_sent = 0
        self._recovered = 0
        self._abandoned = 0
        self._keyframes_requested = 0

    @property
    def rtt(self) -> float:
        return self._rtt

    def set_rtt(self, rtt: float) -> None:
        """Retry interval for NACKs of the same packet (the publisher leg's round-trip time)."""
        self._rtt = max(rtt, 0.005)

    @property
    def missing(self) -> tuple[int, ...]:
        """Pending (16-bit) sequence numbers, oldest first."""
        return tuple(ext & SEQ_MASK for ext in self._missing)

    def on_packet(self, seq: int, now: float, is_keyframe: bool = False) -> bool:
        """Record the arrival of packet ``seq``.

        Returns True when losses cannot be repaired by NACK and a keyframe should be requested.
        """
        if not self._started:
            self._started = True
            self._last = seq
            if is_keyframe:
                self._keyframes.append(seq)
            return False
        last = self._last
        diff = (seq - last) & SEQ_MASK
        if diff == 1:  # the common case: next in order
            self._last = last + 1
            if is_keyframe:
                self._add_keyframe(last + 1)
            return False
        if diff == 0:
            return False
        if diff >= HALF_SEQ:  # older than the newest: a retransmission, a late or a stale packet
            ext = last - (0x10000 - diff)
            if self._missing.pop(ext, None) is not None:
                self._recovered += 1
                return False
            if last - ext > self._max_packet_age:
                return self._far_jump(seq)
            return False
        if diff > self._max_packet_age:
            return self._far_jump(seq)
        ext = last + diff
        self._last = ext
        if is_keyframe:
            self._add_keyframe(ext)
        return self._add_missing(last + 1, ext, now)

    def clear_up_to(self, seq: int) -> None:
        """Forget pending sequence numbers older than ``seq`` (e.g. a decodable keyframe)."""
        if not self._started:
            return
        diff = (seq - self._last) & SEQ_MASK
        ext = self._last + diff if diff < HALF_SEQ else self._last - (0x10000 - diff)
        self._remove_below(ext)

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` next has something to do, or None."""
        if not self._missing:
            return None
        return min(item.due for item in self._missing.values())

    def handle_timer(self, now: float) -> tuple[int, ...]:
        """Sequence numbers to NACK now (16-bit, oldest first)."""
        if not self._missing:
            return ()
        due: list[int] = []
        abandoned: list[int] = []
        retry_at = now + self._rtt
        for ext, item in self._missing.items():
            if item.due > now:
                continue
            if item.retries >= self._max_retries or now - item.detected > self._max_age:
                abandoned.append(ext)
                continue
            item.retries += 1
            item.due = retry_at
            due.append(ext & SEQ_MASK)
        for ext in abandoned:
            del self._missing[ext]
        self._abandoned += len(abandoned)
        self._nacks_sent += len(due)
        return tuple(due)

    def statistics(self) -> NackStatistics:
        return NackStatistics(
            pending=len(self._missing),
            nacks_sent=self._nacks_sent,
            packets_recovered=self._recovered,
            packets_abandoned=self._abandoned,
            keyframes_requested=self._keyframes_requested,
        )

    def _add_keyframe(self, ext: int) -> None:
        keyframes = self._keyframes
        keyframes.append(ext)
        oldest_useful = ext - self._max_packet_age
        if keyframes[0] < oldest_useful:
            self._keyframes = [k for k in keyframes if k >= oldest_useful]

    def _add_missing(self, first: int, end: int, now: float) -> bool:
        """Make ``first .. end-1`` pending; returns True when a keyframe is needed instead."""
        self._remove_below(end - self._max_packet_age)
        count = end - first
        if len(self._missing) + count > self._max_pending:
            for keyframe in self._keyframes:
                if keyframe > first:
                    break
                self._remove_below(keyframe)
                if len(self._missing) + count <= self._max_pending:
                    break
            if len(self._missing) + count > self._max_pending:
                self._abandoned += len(self._missing)
                self._missing.clear()
                self._keyframes_requested += 1
                return True
        due = now + self._reorder_delay
        missing = self._missing
        for ext in range(first, end):
            missing[ext] = _Missing(now, due)
        return False

    def _remove_below(self, ext: int) -> None:
        missing = self._missing
        if not missing or next(iter(missing)) >= ext:
            return
        for old in [seq for seq in missing if seq < ext]:
            del missing[old]

    def _far_jump(self, seq: int) -> bool:
        """A packet far from the sequence: a stale duplicate, or a restarted stream.

        As in RFC 3550 A.1, the stream restarts only when the next packet follows this one.
        """
        if seq != self._bad_seq:
            self._bad_seq = (seq + 1) & SEQ_MASK
            return False
        self._bad_seq = -1
        self._abandoned += len(self._missing)
        self._missing.clear()
        self._keyframes.clear()
        self._last = seq
        self._keyframes_requested += 1
        return True
