"""Fixtures of the state tests: a real redis-server, and both backends behind one harness."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest
import trio

from sfu_trio.state.backend import StateBackend
from sfu_trio.state.memory import MemoryStateBackend
from sfu_trio.state.redis import RedisStateBackend

STEP = 0.05
"""Seconds between two checks of a condition (virtual seconds for the memory backend)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_answers(port: int) -> bool:
    """Whether a Redis server answers on ``port`` (an error reply such as NOAUTH counts)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@dataclass
class RedisServer:
    """A throwaway ``redis-server`` (no persistence) on a free port; stoppable, restartable."""

    executable: str
    extra_args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", *self.extra_args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not redis_answers(self.port):
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited at start on port {self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING within 10 s")
            time.sleep(0.01)  # polling the condition above, not waiting for time to pass

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_executable() -> str:
    """``redis-server``'s path; missing: a failure under CI=true, a skip elsewhere."""
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return executable


def start_redis(executable: str, *extra_args: str) -> RedisServer:
    """A running redis-server with the given extra command-line arguments."""
    for _attempt in range(3):  # the free port may be taken between probe and bind
        server = RedisServer(executable, extra_args)
        try:
            server.start()
        except RuntimeError:
            continue
        return server
    raise RuntimeError("could not start redis-server")


@pytest.fixture(scope="session")
def redis_server(redis_executable: str) -> Iterator[RedisServer]:
    """One redis-server for the session; tests keep apart by key prefix."""
    server = start_redis(redis_executable)
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(redis_executable: str) -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may stop and restart."""
    server = start_redis(redis_executable)
    yield server
    server.stop()


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class BackendUnderTest:
    """A backend, and the way its time passes (virtual for memory, real for Redis)."""

    backend: StateBackend
    step: Callable[[], Awaitable[None]]

    async def wait_until(self, condition: Callable[[], Awaitable[bool]], steps: int = 100) -> None:
        """Check ``condition`` every STEP seconds until it holds (fails after ``steps`` steps)."""
        with trio.fail_after(10):
            for _ in range(steps):
                if await condition():
                    return
                await self.step()
        raise AssertionError(f"condition still false after {steps} steps of {STEP} s")


def memory_under_test() -> BackendUnderTest:
    clock = ManualClock()

    async def step() -> None:
        clock.advance(STEP)
        await trio.lowlevel.checkpoint()

    return BackendUnderTest(MemoryStateBackend(clock=clock), step)


@pytest.fixture(params=["memory", "redis"])
async def backend_under_test(request: pytest.FixtureRequest) -> AsyncIterator[BackendUnderTest]:
    if request.param == "memory":
        under_test = memory_under_test()
        async with under_test.backend:
            yield under_test
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    backend = RedisStateBackend.from_address(server.address, prefix=unique_prefix())

    async def step() -> None:
        await trio.sleep(STEP)

    async with backend:
        yield BackendUnderTest(backend, step)


@pytest.fixture
def backend(backend_under_test: BackendUnderTest) -> StateBackend:
    """Each backend in turn: the in-memory one and one on a real redis-server."""
    return backend_under_test.backend
