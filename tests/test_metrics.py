from collections.abc import Iterable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sfu_trio.observability.metrics import Metrics, SnapshotSample

EXPECTED_NAMES = {
    "sfu_active_rooms_total",
    "sfu_active_peers_total",
    "sfu_connections_total",
    "sfu_messages_sent_total",
    "sfu_messages_received_total",
    "sfu_bytes_transferred_total",
    "sfu_rate_limited_messages_total",
    "sfu_state_backend_errors_total",
    "sfu_signaling_errors_total",
    "sfu_auth_rejected_total",
    "sfu_join_duration_seconds_count",
    "process_cpu_seconds_total",
}


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics)[(name, frozenset(labels.items()))]


def test_names_and_values_after_increments() -> None:
    metrics = Metrics()
    metrics.connections.inc()
    metrics.messages_received.inc(3)
    metrics.messages_sent.inc(2)
    metrics.bytes_in.inc(100)
    metrics.bytes_transferred.labels(direction="out").inc(40)
    metrics.signaling_errors.labels(code="429").inc()
    metrics.rate_limited.inc()
    metrics.auth_rejected.labels(reason="expired").inc(2)
    metrics.state_backend_errors.inc(4)
    metrics.join_duration.observe(0.003)

    samples = _samples(metrics)
    names = {name for name, _ in samples}
    assert names >= EXPECTED_NAMES
    assert not any(name.endswith("_total_total") for name in names)
    expected = {
        ("sfu_connections_total", ()): 1.0,
        ("sfu_messages_received_total", ()): 3.0,
        ("sfu_messages_sent_total", ()): 2.0,
        ("sfu_bytes_transferred_total", (("direction", "in"),)): 100.0,
        ("sfu_bytes_transferred_total", (("direction", "out"),)): 40.0,
        ("sfu_signaling_errors_total", (("code", "429"),)): 1.0,
        ("sfu_rate_limited_messages_total", ()): 1.0,
        ("sfu_auth_rejected_total", (("reason", "expired"),)): 2.0,
        ("sfu_state_backend_errors_total", ()): 4.0,
        ("sfu_join_duration_seconds_count", ()): 1.0,
        ("sfu_join_duration_seconds_bucket", (("le", "0.0025"),)): 0.0,
        ("sfu_join_duration_seconds_bucket", (("le", "0.005"),)): 1.0,
        ("sfu_join_duration_seconds_bucket", (("le", "5.0"),)): 1.0,
        ("sfu_active_rooms_total", ()): 0.0,
    }
    for (name, labels), value in expected.items():
        assert samples[(name, frozenset(labels))] == value, name


def test_join_duration_buckets_span_1ms_to_5s() -> None:
    samples = _samples(Metrics())
    bounds = sorted(
        float(dict(labels)["le"])
        for name, labels in samples
        if name == "sfu_join_duration_seconds_bucket"
    )
    assert bounds[0] == 0.001
    assert bounds[-2:] == [5.0, float("inf")]


def test_live_counts_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    state = {"rooms": 2, "peers": 7}
    metrics.bind_live_counts(rooms=lambda: state["rooms"], peers=lambda: state["peers"])
    assert _value(metrics, "sfu_active_rooms_total") == 2.0
    assert _value(metrics, "sfu_active_peers_total") == 7.0
    state["peers"] = 5
    assert _value(metrics, "sfu_active_peers_total") == 5.0


def test_instances_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.connections.inc(5)
    assert _value(first, "sfu_connections_total") == 5.0
    assert _value(second, "sfu_connections_total") == 0.0


def test_snapshot_collector_called_at_scrape_time() -> None:
    metrics = Metrics()
    counters = {"forwarded": 0, "queue": 0}
    calls: list[int] = []

    def collect() -> Iterable[SnapshotSample]:
        calls.append(1)
        return [
            SnapshotSample(
                "sfu_rtp_packets_forwarded_total", "Forwarded", "counter", counters["forwarded"]
            ),
            SnapshotSample("sfu_udp_queue", "Queued", "gauge", counters["queue"], {"port": "1"}),
            SnapshotSample("sfu_udp_queue", "Queued", "gauge", 9, {"port": "2"}),
            SnapshotSample("sfu_nacks", "NACKs", "counter", 4),
        ]

    metrics.add_snapshot_collector(collect)
    assert calls == []
    counters["forwarded"] = 1234
    counters["queue"] = 3
    samples = _samples(metrics)
    assert len(calls) == 1
    assert samples[("sfu_rtp_packets_forwarded_total", frozenset())] == 1234.0
    assert samples[("sfu_udp_queue", frozenset({("port", "1")}))] == 3.0
    assert samples[("sfu_udp_queue", frozenset({("port", "2")}))] == 9.0
    assert samples[("sfu_nacks_total", frozenset())] == 4.0


def test_failing_snapshot_collector_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()

    def broken() -> Iterable[SnapshotSample]:
        raise RuntimeError("boom")

    metrics.add_snapshot_collector(broken)
    metrics.add_snapshot_collector(lambda: [SnapshotSample("sfu_ok", "ok", "gauge", 1)])
    assert _value(metrics, "sfu_ok") == 1.0
    assert "snapshot collector" in caplog.text


def test_process_cpu_seconds_exposed() -> None:
    assert _value(Metrics(), "process_cpu_seconds_total") > 0.0
