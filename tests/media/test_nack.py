import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.nack import NackGenerator

# (seq, is_keyframe, expected first NACK right after it, keyframe requested)
Row = tuple[int, bool, tuple[int, ...], bool]

TABLES: dict[str, list[Row]] = {
    "in order": [(1, False, (), False), (2, False, (), False), (3, False, (), False)],
    "one gap": [(2371, False, (), False), (2372, False, (), False), (2374, False, (2373,), False)],
    "gap then recovered": [
        (100, False, (), False),
        (103, False, (101, 102), False),
        (101, False, (), False),
        (104, False, (), False),
    ],
    "wrap around": [
        (65534, False, (), False),
        (65535, False, (), False),
        (2, False, (0, 1), False),
        (0, False, (), False),
    ],
    "reordered older packet is not a gap": [
        (10, False, (), False),
        (12, False, (11,), False),
        (9, False, (), False),
        (13, False, (), False),
    ],
    "duplicate": [(5, False, (), False), (5, False, (), False), (6, False, (), False)],
    "overflow dropped up to keyframe": [
        (1, False, (), False),
        (3, False, (2,), False),  # 2 pending
        (10, True, tuple(range(4, 10)), False),  # keyframe at 10, 7 pending
        (11, False, (), False),
        # 12..261 missing (250) + 7 pending > 256: drop those older than keyframe 10
        (262, False, tuple(range(12, 262)), False),
    ],
    "overflow without keyframe clears and asks for one": [
        (1, False, (), False),
        (3, False, (2,), False),
        (300, False, (), True),
        (301, False, (), False),
    ],
    "far forward jump restarts after two packets": [
        (1, False, (), False),
        (20000, False, (), False),
        (20001, False, (), True),
        (20003, False, (20002,), False),
    ],
}


@pytest.mark.parametrize("rows", TABLES.values(), ids=TABLES.keys())
def test_nack_table(rows: list[Row]) -> None:
    generator = NackGenerator(reorder_delay=0.0, rtt=1.0)
    now = 0.0
    for seq, keyframe, expected_nacks, expected_keyframe in rows:
        now += 0.001
        assert generator.on_packet(seq, now, is_keyframe=keyframe) is expected_keyframe
        assert generator.handle_timer(now) == expected_nacks


def test_overflow_keeps_missing_after_keyframe() -> None:
    generator = NackGenerator(reorder_delay=0.0, rtt=1.0)
    for seq, keyframe, _, _ in TABLES["overflow dropped up to keyframe"]:
        generator.on_packet(seq, 0.0, is_keyframe=keyframe)
    assert generator.missing == tuple(range(12, 262))


def test_reorder_delay_then_retry_every_rtt_then_give_up() -> None:
    generator = NackGenerator(reorder_delay=0.02, rtt=0.1, max_retries=3, max_age=10.0)
    generator.on_packet(1, 0.0)
    generator.on_packet(3, 0.0)
    assert generator.get_timer() == pytest.approx(0.02)
    assert generator.handle_timer(0.01) == ()
    assert generator.handle_timer(0.02) == (2,)
    assert generator.get_timer() == pytest.approx(0.12)
    assert generator.handle_timer(0.11) == ()
    assert generator.handle_timer(0.121) == (2,)
    generator.set_rtt(0.05)
    assert generator.handle_timer(0.2) == ()  # this retry was scheduled with the old rtt
    assert generator.handle_timer(0.222) == (2,)
    assert generator.get_timer() == pytest.approx(0.272)
    assert generator.handle_timer(0.3) == ()  # third NACK was the last: abandoned
    assert generator.missing == ()
    assert generator.get_timer() is None
    stats = generator.statistics()
    assert (stats.nacks_sent, stats.packets_abandoned, stats.pending) == (3, 1, 0)


def test_gives_up_when_too_old() -> None:
    generator = NackGenerator(reorder_delay=0.0, rtt=0.1, max_age=0.25)
    generator.on_packet(1, 0.0)
    generator.on_packet(3, 0.0)
    assert generator.handle_timer(0.0) == (2,)
    assert generator.handle_timer(0.101) == (2,)
    assert generator.handle_timer(0.202) == (2,)
    assert generator.handle_timer(0.303) == ()
    assert generator.missing == ()


def test_retransmission_removes_pending_and_counts_recovery() -> None:
    generator = NackGenerator(reorder_delay=0.0)
    generator.on_packet(1, 0.0)
    generator.on_packet(4, 0.0)
    assert generator.handle_timer(0.0) == (2, 3)
    generator.on_packet(3, 0.05)
    assert generator.handle_timer(0.2) == (2,)
    assert generator.statistics().packets_recovered == 1


def test_stale_packet_far_behind_does_not_restart() -> None:
    generator = NackGenerator(reorder_delay=0.0)
    generator.on_packet(10000, 0.0)
    assert generator.on_packet(5000, 0.0) is False  # one stale packet: ignored
    generator.on_packet(10002, 0.0)
    assert generator.missing == (10001,)


def test_clear_up_to() -> None:
    generator = NackGenerator(reorder_delay=0.0)
    generator.on_packet(65530, 0.0)
    generator.on_packet(5, 0.0)
    generator.clear_up_to(2)
    assert generator.missing == (2, 3, 4)


def test_no_timer_before_loss() -> None:
    generator = NackGenerator()
    assert generator.get_timer() is None
    assert generator.handle_timer(1.0) == ()
    generator.on_packet(7, 0.0)
    generator.on_packet(8, 0.0)
    assert generator.get_timer() is None


@given(
    start=st.integers(0, 0xFFFF),
    arrivals=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 30)), max_size=300),
)
def test_never_nacks_a_received_packet(start: int, arrivals: list[tuple[int, int]]) -> None:
    generator = NackGenerator(reorder_delay=0.005, rtt=0.02)
    received: set[int] = set()
    now = 0.0
    for offset, pause_ms in arrivals:
        seq = (start + offset) & 0xFFFF
        generator.on_packet(seq, now)
        received.add(seq)
        now += pause_ms / 1000
        nacked = generator.handle_timer(now)
        assert not received.intersection(nacked)
        assert len(nacked) == len(set(nacked))
        assert len(generator.missing) <= 256
