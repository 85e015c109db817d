"""One SDP media section (m= line and its attributes): model, parser dispatch, writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import cast

from aioice import Candidate

from sfu_trio.webrtc.sdp_attributes import (
    DIRECTIONS,
    Attribute,
    Direction,
    Extmap,
    Fingerprint,
    FmtpParams,
    Msid,
    Rid,
    RtcpFeedback,
    RtpMap,
    SdpParseError,
    Setup,
    Simulcast,
    SsrcGroup,
    format_fmtp,
    parse_candidate,
    parse_extmap,
    parse_fingerprint,
    parse_fmtp,
    parse_msid,
    parse_rid,
    parse_rtcp_fb,
    parse_rtpmap,
    parse_setup,
    parse_simulcast,
    parse_ssrc,
    parse_ssrc_group,
    parse_token,
    parse_uint,
    transport_lines,
)

# Static payload types (RFC 3551) that browsers offer without an a=rtpmap line.
_STATIC_PAYLOAD_TYPES = {
    0: RtpMap(0, "PCMU", 8000, None),
    8: RtpMap(8, "PCMA", 8000, None),
    9: RtpMap(9, "G722", 8000, None),
    13: RtpMap(13, "CN", 8000, None),
}


@dataclass(frozen=True, slots=True)
class Codec:
    """A read-only view of one payload type: rtpmap + fmtp + rtcp-fb."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int | None
    fmtp: FmtpParams
    rtcp_fb: tuple[RtcpFeedback, ...]
    kind: str

    @property
    def mime_type(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(slots=True, eq=False)
class MediaDescription:
    """One m= section and its attributes."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    connection: str | None = None
    bandwidths: list[str] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)
    mid: str | None = None
    direction: Direction | None = None
    rtcp: str | None = None
    rtcp_mux: bool = False
    rtcp_rsize: bool = False
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: str | None = None
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: Setup | None = None
    candidates: list[Candidate] = field(default_factory=list)
    end_of_candidates: bool = False
    extmaps: list[Extmap] = field(default_factory=list)
    rtpmaps: dict[int, RtpMap] = field(default_factory=dict)
    fmtps: dict[int, FmtpParams] = field(default_factory=dict)
    rtcp_fbs: list[RtcpFeedback] = field(default_factory=list)
    ssrcs: dict[int, dict[str, str | None]] = field(default_factory=dict)
    ssrc_groups: list[SsrcGroup] = field(default_factory=list)
    msids: list[Msid] = field(default_factory=list)
    rids: list[Rid] = field(default_factory=list)
    simulcast: Simulcast | None = None
    attributes: list[Attribute] = field(default_factory=list)

    def _compare_key(self) -> tuple[object, ...]:
        # aioice.Candidate has no __eq__: compare candidates by their SDP form.
        return tuple(
            tuple(c.to_sdp() for c in self.candidates)
            if f.name == "candidates"
            else getattr(self, f.name)
            for f in fields(self)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MediaDescription):
            return NotImplemented
        return self._compare_key() == other._compare_key()

    __hash__ = None  # type: ignore[assignment]

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto

    @property
    def payload_types(self) -> list[int]:
        return [int(f) for f in self.formats] if self.is_rtp else []

    def codecs(self) -> list[Codec]:
        """The payload types of the m= line in preference order, with their parameters."""
        result = []
        for pt in self.payload_types:
            rtpmap = self.rtpmaps.get(pt) or _STATIC_PAYLOAD_TYPES.get(pt)
            if rtpmap is None:
                continue
            feedback = tuple(
                fb for fb in self.rtcp_fbs if fb.payload_type is None or fb.payload_type == pt
            )
            result.append(
                Codec(
                    payload_type=pt,
                    name=rtpmap.name,
                    clock_rate=rtpmap.clock_rate,
                    channels=rtpmap.channels,
                    fmtp=self.fmtps.get(pt, {}),
                    rtcp_fb=feedback,
                    kind=self.kind,
                )
            )
        return result

    def to_lines(self, out: list[str]) -> None:
        """Append this section's lines (without line endings) to ``out``."""
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        out.append(f"m={self.kind} {port} {' '.join((self.proto, *self.formats))}")
        out.extend(self.extra_lines)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        if self.rtcp is not None:
            out.append(f"a=rtcp:{self.rtcp}")
        out.extend(f"a=candidate:{c.to_sdp()}" for c in self.candidates)
        if self.end_of_candidates:
            out.append("a=end-of-candidates")
        transport_lines(out, self.ice_ufrag, self.ice_pwd, self.ice_options, self.fingerprints)
        if self.setup is not None:
            out.append(f"a=setup:{self.setup}")
        if self.mid is not None:
            out.append(f"a=mid:{self.mid}")
        out.extend(f"a=extmap:{e}" for e in self.extmaps)
        if self.direction is not None:
            out.append(f"a={self.direction}")
        out.extend(f"a=msid:{m}" for m in self.msids)
        if self.rtcp_mux:
            out.append("a=rtcp-mux")
        if self.rtcp_rsize:
            out.append("a=rtcp-rsize")
        self._codec_lines(out)
        out.extend(f"a=ssrc-group:{g}" for g in self.ssrc_groups)
        for ssrc, attributes in self.ssrcs.items():
            for name, value in attributes.items():
                out.append(
                    f"a=ssrc:{ssrc} {name}" if value is None else f"a=ssrc:{ssrc} {name}:{value}"
                )
        out.extend(f"a=rid:{r}" for r in self.rids)
        if self.simulcast is not None:
            out.append(f"a=simulcast:{self.simulcast}")
        out.extend(f"a={a}" for a in self.attributes)

    def _codec_lines(self, out: list[str]) -> None:
        listed = [int(f) for f in self.formats if f.isdigit()] if self.is_rtp else []
        order = listed + [pt for pt in (*self.rtpmaps, *self.fmtps) if pt not in listed]
        # rtcp_fbs is kept in canonical order (see _canonical_feedback): '*' first, then per
        # payload type in format order, so interleaving them below keeps the list order.
        wildcard = [fb for fb in self.rtcp_fbs if fb.payload_type is None]
        out.extend(f"a=rtcp-fb:{fb}" for fb in wildcard)
        seen: set[int] = set()
        for pt in order:
            if pt in seen:
                continue
            seen.add(pt)
            rtpmap = self.rtpmaps.get(pt)
            if rtpmap is not None:
                out.append(f"a=rtpmap:{rtpmap}")
            out.extend(f"a=rtcp-fb:{fb}" for fb in self.rtcp_fbs if fb.payload_type == pt)
            params = self.fmtps.get(pt)
            if params is not None:
                out.append(f"a=fmtp:{format_fmtp(pt, params)}")
        out.extend(
            f"a=rtcp-fb:{fb}"
            for fb in self.rtcp_fbs
            if fb.payload_type is not None and fb.payload_type not in seen
        )


def parse_media_line(value: str) -> MediaDescription:
    parts = value.split(" ")
    if len(parts) < 4 or "" in parts:
        raise SdpParseError("m= line needs <media> <port> <proto> <fmt> ...")
    port_text, _, count_text = parts[1].partition("/")
    media = MediaDescription(
        kind=parts[0],
        port=parse_uint(port_text, 65535),
        proto=parts[2],
        formats=parts[3:],
        port_count=parse_uint(count_text, 65535) if count_text else None,
    )
    if media.is_rtp:
        for fmt in media.formats:
            parse_uint(fmt, 127)
    return media


def parse_media_attribute(m: MediaDescription, name: str, value: str | None) -> None:
    if value is None:
        if name in DIRECTIONS:
            m.direction = cast(Direction, name)
        elif name == "rtcp-mux":
            m.rtcp_mux = True
        elif name == "rtcp-rsize":
            m.rtcp_rsize = True
        elif name == "end-of-candidates":
            m.end_of_candidates = True
        else:
            m.attributes.append(Attribute(name, None))
        return
    parser = _MEDIA_PARSERS.get(name)
    if parser is None:
        m.attributes.append(Attribute(name, value))
    else:
        parser(m, value)


def _set_rtpmap(m: MediaDescription, value: str) -> None:
    rtpmap = parse_rtpmap(value)
    m.rtpmaps[rtpmap.payload_type] = rtpmap


def _set_fmtp(m: MediaDescription, value: str) -> None:
    pt, params = parse_fmtp(value)
    m.fmtps[pt] = params


def _set_ssrc(m: MediaDescription, value: str) -> None:
    ssrc, name, attr_value = parse_ssrc(value)
    m.ssrcs.setdefault(ssrc, {})[name] = attr_value


def _set_simulcast(m: MediaDescription, value: str) -> None:
    m.simulcast = parse_simulcast(value)


def _set(attribute: str, parse: Callable[[str], object]) -> Callable[[MediaDescription, str], None]:
    def setter(m: MediaDescription, value: str) -> None:
        setattr(m, attribute, parse(value))

    return setter


def _append(
    attribute: str, parse: Callable[[str], object]
) -> Callable[[MediaDescription, str], None]:
    def appender(m: MediaDescription, value: str) -> None:
        getattr(m, attribute).append(parse(value))

    return appender


def _candidate(value: str) -> Candidate:
    return parse_candidate(value)


def canonical_feedback(m: MediaDescription) -> None:
    """Order rtcp-fb as serialisation writes them: '*' first, then by position of the PT."""
    if not m.rtcp_fbs:
        return
    order = dict.fromkeys([*m.payload_types, *m.rtpmaps, *m.fmtps])
    rank = {pt: i for i, pt in enumerate(order)}
    last = len(rank)
    m.rtcp_fbs.sort(
        key=lambda fb: -1 if fb.payload_type is None else rank.get(fb.payload_type, last)
    )


_MEDIA_PARSERS: dict[str, Callable[[MediaDescription, str], None]] = {
    "mid": _set("mid", parse_token),
    "rtcp": _set("rtcp", str),
    "ice-ufrag": _set("ice_ufrag", parse_token),
    "ice-pwd": _set("ice_pwd", parse_token),
    "ice-options": _set("ice_options", str),
    "fingerprint": _append("fingerprints", parse_fingerprint),
    "setup": _set("setup", parse_setup),
    "candidate": _append("candidates", _candidate),
    "extmap": _append("extmaps", parse_extmap),
    "rtpmap": _set_rtpmap,
    "fmtp": _set_fmtp,
    "rtcp-fb": _append("rtcp_fbs", parse_rtcp_fb),
    "ssrc": _set_ssrc,
    "ssrc-group": _append("ssrc_groups", parse_ssrc_group),
    "msid": _append("msids", parse_msid),
    "rid": _append("rids", parse_rid),
    "simulcast": _set_simulcast,
}
