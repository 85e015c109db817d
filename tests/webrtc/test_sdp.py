"""SDP model: golden offers from Chromium and Firefox, round trips, and hostile input."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from aioice import Candidate
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.sdp import (
    Attribute,
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
    SdpParseError,
    SessionDescription,
    Simulcast,
    SsrcGroup,
)
from sfu_trio.webrtc.sdp_attributes import SimulcastRid

DATA = Path(__file__).parent.parent / "data" / "sdp"
FIXTURES = sorted(p.name for p in DATA.glob("*.sdp"))
TWCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def load(name: str) -> str:
    return (DATA / name).read_bytes().decode()


def parse(name: str) -> SessionDescription:
    return SessionDescription.parse_untrusted(load(name))


def test_fixtures_are_all_there() -> None:
    assert FIXTURES == [
        "chromium_audio_video.sdp",
        "chromium_seed_42.sdp",
        "chromium_simulcast.sdp",
        "firefox58_audio.sdp",
        "firefox_audio_video.sdp",
    ]


def test_chromium_audio_video_session_and_audio() -> None:
    sd = parse("chromium_audio_video.sdp")

    assert sd.origin == Origin("-", 8537730064625204162, 2, "IN", "IP4", "127.0.0.1")
    assert sd.groups == [Group("BUNDLE", ("0", "1"))]
    assert sd.bundle_mids() == ("0", "1")
    assert sd.extmap_allow_mixed is True
    assert sd.msid_semantic == MsidSemantic("WMS", ("a75c8f95-184c-489d-89a0-e8815e2725dd",))
    assert sd.ice_lite is False
    audio, _video = sd.media
    assert (audio.kind, audio.port, audio.proto) == ("audio", 36159, "UDP/TLS/RTP/SAVPF")
    assert audio.formats == ["111", "63", "9", "0", "8", "13", "110", "126"]
    assert audio.connection == "IN IP4 127.0.0.1"
    assert audio.rtcp == "9 IN IP4 0.0.0.0"
    assert (audio.mid, audio.direction, audio.setup) == ("0", "sendrecv", "actpass")
    assert (audio.ice_ufrag, audio.ice_pwd) == ("Pnvb", "oy0eO+KlcNu06L71hl1f+1X7")
    assert audio.ice_options == "trickle"
    assert audio.fingerprints == [
        Fingerprint(
            "sha-256",
            "C8:FD:A9:1C:8B:E4:5C:9A:52:C2:8E:49:DA:B4:3A:9F:"
            "5B:D5:8C:C2:79:7A:6F:8B:97:7A:38:12:F9:BF:69:33",
        )
    ]
    assert audio.rtcp_mux and audio.rtcp_rsize
    assert len(audio.candidates) == 8
    first = audio.candidates[0]
    assert (first.foundation, first.component, first.transport, first.priority) == (
        "3971158813",
        1,
        "udp",
        2122194687,
    )
    assert (first.host, first.port, first.type, first.generation) == ("127.0.0.1", 36159, "host", 0)
    assert audio.candidates[4].tcptype == "active"
    assert audio.end_of_candidates is False
    assert audio.extmaps == [
        Extmap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        Extmap(2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
        Extmap(3, TWCC),
        Extmap(4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    ]
    assert audio.rtpmaps[111] == RtpMap(111, "opus", 48000, 2)
    assert audio.fmtps[111] == {"minptime": "10", "useinbandfec": "1"}
    assert audio.fmtps[63] == {"111/111": None}
    assert audio.rtcp_fbs == [RtcpFeedback(111, "transport-cc")]
    assert audio.attributes == [Attribute("rtcp-xr", "rcvr-rtt=all")]
    assert audio.msids == [
        Msid("a75c8f95-184c-489d-89a0-e8815e2725dd", "1ff95469-b937-4a72-ac58-30b15f350401")
    ]
    assert audio.ssrcs == {
        4058632573: {
            "cname": "z+Y73ncoZQELbTrT",
            "msid": "a75c8f95-184c-489d-89a0-e8815e2725dd 1ff95469-b937-4a72-ac58-30b15f350401",
        }
    }
    codecs = audio.codecs()
    assert [(c.payload_type, c.mime_type, c.clock_rate, c.channels) for c in codecs] == [
        (111, "audio/opus", 48000, 2),
        (63, "audio/red", 48000, 2),
        (9, "audio/G722", 8000, None),
        (0, "audio/PCMU", 8000, None),
        (8, "audio/PCMA", 8000, None),
        (13, "audio/CN", 8000, None),
        (110, "audio/telephone-event", 48000, None),
        (126, "audio/telephone-event", 8000, None),
    ]
    assert codecs[0].rtcp_fb == (RtcpFeedback(111, "transport-cc"),)


def test_chromium_audio_video_video_section() -> None:
    video = parse("chromium_audio_video.sdp").media[1]

    assert video.payload_types[:6] == [96, 97, 102, 103, 104, 107]
    assert video.ssrc_groups == [SsrcGroup("FID", (802132550, 2009781282))]
    assert list(video.ssrcs) == [802132550, 2009781282]
    assert video.fmtps[102] == {
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
        "profile-level-id": "42001f",
    }
    assert video.fmtps[97] == {"apt": "96"}
    vp8 = video.codecs()[0]
    assert vp8.mime_type == "video/VP8"
    assert [fb.name for fb in vp8.rtcp_fb] == [
        "goog-remb",
        "transport-cc",
        "ccm fir",
        "nack",
        "nack pli",
    ]
    assert Extmap(13, "urn:3gpp:video-orientation") in video.extmaps
    assert [e.id for e in video.extmaps] == [14, 2, 13, 3, 5, 6, 7, 8, 4, 10, 11]


def test_chromium_simulcast_rids() -> None:
    video = parse("chromium_simulcast.sdp").media[0]

    assert video.direction == "sendonly"
    assert video.rids == [Rid("q", "send"), Rid("h", "send"), Rid("f", "send")]
    assert video.simulcast == Simulcast(
        send=((SimulcastRid("q"),), (SimulcastRid("h"),), (SimulcastRid("f"),))
    )
    assert Simulcast.rid_ids(video.simulcast.send) == ["q", "h", "f"]
    assert video.ssrcs == {}


def test_chromium_seed_offer_has_42_sections() -> None:
    sd = parse("chromium_seed_42.sdp")

    assert len(sd.media) == 42
    assert [m.kind for m in sd.media] == ["audio", "video"] + ["video"] * 20 + ["audio"] * 20
    assert [m.direction for m in sd.media] == ["sendrecv"] * 2 + ["recvonly"] * 40
    assert sd.bundle_mids() == tuple(str(i) for i in range(42))
    assert all(m.rtcp_mux for m in sd.media)


def test_firefox_offer() -> None:
    sd = parse("firefox_audio_video.sdp")

    assert sd.origin.username == "mozilla...THIS_IS_SDPARTA-99.0"
    assert sd.msid_semantic == MsidSemantic("WMS", ("*",))
    assert sd.ice_options == "trickle"
    assert sd.fingerprints[0].algorithm == "sha-256"
    audio, video = sd.media
    assert audio.ice_ufrag == "6c0579ea"
    assert audio.msids == [Msid("-", "{ba72adfe-d5b5-42bd-bf15-e8fcdcbb2ee1}")]
    assert audio.extmaps[1] == Extmap(
        2, "urn:ietf:params:rtp-hdrext:csrc-audio-level", direction="recvonly"
    )
    assert audio.fmtps[101] == {"0-15": None}
    assert audio.rtpmaps[9] == RtpMap(9, "G722", 8000, 1)
    # Firefox writes fmtp and rtcp-fb before the rtpmaps; the model does not care.
    assert [c.mime_type for c in video.codecs()] == [
        "video/VP8",
        "video/rtx",
        "video/VP9",
        "video/rtx",
        "video/H264",
        "video/rtx",
        "video/H264",
        "video/rtx",
    ]
    assert video.codecs()[4].fmtp["packetization-mode"] == "1"
    assert video.ssrc_groups == [SsrcGroup("FID", (7463831, 2513307155))]


def test_firefox58_offer_with_rtcp_candidates() -> None:
    sd = parse("firefox58_audio.sdp")

    assert sd.direction == "sendrecv"
    audio = sd.media[0]
    assert [c.component for c in audio.candidates] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert audio.end_of_candidates is True
    assert audio.extmaps[0] == Extmap(
        1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", direction="sendonly"
    )
    assert audio.rtcp == "38612 IN IP4 192.168.99.58"


@pytest.mark.parametrize("name", FIXTURES)
def test_round_trip(name: str) -> None:
    sd = parse(name)
    text = str(sd)

    again = SessionDescription.parse_untrusted(text)

    assert again == sd
    assert again.serialize() == text
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")


def test_serialised_lines_in_canonical_order() -> None:
    audio = parse("chromium_audio_video.sdp").media[0]
    out: list[str] = []
    audio.to_lines(out)

    assert out[:3] == [
        "m=audio 36159 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 127.0.0.1",
        "a=rtcp:9 IN IP4 0.0.0.0",
    ]
    assert out.index("a=rtpmap:111 opus/48000/2") + 1 == out.index("a=rtcp-fb:111 transport-cc")
    assert out[-1] == "a=rtcp-xr:rcvr-rtt=all"


def test_media_equality_compares_candidates_by_value() -> None:
    a = parse("chromium_audio_video.sdp").media[0]
    b = parse("chromium_audio_video.sdp").media[0]
    assert a == b
    b.candidates[0] = Candidate.from_sdp("1 1 udp 1 10.0.0.1 9 typ host")
    assert a != b


MINIMAL = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "lacks"),
        ("v=1\r\n", "must start with v=0"),
        ("o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n", "must start with v=0"),
        ("v=0\r\ns=-\r\nt=0 0\r\n", "lacks"),
        ("v=0\r\no=- x 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "line 2: expected an unsigned"),
        ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", "line 2: malformed o= line"),
        (MINIMAL + "garbage\r\n", "line 5: not a <type>=<value> line"),
        (MINIMAL + "v=0\r\n", "second v= line"),
        (MINIMAL + "x=1\r\n", "unknown line type 'x'"),
        (MINIMAL + "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", "m= line needs"),
        (MINIMAL + "m=audio 70000 UDP/TLS/RTP/SAVPF 111\r\n", "larger than 65535"),
        (MINIMAL + "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", "larger than 127"),
        (MINIMAL + "m=audio 9 UDP/TLS/RTP/SAVPF abc\r\n", "unsigned integer"),
        (MINIMAL + AUDIO + "o=- 1 1 IN IP4 0.0.0.0\r\n", "o= line inside a media section"),
        (MINIMAL + AUDIO + "z=1\r\n", "unexpected z= line"),
        (MINIMAL + AUDIO + "a=rtpmap:111 opus\r\n", "malformed rtpmap encoding"),
        (MINIMAL + AUDIO + "a=rtpmap:111 opus/x\r\n", "unsigned integer"),
        (MINIMAL + AUDIO + "a=fmtp:x a=b\r\n", "unsigned integer"),
        (MINIMAL + AUDIO + "a=extmap:0 urn:x\r\n", "extmap id 0 is reserved"),
        (MINIMAL + AUDIO + "a=extmap:256 urn:x\r\n", "larger than 255"),
        (MINIMAL + AUDIO + "a=extmap:1/sideways urn:x\r\n", "unknown extmap direction"),
        (MINIMAL + AUDIO + "a=extmap:1\r\n", "malformed extmap"),
        (MINIMAL + AUDIO + "a=rtcp-fb:111\r\n", "malformed rtcp-fb"),
        (MINIMAL + AUDIO + "a=ssrc:4294967296 cname:x\r\n", "larger than 4294967295"),
        (MINIMAL + AUDIO + "a=ssrc:1\r\n", "malformed ssrc attribute"),
        (MINIMAL + AUDIO + "a=ssrc-group:FID 1 x\r\n", "unsigned integer"),
        (MINIMAL + AUDIO + "a=msid:a b c\r\n", "malformed msid"),
        (MINIMAL + AUDIO + "a=rid:q sideways\r\n", "malformed rid"),
        (MINIMAL + AUDIO + "a=rid:q;x send\r\n", "malformed rid id"),
        (MINIMAL + AUDIO + "a=simulcast:send\r\n", "malformed simulcast"),
        (MINIMAL + AUDIO + "a=simulcast:send q;;f\r\n", "malformed rid id"),
        (MINIMAL + AUDIO + "a=simulcast:send a send b\r\n", "malformed simulcast direction"),
        (MINIMAL + AUDIO + "a=setup:sometimes\r\n", "unknown setup role"),
        (MINIMAL + AUDIO + "a=fingerprint:sha-256\r\n", "malformed fingerprint"),
        (MINIMAL + AUDIO + "a=mid:a b\r\n", "expected one token"),
        (MINIMAL + AUDIO + "a=candidate:1 1 udp 1 h 9 host\r\n", "malformed candidate"),
        (MINIMAL + AUDIO + "a=candidate:1 1 udp 1 h 70000 typ host\r\n", "larger than 65535"),
        (MINIMAL + AUDIO + "a=candidate:1 1 udp 1 h 9 typ host rport x\r\n", "malformed candidate"),
        (MINIMAL + "a=group\x00:BUNDLE\r\n", "control character"),
        (MINIMAL + "a=x\rb\r\n", "not a <type>=<value> line"),
    ],
)
def test_malformed_sdp_raises_parse_error(text: str, message: str) -> None:
    with pytest.raises(SdpParseError, match=message):
        SessionDescription.parse_untrusted(text)


def test_sdp_parse_error_is_a_parse_error() -> None:
    assert issubclass(SdpParseError, ParseError)
    assert issubclass(SdpParseError, ValueError)


def test_oversized_sdp_is_refused() -> None:
    with pytest.raises(SdpParseError, match="longer than"):
        SessionDescription.parse_untrusted(MINIMAL + "a=x\r\n" * 1_000_000)


def test_lf_only_and_unknown_attributes_are_kept() -> None:
    text = MINIMAL.replace("\r\n", "\n") + "a=x-session:1\nm=video 9 RTP/SAVPF 96\na=x-flag\n"
    sd = SessionDescription.parse_untrusted(text)

    assert sd.attributes == [Attribute("x-session", "1")]
    assert sd.media[0].attributes == [Attribute("x-flag")]
    assert str(sd).endswith("a=x-flag\r\n")


def test_old_simulcast_syntax_and_paused_alternatives() -> None:
    sd = SessionDescription.parse_untrusted(
        MINIMAL + AUDIO + "a=simulcast:send rid=a,~b;c recv ~d\r\n"
    )
    assert sd.media[0].simulcast == Simulcast(
        send=((SimulcastRid("a"), SimulcastRid("b", True)), (SimulcastRid("c"),)),
        recv=((SimulcastRid("d", True),),),
    )
    assert "a=simulcast:send a,~b;c recv ~d\r\n" in str(sd)


# --- property-based ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_random_text_raises_only_parse_error(text: str) -> None:
    with contextlib.suppress(SdpParseError):
        SessionDescription.parse_untrusted(text)


@settings(max_examples=200)
@given(
    st.sampled_from(["chromium_audio_video.sdp", "firefox_audio_video.sdp", "firefox58_audio.sdp"]),
    st.data(),
)
def test_truncated_and_mutated_fixtures_raise_only_parse_error(
    name: str, data: st.DataObject
) -> None:
    text = load(name)
    cut = data.draw(st.integers(0, len(text)))
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.text(max_size=3))
    for candidate in (text[:cut], text[:position] + replacement + text[position + 1 :]):
        with contextlib.suppress(SdpParseError):
            SessionDescription.parse_untrusted(candidate)


TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/._-", min_size=1, max_size=10
)
RID = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=6)
OPTIONAL_DIRECTION: st.SearchStrategy[Direction | None] = st.sampled_from(
    [None, "sendrecv", "sendonly", "recvonly", "inactive"]
)
UINT32 = st.integers(0, 0xFFFFFFFF)
PARAMS = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=8),
    st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789/,.", min_size=0, max_size=8),
    max_size=3,
)
CANDIDATE = st.builds(
    Candidate,
    foundation=TOKEN,
    component=st.integers(1, 2),
    transport=st.sampled_from(["udp", "tcp"]),
    priority=UINT32,
    host=TOKEN,
    port=st.integers(0, 65535),
    type=st.sampled_from(["host", "srflx", "relay"]),
    related_address=st.none() | TOKEN,
    related_port=st.none() | st.integers(0, 65535),
    tcptype=st.none() | st.sampled_from(["active", "passive"]),
    generation=st.none() | st.integers(0, 10),
)
SIMULCAST_STREAMS = st.lists(
    st.lists(st.builds(SimulcastRid, RID, st.booleans()), min_size=1, max_size=2).map(tuple),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def media_descriptions(draw: st.DrawFn) -> MediaDescription:
    pts = draw(st.lists(st.integers(0, 127), min_size=1, max_size=5, unique=True))
    rtcp_fbs = [RtcpFeedback(None, t) for t in draw(st.lists(TOKEN, max_size=1))]
    for pt in pts:
        for fb_type, parameter in draw(st.lists(st.tuples(TOKEN, st.none() | TOKEN), max_size=2)):
            rtcp_fbs.append(RtcpFeedback(pt, fb_type, parameter))
    simulcast = draw(
        st.none()
        | st.builds(Simulcast, send=SIMULCAST_STREAMS)
        | st.builds(Simulcast, send=SIMULCAST_STREAMS, recv=SIMULCAST_STREAMS)
    )
    return MediaDescription(
        kind=draw(st.sampled_from(["audio", "video"])),
        port=draw(st.integers(0, 65535)),
        proto="UDP/TLS/RTP/SAVPF",
        formats=[str(pt) for pt in pts],
        connection=draw(st.none() | st.just("IN IP4 0.0.0.0")),
        mid=draw(st.none() | TOKEN),
        direction=draw(OPTIONAL_DIRECTION),
        rtcp_mux=draw(st.booleans()),
        rtcp_rsize=draw(st.booleans()),
        ice_ufrag=draw(st.none() | TOKEN),
        ice_pwd=draw(st.none() | TOKEN),
        fingerprints=draw(st.lists(st.builds(Fingerprint, TOKEN, TOKEN), max_size=1)),
        setup=draw(st.none() | st.sampled_from(["actpass", "active", "passive"])),
        candidates=draw(st.lists(CANDIDATE, max_size=2)),
        end_of_candidates=draw(st.booleans()),
        extmaps=draw(
            st.lists(
                st.builds(
                    Extmap, st.integers(1, 255), TOKEN, OPTIONAL_DIRECTION, st.none() | TOKEN
                ),
                max_size=3,
            )
        ),
        rtpmaps={
            pt: RtpMap(
                pt,
                draw(TOKEN.filter(lambda t: "/" not in t)),
                draw(UINT32),
                draw(st.none() | st.integers(0, 255)),
            )
            for pt in draw(st.lists(st.sampled_from(pts), unique=True))
        },
        fmtps={pt: draw(PARAMS) for pt in draw(st.lists(st.sampled_from(pts), unique=True))},
        rtcp_fbs=rtcp_fbs,
        ssrcs=draw(
            st.dictionaries(
                UINT32,
                st.dictionaries(
                    TOKEN.filter(lambda t: ":" not in t), st.none() | TOKEN, min_size=1, max_size=2
                ),
                max_size=2,
            )
        ),
        ssrc_groups=draw(
            st.lists(
                st.builds(SsrcGroup, TOKEN, st.lists(UINT32, max_size=2).map(tuple)), max_size=1
            )
        ),
        msids=draw(st.lists(st.builds(Msid, TOKEN, st.none() | TOKEN), max_size=1)),
        rids=draw(
            st.lists(st.builds(Rid, RID, st.sampled_from(["send", "recv"]), PARAMS), max_size=3)
        ),
        simulcast=simulcast,
        attributes=draw(
            st.lists(
                st.builds(Attribute, TOKEN.map(lambda t: "x-" + t), st.none() | TOKEN), max_size=2
            )
        ),
    )


@st.composite
def session_descriptions(draw: st.DrawFn) -> SessionDescription:
    return SessionDescription(
        origin=Origin(draw(TOKEN), draw(UINT32), draw(UINT32), "IN", "IP4", draw(TOKEN)),
        name=draw(st.sampled_from(["-", "session"])),
        groups=draw(
            st.lists(
                st.builds(Group, st.just("BUNDLE"), st.lists(TOKEN, max_size=3).map(tuple)),
                max_size=1,
            )
        ),
        extmap_allow_mixed=draw(st.booleans()),
        msid_semantic=draw(
            st.none()
            | st.builds(MsidSemantic, st.just("WMS"), st.lists(TOKEN, max_size=2).map(tuple))
        ),
        ice_lite=draw(st.booleans()),
        ice_ufrag=draw(st.none() | TOKEN),
        ice_pwd=draw(st.none() | TOKEN),
        fingerprints=draw(st.lists(st.builds(Fingerprint, TOKEN, TOKEN), max_size=1)),
        setup=draw(st.none() | st.sampled_from(["actpass", "passive"])),
        direction=draw(OPTIONAL_DIRECTION),
        attributes=draw(
            st.lists(
                st.builds(Attribute, TOKEN.map(lambda t: "x-" + t), st.none() | TOKEN), max_size=2
            )
        ),
        media=draw(st.lists(media_descriptions(), max_size=3)),
    )


@settings(max_examples=200)
@given(session_descriptions())
def test_built_description_round_trips(sd: SessionDescription) -> None:
    assert SessionDescription.parse_untrusted(sd.serialize()) == sd
