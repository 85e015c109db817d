"""Per-subscriber rewriting of RTP sequence numbers, timestamps and VP8 picture ids.

A down-track forwards packets from one selected source stream at a time (a simulcast layer, or
the publisher's current SSRC). The subscriber must see one continuous stream (DESIGN.md §8):

- ``out_seq = src_seq + delta``, with ``delta`` fixed inside a *segment*. A packet the SFU drops
  on purpose (:meth:`SequenceRewriter.skip`, e.g. a temporal layer it does not forward) ends the
  segment and lowers ``delta`` by one for later packets, so it leaves no hole. A packet lost
  upstream takes its slot anyway, so the subscriber sees the hole and NACKs it.
- :meth:`SequenceRewriter.switch_source` starts a new *epoch*: its first packet gets the
  sequence number after the highest one sent, and a timestamp advanced from the last one sent by
  the wall time elapsed since then (times the clock rate). A down-track that stops forwarding
  for a while (a paused subscription) also calls ``switch_source`` when it resumes, so the
  packets it never sent leave no hole.
- Closed segments are kept (a bounded history), so a late or retransmitted packet maps to
  exactly the number it got before, and a subscriber's NACK maps back to a source packet.

Sequence numbers are unwrapped to unbounded ints inside; only the edges see 16 bits.
"""

from __future__ import annotations

from collections import deque

__all__ = ["PictureIdRewriter", "SequenceRewriter"]

SEQ_MASK = 0xFFFF
TS_MASK = 0xFFFFFFFF

# (epoch, source, first source seq, end source seq (exclusive), out - src): a closed segment
_Segment = tuple[int, int, int, int, int]


class SequenceRewriter:
    """Maps (seq, timestamp) of the selected source stream to one down-track's (seq, timestamp)."""

    __slots__ = (
        "_clock_rate",
        "_delta",
        "_epoch",
        "_epoch_start",
        "_high16",
        "_high_ext",
        "_history",
        "_initial_seq",
        "_initial_ts",
        "_last_time",
        "_last_ts",
        "_max_gap",
        "_max_out",
        "_max_reorder",
        "_next_source",
        "_pending",
        "_seg_start",
        "_source",
        "_ts_delta",
    )

    def __init__(
        self,
        clock_rate: int,
        *,
        initial_seq: int | None = None,
        initial_ts: int | None = None,
        max_reorder: int = 2000,
        max_gap: int = 3000,
        history: int = 128,
    ) -> None:
        """`initial_seq`/`initial_ts`: the first outgoing values (default: the source's own).

        `max_reorder`: packets further than this behind the newest one are dropped as too old.
        `max_gap`: a forward jump larger than this (a source that restarted its numbering
        without a new SSRC) is treated like a switch instead of a loss of that many packets.
        `history`: how many closed segments are kept for late packets and NACKs.
        """
        self._clock_rate = clock_rate
        self._initial_seq = initial_seq
        self._initial_ts = initial_ts
        self._max_reorder = max_reorder
        self._max_gap = max_gap
        self._history: deque[_Segment] = deque(maxlen=history)
        self._pending = True
        self._epoch = -1
        self._source = self._next_source = 0
        self._epoch_start = self._seg_start = 0
        self._high16 = self._high_ext = 0
        self._delta = self._ts_delta = 0
        self._max_out = -1  # highest outgoing (unwrapped) seq given out, -1 before the first
        self._last_ts = 0
        self._last_time = 0.0

    @property
    def source(self) -> int:
        """The tag (e.g. SSRC) of the current source: the last one given to switch_source."""
        return self._next_source

    @property
    def last_timestamp(self) -> int:
        """Outgoing timestamp of the newest packet sent (for sender reports)."""
        return self._last_ts

    @property
    def last_time(self) -> float:
        """`now` at which the newest packet was mapped."""
        return self._last_time

    @property
    def started(self) -> bool:
        """Whether any packet has been mapped."""
        return self._max_out >= 0

    def switch_source(self, source: int = 0) -> None:
        """The next mapped packet starts a new epoch from source `source` (any int tag)."""
        self._pending = True
        self._next_source = source

    def map_timestamp(self, src_ts: int) -> int:
        """Outgoing timestamp for source timestamp `src_ts` in the current epoch."""
        return (src_ts + self._ts_delta) & TS_MASK

    def map(self, src_seq: int, src_ts: int, now: float) -> tuple[int, int] | None:
        """Outgoing (seq, timestamp) for a packet of the current source; None means drop it.

        None is returned for a packet too old to place: older than the epoch's first packet,
        more than `max_reorder` behind, beyond the history, or one that was skipped.
        """
        if self._pending:
            self._begin(src_seq, src_ts, now)
        diff = ((src_seq - self._high16 + 0x8000) & SEQ_MASK) - 0x8000
        ext = self._high_ext + diff
        if diff > 0:
            if diff > self._max_gap:
                self._rebase(ext)
            self._high_ext = ext
            self._high16 = src_seq
            out = ext + self._delta
            ts = (src_ts + self._ts_delta) & TS_MASK
            self._max_out = out
            self._last_ts = ts
            self._last_time = now
            return out & SEQ_MASK, ts
        if diff < -self._max_reorder or ext < self._epoch_start:
            return None
        if ext >= self._seg_start:
            return (ext + self._delta) & SEQ_MASK, (src_ts + self._ts_delta) & TS_MASK
        delta = self._old_delta(ext)
        if delta is None:
            return None
        return (ext + delta) & SEQ_MASK, (src_ts + self._ts_delta) & TS_MASK

    def skip(self, src_seq: int) -> bool:
        """The SFU drops this packet of the current source on purpose.

        Returns True when the packet holds no outgoing number (the usual case: it is the
        newest packet, or a switch is pending). A packet older than the newest one mapped
        cannot give its number back (later packets already used theirs): False is returned
        and the subscriber sees a hole there, which :meth:`to_source` still maps back.
        """
        if self._pending:
            return True
        diff = ((src_seq - self._high16 + 0x8000) & SEQ_MASK) - 0x8000
        ext = self._high_ext + diff
        if diff <= 0:
            if ext < self._epoch_start:
                return True
            return ext < self._seg_start and self._old_delta(ext) is None
        if diff > self._max_gap:
            self._rebase(ext)
        if ext > self._seg_start:
            self._history.append((self._epoch, self._source, self._seg_start, ext, self._delta))
            # numbers up to the skipped packet stay reserved for packets still on their way
            self._max_out = max(self._max_out, ext - 1 + self._delta)
        self._seg_start = ext + 1
        self._delta -= 1
        self._high_ext = ext
        self._high16 = src_seq
        return True

    def locate(self, out_seq: int) -> tuple[int, int] | None:
        """(source tag, source seq) of outgoing seq `out_seq`, or None when unknown."""
        if self._max_out < 0:
            return None
        out = self._max_out + (((out_seq - self._max_out + 0x8000) & SEQ_MASK) - 0x8000)
        if out > self._max_out:
            return None
        src = out - self._delta
        if self._seg_start <= src <= self._high_ext:
            return self._source, src & SEQ_MASK
        for _epoch, source, start, end, delta in reversed(self._history):
            src = out - delta
            if start <= src < end:
                return source, src & SEQ_MASK
            if src >= end:
                return None  # a hole: the number was never given out
        return None

    def to_source(self, out_seq: int) -> int | None:
        """Source seq of outgoing seq `out_seq` if it came from the current source, else None."""
        found = self.locate(out_seq)
        if found is None or found[0] != self._next_source:
            return None
        return found[1]

    def _old_delta(self, ext: int) -> int | None:
        for epoch, _source, start, end, delta in reversed(self._history):
            if epoch != self._epoch or ext >= end:
                return None
            if ext >= start:
                return delta
        return None

    def _close_segment(self) -> None:
        if self._epoch >= 0 and self._high_ext >= self._seg_start:
            self._history.append(
                (self._epoch, self._source, self._seg_start, self._high_ext + 1, self._delta)
            )

    def _rebase(self, ext: int) -> None:
        self._close_segment()
        self._seg_start = ext
        self._delta = self._max_out + 1 - ext

    def _begin(self, src_seq: int, src_ts: int, now: float) -> None:
        self._close_segment()
        self._pending = False
        self._epoch += 1
        self._source = self._next_source
        self._epoch_start = self._seg_start = src_seq
        self._high_ext = src_seq - 1
        self._high16 = (src_seq - 1) & SEQ_MASK
        if self._max_out < 0:
            first = src_seq if self._initial_seq is None else self._initial_seq & SEQ_MASK
            out_ts = src_ts if self._initial_ts is None else self._initial_ts
        else:
            first = self._max_out + 1
            step = round((now - self._last_time) * self._clock_rate)
            out_ts = self._last_ts + max(step, 1)
        self._delta = first - src_seq
        self._ts_delta = (out_ts - src_ts) & TS_MASK


class PictureIdRewriter:
    """Keeps VP8 PictureID (15 bits) and TL0PICIDX (8 bits) continuous across source switches.

    Offsets are fixed per source: frames the SFU drops inside one source (temporal layers)
    leave holes in the picture ids, which receivers accept as long as TL0PICIDX and TID are
    present (they tell which frames were droppable).
    """

    __slots__ = ("_last_pid", "_last_tl0", "_pending", "_pid_delta", "_tl0_delta")

    def __init__(self) -> None:
        self._pending = True
        self._pid_delta = self._tl0_delta = 0
        self._last_pid = self._last_tl0 = -1

    def switch_source(self) -> None:
        """The next frame comes from another source (call with SequenceRewriter's)."""
        self._pending = True

    def map(self, picture_id: int | None, tl0picidx: int | None) -> tuple[int | None, int | None]:
        """Outgoing (PictureID, TL0PICIDX) of a packet; None stays None."""
        if self._pending:
            self._pending = False
            if picture_id is not None and self._last_pid >= 0:
                self._pid_delta = (self._last_pid + 1 - picture_id) & 0x7FFF
            if tl0picidx is not None and self._last_tl0 >= 0:
                self._tl0_delta = (self._last_tl0 + 1 - tl0picidx) & 0xFF
        pid = tl0 = None
        if picture_id is not None:
            pid = (picture_id + self._pid_delta) & 0x7FFF
            last = self._last_pid
            if last < 0 or 0 < ((pid - last) & 0x7FFF) < 0x4000:
                self._last_pid = pid
        if tl0picidx is not None:
            tl0 = (tl0picidx + self._tl0_delta) & 0xFF
            last = self._last_tl0
            if last < 0 or 0 < ((tl0 - last) & 0xFF) < 0x80:
                self._last_tl0 = tl0
        return pid, tl0
