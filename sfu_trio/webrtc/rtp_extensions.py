"""RTP header extension URIs and the codecs of their values.

`encode_*` functions build element values from trusted numbers (ValueError on misuse);
`parse_*_untrusted` functions read values received from a peer (raise `RtpParseError`).
"""

from __future__ import annotations

from typing import NamedTuple

from sfu_trio.webrtc.rtp import RtpParseError

__all__ = [
    "ABS_SEND_TIME_URI",
    "AUDIO_LEVEL_URI",
    "MID_URI",
    "PLAYOUT_DELAY_URI",
    "REPAIRED_RID_URI",
    "RID_URI",
    "TWCC_URI",
    "VIDEO_ORIENTATION_URI",
    "PlayoutDelay",
    "VideoOrientation",
    "abs_send_time_from_seconds",
    "abs_send_time_to_seconds",
    "encode_abs_send_time",
    "encode_audio_level",
    "encode_playout_delay",
    "encode_sdes",
    "encode_twcc_sequence",
    "encode_video_orientation",
    "parse_abs_send_time_untrusted",
    "parse_audio_level_untrusted",
    "parse_playout_delay_untrusted",
    "parse_sdes_untrusted",
    "parse_twcc_sequence_untrusted",
    "parse_video_orientation_untrusted",
]

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
VIDEO_ORIENTATION_URI = "urn:3gpp:video-orientation"
PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

Buffer = bytes | bytearray | memoryview


# --- sdes:mid, rtp-stream-id, repaired-rtp-stream-id (RFC 8843 / RFC 8852) ---------------


def encode_sdes(value: str) -> bytes:
    """Encode a MID or RID (ASCII, 1..255 bytes)."""
    data = value.encode("ascii")
    if not 1 <= len(data) <= 255:
        raise ValueError("SDES extension value must be 1..255 bytes")
    return data


def parse_sdes_untrusted(data: Buffer) -> str:
    """Decode a MID or RID: printable ASCII; trailing NUL bytes (sent by some stacks) dropped."""
    raw = bytes(data).rstrip(b"\x00")
    if not raw or any(not 0x21 <= c <= 0x7E for c in raw):
        raise RtpParseError(f"bad SDES extension value {bytes(data)!r}")
    return raw.decode("ascii")


# --- abs-send-time: 24-bit 6.18 fixed point seconds ------------------------------------------


def abs_send_time_from_seconds(seconds: float) -> int:
    """The 24-bit abs-send-time value of a time in seconds (wraps every 64 s)."""
    return int(seconds * (1 << 18)) & 0xFFFFFF


def abs_send_time_to_seconds(value: int) -> float:
    """Seconds (0 <= s < 64) of a 24-bit abs-send-time value."""
    return (value & 0xFFFFFF) / (1 << 18)


def encode_abs_send_time(value: int) -> bytes:
    """Encode a 24-bit abs-send-time value (see `abs_send_time_from_seconds`)."""
    return (value & 0xFFFFFF).to_bytes(3, "big")


def parse_abs_send_time_untrusted(data: Buffer) -> int:
    """Decode a 3-byte abs-send-time value to its 24-bit integer."""
    if len(data) != 3:
        raise RtpParseError(f"abs-send-time must be 3 bytes, got {len(data)}")
    return int.from_bytes(data, "big")


# --- transport-wide-cc sequence number --------------------------------------------------------


def encode_twcc_sequence(sequence: int) -> bytes:
    """Encode a transport-wide sequence number (mod 2**16)."""
    return (sequence & 0xFFFF).to_bytes(2, "big")


def parse_twcc_sequence_untrusted(data: Buffer) -> int:
    """Decode a 2-byte transport-wide sequence number."""
    if len(data) != 2:
        raise RtpParseError(f"transport-wide-cc sequence must be 2 bytes, got {len(data)}")
    return data[0] << 8 | data[1]


# --- ssrc-audio-level (RFC 6464) ------------------------------------------------------------


def encode_audio_level(voice: bool, level: int) -> bytes:
    """Encode the voice-activity flag and a level in -dBov (0 loudest .. 127 silent)."""
    if not 0 <= level <= 127:
        raise ValueError("audio level must be 0..127")
    return bytes([(0x80 if voice else 0) | level])


def parse_audio_level_untrusted(data: Buffer) -> tuple[bool, int]:
    """Decode (voice, level); extra bytes beyond the first (padding by some stacks) ignored."""
    if len(data) < 1:
        raise RtpParseError("empty audio level extension")
    b = data[0]
    return b >= 0x80, b & 0x7F


# --- video orientation (3GPP TS 26.114 CVO) -------------------------------------------------


class VideoOrientation(NamedTuple):
    """CVO: back-facing camera, horizontal flip, clockwise rotation in degrees."""

    camera_back: bool
    flip: bool
    rotation: int


def encode_video_orientation(orientation: VideoOrientation) -> bytes:
    """Encode the one-byte CVO value; rotation must be 0, 90, 180 or 270."""
    if orientation.rotation not in (0, 90, 180, 270):
        raise ValueError("rotation must be 0, 90, 180 or 270")
    return bytes(
        [
            (0x08 if orientation.camera_back else 0)
            | (0x04 if orientation.flip else 0)
            | orientation.rotation // 90
        ]
    )


def parse_video_orientation_untrusted(data: Buffer) -> VideoOrientation:
    """Decode the CVO byte (the reserved high bits are ignored)."""
    if len(data) < 1:
        raise RtpParseError("empty video orientation extension")
    b = data[0]
    return VideoOrientation(bool(b & 0x08), bool(b & 0x04), (b & 0x03) * 90)


# --- playout-delay ----------------------------------------------------------------------------


class PlayoutDelay(NamedTuple):
    """Minimum and maximum playout delay, in 10 ms units (0..4095 each)."""

    minimum: int
    maximum: int


def encode_playout_delay(delay: PlayoutDelay) -> bytes:
    """Encode two 12-bit values in 3 bytes."""
    if not (0 <= delay.minimum <= 0xFFF and 0 <= delay.maximum <= 0xFFF):
        raise ValueError("playout delay values must be 0..4095 (10 ms units)")
    return (delay.minimum << 12 | delay.maximum).to_bytes(3, "big")


def parse_playout_delay_untrusted(data: Buffer) -> PlayoutDelay:
    """Decode a 3-byte playout-delay value."""
    if len(data) != 3:
        raise RtpParseError(f"playout-delay must be 3 bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    return PlayoutDelay(value >> 12, value & 0xFFF)
