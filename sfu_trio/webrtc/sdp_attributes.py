"""The typed values of single SDP lines, each with a strict parser and a ``__str__`` writer.

Every ``parse_*`` function takes the text after ``a=<name>:`` (or after ``o=``), comes from an
untrusted peer, and raises only ``SdpParseError`` (a ``ParseError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, cast

from aioice import Candidate

from sfu_trio.webrtc.errors import ParseError

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
Setup = Literal["actpass", "active", "passive", "holdconn"]
RidDirection = Literal["send", "recv"]
FmtpParams = dict[str, str | None]

DIRECTIONS: frozenset[str] = frozenset(("sendrecv", "sendonly", "recvonly", "inactive"))
SETUP_ROLES: frozenset[str] = frozenset(("actpass", "active", "passive", "holdconn"))
_RID = re.compile(r"[A-Za-z0-9_-]+")
_MAX_UINT_DIGITS = 40
UINT32_MAX = 0xFFFFFFFF


class SdpParseError(ParseError):
    """An SDP text from a remote peer is malformed."""


def parse_uint(text: str, maximum: int) -> int:
    """A decimal ASCII integer in [0, maximum]; no sign, spaces or underscores."""
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_UINT_DIGITS:
        raise SdpParseError(f"expected an unsigned integer, got {text[:40]!r}")
    value = int(text)
    if value > maximum:
        raise SdpParseError(f"{value} is larger than {maximum}")
    return value


def _tokens(value: str, minimum: int, maximum: int, what: str) -> list[str]:
    parts = value.split()
    if not minimum <= len(parts) <= maximum:
        raise SdpParseError(f"malformed {what}: {value[:80]!r}")
    return parts


@dataclass(slots=True)
class Origin:
    """The o= line."""

    username: str = "-"
    session_id: int = 0
    session_version: int = 0
    net_type: str = "IN"
    addr_type: str = "IP4"
    address: str = "127.0.0.1"

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.net_type} {self.addr_type} {self.address}"
        )


def parse_origin(value: str) -> Origin:
    user, sess_id, version, net, addr_type, address = _tokens(value, 6, 6, "o= line")
    big = 10**_MAX_UINT_DIGITS
    return Origin(user, parse_uint(sess_id, big), parse_uint(version, big), net, addr_type, address)


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute the model does not name, kept verbatim: ``a=<name>[:<value>]``."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Group:
    """``a=group:<semantics> <mid> ...`` (BUNDLE, LS, ...)."""

    semantics: str
    mids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " ".join((self.semantics, *self.mids))


def parse_group(value: str) -> Group:
    parts = _tokens(value, 1, 100_000, "group")
    return Group(parts[0], tuple(parts[1:]))


@dataclass(frozen=True, slots=True)
class MsidSemantic:
    """``a=msid-semantic: WMS [stream ids]``."""

    semantic: str
    identifiers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return " " + " ".join((self.semantic, *self.identifiers))


def parse_msid_semantic(value: str) -> MsidSemantic:
    parts = _tokens(value, 1, 100_000, "msid-semantic")
    return MsidSemantic(parts[0], tuple(parts[1:]))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint:<hash function> <hex pairs>`` (RFC 8122)."""

    algorithm: str
    value: str

    def __str__(self) -> str:
        return f"{self.algorithm} {self.value}"


def parse_fingerprint(value: str) -> Fingerprint:
    algorithm, digest = _tokens(value, 2, 2, "fingerprint")
    return Fingerprint(algorithm, digest)


@dataclass(frozen=True, slots=True)
class Extmap:
    """``a=extmap:<id>[/<direction>] <uri> [<attributes>]`` (RFC 8285)."""

    id: int
    uri: str
    direction: Direction | None = None
    attributes: str | None = None

    def __str__(self) -> str:
        ident = str(self.id) if self.direction is None else f"{self.id}/{self.direction}"
        text = f"{ident} {self.uri}"
        return text if self.attributes is None else f"{text} {self.attributes}"


def parse_extmap(value: str) -> Extmap:
    parts = value.split(" ", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise SdpParseError(f"malformed extmap: {value[:80]!r}")
    id_text, slash, direction = parts[0].partition("/")
    if slash and direction not in DIRECTIONS:
        raise SdpParseError(f"unknown extmap direction {direction!r}")
    ext_id = parse_uint(id_text, 255)
    if ext_id == 0:
        raise SdpParseError("extmap id 0 is reserved")
    return Extmap(
        id=ext_id,
        uri=parts[1],
        direction=cast(Direction, direction) if slash else None,
        attributes=parts[2] if len(parts) == 3 else None,
    )


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <name>/<clock rate>[/<channels>]``."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int | None = None

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.name}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"


def parse_rtpmap(value: str) -> RtpMap:
    pt_text, encoding = _tokens(value, 2, 2, "rtpmap")
    parts = encoding.split("/")
    if len(parts) not in (2, 3) or not parts[0]:
        raise SdpParseError(f"malformed rtpmap encoding {encoding[:80]!r}")
    return RtpMap(
        payload_type=parse_uint(pt_text, 127),
        name=parts[0],
        clock_rate=parse_uint(parts[1], UINT32_MAX),
        channels=parse_uint(parts[2], 255) if len(parts) == 3 else None,
    )


def _parse_params(text: str) -> FmtpParams:
    params: FmtpParams = {}
    for part in text.split(";"):
        key, eq, val = part.strip().partition("=")
        if key or eq:
            params[key.strip()] = val.strip() if eq else None
    return params


def _format_params(params: FmtpParams) -> str:
    return ";".join(key if val is None else f"{key}={val}" for key, val in params.items())


def parse_fmtp(value: str) -> tuple[int, FmtpParams]:
    pt_text, _, params = value.strip().partition(" ")
    return parse_uint(pt_text, 127), _parse_params(params)


def format_fmtp(payload_type: int, params: FmtpParams) -> str:
    return f"{payload_type} {_format_params(params)}" if params else str(payload_type)


@dataclass(frozen=True, slots=True)
class RtcpFeedback:
    """``a=rtcp-fb:<pt|*> <type> [<parameter>]``; payload_type None stands for '*'."""

    payload_type: int | None
    type: str
    parameter: str | None = None

    def __str__(self) -> str:
        pt = "*" if self.payload_type is None else str(self.payload_type)
        text = f"{pt} {self.type}"
        return text if self.parameter is None else f"{text} {self.parameter}"

    @property
    def name(self) -> str:
        """Type and parameter as one string: "nack", "nack pli", "transport-cc"."""
        return self.type if self.parameter is None else f"{self.type} {self.parameter}"


def parse_rtcp_fb(value: str) -> RtcpFeedback:
    parts = _tokens(value, 2, 100, "rtcp-fb")
    pt = None if parts[0] == "*" else parse_uint(parts[0], 127)
    return RtcpFeedback(pt, parts[1], " ".join(parts[2:]) if len(parts) > 2 else None)


def parse_ssrc(value: str) -> tuple[int, str, str | None]:
    """``a=ssrc:<ssrc> <attribute>[:<value>]`` -> (ssrc, attribute, value)."""
    ssrc_text, _, rest = value.partition(" ")
    name, colon, attr_value = rest.partition(":")
    if not name or name != name.strip():
        raise SdpParseError(f"malformed ssrc attribute: {value[:80]!r}")
    return parse_uint(ssrc_text, UINT32_MAX), name, attr_value if colon else None


@dataclass(frozen=True, slots=True)
class SsrcGroup:
    """``a=ssrc-group:<semantics> <ssrc> ...`` (FID for RTX, SIM for legacy simulcast)."""

    semantics: str
    ssrcs: tuple[int, ...] = ()

    def __str__(self) -> str:
        return " ".join((self.semantics, *map(str, self.ssrcs)))


def parse_ssrc_group(value: str) -> SsrcGroup:
    parts = _tokens(value, 1, 1000, "ssrc-group")
    return SsrcGroup(parts[0], tuple(parse_uint(p, UINT32_MAX) for p in parts[1:]))


@dataclass(frozen=True, slots=True)
class Msid:
    """``a=msid:<stream id> [<track id>]`` (RFC 8830)."""

    stream_id: str
    track_id: str | None = None

    def __str__(self) -> str:
        return self.stream_id if self.track_id is None else f"{self.stream_id} {self.track_id}"


def parse_msid(value: str) -> Msid:
    parts = _tokens(value, 1, 2, "msid")
    return Msid(parts[0], parts[1] if len(parts) == 2 else None)


def _rid_id(text: str) -> str:
    if _RID.fullmatch(text) is None:
        raise SdpParseError(f"malformed rid id {text[:40]!r}")
    return text


@dataclass(frozen=True, slots=True)
class Rid:
    """``a=rid:<id> <send|recv> [<params>]`` (RFC 8851)."""

    id: str
    direction: RidDirection
    params: FmtpParams = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"{self.id} {self.direction}"
        return f"{text} {_format_params(self.params)}" if self.params else text


def parse_rid(value: str) -> Rid:
    parts = value.split(" ", 2)
    if len(parts) < 2 or parts[1] not in ("send", "recv"):
        raise SdpParseError(f"malformed rid: {value[:80]!r}")
    params = _parse_params(parts[2]) if len(parts) == 3 else {}
    return Rid(_rid_id(parts[0]), cast(RidDirection, parts[1]), params)


@dataclass(frozen=True, slots=True)
class SimulcastRid:
    """One rid in an ``a=simulcast`` list; ``paused`` is the '~' prefix."""

    rid: str
    paused: bool = False

    def __str__(self) -> str:
        return f"~{self.rid}" if self.paused else self.rid


SimulcastStreams = tuple[tuple[SimulcastRid, ...], ...]  # streams, each with its alternatives


@dataclass(frozen=True, slots=True)
class Simulcast:
    """``a=simulcast:[send <streams>] [recv <streams>]`` (RFC 8853)."""

    send: SimulcastStreams = ()
    recv: SimulcastStreams = ()

    def __str__(self) -> str:
        parts = []
        for direction, streams in (("send", self.send), ("recv", self.recv)):
            if streams:
                listed = ";".join(",".join(map(str, alts)) for alts in streams)
                parts.append(f"{direction} {listed}")
        return " ".join(parts)

    @staticmethod
    def rid_ids(streams: SimulcastStreams) -> list[str]:
        """Every rid named in the streams, in order (alternatives included)."""
        return [alt.rid for alts in streams for alt in alts]


def _simulcast_streams(text: str) -> SimulcastStreams:
    if text.startswith("rid="):  # draft-ietf-mmusic-sdp-simulcast-03 form (old Firefox)
        text = text[4:]
    streams = []
    for stream in text.split(";"):
        alternatives = []
        for alt in stream.split(","):
            paused = alt.startswith("~")
            alternatives.append(SimulcastRid(_rid_id(alt[1:] if paused else alt), paused))
        streams.append(tuple(alternatives))
    return tuple(streams)


def parse_simulcast(value: str) -> Simulcast:
    parts = value.split()
    if len(parts) not in (2, 4):
        raise SdpParseError(f"malformed simulcast: {value[:80]!r}")
    lists: dict[str, SimulcastStreams] = {}
    for direction, text in zip(parts[::2], parts[1::2], strict=True):
        if direction not in ("send", "recv") or direction in lists:
            raise SdpParseError(f"malformed simulcast direction {direction[:20]!r}")
        lists[direction] = _simulcast_streams(text)
    return Simulcast(send=lists.get("send", ()), recv=lists.get("recv", ()))


def parse_candidate(value: str) -> Candidate:
    """``a=candidate:...`` through aioice, with its numbers range-checked."""
    bits = value.split()
    if len(bits) < 8 or bits[6] != "typ":
        raise SdpParseError(f"malformed candidate: {value[:80]!r}")
    for text, maximum in ((bits[1], 256), (bits[3], UINT32_MAX), (bits[5], 65535)):
        parse_uint(text, maximum)
    try:
        candidate = Candidate.from_sdp(value)
    except ValueError as exc:
        raise SdpParseError(f"malformed candidate: {exc}") from None
    for port in (candidate.related_port, candidate.generation):
        if port is not None and not 0 <= port <= UINT32_MAX:
            raise SdpParseError("candidate number out of range")
    return candidate


def parse_token(value: str) -> str:
    """A single non-empty token (mid, ice-ufrag, ice-pwd)."""
    if not value or " " in value:
        raise SdpParseError(f"expected one token, got {value[:40]!r}")
    return value


def parse_setup(value: str) -> Setup:
    if value not in SETUP_ROLES:
        raise SdpParseError(f"unknown setup role {value[:20]!r}")
    return cast(Setup, value)


def transport_lines(
    out: list[str],
    ufrag: str | None,
    pwd: str | None,
    options: str | None,
    fingerprints: list[Fingerprint],
) -> None:
    """Append the ICE and DTLS fingerprint lines shared by session and media level."""
    if ufrag is not None:
        out.append(f"a=ice-ufrag:{ufrag}")
    if pwd is not None:
        out.append(f"a=ice-pwd:{pwd}")
    if options is not None:
        out.append(f"a=ice-options:{options}")
    out.extend(f"a=fingerprint:{f}" for f in fingerprints)
