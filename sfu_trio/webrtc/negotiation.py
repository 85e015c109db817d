"""Answer a client's offer (the server is always the answerer, and ICE-lite).

``create_answer`` turns an offer plus the server's transport and the tracks it will send into an
``Answer``: the SDP to send back and, per m-line, what was agreed (codecs with the offer's payload
types, header extension ids, simulcast rids, remote SSRCs). Anything that cannot be negotiated is
rejected for that m-line only (port 0), never for the whole session. One BUNDLE transport carries
every accepted m-line.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from sfu_trio.webrtc.answer_sdp import (
    add_transport,
    answer_section,
    answer_session,
    receive_streams,
    rejected_section,
)
from sfu_trio.webrtc.capabilities import DEFAULT_CAPABILITIES, URI_RTP_STREAM_ID, Capabilities
from sfu_trio.webrtc.negotiated import (
    Answer,
    LocalTransport,
    NegotiatedCodec,
    NegotiatedMedia,
    OutgoingTrack,
    RemoteSsrc,
    answer_for_offer_mid,
    send_codec_for,
)
from sfu_trio.webrtc.sdp import (
    Direction,
    Fingerprint,
    MediaDescription,
    Msid,
    SessionDescription,
    Simulcast,
)

__all__ = [
    "Answer",
    "LocalTransport",
    "NegotiatedCodec",
    "NegotiatedMedia",
    "OutgoingTrack",
    "RemoteSsrc",
    "answer_for_offer_mid",
    "create_answer",
    "create_offer_for_ice_restart",
]

_ANSWER_DIRECTION: dict[tuple[bool, bool], Direction] = {
    (True, True): "sendrecv",
    (True, False): "recvonly",
    (False, True): "sendonly",
    (False, False): "inactive",
}


@dataclass(slots=True)
class _BundleTransport:
    ufrag: str | None = None
    pwd: str | None = None
    fingerprints: tuple[Fingerprint, ...] = ()
    accepted_mids: list[str] = field(default_factory=list)


def create_answer(
    offer: SessionDescription,
    transport: LocalTransport,
    outgoing: Mapping[str, OutgoingTrack],
    capabilities: Capabilities = DEFAULT_CAPABILITIES,
    *,
    previous: Answer | None = None,
) -> Answer:
    """Answer ``offer``; ``previous`` (the last answer on this connection) keeps the o= line's
    session id and bumps its version, as RFC 3264 asks of a renegotiation."""
    setup = _answer_setup(offer, transport)
    bundle = offer.bundle_mids()
    seen_mids: set[str] = set()
    shared = _BundleTransport()
    results: list[NegotiatedMedia] = []
    sections: list[MediaDescription] = []
    for index, media in enumerate(offer.media):
        reason = _rejection_reason(offer, media, bundle, seen_mids, shared, setup is None)
        negotiated = None
        if reason is None:
            negotiated = _negotiate(media, index, outgoing.get(media.mid or ""), capabilities)
            if not negotiated.codecs:
                reason, negotiated = "no codec in common", None
        if media.mid is not None:
            seen_mids.add(media.mid)
        if negotiated is None:
            results.append(_rejected(media, index, reason or "rejected"))
            sections.append(rejected_section(media))
            continue
        if not shared.accepted_mids:
            shared.ufrag = media.ice_ufrag or offer.ice_ufrag
            shared.pwd = media.ice_pwd or offer.ice_pwd
            shared.fingerprints = tuple(media.fingerprints or offer.fingerprints)
        shared.accepted_mids.append(negotiated.mid or "")
        results.append(negotiated)
        sections.append(answer_section(media, negotiated))
    description = answer_session(
        offer, previous, transport, sections, shared.accepted_mids, results
    )
    add_transport(description, transport, setup or transport.setup, [m.accepted for m in results])
    return Answer(
        description=description,
        media=tuple(results),
        setup=setup or transport.setup,
        remote_ice_ufrag=shared.ufrag,
        remote_ice_pwd=shared.pwd,
        remote_fingerprints=shared.fingerprints,
    )


def create_offer_for_ice_restart(
    previous_answer: Answer, transport: LocalTransport
) -> SessionDescription:
    """A server-originated offer mirroring the session with new ICE credentials (actpass)."""
    description = copy.deepcopy(previous_answer.description)
    description.origin.session_version += 1
    for media in description.media:
        media.candidates = []
        media.end_of_candidates = False
    accepted = [m.accepted for m in previous_answer.media]
    add_transport(description, transport, "actpass", accepted)
    return description


# --- per m-line decisions ---------------------------------------------------------------------


def _answer_setup(
    offer: SessionDescription, transport: LocalTransport
) -> Literal["passive", "active"] | None:
    """The server's a=setup; None when the offer's role leaves none (holdconn)."""
    offered = next((m.setup for m in offer.media if m.setup is not None), offer.setup)
    if offered == "active" or offered is None:  # RFC 4145: no a=setup means active
        return "passive"
    if offered == "passive":
        return "active"
    if offered == "actpass":
        return transport.setup
    return None


def _rejection_reason(
    offer: SessionDescription,
    media: MediaDescription,
    bundle: tuple[str, ...] | None,
    seen_mids: set[str],
    shared: _BundleTransport,
    setup_impossible: bool,
) -> str | None:
    if media.kind not in ("audio", "video"):
        return f"unsupported media {media.kind!r}"
    if not media.is_rtp or "SAVP" not in media.proto:
        return f"unsupported protocol {media.proto!r}"
    if media.port == 0 and not any(a.name == "bundle-only" for a in media.attributes):
        return "rejected by the offerer"
    if media.mid is None or media.mid in seen_mids:
        return "missing or duplicate mid"
    if bundle is not None and media.mid not in bundle:
        return "not in the BUNDLE group"
    if bundle is None and shared.accepted_mids:
        return "no BUNDLE group: only one m-line can be accepted"
    if not media.rtcp_mux:
        return "rtcp-mux is required"
    ufrag = media.ice_ufrag or offer.ice_ufrag
    if ufrag is None or not (media.ice_pwd or offer.ice_pwd):
        return "no ICE credentials"
    if not (media.fingerprints or offer.fingerprints):
        return "no DTLS fingerprint"
    if shared.accepted_mids and ufrag != shared.ufrag:
        return "ICE credentials differ from the bundled transport"
    if setup_impossible:
        return "unsupported DTLS setup role"
    return None


def _negotiate(
    media: MediaDescription,
    index: int,
    track: OutgoingTrack | None,
    capabilities: Capabilities,
) -> NegotiatedMedia:
    codecs = _negotiate_codecs(media, capabilities)
    extensions: dict[str, int] = {}
    for ext in media.extmaps:
        if ext.uri not in extensions and capabilities.accepts_extension(media.kind, ext.uri):
            extensions[ext.uri] = ext.id
    offered = media.direction or "sendrecv"
    client_sends = offered in ("sendrecv", "sendonly")
    client_receives = offered in ("sendrecv", "recvonly")
    if track is not None and not (
        client_receives and track.kind == media.kind and send_codec_for(codecs, track) is not None
    ):
        track = None
    direction = _ANSWER_DIRECTION[(client_sends, track is not None)]
    rids: tuple[str, ...] = ()
    if client_sends and URI_RTP_STREAM_ID in extensions:
        rids = tuple(Simulcast.rid_ids(receive_streams(media)))
    return NegotiatedMedia(
        mid=media.mid,
        kind=media.kind,
        index=index,
        accepted=True,
        direction=direction,
        codecs=codecs,
        extensions=MappingProxyType(extensions),
        receive_rids=rids,
        remote_ssrcs=_remote_ssrcs(media) if client_sends else (),
        remote_msid=_remote_msid(media) if client_sends else None,
        outgoing=track,
    )


def _negotiate_codecs(
    media: MediaDescription, capabilities: Capabilities
) -> tuple[NegotiatedCodec, ...]:
    offered = media.codecs()
    rtx_for: dict[int, int] = {}
    for codec in offered:
        apt = codec.fmtp.get("apt")
        if codec.name.lower() == "rtx" and apt is not None and apt.isdigit():
            rtx_for.setdefault(int(apt), codec.payload_type)
    result = []
    for codec in offered:
        cap = capabilities.find_codec(
            media.kind, codec.name, codec.clock_rate, codec.channels, codec.fmtp
        )
        if cap is None:
            continue
        feedback = dict.fromkeys(fb.name for fb in codec.rtcp_fb if fb.name in cap.rtcp_fb)
        result.append(
            NegotiatedCodec(
                payload_type=codec.payload_type,
                mime_type=cap.mime_type,
                clock_rate=codec.clock_rate,
                channels=codec.channels,
                # Audio: what the server wants to receive. Video: echo the offer (H264 keeps
                # the offer's level, the usual answer).
                fmtp=MappingProxyType(dict(cap.fmtp) if cap.kind == "audio" else codec.fmtp),
                rtcp_fb=tuple(feedback),
                rtx_payload_type=rtx_for.get(codec.payload_type) if cap.rtx else None,
            )
        )
    return tuple(result)


def _remote_ssrcs(media: MediaDescription) -> tuple[RemoteSsrc, ...]:
    rtx_of: dict[int, int] = {}
    for group in media.ssrc_groups:
        if group.semantics == "FID" and len(group.ssrcs) == 2:
            rtx_of[group.ssrcs[0]] = group.ssrcs[1]
    repairs = set(rtx_of.values())
    ordered = dict.fromkeys([*media.ssrcs, *(s for g in media.ssrc_groups for s in g.ssrcs)])
    return tuple(RemoteSsrc(s, rtx_of.get(s)) for s in ordered if s not in repairs)


def _remote_msid(media: MediaDescription) -> Msid | None:
    if media.msids:
        return media.msids[0]
    for attributes in media.ssrcs.values():
        value = attributes.get("msid")
        if value:
            parts = value.split()
            return Msid(parts[0], parts[1] if len(parts) > 1 else None)
    return None


def _rejected(media: MediaDescription, index: int, reason: str) -> NegotiatedMedia:
    return NegotiatedMedia(
        mid=media.mid,
        kind=media.kind,
        index=index,
        accepted=False,
        direction="inactive",
        rejection_reason=reason,
    )
