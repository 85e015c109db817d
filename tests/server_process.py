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
from dataclasses import dataclass, field
from pathlib import Path


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
    log_path: Path | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['SFU_PORT']}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        """Everything the process wrote so far (when started with a ``log_path``)."""
        return "" if self.log_path is None else self.log_path.read_text(errors="replace")

    def wait_healthy(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not self.healthy():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode} during start-up\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"server did not become healthy within {seconds} s")
            time.sleep(0.05)  # polling the condition above

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 15 s."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server_process(log_path: Path | None = None, **extra: str) -> ServerProcess:
    """Start ``python -m sfu_trio`` without waiting; its output goes to ``log_path`` if given."""
    env = server_env(**extra)
    output = subprocess.DEVNULL if log_path is None else log_path.open("wb")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "sfu_trio"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    finally:
        if log_path is not None:
            output.close()  # type: ignore[union-attr]
    return ServerProcess(process, env, log_path)


@contextmanager
def run_server(log_path: Path | None = None, **extra: str) -> Iterator[ServerProcess]:
    """Start a server, wait until /health answers (30 s at most), stop it afterwards."""
    server = start_server_process(log_path, **extra)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
