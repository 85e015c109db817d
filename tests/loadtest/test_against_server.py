"""A short load test against a real server process: 1 publisher -> 3 subscribers for 3 s."""

from __future__ import annotations

import pytest

from sfu_trio.loadtest.coordinator import LoadOptions, run_load
from sfu_trio.loadtest.participant import MediaOptions
from sfu_trio.loadtest.server_probe import ServerProbe
from tests.server_process import run_server

pytestmark = pytest.mark.slow


def test_one_publisher_three_subscribers() -> None:
    with run_server(LOG_LEVEL="warning") as server:
        report = run_load(
            LoadOptions(
                url=server.url,
                publishers=1,
                subscribers=3,
                duration=3.0,
                warmup=0.5,
                media=MediaOptions(bitrate=500_000, fps=30),
                server_pids=(server.process.pid,),
                setup_timeout=20.0,
            )
        )
        metrics = ServerProbe(metrics_url=server.url + "/metrics").sample()

    assert report.failures == []
    assert (report.participants, report.ready) == (4, 4)
    # 50 audio + 30 video frames (2 packets each) a second, to each of 3 subscribers.
    assert report.packets_sent > 0.8 * 3.0 * (50 + 60)
    assert report.packets_forwarded > 0.9 * 3 * report.packets_sent
    assert report.seq_gaps == 0 and report.seq_disorder == 0
    assert report.loss is not None and report.loss < 0.01
    assert report.latency_ms["p50"] is not None and report.latency_ms["p50"] < 50
    assert report.first_packet_ms["max"] is not None
    assert report.server_cpu_us_per_packet is not None and report.server_cpu_us_per_packet > 0
    assert metrics is not None and metrics.cpu_seconds > 0 and metrics.rss_bytes > 0
