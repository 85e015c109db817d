"""SequenceRewriter and PictureIdRewriter: worked examples, then a model-checked property."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from sfu_trio.media.seqmap import PictureIdRewriter, SequenceRewriter

TS_MASK = 0xFFFFFFFF


def test_first_packets_keep_source_numbers() -> None:
    rw = SequenceRewriter(90000)
    assert rw.map(1000, 5000, 0.0) == (1000, 5000)
    assert rw.map(1001, 5000, 0.001) == (1001, 5000)
    assert rw.map(1003, 8000, 0.03) == (1003, 8000)  # 1002 lost upstream: the gap stays
    assert rw.map(1002, 5000, 0.04) == (1002, 5000)  # ... and is filled by the late packet
    assert rw.to_source(1002) == 1002


def test_initial_values() -> None:
    rw = SequenceRewriter(90000, initial_seq=7, initial_ts=100)
    assert rw.map(40000, 9000, 0.0) == (7, 100)
    assert rw.map(40001, 12000, 0.0) == (8, 3100)
    assert rw.to_source(8) == 40001
    assert rw.to_source(9) is None  # not sent yet


def test_skip_leaves_no_gap_and_retransmissions_map_identically() -> None:
    rw = SequenceRewriter(90000, initial_seq=100)
    assert rw.map(10, 0, 0.0) == (100, 0)
    assert rw.skip(11)
    assert rw.skip(12)
    assert rw.map(13, 3000, 0.03) == (101, 3000)
    assert rw.skip(14)
    assert rw.map(16, 6000, 0.06) == (103, 6000)  # 15 lost: 102 is its hole
    assert rw.map(15, 6000, 0.07) == (102, 6000)
    # retransmissions, duplicates
    assert rw.map(10, 0, 0.1) == (100, 0)
    assert rw.map(13, 3000, 0.1) == (101, 3000)
    assert rw.map(16, 6000, 0.1) == (103, 6000)
    # skipped packets have no number: their retransmissions are dropped too
    assert rw.map(11, 0, 0.1) is None
    assert rw.map(14, 3000, 0.1) is None
    assert [rw.to_source(s) for s in (100, 101, 102, 103, 104)] == [10, 13, 15, 16, None]


def test_late_skip_keeps_its_slot() -> None:
    rw = SequenceRewriter(90000, initial_seq=0)
    assert rw.map(500, 0, 0.0) == (0, 0)
    assert rw.map(502, 0, 0.0) == (2, 0)
    assert not rw.skip(501)  # number 1 was already reserved for it
    assert rw.map(503, 0, 0.0) == (3, 0)
    assert rw.to_source(1) == 501


def test_switch_source_continues_numbers_and_time() -> None:
    rw = SequenceRewriter(90000, initial_seq=65534, initial_ts=TS_MASK - 1000)
    assert rw.map(300, 1_000_000, 0.0) == (65534, TS_MASK - 1000)
    assert rw.map(301, 1_003_000, 0.033) == (65535, TS_MASK + 2000 - TS_MASK - 1)
    rw.switch_source(source=2)
    # 0.5 s later on the new layer: +45000 ticks, seq wraps to 0
    assert rw.map(9000, 77, 0.533) == (0, (1999 + 45000) & TS_MASK)
    assert rw.map(9001, 77 + 3000, 0.566) == (1, 1999 + 48000)
    assert rw.source == 2
    assert rw.locate(65535) == (0, 301)
    assert rw.locate(0) == (2, 9000)
    assert rw.to_source(65535) is None  # another source's packet cache
    assert rw.to_source(1) == 9001
    assert rw.map(8999, 0, 0.6) is None  # older than the new source's first packet


def test_resume_after_pause_on_same_source() -> None:
    rw = SequenceRewriter(48000, initial_seq=0, initial_ts=0)
    assert rw.map(10, 960, 0.0) == (0, 0)
    # the subscription was paused; 100 packets were not forwarded; resumed 2 s later
    rw.switch_source()
    assert rw.map(110, 960 * 101, 2.0) == (1, 96000)
    assert rw.locate(0) == (0, 10)
    assert rw.to_source(0) == 10  # same source tag: the same packet cache answers


def test_switch_within_the_same_tick_still_moves_time_forward() -> None:
    rw = SequenceRewriter(90000, initial_seq=0, initial_ts=0)
    assert rw.map(1, 0, 1.0) == (0, 0)
    rw.switch_source(source=5)
    assert rw.map(50, 123, 1.0) == (1, 1)


def test_too_old_and_huge_jumps() -> None:
    rw = SequenceRewriter(90000, initial_seq=0, max_reorder=100, max_gap=1000)
    assert rw.map(0, 0, 0.0) == (0, 0)
    assert rw.map(200, 0, 0.0) == (200, 0)
    assert rw.map(99, 0, 0.0) is None  # 101 behind
    assert rw.map(100, 0, 0.0) == (100, 0)
    # the source jumped 30000 ahead (restarted its counter): continue at 201, not at 30200
    assert rw.map(30200, 0, 0.0) == (201, 0)
    assert rw.map(30201, 0, 0.0) == (202, 0)
    assert rw.map(250, 0, 0.0) is None  # before the jump, after the old segment: no number
    assert rw.map(150, 0, 0.0) is None  # more than max_reorder behind now
    assert rw.to_source(200) == 200
    assert rw.to_source(201) == 30200
    # a huge jump on a skipped packet does not leave a hole either
    assert rw.skip(50000)
    assert rw.map(50001, 0, 0.0) == (203, 0)
    assert rw.to_source(203) == 50001


def test_history_is_bounded() -> None:
    rw = SequenceRewriter(90000, initial_seq=0, history=2)
    for seq in range(0, 20, 2):
        assert rw.map(seq, 0, 0.0) == (seq // 2, 0)
        assert rw.skip(seq + 1)
    assert rw.map(18, 0, 0.0) == (9, 0)
    assert rw.map(16, 0, 0.0) == (8, 0)  # still in history
    assert rw.map(0, 0, 0.0) is None  # forgotten: dropped, never mapped wrongly
    assert rw.to_source(0) is None
    assert rw.to_source(8) == 16


def test_picture_ids_continue_across_switches() -> None:
    pids = PictureIdRewriter()
    assert pids.map(0x7FFE, 254) == (0x7FFE, 254)
    assert pids.map(0x7FFF, 255) == (0x7FFF, 255)
    assert pids.map(0x7FFF, 255) == (0x7FFF, 255)  # next packet of the same frame
    pids.switch_source()
    assert pids.map(12, 40) == (0, 0)
    assert pids.map(13, 40) == (1, 0)
    assert pids.map(14, 41) == (2, 1)
    assert pids.map(11, 39) == (0x7FFF, 255)  # a late packet of the new source
    assert pids.map(None, None) == (None, None)
    pids.switch_source()
    assert pids.map(500, None) == (3, None)


# --- property: a model of what the subscriber must see ---------------------------------------


@dataclass
class Epoch:
    seq: int
    ts: int
    fates: list[str]  # per source packet: "f" forwarded, "s" skipped on purpose, "l" lost upstream
    delays: list[int]  # arrival delay, in positions, per packet
    dups: list[bool]  # forwarded packet retransmitted later
    pause: float


MAX_PACKETS = 40
epochs_strategy = st.builds(
    Epoch,
    seq=st.one_of(st.integers(0, 0xFFFF), st.integers(0xFFE0, 0xFFFF)),
    ts=st.one_of(st.integers(0, TS_MASK), st.integers(TS_MASK - 20000, TS_MASK)),
    fates=st.lists(st.sampled_from("ffsl"), min_size=1, max_size=MAX_PACKETS),
    delays=st.lists(st.integers(0, 4), min_size=MAX_PACKETS, max_size=MAX_PACKETS),
    dups=st.lists(st.booleans(), min_size=MAX_PACKETS, max_size=MAX_PACKETS),
    pause=st.floats(0, 5),
)


@settings(max_examples=300)
@given(epochs=st.lists(epochs_strategy, min_size=1, max_size=6))
def test_subscriber_sees_one_continuous_stream(epochs: list[Epoch]) -> None:
    rate = 90000
    rw = SequenceRewriter(rate, history=100_000)
    now = 0.0
    next_out: int | None = None  # the outgoing seq the next new packet would get
    last_ts = 0
    last_time = 0.0
    sent_any = False
    sent: dict[tuple[int, int], tuple[int, int]] = {}  # (epoch, index) -> (seq, ts)
    for e, ep in enumerate(epochs):
        now += ep.pause
        rw.switch_source(source=1000 + e)
        first: int | None = None
        newest = -1
        skipped_newest: set[int] = set()
        arrivals = [i for i, fate in enumerate(ep.fates) if fate != "l"]
        arrivals.sort(key=lambda i: (i + ep.delays[i], i))
        order = [(i, False) for i in arrivals]
        order += [(i, True) for i in arrivals if ep.fates[i] == "f" and ep.dups[i]]
        ts_delta: int | None = None
        for i, dup in order:
            now += 0.01
            seq = (ep.seq + i) & 0xFFFF
            ts = (ep.ts + (i // 3) * 3000) & TS_MASK
            if ep.fates[i] == "s":
                result = rw.skip(seq)
                if first is None or i < first or i > newest:
                    assert result
                    if first is not None and i > newest:
                        newest = i
                        skipped_newest.add(i)
                else:
                    assert not result  # already holds a number
                continue
            got = rw.map(seq, ts, now)
            if dup:
                assert got == sent.get((e, i))
                continue
            if first is None:
                assert got is not None
                first = newest = i
                base = next_out if next_out is not None else seq
                if next_out is None:
                    assert got == (seq, ts)
                    next_out = seq
                else:
                    assert got[0] == next_out & 0xFFFF
                    step = max(1, round((now - last_time) * rate))
                    assert got[1] == (last_ts + step) & TS_MASK
            elif i < first:
                assert got is None
                continue
            assert got is not None
            # +1 per source packet, lost ones included, except those skipped while newest
            assert got[0] == (base + i - first - sum(k < i for k in skipped_newest)) & 0xFFFF
            if ts_delta is None:
                ts_delta = (got[1] - ts) & TS_MASK
            assert (got[1] - ts) & TS_MASK == ts_delta  # timestamps keep their spacing
            sent[(e, i)] = got
            if i >= newest:
                if sent_any:  # in forward order, time never runs backwards
                    assert (got[1] - last_ts) & TS_MASK < 0x80000000
                newest = i
                last_ts, last_time, sent_any = got[1], now, True
        if first is not None:
            next_out = base + newest + 1 - first - len(skipped_newest)
        for (epoch, i), (out_seq, _ts) in sent.items():
            src = (epochs[epoch].seq + i) & 0xFFFF
            assert rw.locate(out_seq) == (1000 + epoch, src)
            assert rw.to_source(out_seq) == (src if epoch == e else None)
