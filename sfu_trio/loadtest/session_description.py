"""The SDP a load-test participant offers (or answers with), and what it reads from the other side.

The participant offers like a browser would: BUNDLE, rtcp-mux, one ICE ufrag/pwd and DTLS
fingerprint, ``a=setup:active`` (it is always the DTLS client), its send m-lines (Opus, VP8, with
``a=ssrc`` lines or, for simulcast, ``a=rid``/``a=simulcast``) and recvonly m-lines to receive on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sfu_trio.webrtc.rtp_extensions import MID_URI, REPAIRED_RID_URI, RID_URI
from sfu_trio.webrtc.sdp import SessionDescription

from .synthetic import OPUS_PAYLOAD_TYPE, VP8_PAYLOAD_TYPE

MID_EXTENSION_ID = 1
RID_EXTENSION_ID = 10
REPAIRED_RID_EXTENSION_ID = 11
RTX_PAYLOAD_TYPE = 97
SIMULCAST_RIDS = ("q", "h", "f")  # lowest first


@dataclass(frozen=True, slots=True)
class LocalTransport:
    """ICE credentials, DTLS fingerprint and host candidate of a participant."""

    ufrag: str
    pwd: str
    fingerprint: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class SendSection:
    """One send m-line: its mid, kind and SSRCs (one per simulcast layer, lowest first)."""

    mid: str
    kind: str
    ssrcs: tuple[int, ...]
    track_id: str
    simulcast: bool = False


@dataclass(slots=True)
class RemoteTransport:
    """What a participant needs from the other side's SDP."""

    ufrag: str
    pwd: str
    fingerprint: str
    candidates: list[tuple[str, int]] = field(default_factory=list)
    ssrcs: dict[int, str] = field(default_factory=dict)  # SSRC the other side sends -> kind
    mids: list[tuple[str, str]] = field(default_factory=list)  # (mid, kind) in m-line order
    payload_types: dict[str, int] = field(default_factory=dict)  # mid -> Opus / VP8 type


def _transport_lines(transport: LocalTransport, setup: str, with_candidate: bool) -> list[str]:
    lines = [
        f"a=ice-ufrag:{transport.ufrag}",
        f"a=ice-pwd:{transport.pwd}",
        f"a=fingerprint:sha-256 {transport.fingerprint}",
        f"a=setup:{setup}",
        "a=rtcp-mux",
    ]
    if with_candidate:
        lines.append(f"a=candidate:1 1 udp 2130706431 {transport.host} {transport.port} typ host")
        lines.append("a=end-of-candidates")
    return lines


def _codec_lines(kind: str, pt: int) -> list[str]:
    if kind == "audio":
        return [f"a=rtpmap:{pt} opus/48000/2", f"a=fmtp:{pt} minptime=10;useinbandfec=1"]
    return [
        f"a=rtpmap:{pt} VP8/90000",
        f"a=rtcp-fb:{pt} nack",
        f"a=rtcp-fb:{pt} nack pli",
        f"a=rtcp-fb:{pt} ccm fir",
        f"a=rtcp-fb:{pt} goog-remb",
    ]


def _section(
    kind: str,
    mid: str,
    direction: str,
    transport: LocalTransport,
    first: bool,
    payload_type: int | None = None,
) -> list[str]:
    if payload_type is None:
        payload_type = OPUS_PAYLOAD_TYPE if kind == "audio" else VP8_PAYLOAD_TYPE
    return [
        f"m={kind} 9 UDP/TLS/RTP/SAVPF {payload_type}",
        "c=IN IP4 0.0.0.0",
        *_transport_lines(transport, "active", with_candidate=first),
        f"a=mid:{mid}",
        f"a=extmap:{MID_EXTENSION_ID} {MID_URI}",
        f"a={direction}",
        *_codec_lines(kind, payload_type),
    ]


def build_offer(
    transport: LocalTransport,
    cname: str,
    sends: list[SendSection],
    receive_slots: list[tuple[str, str]],
    session_version: int = 1,
) -> str:
    """An offer with ``sends`` (sendonly) then ``receive_slots`` ((mid, kind), recvonly)."""
    mids = [s.mid for s in sends] + [mid for mid, _ in receive_slots]
    lines = [
        "v=0",
        f"o=- 4611731400430051336 {session_version} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        f"a=group:BUNDLE {' '.join(mids)}",
        "a=msid-semantic: WMS",
    ]
    for index, send in enumerate(sends):
        lines += _section(send.kind, send.mid, "sendonly", transport, first=index == 0)
        lines.append(f"a=msid:{cname} {send.track_id}")
        if send.simulcast:
            lines.append(f"a=extmap:{RID_EXTENSION_ID} {RID_URI}")
            lines.append(f"a=extmap:{REPAIRED_RID_EXTENSION_ID} {REPAIRED_RID_URI}")
            rids = SIMULCAST_RIDS[: len(send.ssrcs)]
            lines += [f"a=rid:{rid} send" for rid in rids]
            lines.append(f"a=simulcast:send {';'.join(rids)}")
        else:
            for ssrc in send.ssrcs:
                lines.append(f"a=ssrc:{ssrc} cname:{cname}")
                lines.append(f"a=ssrc:{ssrc} msid:{cname} {send.track_id}")
    for mid, kind in receive_slots:
        lines += _section(kind, mid, "recvonly", transport, first=not sends and mid == mids[0])
    return "\r\n".join(lines) + "\r\n"


def build_answer(offer: RemoteTransport, transport: LocalTransport, cname: str) -> str:
    """A recvonly answer to an offer the other side made (Janus subscribers), setup:active."""
    mids = [mid for mid, _ in offer.mids]
    lines = [
        "v=0",
        "o=- 4611731400430051337 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        f"a=group:BUNDLE {' '.join(mids)}",
        "a=msid-semantic: WMS",
    ]
    for i, (mid, kind) in enumerate(offer.mids):
        if kind not in ("audio", "video"):
            lines += [f"m={kind} 0 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0"]
            lines.append(f"a=mid:{mid}")
            continue
        pt = offer.payload_types.get(mid)
        lines += _section(kind, mid, "recvonly", transport, first=i == 0, payload_type=pt)
    return "\r\n".join(lines) + "\r\n"


def parse_remote(text: str) -> RemoteTransport:
    """The other side's ICE credentials, fingerprint, UDP candidates and sent SSRCs."""
    description = SessionDescription.parse_untrusted(text)
    ufrag = description.ice_ufrag
    pwd = description.ice_pwd
    fingerprints = list(description.fingerprints)
    remote = RemoteTransport("", "", "")
    for media in description.media:
        remote.mids.append((media.mid or "", media.kind))
        for payload_type, rtpmap in media.rtpmaps.items():
            if rtpmap.name.lower() in ("opus", "vp8") and media.mid is not None:
                remote.payload_types.setdefault(media.mid, payload_type)
        ufrag = ufrag or media.ice_ufrag
        pwd = pwd or media.ice_pwd
        fingerprints = fingerprints or list(media.fingerprints)
        for candidate in media.candidates:
            address = (candidate.host, candidate.port)
            if candidate.transport.lower() == "udp" and address not in remote.candidates:
                remote.candidates.append(address)
        if media.port != 0 and media.direction in (None, "sendrecv", "sendonly"):
            for ssrc in media.ssrcs:
                remote.ssrcs[ssrc] = media.kind
    sha256 = next((f.value for f in fingerprints if f.algorithm.lower() == "sha-256"), "")
    remote.ufrag, remote.pwd, remote.fingerprint = ufrag or "", pwd or "", sha256
    return remote
