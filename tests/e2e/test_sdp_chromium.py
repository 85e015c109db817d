"""Chromium accepts the answers (and the ICE-restart offer) that negotiation.py writes.

Real headless Debian Chromium creates offers; Python answers them; Chromium's
setRemoteDescription must succeed and its transceivers must end in the expected directions.
No media flows here (no server runs): only the SDP contract is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aioice import Candidate

from sfu_trio.webrtc.negotiation import (
    LocalTransport,
    OutgoingTrack,
    create_answer,
    create_offer_for_ice_restart,
)
from sfu_trio.webrtc.sdp import SessionDescription

pytestmark = pytest.mark.e2e

FINGERPRINT = ":".join(f"{b:02X}" for b in range(32))
TRANSPORT = LocalTransport(
    ice_ufrag="sfuA",
    ice_pwd="0123456789abcdefghijklmn",
    fingerprint_sha256=FINGERPRINT,
    setup="passive",
    candidates=(Candidate.from_sdp("1 1 udp 2130706431 127.0.0.1 7882 typ host"),),
)
HELPERS = """() => {
window.pcs = {};
window.tracks = {};
window.makeOffer = async (name, build) => {
    const pc = new RTCPeerConnection({iceServers: []});
    window.pcs[name] = pc;
    window.tracks[name] = [];
    pc.ontrack = (e) => window.tracks[name].push(
        [e.transceiver.mid, e.track.kind, e.streams.map((s) => s.id)]);
    await build(pc);
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription.sdp;
};
window.applyAnswer = async (name, sdp) => {
    const pc = window.pcs[name];
    await pc.setRemoteDescription({type: "answer", sdp});
    return pc.getTransceivers().map((t) => [t.mid, t.currentDirection]);
};
}"""


@pytest.fixture(scope="module")
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    # getUserMedia needs a secure context: serve a blank page as http://localhost/.
    tab.route(
        "http://localhost/",
        lambda route: route.fulfill(body="<html></html>", content_type="text/html"),
    )
    tab.goto("http://localhost/")
    tab.evaluate(HELPERS)
    yield tab
    context.close()


def _offer(page: Any, name: str, build_js: str) -> SessionDescription:
    sdp = page.evaluate(f"async () => window.makeOffer({name!r}, {build_js})")
    return SessionDescription.parse_untrusted(sdp)


def _apply(page: Any, name: str, sdp: str) -> dict[str, str | None]:
    pairs = page.evaluate("async ([n, s]) => window.applyAnswer(n, s)", [name, sdp])
    return {mid: direction for mid, direction in pairs}


def test_simulcast_offer_is_answered_with_three_receive_layers(page: Any) -> None:
    offer = _offer(
        page,
        "simulcast",
        """async (pc) => {
            const s = await navigator.mediaDevices.getUserMedia(
                {video: {width: 1280, height: 720}});
            pc.addTransceiver(s.getVideoTracks()[0], {direction: "sendonly", streams: [s],
                sendEncodings: [{rid: "q", scaleResolutionDownBy: 4},
                                {rid: "h", scaleResolutionDownBy: 2},
                                {rid: "f", scaleResolutionDownBy: 1}]});
        }""",
    )
    answer = create_answer(offer, TRANSPORT, {})
    assert answer.media[0].receive_rids == ("q", "h", "f")

    assert _apply(page, "simulcast", answer.sdp) == {"0": "sendonly"}
    rids = page.evaluate(
        "() => window.pcs.simulcast.getSenders()[0].getParameters().encodings.map(e => e.rid)"
    )
    assert rids == ["q", "h", "f"]


SEED_BUILD = """async (pc) => {
    const s = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    for (const t of s.getTracks()) pc.addTrack(t, s);
    for (let i = 0; i < 20; i++) pc.addTransceiver("video", {direction: "recvonly"});
    for (let i = 0; i < 20; i++) pc.addTransceiver("audio", {direction: "recvonly"});
}"""


def test_seed_offer_with_three_outgoing_tracks(page: Any) -> None:
    offer = _offer(page, "seed", SEED_BUILD)
    assert len(offer.media) == 42
    video_slots = [m.mid for m in offer.media if m.kind == "video" and m.direction == "recvonly"]
    audio_slots = [m.mid for m in offer.media if m.kind == "audio" and m.direction == "recvonly"]
    assert video_slots[0] is not None and video_slots[1] is not None
    assert audio_slots[0] is not None
    outgoing = {
        video_slots[0]: OutgoingTrack(
            "video", 1001, 1002, "peer-a", "peer-a-cam", "cname-a", "video/VP8"
        ),
        audio_slots[0]: OutgoingTrack(
            "audio", 2001, None, "peer-a", "peer-a-mic", "cname-a", "audio/opus"
        ),
        video_slots[1]: OutgoingTrack(
            "video", 3001, 3002, "peer-b", "peer-b-cam", "cname-b", "video/VP8"
        ),
    }
    answer = create_answer(offer, TRANSPORT, outgoing)
    assert all(m.accepted for m in answer.media)

    directions = _apply(page, "seed", answer.sdp)

    # The client's view: it sends camera+mic, receives on the 3 filled slots, the rest idle.
    expected = {m.mid: "inactive" for m in offer.media}
    expected.update({offer.media[0].mid: "sendonly", offer.media[1].mid: "sendonly"})
    expected.update(dict.fromkeys(outgoing, "recvonly"))
    assert directions == expected
    tracks = sorted(page.evaluate("() => window.tracks.seed"))
    assert tracks == sorted(
        [
            [video_slots[0], "video", ["peer-a"]],
            [audio_slots[0], "audio", ["peer-a"]],
            [video_slots[1], "video", ["peer-b"]],
        ]
    )


def test_data_channel_is_rejected_and_audio_accepted(page: Any) -> None:
    offer = _offer(
        page,
        "datachannel",
        """async (pc) => {
            pc.createDataChannel("chat");
            pc.addTransceiver("audio", {direction: "sendrecv"});
        }""",
    )
    assert [m.kind for m in offer.media] == ["audio", "application"]
    answer = create_answer(offer, TRANSPORT, {})
    assert [m.accepted for m in answer.media] == [True, False]
    assert answer.media[1].rejection_reason == "unsupported media 'application'"

    directions = _apply(page, "datachannel", answer.sdp)

    assert directions == {offer.media[0].mid: "sendonly"}
    assert page.evaluate("() => window.pcs.datachannel.sctp") is None


def test_ice_restart_offer_is_accepted_by_chromium(page: Any) -> None:
    offer = _offer(page, "restart", SEED_BUILD)
    slot = next(m.mid for m in offer.media if m.kind == "video" and m.direction == "recvonly")
    assert slot is not None
    track = OutgoingTrack("video", 5001, 5002, "peer-c", "peer-c-cam", "cname-c", "video/VP8")
    answer = create_answer(offer, TRANSPORT, {slot: track})
    _apply(page, "restart", answer.sdp)
    new_transport = LocalTransport(
        "sfuB", "zyxwvutsrqponmlkjihgfedc", FINGERPRINT, "passive", TRANSPORT.candidates
    )
    restart = create_offer_for_ice_restart(answer, new_transport)

    chromium_answer = page.evaluate(
        """async (sdp) => {
            const pc = window.pcs.restart;
            await pc.setRemoteDescription({type: "offer", sdp});
            await pc.setLocalDescription(await pc.createAnswer());
            return pc.localDescription.sdp;
        }""",
        restart.serialize(),
    )

    parsed = SessionDescription.parse_untrusted(chromium_answer)
    assert [m.mid for m in parsed.media] == [m.mid for m in offer.media]
    assert parsed.media[0].ice_ufrag != offer.media[0].ice_ufrag  # Chromium restarted ICE too
    directions = {m.mid: m.direction for m in parsed.media}
    assert directions[slot] == "recvonly"
    assert directions[offer.media[0].mid] == "sendonly"
