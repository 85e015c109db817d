"""Media through a cluster with a browser: Chromium running the web client through node B and an
aiortc client through node C decode each other, in a room hosted by node A.

Synchronous on purpose: Playwright's sync API cannot run inside a Trio test, so the aiortc
client runs its Trio loop in a thread (`AiortcInThread`) and the nodes are subprocesses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.e2e.helpers import AiortcInThread, open_participant

from .conftest import POLL, Cluster, http_sync

pytestmark = pytest.mark.cluster

ROOM = "browser-media"


# Module scope: sync Playwright keeps an asyncio loop in this thread while it lives.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


# The port of the remote candidate of the browser's selected ICE pair.
MEDIA_PORT = """async () => {
    const stats = await window.sfu.pc.getStats();
    for (const s of stats.values()) {
        if (s.type === "transport" && s.selectedCandidatePairId) {
            const pair = stats.get(s.selectedCandidatePairId);
            return stats.get(pair.remoteCandidateId).port;
        }
    }
    return null;
}"""


def room_listings(urls: list[str], seconds: float) -> list[Any]:
    """The /api/rooms bodies of every node once they agree on one room with two peers."""
    deadline = time.monotonic() + seconds
    while True:
        bodies = [http_sync("GET", url + "/api/rooms")[1] for url in urls]
        settled = all(body == bodies[0] for body in bodies) and bodies[0]["total"] == 1
        if settled and bodies[0]["rooms"][0]["peerCount"] == 2:
            return bodies
        assert time.monotonic() < deadline, f"room lists not settled in {seconds} s: {bodies}"
        time.sleep(POLL)  # polling other processes' state


def test_browser_and_aiortc_through_two_doors_decode_each_other(
    cluster: Cluster, browser: Browser
) -> None:
    a, b, c = cluster.start("node-a", "node-b", "node-c")
    ada = open_participant(browser, b.url, ROOM, "Ada")
    ada_id = ada.peer_id
    with AiortcInThread(c.url, ROOM, "aiortc") as aiortc:
        ada.wait_receiving([aiortc.peer_id], audio=False, timeout=20)
        ada.wait_stats(
            "(stats, peer) => stats.some("
            "(s) => s.peerId === peer && s.kind === 'video' && s.framesDecoded > 10)",
            aiortc.peer_id,
            timeout=10,
        )
        aiortc.wait_videos(1, timeout=20)  # Ada's camera, the only other video in the room
        assert {s["peerId"] for s in ada.stats()} == {aiortc.peer_id}
        # The browser's media goes straight to node A, not to node B, its signaling door.
        owner_ports = {int(a.env["SFU_UDP_PORT"]), int(a.env["SFU_TCP_PORT"])}
        assert ada.page.evaluate(MEDIA_PORT) in owner_ports
        bodies = room_listings([a.url, b.url, c.url], 10)
        room = bodies[0]["rooms"][0]
        assert (room["name"], room["ownerNode"], room["peerCount"]) == (ROOM, "node-a", 2)
        status, shown = http_sync("GET", c.url + f"/api/rooms/{ROOM}")
        assert status == 200
        assert {p["peerId"] for p in shown["participants"]} == {ada_id, aiortc.peer_id}
    assert ada.errors == []
    ada.close()
