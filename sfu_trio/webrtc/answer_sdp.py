"""Writing the answer (and ICE-restart offer) SDP from negotiated results: the server's view."""

from __future__ import annotations

import hashlib

from sfu_trio.webrtc.negotiated import Answer, LocalTransport, NegotiatedMedia
from sfu_trio.webrtc.sdp import (
    Direction,
    Extmap,
    Fingerprint,
    Group,
    MediaDescription,
    Msid,
    MsidSemantic,
    Origin,
    Rid,
    RtcpFeedback,
    RtpMap,
    SessionDescription,
    Simulcast,
    SsrcGroup,
)
from sfu_trio.webrtc.sdp_attributes import Setup, SimulcastStreams

_FLIPPED: dict[str | None, Direction | None] = {
    None: None,
    "sendrecv": None,
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
# (client sends, server sends) -> the answer's direction


def rejected_section(media: MediaDescription) -> MediaDescription:
    return MediaDescription(
        kind=media.kind,
        port=0,
        proto=media.proto,
        formats=list(media.formats),
        connection="IN IP4 0.0.0.0",
        mid=media.mid,
        direction="inactive" if media.is_rtp else None,
    )


def answer_section(offer: MediaDescription, agreed: NegotiatedMedia) -> MediaDescription:
    section = MediaDescription(
        kind=offer.kind,
        port=9,
        proto=offer.proto,
        formats=[],
        connection="IN IP4 0.0.0.0",
        mid=agreed.mid,
        direction=agreed.direction,
        rtcp_mux=True,
        rtcp_rsize=offer.rtcp_rsize,
    )
    for ext in offer.extmaps:
        if agreed.extensions.get(ext.uri) == ext.id:
            section.extmaps.append(Extmap(ext.id, ext.uri, _FLIPPED.get(ext.direction)))
    for codec in agreed.codecs:
        offered = offer.rtpmaps.get(codec.payload_type)
        name = offered.name if offered is not None else codec.mime_type.split("/", 1)[1]
        _add_codec(section, RtpMap(codec.payload_type, name, codec.clock_rate, codec.channels))
        section.rtcp_fbs.extend(
            RtcpFeedback(codec.payload_type, *_split_feedback(fb)) for fb in codec.rtcp_fb
        )
        if codec.fmtp:
            section.fmtps[codec.payload_type] = dict(codec.fmtp)
        if codec.rtx_payload_type is not None:
            _add_codec(section, RtpMap(codec.rtx_payload_type, "rtx", codec.clock_rate))
            section.fmtps[codec.rtx_payload_type] = {"apt": str(codec.payload_type)}
    streams = receive_streams(offer) if agreed.receive_rids else ()
    if streams:
        section.simulcast = Simulcast(recv=streams)
        section.rids = [Rid(rid, "recv") for rid in agreed.receive_rids]
    if agreed.outgoing is not None:
        _add_outgoing(section, agreed)
    return section


def _add_codec(section: MediaDescription, rtpmap: RtpMap) -> None:
    section.formats.append(str(rtpmap.payload_type))
    section.rtpmaps[rtpmap.payload_type] = rtpmap


def _split_feedback(name: str) -> tuple[str, str | None]:
    kind, _, parameter = name.partition(" ")
    return kind, parameter or None


def _add_outgoing(section: MediaDescription, agreed: NegotiatedMedia) -> None:
    track = agreed.outgoing
    assert track is not None
    codec = agreed.send_codec
    msid = f"{track.stream_id} {track.track_id}"
    section.msids.append(Msid(track.stream_id, track.track_id))
    ssrcs = [track.ssrc]
    if track.rtx_ssrc is not None and codec is not None and codec.rtx_payload_type is not None:
        ssrcs.append(track.rtx_ssrc)
        section.ssrc_groups.append(SsrcGroup("FID", (track.ssrc, track.rtx_ssrc)))
    for ssrc in ssrcs:
        section.ssrcs[ssrc] = {"cname": track.cname, "msid": msid}


def answer_session(
    offer: SessionDescription,
    previous: Answer | None,
    transport: LocalTransport,
    sections: list[MediaDescription],
    accepted_mids: list[str],
    results: list[NegotiatedMedia],
) -> SessionDescription:
    if previous is not None:
        old = previous.description.origin
        origin = Origin("-", old.session_id, old.session_version + 1)
    else:
        digest = hashlib.sha256(f"{transport.ice_ufrag}:{transport.ice_pwd}".encode()).digest()
        origin = Origin("-", int.from_bytes(digest[:7], "big"), 1)
    stream_ids = dict.fromkeys(m.outgoing.stream_id for m in results if m.outgoing is not None)
    return SessionDescription(
        origin=origin,
        groups=[Group("BUNDLE", tuple(accepted_mids))] if accepted_mids else [],
        extmap_allow_mixed=offer.extmap_allow_mixed,
        msid_semantic=MsidSemantic("WMS", tuple(stream_ids)),
        ice_lite=True,
        media=sections,
    )


def add_transport(
    description: SessionDescription,
    transport: LocalTransport,
    setup: Setup,
    accepted: list[bool],
) -> None:
    """ICE credentials, fingerprint and setup in every accepted section; candidates in the
    first one (they all share one transport through BUNDLE)."""
    first = True
    for section, is_accepted in zip(description.media, accepted, strict=True):
        if not is_accepted:
            continue
        section.ice_ufrag = transport.ice_ufrag
        section.ice_pwd = transport.ice_pwd
        section.fingerprints = [Fingerprint("sha-256", transport.fingerprint_sha256)]
        section.setup = setup
        if first and transport.candidates:
            default = transport.candidates[0]
            version = "IP6" if ":" in default.host else "IP4"
            section.port = default.port
            section.connection = f"IN {version} {default.host}"
            section.candidates = list(transport.candidates)
            section.end_of_candidates = True
        first = False


def receive_streams(media: MediaDescription) -> SimulcastStreams:
    """The client's send simulcast streams whose rids are declared ``a=rid:<id> send``."""
    if media.simulcast is None:
        return ()
    declared = {rid.id for rid in media.rids if rid.direction == "send"}
    streams = []
    for alternatives in media.simulcast.send:
        kept = tuple(alt for alt in alternatives if alt.rid in declared)
        if kept:
            streams.append(kept)
    return tuple(streams)
