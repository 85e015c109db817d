"""aiortc as a client peer: the subprocess driver shared by the interop tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

HELPER = Path(__file__).with_name("aiortc_peer.py")


class AiortcPeer:
    """The subprocess and its JSON-lines conversation."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._buffer = b""
        self.frames: dict[str, int] = {}  # most frames reported decoded, by kind

    async def send(self, message: dict[str, Any]) -> None:
        await self._stdin.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            data = await self._stdout.receive_some(65536)
            if not data:
                raise EOFError("aiortc helper exited")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        if message.get("type") == "frames":
            kind = message["kind"]
            self.frames[kind] = max(self.frames.get(kind, 0), message["count"])
        return message

    async def wait_for(self, **fields: Any) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if all(message.get(k) == v for k, v in fields.items()):
                return message

    async def wait_decoded(self, kinds: dict[str, int]) -> None:
        """Until every ``kind`` has reported at least its count of decoded frames."""
        while any(self.frames.get(kind, 0) < count for kind, count in kinds.items()):
            await self.receive()


@asynccontextmanager
async def open_aiortc_peer(*args: str) -> AsyncIterator[AiortcPeer]:
    """Start the aiortc helper (``--no-publish`` for a receive-only client)."""
    process = await trio.lowlevel.open_process(
        [sys.executable, str(HELPER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        yield AiortcPeer(process)
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.aclose()
        await process.stdout.aclose()


@pytest.fixture
async def aiortc_peer() -> AsyncIterator[AiortcPeer]:
    async with open_aiortc_peer() as peer:
        yield peer


@pytest.fixture
def aiortc_factory() -> Callable[..., Any]:
    return open_aiortc_peer
