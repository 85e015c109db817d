import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.receive_stats import ReceiveStatistics
from sfu_trio.webrtc.rtcp import ReportBlock

SSRC = 0x11223344


def feed(stats: ReceiveStatistics, seqs: list[int], now: float = 0.0) -> None:
    for seq in seqs:
        stats.on_packet(seq, seq * 3000, now + seq / 30)


def test_no_report_before_first_packet() -> None:
    assert ReceiveStatistics(SSRC, 90000).report_block(0.0) is None


def test_loss_and_fraction_lost_per_interval() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    feed(stats, [0, 1, 2, 4, 6, 7, 8, 9])
    assert stats.packets_expected == 10
    assert stats.packets_received == 8
    assert stats.cumulative_lost == 2
    block = stats.report_block(1.0)
    assert block == ReportBlock(
        ssrc=SSRC,
        fraction_lost=51,  # 2/10 * 256
        cumulative_lost=2,
        highest_sequence=9,
        jitter=block.jitter if block else 0,
        lsr=0,
        dlsr=0,
    )
    feed(stats, [10, 11, 12, 13])
    block = stats.report_block(2.0)
    assert block is not None
    assert (block.fraction_lost, block.cumulative_lost, block.highest_sequence) == (0, 2, 13)


def test_sequence_wrap_counts_cycles() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    for i, seq in enumerate([65533, 65534, 65535, 1, 2]):
        stats.on_packet(seq, i * 3000, i / 30)
    assert stats.extended_highest_sequence == 65536 + 2
    assert stats.packets_expected == 6
    assert stats.cumulative_lost == 1
    block = stats.report_block(1.0)
    assert block is not None
    assert block.highest_sequence == 0x10002


def test_duplicates_make_loss_negative_but_fraction_zero() -> None:
    stats = ReceiveStatistics(SSRC, 48000)
    for seq in (5, 6, 6, 7, 7):
        stats.on_packet(seq, 0, 0.0)
    assert stats.cumulative_lost == -2
    block = stats.report_block(0.0)
    assert block is not None
    assert (block.fraction_lost, block.cumulative_lost) == (0, -2)


def test_late_packet_within_misorder_is_counted() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    feed(stats, [10, 11, 13, 12])
    assert (stats.packets_expected, stats.cumulative_lost, stats.extended_highest_sequence) == (
        4,
        0,
        13,
    )


def test_big_jump_needs_two_sequential_packets_to_restart() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    feed(stats, [100, 101])
    stats.on_packet(40000, 0, 1.0)  # one stray packet: ignored
    assert (stats.packets_received, stats.extended_highest_sequence) == (2, 101)
    stats.on_packet(102, 0, 1.0)
    stats.on_packet(50000, 0, 2.0)
    stats.on_packet(50001, 0, 2.0)  # sequential: a restarted stream
    assert stats.extended_highest_sequence == 50001
    assert stats.packets_received == 1
    assert stats.packets_expected == 1


def test_jitter_follows_rfc3550_a8() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    stats.on_packet(1, 0, 0.0)
    stats.on_packet(2, 900, 0.020)  # sent 10 ms apart, arrived 20 ms apart: D = 900
    assert stats.jitter == 56  # 900 / 16 = 56.25
    assert stats.jitter_ms == pytest.approx(0.625)
    stats.on_packet(3, 900, 0.025)  # same frame: no jitter sample
    assert stats.jitter == 56
    stats.on_packet(4, 1800, 0.030)  # |(0.030-0.020)*90000 - 900| = 0
    assert stats.jitter == int(56.25 - 56.25 / 16)


def test_timestamp_wrap_does_not_spike_jitter() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    stats.on_packet(1, 0xFFFFFF00, 0.0)
    stats.on_packet(2, (0xFFFFFF00 + 900) & 0xFFFFFFFF, 0.010)
    assert stats.jitter == 0


def test_lsr_and_dlsr_from_last_sender_report() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    stats.on_packet(1, 0, 10.0)
    stats.on_sender_report(0x0123456789ABCDEF, 10.0)
    block = stats.report_block(10.5)
    assert block is not None
    assert (block.lsr, block.dlsr) == (0x456789AB, 32768)


def test_window_loss_and_jitter() -> None:
    stats = ReceiveStatistics(SSRC, 90000, window=5.0)
    seq = 0
    now = 0.0
    for _ in range(500):  # 5 s at 100 pps, every other packet lost
        if seq % 2 == 0:
            stats.on_packet(seq, seq * 900, now)
        seq += 1
        now += 0.01
    assert stats.window_loss_ratio(now) == pytest.approx(0.5, abs=0.01)
    for _ in range(700):  # 7 s without loss
        stats.on_packet(seq, seq * 900, now)
        seq += 1
        now += 0.01
    assert stats.window_loss_ratio(now) == 0.0
    assert stats.window_jitter_ms(now) < 0.5
    snapshot = stats.statistics(now)
    assert snapshot.packets_received == 950
    assert snapshot.packets_lost == 250
    assert snapshot.window_loss_ratio == 0.0


@given(
    start=st.integers(0, 0xFFFF),
    dropped=st.lists(st.booleans(), min_size=1, max_size=2000),
)
def test_lost_count_matches_model(start: int, dropped: list[bool]) -> None:
    dropped[0] = False
    stats = ReceiveStatistics(SSRC, 90000)
    for offset, drop in enumerate(dropped):
        if not drop:
            stats.on_packet((start + offset) & 0xFFFF, offset * 3000, offset / 30)
    highest = max(i for i, drop in enumerate(dropped) if not drop)
    received = dropped.count(False)
    assert stats.packets_expected == highest + 1
    assert stats.cumulative_lost == highest + 1 - received
    assert stats.extended_highest_sequence == start + highest
    block = stats.report_block(100.0)
    assert block is not None
    assert block.fraction_lost == ((highest + 1 - received) << 8) // (highest + 1)
