"""Keyframe and layer bits of video RTP payloads: one cheap parser per codec.

Each ``parse_<codec>_untrusted(data, start=0, end=None)`` reads the payload descriptor of the
RTP payload ``data[start:end]`` (pass the packet buffer with the RTP header's ``header_length``
and ``len - padding`` to avoid slicing) and returns a :class:`VideoFrameInfo`. A malformed
descriptor raises :class:`CodecParseError` (a ParseError), never IndexError: the caller decides
whether to forward such a packet anyway. Pick the parser once per track with :func:`parser_for`.
"""

from __future__ import annotations

from collections.abc import Callable

from sfu_trio.webrtc.codecs_av1 import parse_av1_untrusted
from sfu_trio.webrtc.codecs_h264 import parse_h264_untrusted
from sfu_trio.webrtc.codecs_vp8 import parse_vp8_untrusted, rewrite_vp8_picture_id
from sfu_trio.webrtc.codecs_vp9 import parse_vp9_untrusted
from sfu_trio.webrtc.frame_info import CodecParseError, VideoFrameInfo

__all__ = [
    "CodecParseError",
    "PayloadParser",
    "VideoFrameInfo",
    "parse_av1_untrusted",
    "parse_h264_untrusted",
    "parse_vp8_untrusted",
    "parse_vp9_untrusted",
    "parser_for",
    "rewrite_vp8_picture_id",
]

PayloadParser = Callable[[bytes | bytearray | memoryview, int, "int | None"], VideoFrameInfo]

_PARSERS: dict[str, PayloadParser] = {
    "vp8": parse_vp8_untrusted,
    "vp9": parse_vp9_untrusted,
    "h264": parse_h264_untrusted,
    "av1": parse_av1_untrusted,
}


def parser_for(codec: str) -> PayloadParser | None:
    """The payload parser for a codec name or MIME type ("VP8", "video/H264"), or None."""
    return _PARSERS.get(codec.rpartition("/")[2].lower())
