"""Driving the real web client in Chromium: open a participant, read its media statistics.

Everything waits with `page.wait_for_function` (polling in the page) and a timeout, never sleeps.
`window.sfu` is the client's debug hook (client/debug.js).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import trio
from playwright.sync_api import Browser, Page, ViewportSize

from tests.interop.conftest import AiortcPeer, open_aiortc_peer
from tests.signaling_client import SignalingClient, connect

SMALL: ViewportSize = {"width": 480, "height": 270}

# Every peer in `arg.peers` sends decoded video (framesDecoded > arg.frames[peer] or 0) and
# audible audio (audioLevel > 0) of `arg.source`.
RECEIVING = """(stats, arg) => arg.peers.every((peer) => {
    const video = stats.find(
        (s) => s.peerId === peer && s.kind === "video" && s.source === arg.source);
    const audio = stats.find((s) => s.peerId === peer && s.kind === "audio");
    const frames = (arg.frames || {})[peer] || 0;
    return video && video.framesDecoded > frames && (!arg.audio || (audio && audio.audioLevel > 0));
})"""


@dataclass
class Participant:
    """One browser context running the client, joined to a room."""

    page: Page
    name: str
    opened_at: float
    errors: list[str] = field(default_factory=list)

    @property
    def peer_id(self) -> str:
        self.page.wait_for_function("() => window.sfu && window.sfu.state.peerId", timeout=10_000)
        peer_id: str = self.page.evaluate("() => window.sfu.state.peerId")
        return peer_id

    def stats(self) -> list[dict[str, Any]]:
        """The client's per-received-track figures (`sfu.stats()`)."""
        stats: list[dict[str, Any]] = self.page.evaluate("() => window.sfu.stats()")
        return stats

    def frames_decoded(self, peer_id: str, source: str = "camera") -> int:
        return max(
            (
                s.get("framesDecoded", 0)
                for s in self.stats()
                if s["peerId"] == peer_id and s["kind"] == "video" and s["source"] == source
            ),
            default=0,
        )

    def wait_stats(self, predicate: str, arg: Any = None, timeout: float = 10.0) -> None:
        """Until ``predicate(stats, arg)`` (a JS function source) holds in the page.

        Polled in the page (`wait_for_function` would not await the async `sfu.stats()`); on
        timeout the assertion shows the last statistics.
        """
        last = self.page.evaluate(
            f"""async ([arg, timeoutMs]) => {{
                const predicate = {predicate};
                const deadline = performance.now() + timeoutMs;
                for (;;) {{
                    const stats = await window.sfu.stats();
                    if (predicate(stats, arg)) return null;
                    if (performance.now() > deadline) return JSON.stringify(stats);
                    await new Promise((resolve) => setTimeout(resolve, 50));
                }}
            }}""",
            [arg, timeout * 1000],
        )
        assert last is None, f"{self.name}: not {predicate} ({arg}) in {timeout} s: {last}"

    def wait_receiving(
        self,
        peer_ids: list[str],
        *,
        source: str = "camera",
        audio: bool = True,
        timeout: float = 10.0,
    ) -> None:
        """Until every peer's video decodes and keeps decoding (and its audio is audible)."""
        arg: dict[str, Any] = {"peers": peer_ids, "source": source, "audio": audio}
        self.wait_stats(RECEIVING, arg, timeout)
        arg["frames"] = {peer: self.frames_decoded(peer, source) for peer in peer_ids}
        self.wait_stats(RECEIVING, arg, timeout)

    def wait(self, expression: str, arg: Any = None, timeout: float = 10.0) -> None:
        """Until the JS ``expression`` (a function of ``arg``) is truthy."""
        self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)

    def tiles(self) -> list[dict[str, Any]]:
        tiles: list[dict[str, Any]] = self.page.evaluate("() => window.sfu.tiles()")
        return tiles

    def close(self) -> None:
        self.page.context.close()


# Four pages encoding 720p30 simulcast starve two cores and every browser-side timing with them;
# 960x540 still carries the three simulcast layers (quarter, half, full).
CAMERA = "960x540@15"


def open_participant(
    browser: Browser,
    base_url: str,
    room: str,
    name: str,
    *,
    viewport: ViewportSize | None = None,
    **query: str,
) -> Participant:
    """A new browser context (own storage, own devices) opening ``/?room=&name=``.

    The camera captures `CAMERA` unless ``camera=`` is given.
    """
    context = browser.new_context(viewport=viewport or SMALL)
    page = context.new_page()
    participant = Participant(page, name, time.monotonic())
    page.on("pageerror", lambda exc: participant.errors.append(str(exc)))
    query = {"camera": CAMERA, **query}
    params = {"room": room, "name": name, **query} if room else {"name": name, **query}
    page.goto(f"{base_url}/?{urlencode(params)}")
    return participant


def tile_ids(participant: Participant, source: str = "camera") -> set[str]:
    return {t["peerId"] for t in participant.tiles() if t["source"] == source}


class AiortcInThread:
    """An aiortc client (tests/interop's helper process) in a room, driven from a thread.

    The thread runs its own Trio loop: the signaling client, the aiortc process and the
    renegotiation loop (every ``renegotiate`` is answered with more receive slots and a new
    offer). The browser tests stay synchronous; they read `videos_decoded` (how many received
    video tracks have decoded 5 frames) through `wait_videos`.
    """

    def __init__(self, base_url: str, room: str, name: str, *, publish: bool = True) -> None:
        self.base_url = base_url
        self.room = room
        self.name = name
        self.publish = publish
        self.peer_id = ""
        self.videos_decoded = 0
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._thread = threading.Thread(target=self._main, name=f"aiortc-{name}", daemon=True)

    def __enter__(self) -> AiortcInThread:
        self._thread.start()
        self._wait(lambda: bool(self.peer_id), 20, "joined")
        return self

    def __exit__(self, *exc_info: object) -> None:
        token, scope = self._token, self._scope
        if token is not None and scope is not None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(scope.cancel)
        self._thread.join(timeout=15)

    def wait_videos(self, count: int, timeout: float = 15.0) -> None:
        """Until ``count`` received video tracks have decoded frames."""
        self._wait(lambda: self.videos_decoded >= count, timeout, f"{count} videos decoded")

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self._changed:
            done = self._changed.wait_for(lambda: predicate() or self.error is not None, timeout)
        if self.error is not None:
            raise AssertionError(f"aiortc {self.name} failed") from self.error
        assert done, f"aiortc {self.name}: not {what} within {timeout} s"

    def _update(self, **fields: Any) -> None:
        with self._changed:
            for key, value in fields.items():
                setattr(self, key, value)
            self._changed.notify_all()

    def _main(self) -> None:
        try:
            trio.run(self._run)
        except BaseException as exc:  # reported to the test thread
            self._update(error=exc)

    async def _run(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        args = () if self.publish else ("--no-publish",)
        async with open_aiortc_peer(*args) as peer, connect(self.base_url) as client:
            ack = await client.join(self.room, self.name.replace(" ", "-"), self.name)
            with trio.CancelScope() as scope:
                self._scope = scope
                self._update(peer_id=ack["peerId"])
                await self._negotiate_forever(peer, client)

    async def _negotiate_forever(self, peer: AiortcPeer, client: SignalingClient) -> None:
        state = {"in_flight": False, "wanted": 0}
        decoded = 0

        async def ask_for_offer(slots: int) -> None:
            state["in_flight"] = True
            await peer.send({"type": "offer", "recv": {"audio": slots, "video": slots}})

        async def from_aiortc() -> None:
            nonlocal decoded
            while True:
                message = await peer.receive()
                if message["type"] == "offer":
                    await client.send(
                        "offer",
                        {"sdp": message["sdp"], "type": "offer", "tracks": message["tracks"]},
                    )
                elif message["type"] == "frames" and (message["kind"], message["count"]) == (
                    "video",
                    5,
                ):
                    decoded += 1
                    self._update(videos_decoded=decoded)

        async def from_server() -> None:
            while True:
                message = await client.next_message(seconds=math.inf)
                data = message.get("data", {})
                if message["type"] == "answer":
                    await peer.send({"type": "answer", "sdp": data["sdp"]})
                    state["in_flight"] = False
                    if state["wanted"]:
                        await ask_for_offer(state["wanted"])
                        state["wanted"] = 0
                elif message["type"] == "renegotiate":
                    slots = max(math.ceil(data["trackCount"] / 2), 1)
                    if state["in_flight"]:
                        state["wanted"] = slots
                    else:
                        await ask_for_offer(slots)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(from_aiortc)
            nursery.start_soon(from_server)
            if self.publish:
                state["in_flight"] = True  # the helper offers its tracks by itself
            else:
                # One slot of each kind: aiortc gathers no candidates for its first
                # transport when its first offer has two recvonly m-lines of one kind.
                await ask_for_offer(1)


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
# Objects a participant owns: none may survive it.
PER_PARTICIPANT = (
    "Participant",
    "ParticipantMedia",
    "PeerTransport",
    "PeerConnectionCore",
    "PublisherReceiver",
    "UpTrack",
    "DownTrack",
    "PublishedTrack",
    "SubscriberFeedback",
    "Room",
)


async def join_offer_leave(url: str, sdp: str, cycles: int, first: int) -> None:
    """Each cycle: a new socket joins, publishes (offer -> answer) and leaves, seen by an
    observer in the room."""
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


def server_tasks() -> Counter[str]:
    """The server's own tasks by name (HTTP connection tasks of hypercorn come and go)."""

    def walk(task: trio.lowlevel.Task) -> Iterator[str]:
        yield task.name
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                yield from walk(child)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return Counter(name for name in walk(root) if name.startswith("sfu_trio."))


def live_objects() -> dict[str, int]:
    gc.collect()
    counts = Counter(
        type(o).__name__
        for o in gc.get_objects()
        if str(getattr(type(o), "__module__", "")).startswith("sfu_trio.")
    )
    return {name: counts[name] for name in PER_PARTICIPANT}


async def health_of(url: str) -> dict[str, Any]:
    def get() -> dict[str, Any]:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            health: dict[str, Any] = json.load(response)
            return health

    return await trio.to_thread.run_sync(get)
