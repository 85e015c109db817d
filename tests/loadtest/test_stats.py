"""Counters and how worker reports add up."""

from __future__ import annotations

import pytest

from sfu_trio.loadtest.coordinator import (
    LoadOptions,
    plan_participants,
    split_among_workers,
    summarize,
)
from sfu_trio.loadtest.server_probe import ServerSample
from sfu_trio.loadtest.stats import LatencyHistogram, ReceivedStream, WorkerStats, percentile


def test_histogram_percentiles_and_json_round_trip() -> None:
    histogram = LatencyHistogram()
    for ms in range(1, 101):
        histogram.add(ms * 1_000_000)

    copy = LatencyHistogram.from_json(histogram.to_json())

    assert copy.percentile_ms(0.5) == pytest.approx(50.005)
    assert copy.percentile_ms(0.99) == pytest.approx(99.005)
    assert LatencyHistogram().percentile_ms(0.5) is None


def test_histogram_clamps_negative_and_huge_latencies() -> None:
    histogram = LatencyHistogram()
    histogram.add(-5)
    histogram.add(10**12)

    assert histogram.to_json() == {"0": 1, "100000": 1}


def test_received_stream_expected_from_indexes() -> None:
    stream = ReceivedStream("video")
    assert stream.window_expected == 0
    stream.first_index, stream.last_index = 10, 19
    assert stream.window_expected == 10


def test_percentile_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([], 0.5) is None


def test_plan_meeting_room_everyone_receives_the_others() -> None:
    options = LoadOptions(rooms=2, publishers=3, subscribers=1, publishers_receive=True)

    specs = plan_participants(options, "t")

    assert [(s.room, s.user, s.publish, s.subscribe, s.expected_streams) for s in specs[:4]] == [
        ("t-0", "t-0-p0", True, True, 4),
        ("t-0", "t-0-p1", True, True, 4),
        ("t-0", "t-0-p2", True, True, 4),
        ("t-0", "t-0-s0", False, True, 6),
    ]
    assert len(specs) == 8


def test_summarize_adds_workers_up() -> None:
    worker = WorkerStats(participants=2, ready=2)
    worker.sent_window_packets["p"] = 100
    stream = worker.new_stream("video")
    stream.window_packets, stream.window_bytes = 99, 99_000
    stream.first_index, stream.last_index = 0, 99
    worker.latency.add(1_000_000)
    worker.first_packet_ms.append(80.0)
    other = WorkerStats(participants=1, ready=1)
    options = LoadOptions(subscribers=1, duration=2.0)

    report = summarize(
        options,
        [worker.to_json(), other.to_json()],
        ServerSample(10.0, 1_000_000),
        ServerSample(11.0, 2_000_000),
        ServerSample(11.5, 4_000_000),
        [],
    )

    assert (report.participants, report.ready, report.packets_forwarded) == (3, 3, 99)
    assert report.loss == pytest.approx(0.01)
    assert report.delivered_ratio == pytest.approx(0.99)
    assert report.bitrate_forwarded_bps == pytest.approx(396_000)
    assert report.server_cpu_s == pytest.approx(0.5)
    assert report.server_cpu_us_per_packet == pytest.approx(0.5 / 99 * 1e6)
    assert report.server_rss_per_participant_bytes == pytest.approx(1_000_000)
    assert report.latency_ms["p50"] == pytest.approx(1.005)
    assert report.first_packet_ms["max"] == 80.0


def test_publishers_get_a_worker_of_their_own() -> None:
    specs = plan_participants(LoadOptions(publishers=1, subscribers=4), "t")

    shares = split_among_workers(specs, 3)

    assert [[s.user for s in share] for share in shares] == [
        ["t-0-p0"],
        ["t-0-s0", "t-0-s2"],
        ["t-0-s1", "t-0-s3"],
    ]
    assert [len(share) for share in split_among_workers(specs, 1)] == [5]


def test_meeting_is_spread_round_robin() -> None:
    specs = plan_participants(
        LoadOptions(publishers=4, subscribers=0, publishers_receive=True), "t"
    )

    assert [len(share) for share in split_among_workers(specs, 2)] == [2, 2]
