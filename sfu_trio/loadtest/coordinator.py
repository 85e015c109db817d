"""Plan a load test, spread it over worker processes, pick the measurement window, add it up.

The coordinator is plain synchronous code: it starts the workers (``python -m
sfu_trio.loadtest.worker``), waits until every one says its participants are ready, gives them
all the same window (after a warm-up), samples the server's CPU time at both ends of it, and
turns the workers' reports into one `LoadReport`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .participant import MediaOptions, ParticipantSpec
from .server_probe import ServerProbe, ServerSample
from .stats import LatencyHistogram, percentile
from .worker import plan_json


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """One load-test run."""

    url: str = "http://127.0.0.1:8080"
    rooms: int = 1
    publishers: int = 1  # per room
    subscribers: int = 3  # per room, receive only
    publishers_receive: bool = False  # publishers also receive each other (a meeting)
    duration: float = 10.0
    warmup: float = 1.0
    media: MediaOptions = field(default_factory=MediaOptions)
    processes: int = 1
    setup_timeout: float = 30.0
    dialect: str = "sfu"  # or "janus"
    local_host: str | None = None  # address to send media from (default: the route to the server)
    server_pids: tuple[int, ...] = ()
    metrics_url: str | None = None  # default: <url>/metrics (sfu dialect)
    room_prefix: str | None = None
    seed: int = 1

    @property
    def participants_per_room(self) -> int:
        return self.publishers + self.subscribers


@dataclass
class LoadReport:
    """What one run measured (``None``: could not be measured)."""

    options: dict[str, Any]
    participants: int
    ready: int
    failures: list[str]
    window_s: float
    packets_sent: int
    packets_forwarded: int
    packets_forwarded_per_s: float
    bitrate_forwarded_bps: float
    expected_packets: int
    loss: float | None
    delivered_ratio: float | None
    seq_gaps: int
    seq_disorder: int
    latency_ms: dict[str, float | None]
    first_packet_ms: dict[str, float | None]
    server_cpu_s: float | None
    server_cpu_us_per_packet: float | None
    server_cpu_fraction: float | None
    server_rss_bytes: int | None
    server_rss_per_participant_bytes: float | None
    send_errors: int
    srtp_errors: int
    keyframe_requests: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def route_address(url: str) -> str:
    """The local address the kernel would use to reach ``url``'s host."""
    host = urlsplit(url).hostname or "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 9))
        address: str = probe.getsockname()[0]
        return address


def create_rooms(url: str, names: list[str], max_peers: int) -> None:
    """Create the rooms over REST first, so that no two first joins race to create one."""
    for name in names:
        request = urllib.request.Request(
            url.rstrip("/") + "/api/rooms",
            data=json.dumps({"name": name, "maxPeers": max_peers}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # 409: it exists already
                raise


def plan_participants(options: LoadOptions, prefix: str) -> list[ParticipantSpec]:
    """Every participant, publishers of a room before its subscribers."""
    specs = []
    for room_index in range(options.rooms):
        room = f"{prefix}-{room_index}"
        for i in range(options.publishers):
            receives = options.publishers_receive and options.publishers > 1
            expected = 2 * (options.publishers - 1) if receives else 0
            specs.append(ParticipantSpec(room, f"{room}-p{i}", True, receives, expected))
        for i in range(options.subscribers):
            specs.append(ParticipantSpec(room, f"{room}-s{i}", False, True, 2 * options.publishers))
    return specs


def split_among_workers(
    specs: list[ParticipantSpec], processes: int
) -> list[list[ParticipantSpec]]:
    """Participants per worker. With several workers, publish-only participants get a worker of
    their own, so that the pace of what they send does not suffer from what others receive."""
    count = max(1, min(processes, len(specs)))
    senders = [s for s in specs if s.publish and not s.subscribe]
    others = [s for s in specs if not (s.publish and not s.subscribe)]
    if count == 1 or not senders or not others:
        shares: list[list[ParticipantSpec]] = [[] for _ in range(count)]
        for i, spec in enumerate(specs):
            shares[i % count].append(spec)
        return shares
    shares = [senders] + [[] for _ in range(count - 1)]
    for i, spec in enumerate(others):
        shares[1 + i % (count - 1)].append(spec)
    return shares


def _expected_deliveries(options: LoadOptions) -> int:
    """How many participants receive each publisher's streams."""
    others = options.publishers - 1 if options.publishers_receive else 0
    return options.subscribers + others


class _Worker:
    def __init__(self, plan: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sfu_trio.loadtest.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.send(plan)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass

    def read(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def run_load(options: LoadOptions) -> LoadReport:
    """Run ``options`` against its server; blocks for about setup + warm-up + duration."""
    prefix = options.room_prefix or f"load-{secrets.token_hex(3)}"
    local_host = options.local_host or route_address(options.url)
    specs = plan_participants(options, prefix)
    if options.dialect == "sfu":
        rooms = sorted({spec.room for spec in specs})
        create_rooms(options.url, rooms, max(options.participants_per_room, 1))
    shares = split_among_workers(specs, options.processes)
    metrics_url = options.metrics_url
    if metrics_url is None and options.dialect == "sfu" and not options.server_pids:
        metrics_url = options.url.rstrip("/") + "/metrics"
    probe = ServerProbe(pids=list(options.server_pids), metrics_url=metrics_url)
    baseline = probe.sample()
    deadline = options.setup_timeout + options.warmup + options.duration + 15.0
    workers = [
        _Worker(
            plan_json(
                url=options.url,
                local_host=local_host,
                dialect=options.dialect,
                media=options.media,
                participants=share,
                setup_timeout=options.setup_timeout,
                deadline_s=deadline,
                seed=options.seed * 1000 + i,
            )
        )
        for i, share in enumerate(shares)
    ]
    try:
        readies = [worker.read() for worker in workers]
        start_ns = time.monotonic_ns() + int(options.warmup * 1e9)
        end_ns = start_ns + int(options.duration * 1e9)
        window = json.dumps({"start_ns": start_ns, "end_ns": end_ns})
        for worker in workers:
            worker.send(window)
        time.sleep(max(start_ns - time.monotonic_ns(), 0) / 1e9)
        first = probe.sample()
        time.sleep(max(end_ns - time.monotonic_ns(), 0) / 1e9)
        last = probe.sample()
        reports = [worker.read() for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    failures = [f"worker {i} never got ready" for i, r in enumerate(readies) if r is None]
    return summarize(
        options, [r for r in reports if r is not None], baseline, first, last, failures
    )


def summarize(
    options: LoadOptions,
    reports: list[dict[str, Any]],
    baseline: ServerSample | None,
    first: ServerSample | None,
    last: ServerSample | None,
    failures: list[str],
) -> LoadReport:
    """Add the workers' reports up into one `LoadReport`."""

    def total(key: str) -> int:
        return sum(int(r[key]) for r in reports)

    latency = LatencyHistogram()
    for report in reports:
        latency.merge(LatencyHistogram.from_json(report["latency"]))
    first_packets = [ms for r in reports for ms in r["first_packet_ms"]]
    sent = sum(sum(r["sent_window_packets"].values()) for r in reports)
    forwarded = total("window_packets")
    expected = total("window_expected")
    deliveries = sent * _expected_deliveries(options)
    window_s = options.duration
    cpu = None if first is None or last is None else last.cpu_seconds - first.cpu_seconds
    participants = total("participants")
    rss = last.rss_bytes if last is not None else None
    rss_each = None
    if rss is not None and baseline is not None and participants:
        rss_each = (rss - baseline.rss_bytes) / participants
    return LoadReport(
        options=asdict(options),
        participants=participants,
        ready=total("ready"),
        failures=failures + [f for r in reports for f in r["failures"]],
        window_s=window_s,
        packets_sent=sent,
        packets_forwarded=forwarded,
        packets_forwarded_per_s=forwarded / window_s,
        bitrate_forwarded_bps=total("window_bytes") * 8 / window_s,
        expected_packets=expected,
        loss=None if not expected else max(0.0, 1.0 - forwarded / expected),
        delivered_ratio=None if not deliveries else forwarded / deliveries,
        seq_gaps=total("seq_gaps"),
        seq_disorder=total("seq_disorder"),
        latency_ms={
            "p50": latency.percentile_ms(0.50),
            "p95": latency.percentile_ms(0.95),
            "p99": latency.percentile_ms(0.99),
        },
        first_packet_ms={
            "p50": percentile(first_packets, 0.50),
            "p95": percentile(first_packets, 0.95),
            "max": max(first_packets, default=None),
        },
        server_cpu_s=cpu,
        server_cpu_us_per_packet=None if cpu is None or not forwarded else cpu / forwarded * 1e6,
        server_cpu_fraction=None if cpu is None else cpu / window_s,
        server_rss_bytes=rss,
        server_rss_per_participant_bytes=rss_each,
        send_errors=total("send_errors"),
        srtp_errors=total("srtp_errors"),
        keyframe_requests=total("keyframe_requests"),
    )


def format_report(report: LoadReport) -> str:
    """A few human-readable lines."""

    def num(value: float | None, fmt: str = ".2f") -> str:
        return "n/a" if value is None else format(value, fmt)

    fraction = report.server_cpu_fraction

    lines = [
        f"participants {report.ready}/{report.participants} ready, window {report.window_s:.1f} s",
        f"forwarded    {report.packets_forwarded} packets "
        f"({report.packets_forwarded_per_s:.0f}/s, "
        f"{report.bitrate_forwarded_bps / 1e6:.2f} Mbit/s); sent {report.packets_sent}",
        f"loss         {num(None if report.loss is None else report.loss * 100, '.3f')} % "
        f"(delivered {num(report.delivered_ratio, '.4f')}; "
        f"seq gaps {report.seq_gaps}, disorder {report.seq_disorder})",
        "latency      p50 {} ms, p95 {} ms, p99 {} ms".format(
            *(num(report.latency_ms[k], ".3f") for k in ("p50", "p95", "p99"))
        ),
        "first packet p50 {} ms, p95 {} ms, max {} ms".format(
            *(num(report.first_packet_ms[k], ".0f") for k in ("p50", "p95", "max"))
        ),
        f"server CPU   {num(report.server_cpu_s, '.2f')} s "
        f"({num(report.server_cpu_us_per_packet, '.1f')} µs/forwarded packet, "
        f"{num(None if fraction is None else fraction * 100, '.0f')} % of a core)",
    ]
    if report.failures:
        lines.append(f"failures     {len(report.failures)}: {report.failures[:5]}")
    return "\n".join(lines)
