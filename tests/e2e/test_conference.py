"""A three-person call in the real client, in headless Chromium, through a real server process.

One call (a server and three browser contexts) is shared by the tests of this module, in order:
media flows, the screenshot, mute and camera-off, screen sharing, a late joiner, the speaking
indicator, and last leaving and rejoining (which changes who is in the call).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Browser
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.helpers import AiortcInThread, Participant, open_participant, tile_ids
from tests.server_process import ServerProcess, run_server
from tests.signaling_client import connect

pytestmark = pytest.mark.e2e

ROOM = "e2e-conference"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-call.png"
JOIN_DEADLINE = 5.0


@dataclass
class Call:
    server: ServerProcess
    people: list[Participant]
    peer_ids: dict[str, str]  # name -> peerId

    def others(self, who: Participant) -> list[str]:
        return [self.peer_ids[p.name] for p in self.people if p is not who]


@pytest.fixture(scope="module")
def call(browser: Browser) -> Iterator[Call]:
    with run_server() as server:
        people = [
            open_participant(browser, server.url, ROOM, "Ada Lovelace", viewport=VIEW_LARGE),
            open_participant(browser, server.url, ROOM, "Grace Hopper"),
            open_participant(browser, server.url, ROOM, "Alan Turing"),
        ]
        peer_ids = {p.name: p.peer_id for p in people}
        yield Call(server, people, peer_ids)
        for person in people:
            if not person.page.is_closed():
                assert person.errors == [], person.errors
                person.close()


VIEW_LARGE = {"width": 1280, "height": 720}


def test_everyone_decodes_and_hears_the_two_others(call: Call) -> None:
    """Within 5 s of the last one joining, everyone decodes and hears the two others."""
    last_joined = max(p.opened_at for p in call.people)
    for person in call.people:
        left = JOIN_DEADLINE - (time.monotonic() - last_joined)
        person.wait_receiving(call.others(person), timeout=max(left, 0.001))


def test_simulcast_layers_are_published_and_one_is_received(call: Call) -> None:
    ada, grace, _alan = call.people
    layers = grace.page.evaluate(
        "(peer) => [...window.sfu.room.peers.get(peer).tracks.values()]"
        ".filter((t) => t.kind === 'video').map((t) => t.layers)",
        call.peer_ids[ada.name],
    )
    assert layers == [["q", "h", "f"]]
    (video,) = [
        s for s in grace.stats() if s["peerId"] == call.peer_ids[ada.name] and s["kind"] == "video"
    ]
    assert video["frameWidth"] > 0, video


def _tile(source: str = "camera") -> str:
    return f"document.querySelector(`.tile[data-peer-id='${{peer}}'][data-source='{source}']`)"


MIC_SHOWN_MUTED = (
    f"(peer) => {{ const t = {_tile()}; return t && !t.querySelector('.tile-mic').hidden; }}"
)
MIC_SHOWN_ON = (
    f"(peer) => {{ const t = {_tile()}; return t && t.querySelector('.tile-mic').hidden; }}"
)
AVATAR_SHOWN = (
    f"(peer) => {{ const t = {_tile()}; "
    "return t && t.classList.contains('no-video') && !t.querySelector('.avatar').hidden; }"
)
VIDEO_SHOWN = f"(peer) => {{ const t = {_tile()}; return t && !t.classList.contains('no-video'); }}"


def _click_and_wait_at_others(
    call: Call, who: Participant, button: str, condition: str, within: float
) -> None:
    started = time.monotonic()
    who.page.click(button)
    for other in call.people:
        if other is not who:
            left = within - (time.monotonic() - started)
            other.wait(condition, call.peer_ids[who.name], timeout=max(left, 0.001))


def test_mute_and_camera_off_show_at_the_others_within_a_second(call: Call) -> None:
    grace = call.people[1]
    _click_and_wait_at_others(call, grace, "#btn-mic", MIC_SHOWN_MUTED, within=1.0)
    _click_and_wait_at_others(call, grace, "#btn-cam", AVATAR_SHOWN, within=1.0)
    _click_and_wait_at_others(call, grace, "#btn-mic", MIC_SHOWN_ON, within=1.0)
    _click_and_wait_at_others(call, grace, "#btn-cam", VIDEO_SHOWN, within=3.0)
    for other in call.people:
        if other is not grace:
            other.wait_receiving([call.peer_ids[grace.name]], timeout=5)


def test_screenshot_of_the_call(call: Call) -> None:
    """docs/screenshot-call.png: Ada's view of the call, with Alan's microphone off."""
    ada, _grace, alan = call.people
    alan.page.click("#btn-mic")
    ada.wait(MIC_SHOWN_MUTED, call.peer_ids[alan.name], timeout=2)
    ada.wait(
        "() => window.sfu.tiles().filter((t) => t.source === 'camera' && t.video).length === 3"
    )
    ada.page.evaluate("() => document.getElementById('toasts').replaceChildren()")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    ada.page.screenshot(path=str(SCREENSHOT))
    alan.page.click("#btn-mic")
    ada.wait(MIC_SHOWN_ON, call.peer_ids[alan.name], timeout=2)
    assert SCREENSHOT.stat().st_size > 10_000


SCREEN_TILE = """(peer) => window.sfu.tiles().some(
    (t) => t.source === 'screen' && t.peerId === peer && t.video)"""
SCREEN_GONE = """(peer) => !window.sfu.tiles().some((t) => t.source === 'screen')
    && ![...window.sfu.room.peers.get(peer).tracks.values()].some((t) => t.source === 'screen')"""


def test_screen_share_appears_at_the_others_and_goes_away(call: Call) -> None:
    alan = call.people[2]
    alan_id = call.peer_ids[alan.name]
    alan.page.click("#btn-screen")
    alan.wait("() => window.sfu.tiles().some((t) => t.source === 'screen')")
    for other in call.people:
        if other is not alan:
            other.wait_receiving([alan_id], source="screen", audio=False, timeout=5)
            other.wait(SCREEN_TILE, alan_id, timeout=2)
    alan.page.click("#btn-screen")
    for other in call.people:
        if other is not alan:
            other.wait(SCREEN_GONE, alan_id, timeout=5)
            other.wait_stats(
                "(stats, peer) => !stats.some((s) => s.peerId === peer && s.source === 'screen')",
                alan_id,
                timeout=5,
            )


# The time from the first answer that carries `peer`'s camera to its first decoded frame (ms).
FIRST_FRAME_AFTER_ANSWER = """async (peer) => {
    const carries = (m) => m.type === "answer"
        && (m.data.tracks || []).some((t) => t.peerId === peer && t.kind === "video");
    for (;;) {
        const answer = window.sfu.log.find(carries);
        const stats = await window.sfu.stats();
        const video = stats.find((s) => s.peerId === peer && s.kind === "video");
        if (answer && video && video.framesDecoded > 0) return performance.now() - answer.at;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}"""


NOBODY_NAMED = """(name) => ![...window.sfu.room.peers.values()].some((p) => p.name === name)
    && window.sfu.tiles().length === 3"""


def test_late_subscriber_decodes_its_first_frame_within_1_5_s_of_its_answer(
    call: Call, browser: Browser
) -> None:
    late = open_participant(browser, call.server.url, ROOM, "Late Joiner", simulcast="0")
    try:
        for person in call.people:
            waited_ms = late.page.evaluate(FIRST_FRAME_AFTER_ANSWER, call.peer_ids[person.name])
            print(f"late joiner: first frame of {person.name} {waited_ms:.0f} ms after its answer")
            assert waited_ms < 1500, f"first frame of {person.name} {waited_ms:.0f} ms after"
        assert late.errors == []
    finally:
        late.close()
    for person in call.people:
        person.wait(NOBODY_NAMED, "Late Joiner", timeout=5)


DOMINANT = """(peer) => window.sfu.log.some(
    (m) => m.type === "dominant-speaker" && m.data.newPeerId === peer)"""
SPEAKING_TILE = """(peer) => {
    const speaking = window.sfu.tiles().filter((t) => t.speaking).map((t) => t.peerId);
    return speaking.length === 1 && speaking[0] === peer;
}"""


SPEAKER_DEBUG = """() => JSON.stringify({
    tiles: window.sfu.tiles(), speakerId: window.sfu.room.speakerId,
    log: window.sfu.log.filter((m) => m.type === "dominant-speaker").map((m) => m.data)})"""


def test_speaking_indicator(call: Call) -> None:
    """The speaking ring follows ``dominant-speaker``: with one microphone on at a time, its
    owner becomes the dominant speaker and the others ring that tile."""
    ada, grace, _alan = call.people
    for person in call.people:
        _set_mic(person, on=False)
    try:
        for person in call.people:  # silence releases any dominant speaker (~2 s)
            person.wait("() => !window.sfu.tiles().some((t) => t.speaking)", timeout=8)
        for speaker, previous in ((ada, None), (grace, ada)):
            if previous is not None:
                _set_mic(previous, on=False)
            _set_mic(speaker, on=True)
            speaker_id = call.peer_ids[speaker.name]
            listener = next(p for p in call.people if p is not speaker)
            try:
                listener.wait(DOMINANT, speaker_id, timeout=8)
            except PlaywrightTimeout:
                if not listener.page.evaluate(
                    "() => window.sfu.log.some((m) => m.type === 'dominant-speaker')"
                ):
                    pytest.skip("the server sent no dominant-speaker message in 8 s")
                raise
            for person in call.people:
                if person is not speaker:
                    try:
                        person.wait(SPEAKING_TILE, speaker_id, timeout=2)
                    except PlaywrightTimeout:
                        raise AssertionError(
                            f"{person.name}: {speaker.name} ({speaker_id}) should ring: "
                            + person.page.evaluate(SPEAKER_DEBUG)
                        ) from None
    finally:
        for person in call.people:
            _set_mic(person, on=True)


def _set_mic(person: Participant, *, on: bool) -> None:
    if person.page.evaluate("() => window.sfu.local.micOn") != on:
        person.page.click("#btn-mic")
        person.wait("(on) => window.sfu.local.micOn === on", on)


PEER_LEFT = """(peer) => window.sfu.log.some(
    (m) => m.type === "peer-left" && m.data.peerId === peer)"""


def test_closing_a_tab_removes_its_tiles_and_rejoining_works(call: Call, browser: Browser) -> None:
    ada, grace, alan = call.people
    alan_id = call.peer_ids[alan.name]
    for person in (ada, grace):
        person.page.evaluate("() => { window.sfu.log.length = 0; }")
    alan.close()
    for person in (ada, grace):
        person.wait(
            PEER_LEFT,
            alan_id,
            timeout=5,
        )
        person.wait("(peer) => !window.sfu.tiles().some((t) => t.peerId === peer)", alan_id)
        assert tile_ids(person) == {call.peer_ids[ada.name], call.peer_ids[grace.name]}
    again = open_participant(browser, call.server.url, ROOM, alan.name)
    call.people[2] = again
    call.peer_ids[alan.name] = again.peer_id
    assert again.peer_id != alan_id
    for person in call.people:
        person.wait_receiving(call.others(person), timeout=8)
        assert len(tile_ids(person)) == 3


def test_aiortc_publisher_and_subscriber_beside_a_browser(browser: Browser) -> None:
    """aiortc, an implementation we did not write, publishes to and receives from Chromium."""
    with run_server() as server:
        ada = open_participant(browser, server.url, "e2e-aiortc", "Ada")
        ada_id = ada.peer_id
        with (
            AiortcInThread(server.url, "e2e-aiortc", "aiortc publisher") as publisher,
            AiortcInThread(server.url, "e2e-aiortc", "aiortc viewer", publish=False) as viewer,
        ):
            ada.wait_receiving([publisher.peer_id], audio=False, timeout=15)
            ada.wait_stats(
                "(stats, peer) => stats.some("
                "(s) => s.peerId === peer && s.kind === 'audio' && s.packetsReceived > 0)",
                publisher.peer_id,
            )
            publisher.wait_videos(1)  # Ada's camera (simulcast, one layer forwarded)
            viewer.wait_videos(2)  # Ada's camera and the aiortc publisher's video
            assert viewer.peer_id not in {s["peerId"] for s in ada.stats()}
        assert ada_id and ada.errors == []
        ada.close()


# An offer like the client's: microphone, camera in three simulcast layers, receive slots.
CHROMIUM_OFFER = """async () => {
    const pc = new RTCPeerConnection({bundlePolicy: "max-bundle"});
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    pc.addTransceiver(stream.getAudioTracks()[0], {direction: "sendonly", streams: [stream]});
    pc.addTransceiver(stream.getVideoTracks()[0], {direction: "sendonly", streams: [stream],
        sendEncodings: [{rid: "q", scaleResolutionDownBy: 4}, {rid: "h", scaleResolutionDownBy: 2},
                        {rid: "f"}]});
    for (const kind of ["audio", "video", "audio", "video"]) {
        pc.addTransceiver(kind, {direction: "recvonly"});
    }
    await pc.setLocalDescription(await pc.createOffer());
    const sdp = pc.localDescription.sdp;
    pc.close();
    stream.getTracks().forEach((t) => t.stop());
    return sdp;
}"""


def _process_figures(pid: int) -> tuple[int, int]:
    """(resident memory in kB, open file descriptors) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _health(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
        health: dict[str, Any] = json.load(response)
        return health


async def _join_offer_leave(url: str, sdp: str, cycles: int, first: int) -> int:
    """Each cycle: a new socket joins, publishes (offer -> answer) and leaves; the number of
    ``peer-left`` an observer in the room saw."""
    async with connect(url) as observer:
        await observer.join("e2e-cycles", "observer")
        for n in range(first, first + cycles):
            async with connect(url) as client:
                ack = await client.join("e2e-cycles", f"cycler-{n}")
                await client.send("offer", {"sdp": sdp, "type": "offer"})
                answer = await client.wait_for("answer")
                assert answer["peerId"] == ack["peerId"] and "a=ice-lite" in answer["sdp"]
                await client.send("leave")
                left = await observer.wait_for("peer-left")
                assert left["peerId"] == ack["peerId"]
        await observer.send("leave")
    return cycles


def test_hundred_join_leave_cycles_leave_nothing_behind(browser: Browser) -> None:
    with run_server(SFU_EMPTY_ROOM_TTL_SEC="0.2") as server:
        page = open_participant(browser, server.url, "e2e-offer-maker", "Offer Maker")
        sdp = page.page.evaluate(CHROMIUM_OFFER)
        page.close()
        pid = server.process.pid
        trio.run(_join_offer_leave, server.url, sdp, 20, 0)  # warm-up: caches, imports
        _wait_idle(server)
        rss_before, fds_before = _process_figures(pid)
        assert trio.run(_join_offer_leave, server.url, sdp, 100, 20) == 100
        _wait_idle(server)
        rss_after, fds_after = _process_figures(pid)
        print("RSS", rss_before, rss_after, "fds", fds_before, fds_after)
        assert fds_after <= fds_before, (fds_before, fds_after)
        assert rss_after - rss_before < 6_000, f"RSS {rss_before} kB -> {rss_after} kB"


def _wait_idle(server: ServerProcess, timeout: float = 10.0) -> None:
    """Until /health counts no room and no peer."""
    deadline = time.monotonic() + timeout
    while (health := _health(server))["rooms"] or health["peers"]:
        assert time.monotonic() < deadline, health
        time.sleep(0.05)
