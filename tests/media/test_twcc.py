import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.twcc import PacketResult, TransportCcRecorder, TransportCcSender
from sfu_trio.webrtc.rtcp import TransportCcFeedback, parse_compound_untrusted

SENDER, MEDIA = 0xAAAA0001, 0xBBBB0002


def fb(
    base: int, reference: int, count: int, deltas: tuple[int | None, ...]
) -> TransportCcFeedback:
    return TransportCcFeedback(SENDER, MEDIA, base, reference, count, deltas)


def test_feedback_fields() -> None:
    recorder = TransportCcRecorder()
    recorder.on_packet(10, 1.000)
    recorder.on_packet(11, 1.001)
    recorder.on_packet(13, 1.0035)
    assert recorder.build_feedback(1.01, SENDER, MEDIA) == fb(10, 15, 0, (160, 4, None, 10))
    assert recorder.build_feedback(1.02, SENDER, MEDIA) is None  # nothing new


def test_interval_and_count_wrap() -> None:
    recorder = TransportCcRecorder(interval=0.05)
    recorder.on_packet(1, 0.0)
    assert recorder.get_timer() == float("-inf")  # first feedback is due at once
    first = recorder.build_feedback(0.0, SENDER, MEDIA)
    assert first is not None
    recorder.on_packet(2, 0.01)
    assert recorder.get_timer() == pytest.approx(0.05)
    assert recorder.build_feedback(0.04, SENDER, MEDIA) is None
    second = recorder.build_feedback(0.05, SENDER, MEDIA)
    assert second == fb(2, 0, 1, (40,))
    for i in range(300):
        recorder.on_packet(3 + i, 0.1 + i * 0.001)
        recorder.build_feedback(1.0 + i, SENDER, MEDIA)
    assert recorder.feedback_sent == 302
    recorder.on_packet(400, 500.0)
    last = recorder.build_feedback(500.0, SENDER, MEDIA)
    assert last is not None
    assert last.feedback_packet_count == 302 % 256


def test_packet_threshold_makes_feedback_due_early() -> None:
    recorder = TransportCcRecorder(interval=1.0, packet_threshold=5)
    recorder.on_packet(0, 0.0)
    assert recorder.build_feedback(0.0, SENDER, MEDIA) is not None
    for seq in range(1, 5):
        recorder.on_packet(seq, 0.001 * seq)
    assert recorder.build_feedback(0.01, SENDER, MEDIA) is None
    recorder.on_packet(5, 0.005)
    assert recorder.get_timer() == 0.0
    feedback = recorder.build_feedback(0.01, SENDER, MEDIA)
    assert feedback is not None
    assert (feedback.base_sequence, len(feedback.receive_deltas)) == (1, 5)


def test_late_packet_after_feedback_is_dropped() -> None:
    recorder = TransportCcRecorder()
    recorder.on_packet(1, 0.0)
    recorder.on_packet(3, 0.001)
    assert recorder.build_feedback(0.0, SENDER, MEDIA) == fb(1, 0, 0, (0, None, 4))
    recorder.on_packet(2, 0.002)
    assert recorder.packets_late == 1
    recorder.on_packet(4, 0.003)
    assert recorder.build_feedback(1.0, SENDER, MEDIA) == fb(4, 0, 1, (12,))


def test_sequence_wrap() -> None:
    recorder = TransportCcRecorder()
    for i, seq in enumerate((65534, 65535, 0, 1)):
        recorder.on_packet(seq, 0.064 + i * 0.001)
    assert recorder.build_feedback(0.1, SENDER, MEDIA) == fb(65534, 1, 0, (0, 4, 4, 4))


def test_split_when_too_many_statuses() -> None:
    recorder = TransportCcRecorder(max_statuses=4)
    for seq in range(10):
        recorder.on_packet(seq, 0.001 * seq)
    parts = []
    while (feedback := recorder.build_feedback(0.1, SENDER, MEDIA)) is not None:
        parts.append(feedback)
    assert [(p.base_sequence, len(p.receive_deltas)) for p in parts] == [(0, 4), (4, 4), (8, 2)]
    assert [p.feedback_packet_count for p in parts] == [0, 1, 2]
    assert parts[1].reference_time == 0
    assert parts[1].receive_deltas == (16, 4, 4, 4)


def test_split_when_delta_overflows() -> None:
    recorder = TransportCcRecorder()
    recorder.on_packet(0, 0.0)
    recorder.on_packet(1, 9.0)  # 9 s later: more than a signed 16-bit delta
    first = recorder.build_feedback(10.0, SENDER, MEDIA)
    second = recorder.build_feedback(10.0, SENDER, MEDIA)
    assert first == fb(0, 0, 0, (0,))
    assert second == fb(1, 140, 1, (160,))  # 9.0 s = 140 * 64 ms + 40 ms


def test_long_loss_run_is_skipped() -> None:
    recorder = TransportCcRecorder(max_statuses=100)
    recorder.on_packet(0, 0.0)
    recorder.build_feedback(0.0, SENDER, MEDIA)
    recorder.on_packet(5000, 1.0)
    feedback = recorder.build_feedback(1.0, SENDER, MEDIA)
    assert feedback is not None
    assert (feedback.base_sequence, feedback.receive_deltas) == (5000, (160,))


def test_sender_numbers_packets_and_wraps() -> None:
    sender = TransportCcSender(initial_sequence=65534)
    assert [sender.next_sequence(100, 0.0) for _ in range(4)] == [65534, 65535, 0, 1]


def test_sender_matches_feedback() -> None:
    sender = TransportCcSender(initial_sequence=100)
    for i in range(4):
        sender.next_sequence(1000 + i, 0.01 * i)
    results = sender.on_feedback(fb(100, 2, 0, (10, None, 8, None)), 0.2)
    assert results == [
        PacketResult(100, 0.0, 1000, 0.1305),
        PacketResult(101, 0.01, 1001, None),
        PacketResult(102, 0.02, 1002, 0.1325),
        PacketResult(103, 0.03, 1003, None),
    ]
    # 101 arrives late; 103 is reported lost again: only the news is reported
    results = sender.on_feedback(fb(101, 2, 1, (20, None, None)), 0.3)
    assert results == [PacketResult(101, 0.01, 1001, 0.133)]
    assert sender.on_feedback(fb(200, 2, 2, (1,)), 0.3) == []  # never sent


def test_sender_unwraps_reference_time() -> None:
    sender = TransportCcSender(initial_sequence=0)
    sender.next_sequence(100, 0.0)
    sender.next_sequence(100, 0.0)
    first = sender.on_feedback(fb(0, 0xFFFFFF, 0, (0,)), 0.0)
    second = sender.on_feedback(fb(1, 0, 1, (0,)), 0.0)
    assert first[0].arrival_time == pytest.approx(0xFFFFFF * 0.064)
    assert second[0].arrival_time == pytest.approx(0x1000000 * 0.064)


@given(
    start=st.integers(0, 0xFFFF),
    packets=st.lists(
        st.tuples(st.floats(0.0, 0.02), st.booleans(), st.booleans()), min_size=1, max_size=400
    ),
    seed=st.integers(0, 1000),
)
def test_recorder_output_reconstructs_arrival_times(
    start: int, packets: list[tuple[float, bool, bool]], seed: int
) -> None:
    sender = TransportCcSender(initial_sequence=start)
    recorder = TransportCcRecorder()
    rng = random.Random(seed)
    arrivals: dict[int, float] = {}
    now = 10.0
    results: list[PacketResult] = []
    for gap, lost, swap in packets:
        now += gap
        seq = sender.next_sequence(1200, now)
        if not lost:
            # up to 2 ms of jitter so arrivals are sometimes out of order
            arrival = now + 0.03 + (rng.random() * 0.002 if swap else 0.0)
            arrivals[seq] = arrival
            recorder.on_packet(seq, arrival)
        while (feedback := recorder.build_feedback(now, SENDER, MEDIA)) is not None:
            wire = parse_compound_untrusted(feedback.serialize())
            assert wire == [feedback]
            results.extend(sender.on_feedback(feedback, now))
    while (feedback := recorder.build_feedback(now + 1.0, SENDER, MEDIA)) is not None:
        results.extend(sender.on_feedback(feedback, now + 1.0))
    reported = {r.sequence & 0xFFFF: r.arrival_time for r in results if r.arrival_time is not None}
    assert reported.keys() == arrivals.keys()
    for seq, arrival in arrivals.items():
        assert abs(reported[seq] - arrival) <= 0.000125 + 1e-9
