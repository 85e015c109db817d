"""Fixtures of the cluster tests: a redis-server of the test's own and server processes using it."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.server_process import ServerProcess, start_server_process
from tests.state.conftest import RedisServer, redis_executable, start_redis

__all__ = ["redis_executable"]

POLL = 0.1
"""Seconds between two checks of a condition that another process makes true."""


class Cluster:
    """Server processes sharing one redis-server; ``nodes`` in the order they were started."""

    def __init__(self, redis: RedisServer, directory: Path) -> None:
        self.redis = redis
        self.directory = directory
        self.nodes: dict[str, ServerProcess] = {}

    def start(self, *node_ids: str, **env: str) -> list[ServerProcess]:
        """Start nodes in parallel and wait until each is ready (registered, relay listening)."""
        for node_id in node_ids:
            self.nodes[node_id] = self._spawn(node_id, env)
        for node_id in node_ids:
            for _attempt in range(3):
                try:
                    self.nodes[node_id].wait_healthy()
                    break
                except RuntimeError as exc:
                    # A free port probed for it may have been taken before the node bound it.
                    if "Address already in use" not in str(exc):
                        raise
                    self.nodes[node_id] = self._spawn(node_id, env)
        return [self.nodes[node_id] for node_id in node_ids]

    def _spawn(self, node_id: str, env: dict[str, str]) -> ServerProcess:
        return start_server_process(
            self.directory / f"{node_id}.log",
            REDIS_ADDR=self.redis.address,
            INSTANCE_ID=node_id,
            **env,
        )

    def stop_all(self) -> None:
        for server in self.nodes.values():
            server.stop()

    def keys(self) -> dict[str, str]:
        """Every key in Redis and its value (a sorted set as its members, space-separated)."""
        port = str(self.redis.port)
        names = redis_cli(port, "--scan").split()
        values = {}
        for name in names:
            kind = redis_cli(port, "TYPE", name).strip()
            if kind == "zset":
                values[name] = " ".join(redis_cli(port, "ZRANGE", name, "0", "-1").split())
            elif kind == "string":
                values[name] = redis_cli(port, "GET", name).strip()
        return values


def redis_cli(port: str, *args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", port, *args], capture_output=True, check=True, timeout=10
    )
    return result.stdout.decode()


@pytest.fixture
def cluster(redis_executable: str, tmp_path: Path) -> Iterator[Cluster]:
    redis = start_redis(redis_executable)
    cluster = Cluster(redis, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop_all()
        redis.stop()


def http_sync(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


async def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One HTTP request in a worker thread: (status, parsed JSON body or None)."""
    return await trio.to_thread.run_sync(http_sync, method, url, body)


async def wait_until(condition: Any, seconds: float, what: str) -> Any:
    """Poll ``await condition()`` until it returns something truthy; that value."""
    with trio.move_on_after(seconds):
        while True:
            value = await condition()
            if value:
                return value
            await trio.sleep(POLL)
    raise AssertionError(f"not within {seconds} s: {what}")
