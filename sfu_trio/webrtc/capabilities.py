"""What the server can forward: codecs, RTCP feedback and RTP header extensions.

The SFU never decodes media, so "support" means: it can find keyframes and layers in the payload
(codecs), answer or generate the feedback (rtcp-fb), and read or rewrite the extension
(header extensions). Matching rules follow what browsers do (RFC 6184 and webrtc's H264 profile
logic for H264; profile-id for VP9; profile for AV1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Kind = Literal["audio", "video"]

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RTP_STREAM_ID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RTP_STREAM_ID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TRANSPORT_WIDE_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_VIDEO_ORIENTATION = "urn:3gpp:video-orientation"
URI_PLAYOUT_DELAY = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

VIDEO_FEEDBACK = frozenset(("nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"))
AUDIO_FEEDBACK = frozenset(("transport-cc",))


def _frozen(params: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(params))


@dataclass(frozen=True, slots=True)
class CodecCapability:
    """One codec the server forwards.

    ``fmtp`` holds the parameters that identify this variant (profile-id, profile-level-id,
    packetization-mode, AV1 profile) and, for audio, what the server's answer asks for.
    """

    kind: Kind
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    rtx: bool = False
    rtcp_fb: frozenset[str] = frozenset()

    @property
    def mime_type(self) -> str:
        return f"{self.kind}/{self.name}"

    def matches(
        self, name: str, clock_rate: int, channels: int | None, fmtp: Mapping[str, str | None]
    ) -> bool:
        """Whether an offered codec (rtpmap + fmtp) is this variant."""
        if name.lower() != self.name.lower() or clock_rate != self.clock_rate:
            return False
        if self.kind == "audio" and (channels or 1) != (self.channels or 1):
            return False
        lowered = self.name.lower()
        if lowered == "vp9":
            return _param(fmtp, "profile-id", "0") == self.fmtp.get("profile-id", "0")
        if lowered == "av1":
            return _param(fmtp, "profile", "0") == self.fmtp.get("profile", "0")
        if lowered == "h264":
            mode = _param(fmtp, "packetization-mode", "0")
            if mode != self.fmtp.get("packetization-mode", "0"):
                return False
            offered = h264_profile(_param(fmtp, "profile-level-id", "42000a"))
            return offered is not None and offered == h264_profile(
                self.fmtp.get("profile-level-id", "42000a")
            )
        return True


def _param(fmtp: Mapping[str, str | None], key: str, default: str) -> str:
    value = fmtp.get(key)
    return default if value is None else value


# (profile_idc, bit mask, bit pattern over profile_iop) -> profile, as in webrtc's
# h264_profile_level_id.cc: several idc/iop combinations denote the same profile.
_H264_PROFILES: tuple[tuple[int, int, int, str], ...] = (
    (0x42, 0b01001111, 0b01000000, "constrained-baseline"),
    (0x4D, 0b10001111, 0b10000000, "constrained-baseline"),
    (0x58, 0b11001111, 0b11000000, "constrained-baseline"),
    (0x42, 0b01001111, 0b00000000, "baseline"),
    (0x58, 0b11001111, 0b10000000, "baseline"),
    (0x4D, 0b10101111, 0b00000000, "main"),
    (0x64, 0b11111111, 0b00000000, "high"),
    (0x64, 0b11111111, 0b00001100, "constrained-high"),
    (0xF4, 0b11111111, 0b00000000, "predictive-high-444"),
)


def h264_profile(profile_level_id: str) -> str | None:
    """The H264 profile named by a profile-level-id (6 hex digits), ignoring the level."""
    if len(profile_level_id) != 6:
        return None
    try:
        value = int(profile_level_id, 16)
    except ValueError:
        return None
    idc, iop = value >> 16, (value >> 8) & 0xFF
    for profile_idc, mask, pattern, profile in _H264_PROFILES:
        if idc == profile_idc and iop & mask == pattern:
            return profile
    return None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The codecs (in the server's preference order) and header extensions it accepts."""

    codecs: tuple[CodecCapability, ...]
    header_extensions: Mapping[str, frozenset[str]]

    def find_codec(
        self,
        kind: str,
        name: str,
        clock_rate: int,
        channels: int | None,
        fmtp: Mapping[str, str | None],
    ) -> CodecCapability | None:
        for codec in self.codecs:
            if codec.kind == kind and codec.matches(name, clock_rate, channels, fmtp):
                return codec
        return None

    def accepts_extension(self, kind: str, uri: str) -> bool:
        extensions = self.header_extensions.get(kind)
        return extensions is not None and uri in extensions


def _video(name: str, **fmtp: str) -> CodecCapability:
    params = {key.replace("_", "-"): value for key, value in fmtp.items()}
    return CodecCapability(
        "video", name, 90000, fmtp=_frozen(params), rtx=True, rtcp_fb=VIDEO_FEEDBACK
    )


DEFAULT_CAPABILITIES = Capabilities(
    codecs=(
        CodecCapability(
            "audio",
            "opus",
            48000,
            2,
            fmtp=_frozen({"minptime": "10", "useinbandfec": "1"}),
            rtcp_fb=AUDIO_FEEDBACK,
        ),
        _video("VP8"),
        _video("VP9", profile_id="0"),
        _video("VP9", profile_id="2"),
        _video("H264", packetization_mode="1", profile_level_id="42e01f"),
        _video("H264", packetization_mode="1", profile_level_id="42001f"),
        _video("H264", packetization_mode="1", profile_level_id="4d001f"),
        _video("H264", packetization_mode="1", profile_level_id="640c1f"),
        _video("H264", packetization_mode="1", profile_level_id="64001f"),
        _video("AV1", profile="0"),
    ),
    header_extensions=MappingProxyType(
        {
            "audio": frozenset(
                (URI_MID, URI_ABS_SEND_TIME, URI_TRANSPORT_WIDE_CC, URI_AUDIO_LEVEL)
            ),
            "video": frozenset(
                (
                    URI_MID,
                    URI_RTP_STREAM_ID,
                    URI_REPAIRED_RTP_STREAM_ID,
                    URI_ABS_SEND_TIME,
                    URI_TRANSPORT_WIDE_CC,
                    URI_VIDEO_ORIENTATION,
                    URI_PLAYOUT_DELAY,
                )
            ),
        }
    ),
)
