"""Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01).

:class:`TransportCcRecorder` runs on a publisher's connection: it records when each packet
with a transport-wide sequence number arrived and turns that into feedback for the
publisher's send-side estimator. :class:`TransportCcSender` runs on a subscriber's connection:
it numbers outgoing packets, remembers when they left, and matches the subscriber's feedback
to produce :class:`PacketResult` records for a bandwidth estimator.

Times in feedback are in 250 us ticks; the reference time is in 64 ms units (256 ticks).
Every arrival time is rounded to a whole tick once, and deltas are differences of those
rounded ticks, so a receiver summing them recovers each arrival within half a tick.
"""

from __future__ import annotations

from typing import NamedTuple

from sfu_trio.webrtc.rtcp import TransportCcFeedback

TICK = 0.00025  # seconds per receive-delta tick
TICKS_PER_REFERENCE = 256  # 64 ms reference-time unit
REFERENCE_MOD = 1 << 24
SEQ_MASK = 0xFFFF
HALF_SEQ = 0x8000
DELTA_MIN = -0x8000
DELTA_MAX = 0x7FFF


class PacketResult(NamedTuple):
    """What feedback said about one sent packet.

    ``sequence`` is the unwrapped transport-wide sequence number; ``arrival_time`` is in the
    remote receiver's clock (seconds, comparable only with other arrival times) or None when
    the packet was reported lost.
    """

    sequence: int
    send_time: float
    size: int
    arrival_time: float | None


class TransportCcRecorder:
    """Records packet arrivals on one publisher connection and builds feedback for them.

    Feedback is due ``interval`` seconds after the previous one, or as soon as
    ``packet_threshold`` packets are waiting; one feedback covers at most ``max_statuses``
    sequence numbers, and the rest follows immediately in further feedback. Packets arriving
    after feedback already covered their sequence number are counted as late and dropped.
    """

    def __init__(
        self,
        *,
        interval: float = 0.05,
        packet_threshold: int = 100,
        max_statuses: int = 256,
    ) -> None:
        self._interval = interval
        self._packet_threshold = packet_threshold
        self._max_statuses = max_statuses
        self._pending: dict[int, int] = {}  # extended seq -> arrival in ticks
        self._highest = -1  # extended
        self._next_base: int | None = None  # first extended seq not yet covered by feedback
        self._last_feedback_time = float("-inf")
        self._continuation = False
        self._feedback_count = 0
        self.packets_recorded = 0
        self.packets_late = 0
        self.feedback_sent = 0

    def on_packet(self, transport_seq: int, arrival_time: float) -> None:
        """Record that the packet with 16-bit ``transport_seq`` arrived at ``arrival_time``."""
        highest = self._highest
        if highest < 0:
            ext = transport_seq
            self._highest = ext
        else:
            diff = (transport_seq - highest) & SEQ_MASK
            if diff < HALF_SEQ:
                ext = highest + diff
                self._highest = ext
            else:
                ext = highest - (0x10000 - diff)
        next_base = self._next_base
        if next_base is not None and ext < next_base:
            self.packets_late += 1
            return
        self._pending[ext] = round(arrival_time / TICK)
        self.packets_recorded += 1

    def get_timer(self) -> float | None:
        """When :meth:`build_feedback` next has feedback to give (a past time: now), or None."""
        if not self._pending:
            return None
        if self._continuation or len(self._pending) >= self._packet_threshold:
            return self._last_feedback_time
        return self._last_feedback_time + self._interval

    def build_feedback(
        self, now: float, sender_ssrc: int, media_ssrc: int
    ) -> TransportCcFeedback | None:
        """The next feedback packet if one is due at ``now``, else None.

        Call repeatedly until None to drain a backlog that needs several packets.
        """
        pending = self._pending
        if not pending:
            return None
        if not (
            self._continuation
            or len(pending) >= self._packet_threshold
            or now >= self._last_feedback_time + self._interval
        ):
            return None
        received = sorted(pending)
        first = received[0]
        last = received[-1]
        base = first if self._next_base is None else self._next_base
        if first - base >= self._max_statuses:
            base = first  # a long run of losses: do not spend feedback on it
        first_ticks = pending[first]
        reference = first_ticks // TICKS_PER_REFERENCE
        previous = reference * TICKS_PER_REFERENCE
        deltas: list[int | None] = []
        covered = 0  # statuses up to and including the last received packet included
        seq = base
        while seq <= last and len(deltas) < self._max_statuses:
            ticks = pending.get(seq)
            if ticks is None:
                deltas.append(None)
            else:
                delta = ticks - previous
                if not DELTA_MIN <= delta <= DELTA_MAX:
                    break
                deltas.append(delta)
                previous = ticks
                del pending[seq]
                covered = len(deltas)
            seq += 1
        del deltas[covered:]
        self._next_base = base + covered
        self._continuation = bool(pending)
        self._last_feedback_time = now
        count = self._feedback_count
        self._feedback_count = (count + 1) & 0xFF
        self.feedback_sent += 1
        return TransportCcFeedback(
            sender_ssrc=sender_ssrc,
            media_ssrc=media_ssrc,
            base_sequence=base & SEQ_MASK,
            reference_time=reference % REFERENCE_MOD,
            feedback_packet_count=count,
            receive_deltas=tuple(deltas),
        )


class TransportCcSender:
    """Numbers outgoing packets on one subscriber connection and interprets the feedback.

    Send history is a ring of ``history_size`` slots (a power of two); feedback about a packet
    that has left the ring is ignored. Each packet is reported at most once as lost and at
    most once as received (a late "received" after a "lost" is reported).
    """

    def __init__(self, *, history_size: int = 8192, initial_sequence: int = 1) -> None:
        size = 1 << (max(history_size, 2) - 1).bit_length()
        self._mask = size - 1
        self._seqs = [-1] * size
        self._send_times = [0.0] * size
        self._sizes = [0] * size
        self._states = [0] * size  # 0 unreported, 1 reported lost, 2 reported received
        self._next = initial_sequence & SEQ_MASK  # extended
        self._reference: int | None = None  # unwrapped reference time of the last feedback
        self.feedback_received = 0

    def next_sequence(self, size: int, now: float) -> int:
        """Allocate the 16-bit transport-wide sequence number of a packet of ``size`` bytes."""
        ext = self._next
        self._next = ext + 1
        slot = ext & self._mask
        self._seqs[slot] = ext
        self._send_times[slot] = now
        self._sizes[slot] = size
        self._states[slot] = 0
        return ext & SEQ_MASK

    def on_feedback(self, feedback: TransportCcFeedback, now: float) -> list[PacketResult]:
        """Match ``feedback`` against the send history, in sequence order."""
        self.feedback_received += 1
        newest = self._next - 1
        back = (newest - feedback.base_sequence) & SEQ_MASK
        if back >= HALF_SEQ:
            back -= 0x10000  # base is ahead of what we sent: only unknown packets follow
        ext = newest - back
        reference = feedback.reference_time
        if self._reference is not None:
            step = (reference - self._reference) % REFERENCE_MOD
            if step >= REFERENCE_MOD // 2:
                step -= REFERENCE_MOD
            reference = self._reference + step
        self._reference = reference
        ticks = reference * TICKS_PER_REFERENCE
        mask = self._mask
        seqs = self._seqs
        states = self._states
        results: list[PacketResult] = []
        for delta in feedback.receive_deltas:
            slot = ext & mask
            known = seqs[slot] == ext
            if delta is None:
                if known and states[slot] == 0:
                    states[slot] = 1
                    results.append(
                        PacketResult(ext, self._send_times[slot], self._sizes[slot], None)
                    )
            else:
                ticks += delta
                if known and states[slot] != 2:
                    states[slot] = 2
                    results.append(
                        PacketResult(ext, self._send_times[slot], self._sizes[slot], ticks * TICK)
                    )
            ext += 1
        return results
