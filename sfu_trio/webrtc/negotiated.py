"""The results of negotiation: what the server brings and what both sides agreed per m-line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple

from aioice import Candidate

from sfu_trio.webrtc.capabilities import h264_profile
from sfu_trio.webrtc.sdp import Direction, Fingerprint, Msid, SessionDescription


@dataclass(frozen=True, slots=True)
class LocalTransport:
    """The server's side of the one bundled transport of a peer."""

    ice_ufrag: str
    ice_pwd: str
    fingerprint_sha256: str  # "AB:CD:..."
    setup: Literal["passive", "active"] = "passive"
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingTrack:
    """A track the server sends to this client on a given mid."""

    kind: Literal["audio", "video"]
    ssrc: int
    rtx_ssrc: int | None
    stream_id: str  # msid stream id = the publisher's peerId
    track_id: str
    cname: str
    mime_type: str  # the publisher's codec, e.g. "video/VP8"
    profile_level_id: str | None = None  # for H264: send on an offered PT of this profile


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """A codec both sides support, with the offer's payload type."""

    payload_type: int
    mime_type: str
    clock_rate: int
    channels: int | None
    fmtp: Mapping[str, str | None]
    rtcp_fb: tuple[str, ...]  # "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"
    rtx_payload_type: int | None


class RemoteSsrc(NamedTuple):
    """A media SSRC the client announced, with its RTX SSRC from ``ssrc-group:FID``."""

    ssrc: int
    rtx_ssrc: int | None


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """What was agreed for one m-line; ``direction`` is the answer's, i.e. the server's view."""

    mid: str | None
    kind: str
    index: int
    accepted: bool
    direction: Direction
    codecs: tuple[NegotiatedCodec, ...] = ()
    extensions: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    receive_rids: tuple[str, ...] = ()
    remote_ssrcs: tuple[RemoteSsrc, ...] = ()
    remote_msid: Msid | None = None
    outgoing: OutgoingTrack | None = None
    rejection_reason: str | None = None

    @property
    def receives(self) -> bool:
        return self.direction in ("recvonly", "sendrecv")

    @property
    def sends(self) -> bool:
        return self.direction in ("sendonly", "sendrecv")

    @property
    def send_codec(self) -> NegotiatedCodec | None:
        """The codec the server sends ``outgoing`` with."""
        return None if self.outgoing is None else send_codec_for(self.codecs, self.outgoing)


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer SDP and the per-m-line results, in m-line order."""

    description: SessionDescription
    media: tuple[NegotiatedMedia, ...]
    setup: Literal["passive", "active"]  # the server's DTLS role: passive = DTLS server
    remote_ice_ufrag: str | None  # None only when no m-line was accepted
    remote_ice_pwd: str | None
    remote_fingerprints: tuple[Fingerprint, ...]

    @property
    def sdp(self) -> str:
        return self.description.serialize()


def answer_for_offer_mid(answer: Answer, mid: str) -> NegotiatedMedia | None:
    """The negotiated result of the offer's m-line with this mid."""
    for media in answer.media:
        if media.mid == mid:
            return media
    return None


def send_codec_for(
    codecs: tuple[NegotiatedCodec, ...], track: OutgoingTrack
) -> NegotiatedCodec | None:
    wanted = track.mime_type.lower()
    profile = h264_profile(track.profile_level_id) if track.profile_level_id else None
    for codec in codecs:
        if codec.mime_type.lower() != wanted:
            continue
        if profile is not None and h264_profile(codec.fmtp.get("profile-level-id") or "") != (
            profile
        ):
            continue
        return codec
    return None
