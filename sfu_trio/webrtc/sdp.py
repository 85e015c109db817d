"""SDP (RFC 8866) as a typed model: parse untrusted text, serialise back.

The model covers what WebRTC uses (JSEP, RFC 8829): session-level transport attributes and, per
media section (``sdp_media.MediaDescription``), ICE/DTLS, RTP codecs, header extensions, SSRCs,
msid, rid and simulcast. Any other attribute is kept verbatim in ``attributes`` so a
parse/serialise round trip loses nothing the model cannot name. Serialisation always writes CRLF
and a canonical attribute order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from sfu_trio.webrtc.sdp_attributes import (
    DIRECTIONS,
    Attribute,
    Direction,
    Extmap,
    Fingerprint,
    FmtpParams,
    Group,
    Msid,
    MsidSemantic,
    Origin,
    Rid,
    RtcpFeedback,
    RtpMap,
    SdpParseError,
    Setup,
    Simulcast,
    SimulcastRid,
    SsrcGroup,
    parse_fingerprint,
    parse_group,
    parse_msid_semantic,
    parse_origin,
    parse_setup,
    parse_token,
    transport_lines,
)
from sfu_trio.webrtc.sdp_media import (
    Codec,
    MediaDescription,
    canonical_feedback,
    parse_media_attribute,
    parse_media_line,
)

__all__ = [
    "Attribute",
    "Codec",
    "Direction",
    "Extmap",
    "Fingerprint",
    "FmtpParams",
    "Group",
    "MediaDescription",
    "Msid",
    "MsidSemantic",
    "Origin",
    "Rid",
    "RtcpFeedback",
    "RtpMap",
    "SdpParseError",
    "SessionDescription",
    "Setup",
    "Simulcast",
    "SimulcastRid",
    "SsrcGroup",
]

MAX_SDP_LENGTH = 4 * 1024 * 1024
MAX_MEDIA_SECTIONS = 1024
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(slots=True)
class SessionDescription:
    """A whole SDP: session-level fields and the media sections in m-line order."""

    origin: Origin = field(default_factory=Origin)
    name: str = "-"
    timing: str = "0 0"
    connection: str | None = None
    bandwidths: list[str] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    extmap_allow_mixed: bool = False
    msid_semantic: MsidSemantic | None = None
    ice_lite: bool = False
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: str | None = None
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: Setup | None = None
    direction: Direction | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    @classmethod
    def parse_untrusted(cls, text: str) -> SessionDescription:
        """Parse SDP text from a remote peer; raise SdpParseError if it is malformed."""
        return _parse(text)

    def serialize(self) -> str:
        out = [
            "v=0",
            f"o={self.origin}",
            f"s={self.name}",
            *self.extra_lines,
        ]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        out.append(f"t={self.timing}")
        if self.ice_lite:
            out.append("a=ice-lite")
        out.extend(f"a=group:{g}" for g in self.groups)
        if self.extmap_allow_mixed:
            out.append("a=extmap-allow-mixed")
        if self.msid_semantic is not None:
            out.append(f"a=msid-semantic:{self.msid_semantic}")
        transport_lines(out, self.ice_ufrag, self.ice_pwd, self.ice_options, self.fingerprints)
        if self.setup is not None:
            out.append(f"a=setup:{self.setup}")
        if self.direction is not None:
            out.append(f"a={self.direction}")
        out.extend(f"a={a}" for a in self.attributes)
        for media in self.media:
            media.to_lines(out)
        out.append("")
        return "\r\n".join(out)

    __str__ = serialize

    def bundle_mids(self) -> tuple[str, ...] | None:
        """The mids of the first BUNDLE group, or None without one."""
        for group in self.groups:
            if group.semantics == "BUNDLE":
                return group.mids
        return None

    def media_by_mid(self, mid: str) -> MediaDescription | None:
        for media in self.media:
            if media.mid == mid:
                return media
        return None


# --- parsing -------------------------------------------------------------------------------


def _parse(text: str) -> SessionDescription:
    if not isinstance(text, str):
        raise SdpParseError("SDP must be text")
    if len(text) > MAX_SDP_LENGTH:
        raise SdpParseError(f"SDP longer than {MAX_SDP_LENGTH} characters")
    bad = _FORBIDDEN_CHARS.search(text)
    if bad is not None:
        raise SdpParseError(f"control character at offset {bad.start()}")
    lines = text.split("\n")
    session = SessionDescription()
    media: MediaDescription | None = None
    seen_version = seen_origin = seen_name = seen_timing = False
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            continue
        try:
            if "\r" in line or len(line) < 2 or line[1] != "=":
                raise SdpParseError("not a <type>=<value> line")
            kind, value = line[0], line[2:]
            if not seen_version:
                if line != "v=0":
                    raise SdpParseError("SDP must start with v=0")
                seen_version = True
            elif kind == "a":
                name, colon, attr_value = value.partition(":")
                if media is None:
                    _session_attribute(session, name, attr_value if colon else None)
                else:
                    parse_media_attribute(media, name, attr_value if colon else None)
            elif kind == "m":
                if len(session.media) >= MAX_MEDIA_SECTIONS:
                    raise SdpParseError("too many media sections")
                media = parse_media_line(value)
                session.media.append(media)
            elif kind == "c":
                if media is None:
                    session.connection = value
                else:
                    media.connection = value
            elif kind == "b":
                (session if media is None else media).bandwidths.append(value)
            elif kind in "vost" and media is not None:
                raise SdpParseError(f"{kind}= line inside a media section")
            elif media is not None:
                if kind not in "ik":
                    raise SdpParseError(f"unexpected {kind}= line in a media section")
                media.extra_lines.append(line)
            elif kind == "v":
                raise SdpParseError("second v= line")
            elif kind == "o":
                session.origin = parse_origin(value)
                seen_origin = True
            elif kind == "s":
                session.name = value
                seen_name = True
            elif kind == "t":
                session.timing = value
                seen_timing = True
            elif kind in "iuepzkr":
                session.extra_lines.append(line)
            else:
                raise SdpParseError(f"unknown line type {kind!r}")
        except SdpParseError as exc:
            raise SdpParseError(f"line {number}: {exc}") from None
        except ValueError as exc:
            raise SdpParseError(f"line {number}: {exc}") from None
    if not (seen_origin and seen_name and seen_timing):
        raise SdpParseError("SDP lacks one of the o=, s=, t= lines")
    for section in session.media:
        canonical_feedback(section)
    return session


def _session_attribute(sd: SessionDescription, name: str, value: str | None) -> None:
    if value is None:
        if name == "ice-lite":
            sd.ice_lite = True
        elif name == "extmap-allow-mixed":
            sd.extmap_allow_mixed = True
        elif name in DIRECTIONS:
            sd.direction = cast(Direction, name)
        else:
            sd.attributes.append(Attribute(name, None))
    elif name == "group":
        sd.groups.append(parse_group(value))
    elif name == "msid-semantic":
        sd.msid_semantic = parse_msid_semantic(value)
    elif name == "ice-ufrag":
        sd.ice_ufrag = parse_token(value)
    elif name == "ice-pwd":
        sd.ice_pwd = parse_token(value)
    elif name == "ice-options":
        sd.ice_options = value
    elif name == "fingerprint":
        sd.fingerprints.append(parse_fingerprint(value))
    elif name == "setup":
        sd.setup = parse_setup(value)
    else:
        sd.attributes.append(Attribute(name, value))
