"""The server's side of one signaling socket: a bounded outbox that never blocks the sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

OUTBOX_CAPACITY = 512


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for the client; ``data`` None means the envelope has no data."""

    type: str
    data: dict[str, Any] | None = None


class SignalingLink:
    """Messages queued for one WebSocket; the socket's writer task drains ``receive``.

    ``send`` never blocks: a client that stops reading until the outbox is full is disconnected
    instead of stalling the room. ``close`` lets the writer flush what is queued, then close the
    socket with ``close_code``.
    """

    def __init__(self, capacity: int = OUTBOX_CAPACITY) -> None:
        self._send, self.receive = trio.open_memory_channel[OutboundMessage](capacity)
        self.closed = False
        self.close_code = 1000
        self.close_reason = ""
        self.dropped = 0

    def send(self, type: str, data: dict[str, Any] | None = None) -> bool:
        if self.closed:
            self.dropped += 1
            return False
        try:
            self._send.send_nowait(OutboundMessage(type, data))
        except trio.WouldBlock:
            self.dropped += 1
            self.close(1008, "client too slow")
            return False
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.close_reason = reason
        self._send.close()
