"""Reception statistics of one received RTP stream, per RFC 3550 appendices A.1, A.3 and A.8."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sfu_trio.webrtc.rtcp import ReportBlock

SEQ_MOD = 0x10000
MAX_DROPOUT = 3000
MAX_MISORDER = 100
CUMULATIVE_LOST_MIN = -0x800000
CUMULATIVE_LOST_MAX = 0x7FFFFF


@dataclass(frozen=True, slots=True)
class ReceiveStatisticsSnapshot:
    """A point-in-time view of a :class:`ReceiveStatistics`."""

    ssrc: int
    packets_received: int
    bytes_received: int
    packets_expected: int
    packets_lost: int
    jitter_ms: float
    window_loss_ratio: float
    window_jitter_ms: float


class ReceiveStatistics:
    """Sequence, loss and jitter accounting for one received SSRC.

    ``on_packet`` is called for every packet that arrives on this SSRC;
    ``report_block`` produces the RTCP report block and starts a new fraction-lost interval.
    Besides the RFC figures, it keeps a loss ratio and a mean jitter over the last ``window``
    seconds, for quality classification.
    """

    def __init__(self, ssrc: int, clock_rate: int, *, window: float = 5.0) -> None:
        if clock_rate <= 0:
            raise ValueError("clock_rate must be positive")
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._window = window
        self._snapshot_interval = window / 5
        self._started = False
        self._base_seq = 0
        self._max_seq = 0
        self._cycles = 0
        self._bad_seq = SEQ_MOD + 1
        self._received = 0
        self._bytes = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0  # RTP timestamp units, unscaled float
        self._last_arrival = -1.0  # arrival time of the last in-order packet, timestamp units
        self._last_timestamp = 0
        self._sr_middle = 0  # middle 32 bits of the last SR's NTP timestamp
        self._sr_arrival: float | None = None
        self._next_snapshot = float("-inf")
        # (time, packets expected, packets received, jitter) sampled every window / 5
        self._snapshots: deque[tuple[float, int, int, float]] = deque()

    # -- input -------------------------------------------------------------------------------

    def on_packet(self, seq: int, timestamp: int, now: float, size: int = 0) -> None:
        """Account a received packet with RTP sequence ``seq`` and RTP ``timestamp``."""
        if not self._started:
            self._init_seq(seq)
            self._started = True
            self._update_jitter(timestamp, now)
        else:
            udelta = (seq - self._max_seq) & 0xFFFF
            if 0 < udelta < MAX_DROPOUT:
                if seq < self._max_seq:
                    self._cycles += SEQ_MOD
                self._max_seq = seq
                self._update_jitter(timestamp, now)
            elif udelta >= MAX_DROPOUT and udelta <= SEQ_MOD - MAX_MISORDER:
                if seq != self._bad_seq:
                    self._bad_seq = (seq + 1) & 0xFFFF
                    return
                self._init_seq(seq)  # two sequential packets after a big jump: a restart
                self._update_jitter(timestamp, now)
            # else: a duplicate or reordered packet, counted as received
        self._received += 1
        self._bytes += size
        if now >= self._next_snapshot:
            self._take_snapshot(now)

    def on_sender_report(self, ntp_timestamp: int, now: float) -> None:
        """Remember a sender report's 64-bit NTP timestamp and when it arrived (for LSR/DLSR)."""
        self._sr_middle = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._sr_arrival = now

    # -- RFC 3550 figures --------------------------------------------------------------------

    @property
    def packets_received(self) -> int:
        return self._received

    @property
    def extended_highest_sequence(self) -> int:
        return self._cycles + self._max_seq

    @property
    def packets_expected(self) -> int:
        if not self._started:
            return 0
        return self.extended_highest_sequence - self._base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        lost = self.packets_expected - self._received
        return max(CUMULATIVE_LOST_MIN, min(CUMULATIVE_LOST_MAX, lost))

    @property
    def jitter(self) -> int:
        """Interarrival jitter in RTP timestamp units, as reported in RTCP."""
        return int(self._jitter)

    @property
    def jitter_ms(self) -> float:
        return self._jitter * 1000.0 / self.clock_rate

    def report_block(self, now: float) -> ReportBlock | None:
        """An RTCP report block for this SSRC, or None before the first packet.

        Starts a new interval for the fraction lost.
        """
        if not self._started:
            return None
        expected = self.packets_expected
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        if self._sr_arrival is None:
            lsr = dlsr = 0
        else:
            lsr = self._sr_middle
            dlsr = min(0xFFFFFFFF, max(0, int((now - self._sr_arrival) * 65536)))
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            cumulative_lost=self.cumulative_lost,
            highest_sequence=self.extended_highest_sequence & 0xFFFFFFFF,
            jitter=min(0xFFFFFFFF, self.jitter),
            lsr=lsr,
            dlsr=dlsr,
        )

    # -- windowed figures --------------------------------------------------------------------

    def window_loss_ratio(self, now: float) -> float:
        """Share of the packets expected in the last ``window`` seconds that did not arrive."""
        first = self._window_start(now)
        if first is None:
            return 0.0
        expected = self.packets_expected - first[1]
        received = self._received - first[2]
        if expected <= 0:
            return 0.0
        return max(0, expected - received) / expected

    def window_jitter_ms(self, now: float) -> float:
        """Mean of the jitter estimate sampled over the last ``window`` seconds, in ms."""
        self._window_start(now)
        samples = [s[3] for s in self._snapshots]
        samples.append(self._jitter)
        return sum(samples) / len(samples) * 1000.0 / self.clock_rate

    def statistics(self, now: float) -> ReceiveStatisticsSnapshot:
        return ReceiveStatisticsSnapshot(
            ssrc=self.ssrc,
            packets_received=self._received,
            bytes_received=self._bytes,
            packets_expected=self.packets_expected,
            packets_lost=self.cumulative_lost,
            jitter_ms=self.jitter_ms,
            window_loss_ratio=self.window_loss_ratio(now),
            window_jitter_ms=self.window_jitter_ms(now),
        )

    # -- internals ---------------------------------------------------------------------------

    def _init_seq(self, seq: int) -> None:
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._last_arrival = -1.0
        self._snapshots.clear()
        self._next_snapshot = float("-inf")

    def _update_jitter(self, timestamp: int, now: float) -> None:
        arrival = now * self.clock_rate
        if self._last_arrival >= 0 and timestamp != self._last_timestamp:
            sent = (timestamp - self._last_timestamp) & 0xFFFFFFFF
            if sent >= 0x80000000:
                sent -= 0x100000000
            d = (arrival - self._last_arrival) - sent
            self._jitter += (abs(d) - self._jitter) / 16.0
        if timestamp != self._last_timestamp or self._last_arrival < 0:
            self._last_arrival = arrival
            self._last_timestamp = timestamp

    def _take_snapshot(self, now: float) -> None:
        self._snapshots.append((now, self.packets_expected, self._received, self._jitter))
        self._next_snapshot = now + self._snapshot_interval
        horizon = now - self._window
        while len(self._snapshots) > 1 and self._snapshots[1][0] <= horizon:
            self._snapshots.popleft()

    def _window_start(self, now: float) -> tuple[float, int, int, float] | None:
        horizon = now - self._window
        snapshots = self._snapshots
        while len(snapshots) > 1 and snapshots[1][0] <= horizon:
            snapshots.popleft()
        return snapshots[0] if snapshots else None
