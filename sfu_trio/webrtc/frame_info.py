"""What the forwarding path needs to know about one video RTP packet, and the codec error."""

from __future__ import annotations

from sfu_trio.webrtc.errors import ParseError

__all__ = ["CodecParseError", "VideoFrameInfo"]


class CodecParseError(ParseError):
    """A video payload descriptor (the codec-specific start of an RTP payload) is malformed."""


class VideoFrameInfo:
    """Keyframe and layer bits of one video RTP packet, read from its payload descriptor.

    ``keyframe``: this packet starts a keyframe (a decoder, or a simulcast switch, can start here).
    ``frame_start``: this packet starts a frame (of its spatial layer, for VP9/AV1).
    ``layer_sync``: a switch up to this packet's temporal layer is safe from here on (VP8 Y bit,
    VP9 U bit; also True on a keyframe).
    The ids are None when the descriptor does not carry them.
    """

    __slots__ = (
        "frame_start",
        "keyframe",
        "layer_sync",
        "picture_id",
        "spatial_id",
        "temporal_id",
        "tl0picidx",
    )

    def __init__(
        self,
        keyframe: bool,
        frame_start: bool,
        temporal_id: int | None = None,
        spatial_id: int | None = None,
        picture_id: int | None = None,
        tl0picidx: int | None = None,
        layer_sync: bool = False,
    ) -> None:
        self.keyframe = keyframe
        self.frame_start = frame_start
        self.temporal_id = temporal_id
        self.spatial_id = spatial_id
        self.picture_id = picture_id
        self.tl0picidx = tl0picidx
        self.layer_sync = layer_sync

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VideoFrameInfo):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def _key(self) -> tuple[object, ...]:
        return (
            self.keyframe,
            self.frame_start,
            self.temporal_id,
            self.spatial_id,
            self.picture_id,
            self.tl0picidx,
            self.layer_sync,
        )

    def __repr__(self) -> str:
        return (
            f"VideoFrameInfo(keyframe={self.keyframe}, frame_start={self.frame_start}, "
            f"temporal_id={self.temporal_id}, spatial_id={self.spatial_id}, "
            f"picture_id={self.picture_id}, tl0picidx={self.tl0picidx}, "
            f"layer_sync={self.layer_sync})"
        )
