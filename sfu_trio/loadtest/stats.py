"""Counters a load-test worker keeps, and how workers' counters add up.

Only packets that arrive inside the measurement *window* (absolute ``time.monotonic_ns()``
bounds, the same in every worker process) count towards rates, loss and latency; packets before
it only count towards "time to first packet" and readiness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LATENCY_BUCKET_NS = 10_000  # 10 µs
LATENCY_BUCKETS = 100_000  # up to 1 s; later packets fall in the last bucket
NEVER = 2**63 - 1


class Window:
    """The measurement window, shared by every participant of a worker."""

    __slots__ = ("end_ns", "start_ns")

    def __init__(self) -> None:
        self.start_ns = NEVER
        self.end_ns = NEVER


class LatencyHistogram:
    """Latencies in 10 µs buckets (exact enough for p50..p99 of forwarding latency)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * (LATENCY_BUCKETS + 1)

    def add(self, latency_ns: int) -> None:
        bucket = latency_ns // LATENCY_BUCKET_NS
        if bucket > LATENCY_BUCKETS:
            bucket = LATENCY_BUCKETS
        elif bucket < 0:
            bucket = 0
        self.counts[bucket] += 1

    def merge(self, other: LatencyHistogram) -> None:
        counts = self.counts
        for bucket, count in enumerate(other.counts):
            if count:
                counts[bucket] += count

    def percentile_ms(self, fraction: float) -> float | None:
        """The latency (ms, bucket midpoint) below which ``fraction`` of the samples lie."""
        total = sum(self.counts)
        if not total:
            return None
        rank = fraction * total
        seen = 0
        for bucket, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return (bucket + 0.5) * LATENCY_BUCKET_NS / 1e6
        return LATENCY_BUCKETS * LATENCY_BUCKET_NS / 1e6

    def to_json(self) -> dict[str, int]:
        return {str(bucket): count for bucket, count in enumerate(self.counts) if count}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LatencyHistogram:
        histogram = cls()
        for bucket, count in data.items():
            histogram.counts[int(bucket)] += count
        return histogram


class ReceivedStream:
    """What one subscriber received of one forwarded stream (one SSRC the server sends)."""

    __slots__ = (
        "bytes",
        "first_index",
        "kind",
        "last_index",
        "last_seq",
        "packets",
        "seq_disorder",
        "seq_gaps",
        "window_bytes",
        "window_packets",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.packets = 0
        self.bytes = 0
        self.window_packets = 0
        self.window_bytes = 0
        self.first_index = -1  # publisher packet index of the first packet in the window
        self.last_index = -1
        self.last_seq = -1
        self.seq_gaps = 0  # sequence numbers skipped (the server renumbers: should be 0)
        self.seq_disorder = 0  # duplicates or late packets

    @property
    def window_expected(self) -> int:
        return 0 if self.first_index < 0 else self.last_index - self.first_index + 1


@dataclass
class WorkerStats:
    """Everything one worker process measured; `to_json` is what it reports."""

    participants: int = 0
    ready: int = 0
    failures: list[str] = field(default_factory=list)
    sent_window_packets: dict[str, int] = field(default_factory=dict)  # publisher -> packets
    sent_window_bytes: int = 0
    send_errors: int = 0
    srtp_errors: int = 0
    streams: list[ReceivedStream] = field(default_factory=list)
    first_packet_ms: list[float] = field(default_factory=list)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    keyframe_requests: int = 0

    def new_stream(self, kind: str) -> ReceivedStream:
        stream = ReceivedStream(kind)
        self.streams.append(stream)
        return stream

    def to_json(self) -> dict[str, Any]:
        streams = self.streams
        return {
            "participants": self.participants,
            "ready": self.ready,
            "failures": self.failures,
            "sent_window_packets": self.sent_window_packets,
            "sent_window_bytes": self.sent_window_bytes,
            "send_errors": self.send_errors,
            "srtp_errors": self.srtp_errors,
            "received_packets": sum(s.packets for s in streams),
            "window_packets": sum(s.window_packets for s in streams),
            "window_bytes": sum(s.window_bytes for s in streams),
            "window_expected": sum(s.window_expected for s in streams),
            "window_video_packets": sum(s.window_packets for s in streams if s.kind == "video"),
            "window_audio_packets": sum(s.window_packets for s in streams if s.kind == "audio"),
            "seq_gaps": sum(s.seq_gaps for s in streams),
            "seq_disorder": sum(s.seq_disorder for s in streams),
            "streams": len(streams),
            "first_packet_ms": self.first_packet_ms,
            "latency": self.latency.to_json(),
            "keyframe_requests": self.keyframe_requests,
        }


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
