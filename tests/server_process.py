"""Run a real ``python -m sfu_trio`` process on free loopback ports, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """Environment for a server bound to 127.0.0.1 on free ports."""
    env = dict(os.environ)
    env.update(
        {
            "SFU_HOST": "127.0.0.1",
            "SFU_PORT": str(free_port()),
            "METRICS_PORT": str(free_port()),
            "SFU_UDP_PORT": str(free_port(socket.SOCK_DGRAM)),
            "SFU_TCP_PORT": str(free_port()),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "SFU_SHUTDOWN_TIMEOUT": "5",
        }
    )
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    """A running server and where to reach it."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['SFU_PORT']}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


@contextmanager
def run_server(**extra: str) -> Iterator[ServerProcess]:
    """Start a server, wait until /health answers (30 s at most), stop it afterwards."""
    env = server_env(**extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "sfu_trio"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = ServerProcess(process, env)
    try:
        deadline = time.monotonic() + 30
        while not server.healthy():
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("server did not become healthy within 30 s")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
