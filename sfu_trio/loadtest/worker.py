"""A load-test worker process: runs its share of the participants and reports what it measured.

Protocol on stdin/stdout, one JSON object per line:

1. in: the plan ``{url, local_host, dialect, media, participants, setup_timeout, deadline_s}``;
2. out: ``{"event": "ready", "ready", "participants"}`` once every participant is connected (and
   receives every stream it should), or when ``setup_timeout`` passed;
3. in: the window ``{"start_ns", "end_ns"}`` (``time.monotonic_ns()``, the same clock in every
   process); the worker counts what arrives inside it and stops by itself at ``end_ns``;
4. out: ``{"event": "report", ...}`` (`WorkerStats.to_json`), then it exits.

The worker also stops on its own after ``deadline_s`` whatever happens, so a dead coordinator
never leaves load running.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict
from typing import Any

import trio

from sfu_trio.webrtc.certs import Certificate

from .participant import MediaOptions, ParticipantSpec, WorkerContext
from .stats import Window, WorkerStats

JOIN_INTERVAL = 0.01
LEAVE_GRACE = 3.0


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _read_line() -> dict[str, Any]:
    line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
    if not line:
        raise EOFError("the coordinator closed our stdin")
    result: dict[str, Any] = json.loads(line)
    return result


async def run_worker(plan: dict[str, Any]) -> WorkerStats:
    """Run ``plan`` (see the module docstring) and return what was measured."""
    stats = WorkerStats()
    specs = [ParticipantSpec(**p) for p in plan["participants"]]
    stats.participants = len(specs)
    ctx = WorkerContext(
        url=plan["url"],
        local_host=plan["local_host"],
        media=MediaOptions(**plan["media"]),
        stats=stats,
        window=Window(),
        stop=trio.Event(),
        certificate=Certificate.generate(),
        rng=random.Random(plan.get("seed")),
    )
    session_class: Any
    if plan.get("dialect", "sfu") == "janus":
        from .janus_session import JanusSession

        session_class = JanusSession
    else:
        from .sfu_session import SfuSession

        session_class = SfuSession
    readies = [trio.Event() for _ in specs]
    with trio.move_on_after(plan["deadline_s"]):
        async with trio.open_nursery() as nursery:
            for spec, ready in zip(specs, readies, strict=True):
                nursery.start_soon(session_class(ctx, spec, ready).run)
                await trio.sleep(JOIN_INTERVAL)
            with trio.move_on_after(plan["setup_timeout"]):
                for ready in readies:
                    await ready.wait()
            stats.ready = sum(ready.is_set() for ready in readies)
            _emit({"event": "ready", "ready": stats.ready, "participants": len(specs)})
            window = await _read_line()
            ctx.window.start_ns, ctx.window.end_ns = window["start_ns"], window["end_ns"]
            await trio.sleep(max(window["end_ns"] - time.monotonic_ns(), 0) / 1e9)
            ctx.stop.set()  # the sessions leave, then return
            nursery.cancel_scope.deadline = trio.current_time() + LEAVE_GRACE
    for spec, ready in zip(specs, readies, strict=True):
        if not ready.is_set():
            stats.failures.append(f"{spec.user}: not ready (streams missing or not connected)")
    return stats


def main() -> int:
    plan = json.loads(sys.stdin.readline())
    stats = trio.run(run_worker, plan)
    _emit({"event": "report", **stats.to_json()})
    return 0


def plan_json(
    *,
    url: str,
    local_host: str,
    dialect: str,
    media: MediaOptions,
    participants: list[ParticipantSpec],
    setup_timeout: float,
    deadline_s: float,
    seed: int,
) -> str:
    """The first line a worker reads."""
    return json.dumps(
        {
            "url": url,
            "local_host": local_host,
            "dialect": dialect,
            "media": asdict(media),
            "participants": [asdict(p) for p in participants],
            "setup_timeout": setup_timeout,
            "deadline_s": deadline_s,
            "seed": seed,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
