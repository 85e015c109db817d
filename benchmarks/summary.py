"""Turn the benchmark's raw results into the summary table (and its ratios)."""

from __future__ import annotations

from typing import Any

LOSS_LIMIT = 0.005
MARKS = {
    "cpu_vs_floor": 1.5,  # sfu_trio CPU per forwarded packet within 1.5x of the floor
    "cpu_vs_janus": 2.0,  # and no more than 2x Janus
    "subscribers": 100,  # one core forwards >= 100 subscribers of one publisher
    "p99_ms": 20.0,  # with p99 added latency < 20 ms
}


def _one_to_n(run: dict[str, Any]) -> int | None:
    name = run["scenario"]
    return int(name.split("->")[1]) if name.startswith("1->") else None


def _server_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    fan_out = sorted((r for r in runs if _one_to_n(r) is not None), key=lambda r: _one_to_n(r) or 0)
    good = [
        r
        for r in fan_out
        if r["ready"] == r["participants"]
        and r["loss"] is not None
        and r["loss"] < LOSS_LIMIT
        and (r["delivered_ratio"] or 0) > 1 - LOSS_LIMIT * 2
    ]
    largest = fan_out[-1] if fan_out else None
    summary: dict[str, Any] = {
        "max_subscribers_measured": max((_one_to_n(r) or 0 for r in good), default=0),
    }
    if largest is not None:
        n = _one_to_n(largest) or 1
        us = largest["server_cpu_us_per_packet"]
        per_subscriber_pps = largest["packets_forwarded_per_s"] / n
        summary.update(
            {
                "at": largest["scenario"],
                "us_per_packet": us,
                "subscribers_per_core_projected": (
                    1e6 / (us * per_subscriber_pps) if us and per_subscriber_pps else None
                ),
                "cpu_fraction": largest["server_cpu_fraction"],
                "loss": largest["loss"],
                "latency_p50_ms": largest["latency_ms"]["p50"],
                "latency_p99_ms": largest["latency_ms"]["p99"],
                "memory_per_participant_kib": (
                    largest["server_rss_per_participant_bytes"] / 1024
                    if largest["server_rss_per_participant_bytes"] is not None
                    else None
                ),
            }
        )
    meeting = next((r for r in runs if r["scenario"].startswith("meeting")), None)
    if meeting is not None:
        summary["meeting"] = {
            "us_per_packet": meeting["server_cpu_us_per_packet"],
            "loss": meeting["loss"],
            "latency_p99_ms": meeting["latency_ms"]["p99"],
            "memory_per_participant_kib": (
                meeting["server_rss_per_participant_bytes"] / 1024
                if meeting["server_rss_per_participant_bytes"] is not None
                else None
            ),
        }
    return summary


def summarize_results(results: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    floors = sorted(results["floor"], key=lambda f: f["subscribers"])
    if floors:
        largest = floors[-1]
        packets_per_s_per_subscriber = largest["packets_in"] / results["settings"]["duration_s"]
        us = largest["us_per_packet"]
        summary["floor"] = {
            "at": largest["scenario"],
            "us_per_packet": us,
            "subscribers_per_core_projected": 1e6 / (us * packets_per_s_per_subscriber),
            "max_subscribers_measured": max(
                (f["subscribers"] for f in floors if f["loss"] < LOSS_LIMIT), default=0
            ),
            "loss": largest["loss"],
            "latency_p50_ms": largest["latency_ms"]["p50"],
            "latency_p99_ms": largest["latency_ms"]["p99"],
            "memory_per_participant_kib": None,
        }
    for server in ("sfu_trio", "janus"):
        runs = [r for r in results["runs"] if r["server"] == server]
        if runs:
            summary[server] = _server_summary(runs)
    ratios: dict[str, float | None] = {}
    ours = summary.get("sfu_trio", {}).get("us_per_packet")
    for other in ("floor", "janus"):
        theirs = summary.get(other, {}).get("us_per_packet")
        ratios[f"sfu_trio_cpu_vs_{other}"] = ours / theirs if ours and theirs else None
    summary["ratios"] = ratios
    sfu = summary.get("sfu_trio", {})
    summary["marks"] = {
        "cpu_within_1.5x_floor": _at_most(ratios["sfu_trio_cpu_vs_floor"], MARKS["cpu_vs_floor"]),
        "cpu_within_2x_janus": _at_most(ratios["sfu_trio_cpu_vs_janus"], MARKS["cpu_vs_janus"]),
        "100_subscribers_under_0.5pct_loss": sfu.get("max_subscribers_measured", 0)
        >= MARKS["subscribers"],
        "p99_under_20ms_at_100": _at_most(sfu.get("latency_p99_ms"), MARKS["p99_ms"])
        if sfu.get("at") == f"1->{MARKS['subscribers']}"
        else None,
    }
    return summary


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _pair(p50: float | None, p99: float | None) -> str:
    return f"{_fmt(p50, '.2f')} / {_fmt(p99, '.2f')}"


def table(results: dict[str, Any]) -> str:
    """The summary table, the ratios and marks, then every run."""
    summary = results["summary"]
    lines = [
        "| | µs CPU / forwarded packet | max subscribers / core (<0.5 % loss) "
        "| added latency p50 / p99 (ms) | memory / participant |",
        "|---|---|---|---|---|",
    ]
    for name in ("floor", "sfu_trio", "janus"):
        row = summary.get(name)
        if row is None:
            lines.append(f"| {name} | not run | | | |")
            continue
        memory = row.get("memory_per_participant_kib")
        latency = _pair(row.get("latency_p50_ms"), row.get("latency_p99_ms"))
        lines.append(
            f"| {name} | {_fmt(row.get('us_per_packet'), '.1f')} "
            f"| {row.get('max_subscribers_measured', 0)} measured, "
            f"~{_fmt(row.get('subscribers_per_core_projected'), '.0f')} projected "
            f"| {latency} | {_fmt(memory, '.0f') + ' KiB' if memory is not None else 'n/a'} |"
        )
    ratios = summary["ratios"]
    lines.append("")
    lines.append(
        f"sfu_trio / floor CPU: {_fmt(ratios['sfu_trio_cpu_vs_floor'], '.2f')}x; "
        f"sfu_trio / Janus CPU: {_fmt(ratios['sfu_trio_cpu_vs_janus'], '.2f')}x"
    )
    lines.append("marks: " + ", ".join(f"{k}: {v}" for k, v in summary["marks"].items()))
    lines.append("")
    lines.append(
        "| server | scenario | ready | forwarded pkt/s | loss % | µs CPU/pkt | CPU % "
        "| p50 / p99 ms | first packet p50 ms | RSS/participant KiB | load avg |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for floor in results["floor"]:
        lines.append(
            f"| floor | {floor['scenario']} | - | "
            f"{_fmt(floor['packets_forwarded'] / results['settings']['duration_s'], '.0f')} "
            f"| {_fmt(floor['loss'] * 100, '.2f')} | {_fmt(floor['us_per_packet'], '.1f')} | "
            f"{_fmt(floor['cpu_s'] / results['settings']['duration_s'] * 100, '.0f')} "
            f"| {_pair(floor['latency_ms']['p50'], floor['latency_ms']['p99'])} | - | - | - |"
        )
    for run in results["runs"]:
        rss = run["server_rss_per_participant_bytes"]
        loss = run["loss"]
        cpu = run["server_cpu_fraction"]
        lines.append(
            f"| {run['server']} | {run['scenario']} | {run['ready']}/{run['participants']} "
            f"| {run['packets_forwarded_per_s']:.0f} "
            f"| {_fmt(None if loss is None else loss * 100, '.2f')} "
            f"| {_fmt(run['server_cpu_us_per_packet'], '.1f')} "
            f"| {_fmt(None if cpu is None else cpu * 100, '.0f')} "
            f"| {_pair(run['latency_ms']['p50'], run['latency_ms']['p99'])} "
            f"| {_fmt(run['first_packet_ms']['p50'], '.0f')} "
            f"| {_fmt(None if rss is None else rss / 1024, '.0f')} "
            f"| {run['load_average']:.1f} |"
        )
    for note in results.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
