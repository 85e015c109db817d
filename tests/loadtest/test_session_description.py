"""The load generator's offers are what the server's negotiation accepts; answers read back."""

from __future__ import annotations

from aioice import Candidate

from sfu_trio.loadtest.session_description import (
    LocalTransport,
    SendSection,
    build_answer,
    build_offer,
    parse_remote,
)
from sfu_trio.webrtc.negotiation import LocalTransport as ServerTransport
from sfu_trio.webrtc.negotiation import OutgoingTrack, create_answer
from sfu_trio.webrtc.sdp import SessionDescription

FINGERPRINT = ":".join(["AB"] * 32)
CLIENT = LocalTransport("cliu", "clientpassword0123456789", FINGERPRINT, "192.0.2.20", 40000)
SERVER = ServerTransport(
    "sfuu",
    "sfupassword0123456789012",
    ":".join(["CD"] * 32),
    "passive",
    (Candidate.from_sdp("1 1 udp 2130706431 192.0.2.10 7882 typ host"),),
)
PUBLISH = [
    SendSection("0", "audio", (1111,), "mic"),
    SendSection("1", "video", (2222,), "cam"),
]


def test_publisher_offer_is_accepted_with_its_ssrcs() -> None:
    offer = SessionDescription.parse_untrusted(build_offer(CLIENT, "cn", PUBLISH, []))

    answer = create_answer(offer, SERVER, {})

    assert [(m.mid, m.accepted, m.direction) for m in answer.media] == [
        ("0", True, "recvonly"),
        ("1", True, "recvonly"),
    ]
    assert [m.codecs[0].mime_type for m in answer.media] == ["audio/opus", "video/VP8"]
    assert [[s.ssrc for s in m.remote_ssrcs] for m in answer.media] == [[1111], [2222]]
    assert answer.setup == "passive"  # the load generator is always the DTLS client
    assert (answer.remote_ice_ufrag, answer.remote_ice_pwd) == (CLIENT.ufrag, CLIENT.pwd)


def test_simulcast_offer_announces_three_rids() -> None:
    sends = [SendSection("1", "video", (1, 2, 3), "cam", simulcast=True)]
    offer = SessionDescription.parse_untrusted(build_offer(CLIENT, "cn", sends, []))

    answer = create_answer(offer, SERVER, {})

    assert answer.media[0].receive_rids == ("q", "h", "f")


def test_subscriber_answer_gives_candidates_and_sent_ssrcs() -> None:
    slots = [("r0", "audio"), ("r1", "video")]
    offer = SessionDescription.parse_untrusted(build_offer(CLIENT, "cn", [], slots))
    outgoing = {"r1": OutgoingTrack("video", 5555, 5556, "peer", "cam", "cname", "video/VP8")}

    remote = parse_remote(create_answer(offer, SERVER, outgoing).sdp)

    assert (remote.ufrag, remote.pwd) == ("sfuu", "sfupassword0123456789012")
    assert remote.fingerprint == ":".join(["CD"] * 32)
    assert remote.candidates == [("192.0.2.10", 7882)]
    assert remote.mids == [("r0", "audio"), ("r1", "video")]
    assert remote.ssrcs[5555] == "video"


def test_answer_to_a_server_offer_keeps_its_mids() -> None:
    offer_text = build_offer(CLIENT, "cn", PUBLISH, [])

    answer = SessionDescription.parse_untrusted(
        build_answer(parse_remote(offer_text), CLIENT, "cn")
    )

    assert [(m.mid, m.direction, m.setup) for m in answer.media] == [
        ("0", "recvonly", "active"),
        ("1", "recvonly", "active"),
    ]
    assert answer.bundle_mids() == ("0", "1")
