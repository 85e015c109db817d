"""Prometheus metrics of one server, in a registry it owns (no global registry).

Signaling-plane events (connections, messages, joins, errors) use ordinary prometheus_client
counters: they are rare. The media plane never touches Prometheus: its layers keep plain int
counters and `statistics()` snapshots, and a *snapshot collector* registered with
`Metrics.add_snapshot_collector(fn)` turns them into samples at scrape time.

A snapshot collector is `fn() -> Iterable[SnapshotSample]`, called on every `render()` (from the
thread that renders, i.e. the Trio thread, so it may read live state without locks). Samples with
the same name form one metric family; they must share `help`, `kind` and label names. Names must
not clash with the built-in metrics below or with another collector's. A counter's exposed name
is `name` if it ends in `_total`, otherwise `name + "_total"`. A collector that raises is logged
and skipped; the rest of the scrape still succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["JOIN_DURATION_BUCKETS", "Metrics", "SnapshotSample"]

JOIN_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_log = logging.getLogger("sfu_trio.metrics")


@dataclass(frozen=True, slots=True)
class SnapshotSample:
    """One value read at scrape time from a statistics() snapshot."""

    name: str
    help: str
    kind: Literal["counter", "gauge"]
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


SnapshotCollectorFn = Callable[[], Iterable[SnapshotSample]]


class _SnapshotCollector(Collector):
    def __init__(self, fn: SnapshotCollectorFn) -> None:
        self._fn = fn

    def collect(self) -> Iterator[Metric]:
        try:
            samples = list(self._fn())
        except Exception:
            _log.exception("snapshot collector %r failed", self._fn)
            return
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for sample in samples:
            family = families.get(sample.name)
            if family is None:
                family_type = CounterMetricFamily if sample.kind == "counter" else GaugeMetricFamily
                family = family_type(sample.name, sample.help, labels=list(sample.labels))
                families[sample.name] = family
            family.add_metric(list(sample.labels.values()), sample.value)
        yield from families.values()


class Metrics:
    """Every metric of one server process, exposed as attributes; `render()` for /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self._live_rooms: Callable[[], int] = lambda: 0
        self._live_peers: Callable[[], int] = lambda: 0

        self.active_rooms = Gauge("sfu_active_rooms_total", "Live rooms on this node", registry=reg)
        self.active_rooms.set_function(lambda: self._live_rooms())
        self.active_peers = Gauge("sfu_active_peers_total", "Live peers on this node", registry=reg)
        self.active_peers.set_function(lambda: self._live_peers())

        # prometheus_client appends `_total` to counter names itself.
        self.connections = Counter(
            "sfu_connections", "WebSocket connections accepted", registry=reg
        )
        self.messages_sent = Counter("sfu_messages_sent", "Signaling messages sent", registry=reg)
        self.messages_received = Counter(
            "sfu_messages_received", "Signaling messages received", registry=reg
        )
        self.bytes_transferred = Counter(
            "sfu_bytes_transferred",
            "Signaling bytes by direction (in/out)",
            ["direction"],
            registry=reg,
        )
        self.bytes_in = self.bytes_transferred.labels(direction="in")
        self.bytes_out = self.bytes_transferred.labels(direction="out")
        self.signaling_errors = Counter(
            "sfu_signaling_errors",
            "Error messages sent to clients, by code",
            ["code"],
            registry=reg,
        )
        self.rate_limited = Counter(
            "sfu_rate_limited_messages",
            "Signaling messages refused by the rate limit",
            registry=reg,
        )
        self.auth_rejected = Counter(
            "sfu_auth_rejected",
            "Requests refused by auth or origin, by reason",
            ["reason"],
            registry=reg,
        )
        self.state_backend_errors = Counter(
            "sfu_state_backend_errors", "Failed state backend operations", registry=reg
        )
        self.join_duration = Histogram(
            "sfu_join_duration_seconds",
            "Time from join request to join answer",
            buckets=JOIN_DURATION_BUCKETS,
            registry=reg,
        )
        self.process = ProcessCollector(registry=reg)

    def bind_live_counts(self, rooms: Callable[[], int], peers: Callable[[], int]) -> None:
        """Read the active room and peer gauges from these callables at scrape time."""
        self._live_rooms = rooms
        self._live_peers = peers

    def add_snapshot_collector(self, fn: SnapshotCollectorFn) -> None:
        """Call `fn` at every scrape and expose the samples it returns (see module docstring)."""
        self.registry.register(_SnapshotCollector(fn))

    def render(self) -> tuple[bytes, str]:
        """The exposition text (body, content type) for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
