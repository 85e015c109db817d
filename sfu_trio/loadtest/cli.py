"""Command line of the load generator (also ``sfu-trio loadtest``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .coordinator import LoadOptions, format_report, run_load
from .participant import MediaOptions


def build_parser(prog: str = "python -m sfu_trio.loadtest") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Synthetic WebRTC participants (no codec) against an SFU; reports packets "
        "forwarded, loss, added latency, time to first packet and the server's CPU per packet.",
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arg = parser.add_argument
    arg("--url", default="http://127.0.0.1:8080", help="server base URL (http://host:port)")
    arg("--rooms", type=int, default=1, help="rooms (default 1)")
    arg("--publishers", type=int, default=1, help="publishers per room (default 1)")
    arg("--subscribers", type=int, default=3, help="receive-only participants per room")
    arg(
        "--publishers-receive",
        action="store_true",
        help="publishers also receive each other (a meeting where everyone publishes)",
    )
    arg("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    arg("--warmup", type=float, default=1.0, help="seconds between ready and measuring")
    arg("--bitrate", type=int, default=1_500_000, help="video bit/s per publisher")
    arg("--fps", type=float, default=30.0, help="video frames per second")
    arg("--simulcast", action="store_true", help="publish three simulcast layers")
    arg("--keyframe-interval", type=float, default=5.0, help="seconds between keyframes")
    arg("--processes", type=int, default=1, help="worker processes to spread participants over")
    arg("--setup-timeout", type=float, default=30.0, help="seconds for everyone to connect")
    arg("--dialect", choices=("sfu", "janus"), default="sfu", help="signaling to speak")
    arg("--local-host", default=None, help="local address for media (default: route to server)")
    arg(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="read the server's CPU from this local process (default: its /metrics)",
    )
    arg("--metrics-url", default=None, help="Prometheus endpoint with process_cpu_seconds_total")
    arg("--json", dest="json_path", default=None, help="also write the report here as JSON")


def options_from_args(args: argparse.Namespace) -> LoadOptions:
    return LoadOptions(
        url=args.url,
        rooms=args.rooms,
        publishers=args.publishers,
        subscribers=args.subscribers,
        publishers_receive=args.publishers_receive,
        duration=args.duration,
        warmup=args.warmup,
        media=MediaOptions(
            bitrate=args.bitrate,
            fps=args.fps,
            simulcast=args.simulcast,
            keyframe_interval=args.keyframe_interval,
        ),
        processes=args.processes,
        setup_timeout=args.setup_timeout,
        dialect=args.dialect,
        local_host=args.local_host,
        server_pids=tuple(args.server_pid),
        metrics_url=args.metrics_url,
    )


def run_from_args(args: argparse.Namespace) -> int:
    report = run_load(options_from_args(args))
    print(format_report(report))
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump(report.to_json(), out, indent=2)
    return 0 if report.ready == report.participants and report.packets_forwarded else 1


def main(argv: Sequence[str] | None = None, prog: str = "python -m sfu_trio.loadtest") -> int:
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    return run_from_args(args)
