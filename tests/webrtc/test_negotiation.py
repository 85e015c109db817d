"""Answer negotiation against the golden offers in tests/data/sdp."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aioice import Candidate

from sfu_trio.webrtc.capabilities import (
    DEFAULT_CAPABILITIES,
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_PLAYOUT_DELAY,
    URI_REPAIRED_RTP_STREAM_ID,
    URI_RTP_STREAM_ID,
    URI_TRANSPORT_WIDE_CC,
    URI_VIDEO_ORIENTATION,
    h264_profile,
)
from sfu_trio.webrtc.negotiation import (
    Answer,
    LocalTransport,
    NegotiatedCodec,
    OutgoingTrack,
    RemoteSsrc,
    answer_for_offer_mid,
    create_answer,
    create_offer_for_ice_restart,
)
from sfu_trio.webrtc.sdp import (
    Attribute,
    Extmap,
    Fingerprint,
    Group,
    MediaDescription,
    Msid,
    Rid,
    SessionDescription,
    SsrcGroup,
)

DATA = Path(__file__).parent.parent / "data" / "sdp"
FINGERPRINT = ":".join(["AB"] * 32)
HOST = Candidate.from_sdp("1 1 udp 2130706431 192.0.2.10 7882 typ host")
TCP = Candidate.from_sdp("2 1 tcp 1518280447 192.0.2.10 7882 typ host tcptype passive")
TRANSPORT = LocalTransport("sfuu", "sfupassword0123456789012", FINGERPRINT, "passive", (HOST, TCP))
VIDEO_FB = ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")
CAM_A = OutgoingTrack("video", 1001, 1002, "peer-a", "cam-a", "cname-a", "video/VP8")
MIC_A = OutgoingTrack("audio", 2001, None, "peer-a", "mic-a", "cname-a", "audio/opus")
CAM_B = OutgoingTrack("video", 3001, 3002, "peer-b", "cam-b", "cname-b", "video/H264", "42e01f")


def offer(name: str) -> SessionDescription:
    return SessionDescription.parse_untrusted((DATA / name).read_bytes().decode())


def answer_of(name: str, outgoing: dict[str, OutgoingTrack] | None = None) -> Answer:
    return create_answer(offer(name), TRANSPORT, outgoing or {})


def test_chromium_audio_video_answer() -> None:
    answer = answer_of("chromium_audio_video.sdp")

    audio, video = answer.media
    assert (audio.mid, audio.kind, audio.index, audio.accepted) == ("0", "audio", 0, True)
    assert audio.direction == "recvonly"
    assert audio.codecs == (
        NegotiatedCodec(
            111,
            "audio/opus",
            48000,
            2,
            {"minptime": "10", "useinbandfec": "1"},
            ("transport-cc",),
            None,
        ),
    )
    assert dict(audio.extensions) == {
        URI_AUDIO_LEVEL: 1,
        URI_ABS_SEND_TIME: 2,
        URI_TRANSPORT_WIDE_CC: 3,
        URI_MID: 4,
    }
    assert audio.remote_ssrcs == (RemoteSsrc(4058632573, None),)
    assert audio.remote_msid == Msid(
        "a75c8f95-184c-489d-89a0-e8815e2725dd", "1ff95469-b937-4a72-ac58-30b15f350401"
    )
    assert audio.outgoing is None and audio.receive_rids == ()
    # packetization-mode=0 H264 (104, 114, 39), red and ulpfec are not taken.
    assert [(c.payload_type, c.mime_type, c.rtx_payload_type) for c in video.codecs] == [
        (96, "video/VP8", 97),
        (102, "video/H264", 103),
        (108, "video/H264", 109),
        (116, "video/H264", 117),
        (45, "video/AV1", 46),
        (98, "video/VP9", 99),
        (100, "video/VP9", 101),
    ]
    assert all(c.rtcp_fb == VIDEO_FB for c in video.codecs)
    assert video.codecs[1].fmtp == {
        "level-asymmetry-allowed": "1",
        "packetization-mode": "1",
        "profile-level-id": "42001f",
    }
    assert dict(video.extensions) == {
        URI_ABS_SEND_TIME: 2,
        URI_VIDEO_ORIENTATION: 13,
        URI_TRANSPORT_WIDE_CC: 3,
        URI_PLAYOUT_DELAY: 5,
        URI_MID: 4,
        URI_RTP_STREAM_ID: 10,
        URI_REPAIRED_RTP_STREAM_ID: 11,
    }
    assert video.remote_ssrcs == (RemoteSsrc(802132550, 2009781282),)
    assert answer.setup == "passive"
    assert answer.remote_ice_ufrag == "Pnvb"
    assert answer.remote_ice_pwd == "oy0eO+KlcNu06L71hl1f+1X7"
    assert answer.remote_fingerprints[0].value.startswith("C8:FD:A9")


def test_chromium_audio_video_answer_sdp() -> None:
    sd = answer_of("chromium_audio_video.sdp").description

    assert sd.ice_lite is True
    assert sd.groups == [Group("BUNDLE", ("0", "1"))]
    assert sd.extmap_allow_mixed is True
    audio, video = sd.media
    for section in (audio, video):
        assert (section.ice_ufrag, section.ice_pwd) == ("sfuu", "sfupassword0123456789012")
        assert section.fingerprints == [Fingerprint("sha-256", FINGERPRINT)]
        assert section.setup == "passive"
        assert section.rtcp_mux and section.rtcp_rsize
        assert section.direction == "recvonly"
    assert [c.to_sdp() for c in audio.candidates] == [HOST.to_sdp(), TCP.to_sdp()]
    assert audio.end_of_candidates is True
    assert (audio.port, audio.connection) == (7882, "IN IP4 192.0.2.10")
    assert video.candidates == [] and video.end_of_candidates is False
    assert (video.port, video.connection) == (9, "IN IP4 0.0.0.0")
    assert audio.formats == ["111"]
    assert video.formats == [str(pt) for pt in (96, 97, 102, 103, 108, 109, 116, 117)] + [
        str(pt) for pt in (45, 46, 98, 99, 100, 101)
    ]
    assert video.fmtps[97] == {"apt": "96"}
    assert video.rtpmaps[97].name == "rtx" and video.rtpmaps[102].name == "H264"
    assert video.extmaps[0] == Extmap(2, URI_ABS_SEND_TIME)
    assert video.msids == [] and video.ssrcs == {}
    assert "a=rtcp-fb:96 nack pli\r\n" in str(sd)


def test_answer_text_round_trips_through_the_parser() -> None:
    answer = answer_of("chromium_seed_42.sdp", {"2": CAM_A})

    assert SessionDescription.parse_untrusted(answer.sdp) == answer.description


def test_simulcast_answer_receives_three_layers() -> None:
    answer = answer_of("chromium_simulcast.sdp")

    (video,) = answer.media
    assert video.direction == "recvonly"
    assert video.receive_rids == ("q", "h", "f")
    assert video.remote_ssrcs == ()
    section = answer.description.media[0]
    assert section.rids == [Rid("q", "recv"), Rid("h", "recv"), Rid("f", "recv")]
    assert str(section.simulcast) == "recv q;h;f"
    assert {URI_RTP_STREAM_ID, URI_REPAIRED_RTP_STREAM_ID, URI_MID} <= set(video.extensions)


def test_seed_offer_with_outgoing_tracks() -> None:
    answer = answer_of("chromium_seed_42.sdp", {"2": CAM_A, "22": MIC_A, "3": CAM_B})

    assert all(m.accepted for m in answer.media)
    assert answer.description.groups == [Group("BUNDLE", tuple(str(i) for i in range(42)))]
    directions = [m.direction for m in answer.media]
    assert directions[:4] == ["recvonly", "recvonly", "sendonly", "sendonly"]
    assert directions[22] == "sendonly"
    assert directions[4:22] == ["inactive"] * 18
    assert directions[23:] == ["inactive"] * 19
    cam_a = answer_for_offer_mid(answer, "2")
    assert cam_a is not None and cam_a.outgoing == CAM_A
    assert cam_a.send_codec is not None and cam_a.send_codec.payload_type == 96
    cam_b = answer_for_offer_mid(answer, "3")
    assert cam_b is not None and cam_b.send_codec is not None
    assert h264_profile(cam_b.send_codec.fmtp["profile-level-id"] or "") == "constrained-baseline"
    assert answer_for_offer_mid(answer, "nope") is None
    assert answer.description.msid_semantic is not None
    assert answer.description.msid_semantic.identifiers == ("peer-a", "peer-b")

    video = answer.description.media[2]
    assert video.msids == [Msid("peer-a", "cam-a")]
    assert video.ssrc_groups == [SsrcGroup("FID", (1001, 1002))]
    assert video.ssrcs == {
        1001: {"cname": "cname-a", "msid": "peer-a cam-a"},
        1002: {"cname": "cname-a", "msid": "peer-a cam-a"},
    }
    audio = answer.description.media[22]
    assert audio.ssrc_groups == []
    assert audio.ssrcs == {2001: {"cname": "cname-a", "msid": "peer-a mic-a"}}
    text = answer.sdp
    assert "a=msid:peer-a cam-a\r\n" in text
    assert "a=ssrc:1001 cname:cname-a\r\n" in text
    assert "a=ssrc-group:FID 1001 1002\r\n" in text
    assert text.count("a=inactive\r\n") == 37


def test_outgoing_track_is_dropped_where_it_cannot_be_sent() -> None:
    answer = answer_of(
        "chromium_seed_42.sdp",
        {
            "0": MIC_A,  # the client's sendrecv audio: the server may send there too
            "1": MIC_A,  # kind mismatch: a video m-line
            "4": OutgoingTrack("video", 9, None, "p", "t", "c", "video/H265"),  # not offered
        },
    )

    assert answer.media[0].outgoing == MIC_A and answer.media[0].direction == "sendrecv"
    assert answer.media[1].outgoing is None and answer.media[1].direction == "recvonly"
    assert answer.media[4].outgoing is None and answer.media[4].direction == "inactive"


def test_firefox_answer() -> None:
    answer = answer_of("firefox_audio_video.sdp")

    audio, video = answer.media
    assert [c.payload_type for c in audio.codecs] == [109]
    assert dict(audio.extensions) == {URI_AUDIO_LEVEL: 1, URI_MID: 3}
    assert [(c.payload_type, c.mime_type, c.rtx_payload_type) for c in video.codecs] == [
        (120, "video/VP8", 124),
        (121, "video/VP9", 125),
        (126, "video/H264", 127),
    ]
    assert video.codecs[0].fmtp == {"max-fs": "12288", "max-fr": "60"}
    assert video.remote_msid == Msid("-", "{73b368b6-4a66-409b-87ea-0ed7919bce82}")
    assert video.remote_ssrcs == (RemoteSsrc(7463831, 2513307155),)
    section = answer.description.media[1]
    assert Extmap(6, URI_PLAYOUT_DELAY, direction="sendonly") in section.extmaps
    assert answer.remote_ice_ufrag == "6c0579ea"
    assert answer.remote_fingerprints[0].value.startswith("75:4F")  # session-level fingerprint


def test_firefox58_answer_flips_extmap_direction() -> None:
    answer = answer_of("firefox58_audio.sdp")

    assert answer.media[0].accepted
    assert answer.description.media[0].extmaps[0] == Extmap(1, URI_AUDIO_LEVEL, "recvonly")


Edit = Callable[[MediaDescription], None]


def _set(name: str, value: object) -> Edit:
    return lambda m: setattr(m, name, value)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("rtcp_mux", False), "rtcp-mux is required"),
        (_set("kind", "application"), "unsupported media 'application'"),
        (_set("proto", "RTP/AVP"), "unsupported protocol 'RTP/AVP'"),
        (_set("port", 0), "rejected by the offerer"),
        (_set("mid", None), "missing or duplicate mid"),
        (_set("mid", "0"), "missing or duplicate mid"),
        (_set("mid", "x"), "not in the BUNDLE group"),
        (_set("ice_ufrag", "other"), "ICE credentials differ from the bundled transport"),
        (_set("formats", ["0"]), "no codec in common"),
    ],
)
def test_unusable_m_line_is_rejected_alone(edit: Edit, reason: str) -> None:
    sd = offer("chromium_audio_video.sdp")
    edit(sd.media[1])

    answer = create_answer(sd, TRANSPORT, {})

    assert answer.media[0].accepted
    rejected = answer.media[1]
    assert (rejected.accepted, rejected.rejection_reason) == (False, reason)
    assert rejected.codecs == () and rejected.direction == "inactive"
    section = answer.description.media[1]
    assert section.port == 0 and section.ice_ufrag is None and section.rtpmaps == {}
    assert answer.description.groups == [Group("BUNDLE", ("0",))]


def test_offer_without_any_transport_credentials_rejects_every_line() -> None:
    sd = offer("chromium_audio_video.sdp")
    for media in sd.media:
        media.fingerprints = []

    answer = create_answer(sd, TRANSPORT, {})

    assert [m.rejection_reason for m in answer.media] == ["no DTLS fingerprint"] * 2
    assert answer.description.groups == []
    assert answer.remote_ice_ufrag is None


def test_bundle_only_section_with_port_zero_is_accepted() -> None:
    sd = offer("chromium_audio_video.sdp")
    sd.media[1].port = 0
    sd.media[1].attributes.append(Attribute("bundle-only"))

    assert create_answer(sd, TRANSPORT, {}).media[1].accepted


def test_without_bundle_only_the_first_line_is_accepted() -> None:
    sd = offer("chromium_audio_video.sdp")
    sd.groups = []

    answer = create_answer(sd, TRANSPORT, {})

    assert [m.accepted for m in answer.media] == [True, False]


@pytest.mark.parametrize(
    ("offered", "local", "expected"),
    [
        ("actpass", "passive", "passive"),
        ("actpass", "active", "active"),
        ("active", "active", "passive"),
        ("passive", "passive", "active"),
        (None, "passive", "passive"),
    ],
)
def test_dtls_setup_role(offered: str | None, local: str, expected: str) -> None:
    sd = offer("chromium_audio_video.sdp")
    for media in sd.media:
        media.setup = offered  # type: ignore[assignment]
    transport = LocalTransport("u", "p" * 22, FINGERPRINT, local, ())  # type: ignore[arg-type]

    answer = create_answer(sd, transport, {})

    assert answer.setup == expected
    assert {m.setup for m in answer.description.media} == {expected}


def test_holdconn_rejects_every_line() -> None:
    sd = offer("chromium_audio_video.sdp")
    for media in sd.media:
        media.setup = "holdconn"

    answer = create_answer(sd, TRANSPORT, {})

    assert {m.rejection_reason for m in answer.media} == {"unsupported DTLS setup role"}


def test_renegotiation_keeps_session_id_and_bumps_version() -> None:
    first = answer_of("chromium_audio_video.sdp")
    second = create_answer(offer("chromium_audio_video.sdp"), TRANSPORT, {}, previous=first)

    assert second.description.origin.session_id == first.description.origin.session_id
    assert second.description.origin.session_version == first.description.origin.session_version + 1
    assert create_answer(offer("chromium_audio_video.sdp"), TRANSPORT, {}) == first


def test_custom_capabilities_restrict_codecs() -> None:
    vp8_only = type(DEFAULT_CAPABILITIES)(
        codecs=tuple(c for c in DEFAULT_CAPABILITIES.codecs if c.name in ("VP8", "opus")),
        header_extensions=DEFAULT_CAPABILITIES.header_extensions,
    )

    answer = create_answer(offer("chromium_audio_video.sdp"), TRANSPORT, {}, vp8_only)

    assert [c.payload_type for c in answer.media[1].codecs] == [96]


@pytest.mark.parametrize(
    ("profile_level_id", "profile"),
    [
        ("42e01f", "constrained-baseline"),
        ("42c01f", "constrained-baseline"),
        ("4d801f", "constrained-baseline"),
        ("4d401f", "main"),
        ("42001f", "baseline"),
        ("4d001f", "main"),
        ("64001f", "high"),
        ("640c1f", "constrained-high"),
        ("640c34", "constrained-high"),
        ("zz001f", None),
        ("42e0", None),
        ("6e001f", None),
    ],
)
def test_h264_profile(profile_level_id: str, profile: str | None) -> None:
    assert h264_profile(profile_level_id) == profile


def test_ice_restart_offer_mirrors_the_session() -> None:
    sd = offer("chromium_seed_42.sdp")
    sd.media[5].rtcp_mux = False  # one rejected line must stay rejected
    answer = create_answer(sd, TRANSPORT, {"2": CAM_A})
    transport = LocalTransport("new1", "newpassword0123456789012", FINGERPRINT, "passive", (HOST,))

    restart = create_offer_for_ice_restart(answer, transport)

    assert restart.origin.session_id == answer.description.origin.session_id
    assert restart.origin.session_version == answer.description.origin.session_version + 1
    assert restart.ice_lite is True
    assert [m.mid for m in restart.media] == [m.mid for m in sd.media]
    assert [m.direction for m in restart.media] == [m.direction for m in answer.description.media]
    accepted = [m for m in restart.media if m.port != 0]
    assert len(accepted) == 41
    assert {(m.ice_ufrag, m.setup) for m in accepted} == {("new1", "actpass")}
    assert [len(m.candidates) for m in accepted] == [1] + [0] * 40
    assert restart.media[5].port == 0 and restart.media[5].ice_ufrag is None
    assert restart.media[2].ssrcs == answer.description.media[2].ssrcs
    assert restart.media[0].simulcast is None
    assert answer.description.media[0].ice_ufrag == "sfuu"  # the answer itself is untouched
