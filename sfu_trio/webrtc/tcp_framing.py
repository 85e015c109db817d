"""RFC 4571 framing for ICE-TCP (RFC 6544): each packet is preceded by a 2-byte length."""

from __future__ import annotations

import struct

from sfu_trio.webrtc.errors import ParseError

__all__ = ["MAX_FRAME", "FramingError", "RfcFramer", "frame"]

MAX_FRAME = 0xFFFF
_LENGTH = struct.Struct("!H")


class FramingError(ParseError):
    """The TCP stream announced a frame longer than this framer accepts."""


def frame(payload: bytes | bytearray | memoryview) -> bytes:
    """Prefix `payload` with its RFC 4571 length; a payload over 65535 bytes is our own bug."""
    if len(payload) > MAX_FRAME:
        raise ValueError(f"payload of {len(payload)} bytes does not fit an RFC 4571 frame")
    return _LENGTH.pack(len(payload)) + bytes(payload)


class RfcFramer:
    """Reassembles RFC 4571 frames from a TCP byte stream split at arbitrary points.

    The buffer never holds more than one incomplete frame (at most `max_frame` + 2 bytes).
    A length above `max_frame` raises `FramingError`: the stream cannot be resynchronised,
    so the caller closes the connection. Empty frames are skipped.
    """

    __slots__ = ("_buffer", "max_frame")

    frame = staticmethod(frame)

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if not 0 < max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be in 1..{MAX_FRAME}")
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame waiting for the rest of the stream."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add stream bytes; return every frame they complete, in order."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        pos = 0
        end = len(buffer)
        while end - pos >= 2:
            (length,) = _LENGTH.unpack_from(buffer, pos)
            if length > self.max_frame:
                buffer.clear()
                raise FramingError(f"RFC 4571 frame of {length} bytes exceeds {self.max_frame}")
            if end - pos - 2 < length:
                break
            if length:
                frames.append(bytes(buffer[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        if pos:
            del buffer[:pos]
        return frames
