"""A real ``python -m sfu_trio`` process: settings, start-up errors, and graceful shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
from functools import partial

import httpx
import trio

from tests.server_process import server_env
from tests.signaling_client import connect


def test_help_lists_every_setting() -> None:
    from sfu_trio.config import SETTINGS

    result = subprocess.run(
        [sys.executable, "-m", "sfu_trio", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for setting in SETTINGS:
        assert setting.env in result.stdout, setting.env


def test_invalid_setting_names_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sfu_trio"],
        env=server_env(SFU_MAX_PEERS_PER_ROOM="lots"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SFU_MAX_PEERS_PER_ROOM" in result.stderr


async def wait_until_healthy(url: str, process: trio.Process) -> None:
    async with httpx.AsyncClient() as http:
        with trio.fail_after(30):
            while True:
                assert process.returncode is None, "server exited during start-up"
                try:
                    if (await http.get(url + "/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.1)


async def start_healthy_server(nursery: trio.Nursery, env: dict[str, str]) -> trio.Process:
    """``python -m sfu_trio`` with ``env`` in ``nursery``, once its /health answers."""
    process: trio.Process = await nursery.start(
        partial(
            trio.run_process,
            [sys.executable, "-m", "sfu_trio"],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    await wait_until_healthy(f"http://127.0.0.1:{env['SFU_PORT']}", process)
    return process


async def test_sigterm_shuts_down_gracefully() -> None:
    env = server_env()
    url = f"http://127.0.0.1:{env['SFU_PORT']}"
    async with trio.open_nursery() as nursery:
        process = await start_healthy_server(nursery, env)
        async with httpx.AsyncClient() as http:
            metrics = await http.get(f"http://127.0.0.1:{env['METRICS_PORT']}/metrics")
            assert metrics.status_code == 200 and "sfu_active_peers_total" in metrics.text
        async with connect(url) as a, connect(url) as b:
            await a.join("room", "a")
            await b.join("room", "b")
            process.send_signal(signal.SIGTERM)
            started = trio.current_time()
            for client in (a, b):
                notice = await client.wait_for("server-shutdown")
                assert notice["reconnect"] is True
                assert await client.wait_closed() == 1001
            with trio.fail_after(float(env["SFU_SHUTDOWN_TIMEOUT"]) + 5):
                await process.wait()
            assert process.returncode == 0
            assert trio.current_time() - started < float(env["SFU_SHUTDOWN_TIMEOUT"]) + 2


async def test_a_second_signal_exits_at_once() -> None:
    """A request still in flight holds the graceful shutdown (up to SFU_SHUTDOWN_TIMEOUT, 60 s
    here); a second SIGTERM, sent once the first has been acted on, ends the process at once."""
    env = server_env(SFU_SHUTDOWN_TIMEOUT="60")
    url = f"http://127.0.0.1:{env['SFU_PORT']}"
    async with trio.open_nursery() as nursery:
        process = await start_healthy_server(nursery, env)
        stalled = await trio.open_tcp_stream("127.0.0.1", int(env["SFU_PORT"]))
        async with stalled, connect(url) as client:
            await stalled.send_all(  # the handler waits for a body that never comes
                b"POST /api/rooms HTTP/1.1\r\nHost: sfu\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            await client.join("room", "a")
            process.send_signal(signal.SIGTERM)
            await client.wait_for("server-shutdown")  # the first signal is being acted on
            await client.wait_closed()
            with trio.move_on_after(1.0):  # the drain is still waiting for the stalled request
                await process.wait()
            assert process.returncode is None, "the graceful shutdown did not wait"
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(5):
                await process.wait()
    assert process.returncode == 1
