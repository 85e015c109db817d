"""Synthetic RTP streams: VP8-shaped video and Opus-shaped audio, with no encoder.

Every packet ends with a 12-byte *trailer* the SFU forwards untouched (it never rewrites payload
bytes past the codec descriptor): the publisher's packet index in its stream (u32) and the send
time (u64, ``time.monotonic_ns()``, one clock for every process of a machine). A subscriber reads
it back with `read_trailer` to count end-to-end loss (the SFU renumbers RTP sequence numbers, so
they cannot show a packet the SFU dropped) and the latency the SFU added.

Packets are built in place in preallocated buffers (one `struct.pack_into` per header) so that a
publisher costs little next to the server under test.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TRAILER = struct.Struct("!IQ")
TRAILER_SIZE = TRAILER.size
_HEADER = struct.Struct("!BBHII")
_VP8_DESCRIPTOR = struct.Struct("!BBH")  # X|S|PID=0, I, M|15-bit picture id
VP8_PAYLOAD_TYPE = 96
OPUS_PAYLOAD_TYPE = 111
MAX_PAYLOAD = 1100
AUDIO_INTERVAL = 0.02
OPUS_PAYLOAD_SIZE = 120  # ~48 kbit/s with headers


def _extension_block(elements: list[tuple[int, bytes]]) -> bytes:
    """An RFC 8285 one-byte-header extension block (profile 0xBEDE), padded to 32 bits."""
    body = b"".join(bytes([ext_id << 4 | (len(value) - 1)]) + value for ext_id, value in elements)
    body += bytes(-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


def read_trailer(packet: bytes) -> tuple[int, int]:
    """(packet index, send time in ns) from the end of a forwarded RTP packet."""
    index, sent_ns = TRAILER.unpack_from(packet, len(packet) - TRAILER_SIZE)
    return int(index), int(sent_ns)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One RTP stream a publisher sends (a simulcast layer is one stream)."""

    ssrc: int
    payload_type: int
    mid_extension_id: int
    mid: str
    rid: str | None = None
    rid_extension_id: int = 0


class _Stream:
    """Header and trailer writing shared by audio and video streams."""

    __slots__ = ("_extensions", "_header_size", "index", "payload_type", "seq", "ssrc", "timestamp")

    def __init__(self, spec: StreamSpec, first_seq: int, first_timestamp: int) -> None:
        elements = [(spec.mid_extension_id, spec.mid.encode())]
        if spec.rid is not None:
            elements.append((spec.rid_extension_id, spec.rid.encode()))
        self._extensions = _extension_block(elements)
        self._header_size = 12 + len(self._extensions)
        self.ssrc = spec.ssrc
        self.payload_type = spec.payload_type
        self.seq = first_seq & 0xFFFF
        self.timestamp = first_timestamp & 0xFFFFFFFF
        self.index = 0

    def _buffer(self, payload_size: int) -> bytearray:
        buf = bytearray(self._header_size + payload_size)
        buf[12 : self._header_size] = self._extensions
        return buf

    def _finish(self, buf: bytearray, marker: bool, now_ns: int) -> bytes:
        _HEADER.pack_into(
            buf,
            0,
            0x90,  # V=2, X=1
            self.payload_type | (0x80 if marker else 0),
            self.seq,
            self.timestamp,
            self.ssrc,
        )
        TRAILER.pack_into(buf, len(buf) - TRAILER_SIZE, self.index, now_ns)
        self.seq = (self.seq + 1) & 0xFFFF
        self.index += 1
        return bytes(buf)


class VideoStream(_Stream):
    """VP8 frames of a constant size: ``bitrate`` bit/s at ``fps`` frames/s.

    Each frame is split into packets of at most `MAX_PAYLOAD` bytes with a VP8 descriptor
    (15-bit picture id); the first packet of a keyframe has the P bit clear, which is all an
    SFU reads to find keyframes.
    """

    __slots__ = ("_buffers", "_timestamp_step", "picture_id")

    def __init__(
        self, spec: StreamSpec, bitrate: int, fps: float, first_seq: int = 1, first_ts: int = 0
    ) -> None:
        super().__init__(spec, first_seq, first_ts)
        frame_bytes = max(int(bitrate / 8 / fps), 64)
        count = -(-frame_bytes // MAX_PAYLOAD)
        size = max(-(-frame_bytes // count), _VP8_DESCRIPTOR.size + 1 + TRAILER_SIZE)
        self._buffers = [self._buffer(size) for _ in range(count)]
        self._timestamp_step = round(90_000 / fps)
        self.picture_id = 0

    @property
    def packets_per_frame(self) -> int:
        return len(self._buffers)

    def frame(self, keyframe: bool, now_ns: int) -> list[bytes]:
        """The RTP packets of the next frame (unprotected)."""
        out = []
        last = len(self._buffers) - 1
        offset = self._header_size
        picture = 0x8000 | self.picture_id
        for i, buf in enumerate(self._buffers):
            _VP8_DESCRIPTOR.pack_into(buf, offset, 0x90 if i == 0 else 0x80, 0x80, picture)
            buf[offset + 4] = 0x00 if keyframe else 0x01  # VP8 P bit (only read when S=1)
            out.append(self._finish(buf, i == last, now_ns))
        self.timestamp = (self.timestamp + self._timestamp_step) & 0xFFFFFFFF
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        return out


class AudioStream(_Stream):
    """Opus-sized packets, one every 20 ms (the payload bytes are not Opus)."""

    __slots__ = ("_buf",)

    def __init__(self, spec: StreamSpec, first_seq: int = 1, first_ts: int = 0) -> None:
        super().__init__(spec, first_seq, first_ts)
        self._buf = self._buffer(OPUS_PAYLOAD_SIZE)

    def packet(self, now_ns: int) -> bytes:
        data = self._finish(self._buf, False, now_ns)
        self.timestamp = (self.timestamp + 960) & 0xFFFFFFFF
        return data


def simulcast_bitrates(bitrate: int, layers: int) -> list[int]:
    """Bitrates of simulcast layers, lowest first: each a quarter of the next, top = bitrate."""
    return [max(bitrate // 4 ** (layers - 1 - i), 30_000) for i in range(layers)]
