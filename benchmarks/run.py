"""The forwarding benchmark, in one run on one machine: the floor, sfu_trio and Janus under the
same load generator, the same workload, in the same network namespace.

    sudo python benchmarks/run.py            # or: nox -s bench

Scenarios (each server restarted for each, so memory is measured from a fresh process):
one publisher (1.5 Mbit/s VP8-sized video at 30 fps + Opus-sized audio at 50 packets/s) to N
subscribers, N = 1, 10, 50, 100; and a 10-person meeting where everyone publishes and receives
the others. Prints the summary table and the per-scenario figures, and writes all of it as JSON
(``--out``, default ``benchmarks/results/latest.json``). Without root (no namespace), the floor
and sfu_trio run on loopback and Janus is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import run_floor
from janus_server import janus_available, run_janus
from netns import LOOPBACK, BenchNetwork, bench_network, namespace_possible
from summary import summarize_results, table

from sfu_trio.loadtest.coordinator import LoadOptions, format_report, run_load
from sfu_trio.loadtest.participant import MediaOptions

ROOT = Path(__file__).resolve().parent.parent
SFU_PORT, SFU_UDP_PORT = 18080, 17882


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


@contextmanager
def run_sfu(network: BenchNetwork) -> Iterator[tuple[str, int]]:
    """A fresh ``python -m sfu_trio`` in the namespace; yields (its URL, its pid)."""
    host = network.server_address
    env = {
        **os.environ,
        "SFU_HOST": host,
        "SFU_PORT": str(SFU_PORT),
        "SFU_UDP_PORT": str(SFU_UDP_PORT),
        "SFU_TCP_PORT": "0",
        "METRICS_ENABLED": "false",
        "LOG_LEVEL": "warning",
        "SFU_MAX_PEERS_PER_ROOM": "1000",
    }
    process = subprocess.Popen(
        network.command([sys.executable, "-m", "sfu_trio"]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{host}:{SFU_PORT}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sfu_trio did not start") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scenarios(subscriber_counts: list[int], meeting: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"name": f"1->{n}", "publishers": 1, "subscribers": n, "publishers_receive": False}
        for n in subscriber_counts
    ]
    if meeting:
        found.append(
            {
                "name": f"meeting-{meeting}",
                "publishers": meeting,
                "subscribers": 0,
                "publishers_receive": True,
            }
        )
    return found


def load_scenario(
    server: str,
    url: str,
    pid: int,
    network: BenchNetwork,
    scenario: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    participants = scenario["publishers"] + scenario["subscribers"]
    options = LoadOptions(
        url=url,
        publishers=scenario["publishers"],
        subscribers=scenario["subscribers"],
        publishers_receive=scenario["publishers_receive"],
        duration=args.duration,
        warmup=args.warmup,
        media=MediaOptions(bitrate=args.bitrate, fps=args.fps),
        # A worker for the publisher, one or two for the subscribers (see split_among_workers).
        processes=(3 if participants >= 40 else 2) if participants >= 10 else 1,
        setup_timeout=60.0,
        dialect="janus" if server == "janus" else "sfu",
        local_host=network.client_address,
        server_pids=(pid,),
    )
    load_average = os.getloadavg()[0]
    report = run_load(options)
    print(f"--- {server} {scenario['name']} (load average {load_average:.1f})")
    print(format_report(report), flush=True)
    result = report.to_json()
    result["failures"] = result["failures"][:20]
    return {"server": server, "scenario": scenario["name"], "load_average": load_average, **result}


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    use_namespace = namespace_possible() and not args.loopback
    counts = [int(n) for n in args.subscribers.split(",")]
    plan = scenarios(counts, args.meeting)
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "bitrate": args.bitrate,
            "fps": args.fps,
            "namespace": use_namespace,
        },
        "floor": [],
        "runs": [],
        "notes": [],
    }
    network_context = bench_network() if use_namespace else nullcontext(LOOPBACK)
    with network_context as network:
        for n in counts:
            floor = run_floor(
                network.command([]),
                network.server_address,
                network.client_address,
                n,
                duration=args.duration,
                bitrate=args.bitrate,
                fps=args.fps,
            )
            print(f"--- floor 1->{n}: {json.dumps(floor.to_json())}", flush=True)
            results["floor"].append({"scenario": f"1->{n}", **floor.to_json()})
        for scenario in plan:
            with run_sfu(network) as (url, pid):
                time.sleep(0.5)
                results["runs"].append(load_scenario("sfu_trio", url, pid, network, scenario, args))
        if args.no_janus:
            results["notes"].append("Janus skipped (--no-janus)")
        elif not use_namespace:
            results["notes"].append("Janus skipped: it needs the network namespace (run as root)")
        elif not janus_available():
            results["notes"].append("Janus skipped: install it with `apt-get install -y janus`")
        else:
            for scenario in plan:
                with run_janus(network, os.cpu_count() or 1) as (url, pid):
                    time.sleep(0.5)
                    results["runs"].append(
                        load_scenario("janus", url, pid, network, scenario, args)
                    )
    results["summary"] = summarize_results(results)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--subscribers", default="1,10,50,100", help="N of the 1->N runs")
    parser.add_argument("--meeting", type=int, default=10, help="meeting size (0: none)")
    parser.add_argument("--bitrate", type=int, default=1_500_000)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--no-janus", action="store_true")
    parser.add_argument("--loopback", action="store_true", help="no namespace (and no Janus)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    started = time.monotonic()
    results = run_all(args)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    print()
    print(table(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out} ({results['elapsed_s']} s); host {socket.gethostname()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
