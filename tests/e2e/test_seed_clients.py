"""SFU-Go's existing clients work against sfu_trio unchanged (SEED_PROTOCOL.md).

``seed_page/`` reproduces the old SFU-Go test page's wire behaviour (JSON-string ``data``, join
without a session token, 42 m-lines in the first offer, renegotiation on ``renegotiate``, tiles per
msid stream id). It is served from another origin (a local http.server) than the sfu_trio server
it talks to, as the old page usually is.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import ServerProcess, free_port, run_server

pytestmark = pytest.mark.e2e

SEED_PAGE = Path(__file__).parent / "seed_page"
JOIN_TIMEOUT_MS = 15_000
RECOVERY_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 5.0  # a hang, not the slowness of a loaded 2-core machine

# Every id in `ids` has a tile that decoded video and received audio in the last second, and
# there is no other tile (none for an absent participant, none for an empty slot).
ALL_DECODING = """(ids) => seed.decodingAll(ids) && seed.emptyTiles() === 0
    && seed.tiles().length === ids.length && ids.every((id) => seed.tiles().includes(id))"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def seed_site() -> Iterator[str]:
    """The seed page on http://127.0.0.1:<port>/ (another origin than the SFU's)."""
    handler = functools.partial(_QuietHandler, directory=str(SEED_PAGE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with run_server() as process:
        yield process


class SeedTab:
    """One browser context showing the seed page, with the page's errors collected."""

    def __init__(
        self, browser: Any, site: str, server: ServerProcess, room: str, user: str
    ) -> None:
        self.context = browser.new_context(viewport={"width": 480, "height": 360})
        self.page = self.context.new_page()
        self.page_errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        ws_url = server.url.replace("http://", "ws://") + "/ws"
        self.page.goto(f"{site}/index.html?server={ws_url}&room={room}&userId={user}&name={user}")
        self.user = user

    def peer_id(self, timeout_ms: float = JOIN_TIMEOUT_MS) -> str:
        handle = self.page.wait_for_function("() => seed.peerId()", timeout=timeout_ms)
        peer_id: str = handle.json_value()
        return peer_id

    def wait_decoding(self, peer_ids: list[str], timeout_ms: float = JOIN_TIMEOUT_MS) -> None:
        try:
            self.page.wait_for_function(ALL_DECODING, arg=peer_ids, timeout=timeout_ms)
        except Exception as exc:
            raise AssertionError(
                f"{self.user} does not decode exactly {peer_ids}: {self.describe()}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate(
            """() => ({peerId: seed.peerId(), peers: seed.peers(), tiles: seed.tiles(),
                emptyTiles: seed.emptyTiles(), stats: seed.stats(), offersSent: seed.offersSent,
                errors: seed.errors.slice(0, 5), sent: seed.sent, received: seed.received,
                ice: seed.iceState()})"""
        )
        return state

    def errors(self) -> list[Any]:
        server_errors: list[Any] = self.page.evaluate("() => seed.errors")
        return self.page_errors + server_errors

    def close(self) -> None:
        self.context.close()


def expect_everyone_decodes(tabs: list[SeedTab], deadline: float) -> None:
    """Each tab decodes exactly the others by ``deadline`` (a time.monotonic() value)."""

    def left_ms() -> float:
        return max(deadline - time.monotonic(), 0.001) * 1000

    ids = {tab.user: tab.peer_id(left_ms()) for tab in tabs}
    for tab in tabs:
        tab.wait_decoding([peer for user, peer in ids.items() if user != tab.user], left_ms())


def join_deadline() -> float:
    return time.monotonic() + JOIN_TIMEOUT_MS / 1000


def assert_clean(tab: SeedTab) -> None:
    """No page error, no server `error`, and every offer the page sent was answered."""
    assert tab.errors() == []
    offers, answers = tab.page.evaluate("() => [seed.offersSent, seed.answersReceived.length]")
    assert answers == offers


def frames_from(tab: SeedTab, peer_id: str) -> int:
    frames: int = tab.page.evaluate("(id) => seed.stats()[id].framesDecoded", peer_id)
    return frames


class HealthWatch:
    """Polls /health from a thread while a test runs; remembers every failure and the slowest."""

    def __init__(self, server: ServerProcess) -> None:
        self.url = server.url + "/health"
        self.failures: list[str] = []
        self.checks = 0
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.checks += 1
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=HEALTH_TIMEOUT_S) as response:
                    if response.status != 200:
                        self.failures.append(f"status {response.status}")
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            self.slowest = max(self.slowest, time.monotonic() - started)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_three_seed_pages_see_and_hear_each_other(
    browser: Any, seed_site: str, server: ServerProcess
) -> None:
    tabs = [SeedTab(browser, seed_site, server, "seed-three", u) for u in ("ann", "bob", "cy")]
    try:
        expect_everyone_decodes(tabs, join_deadline())
        for tab in tabs:
            assert tab.page.evaluate("() => seed.firstOfferMLines") == 42
            assert_clean(tab)
    finally:
        for tab in tabs:
            tab.close()


def test_leave_rejoin_and_tab_reopen_recover_within_five_seconds(
    browser: Any, seed_site: str, server: ServerProcess
) -> None:
    room = "seed-rejoin"
    tabs = [SeedTab(browser, seed_site, server, room, u) for u in ("ann", "bob", "cy")]
    try:
        with HealthWatch(server) as health:
            expect_everyone_decodes(tabs, join_deadline())
            old_ann = tabs[0].peer_id()
            deadline = time.monotonic() + RECOVERY_TIMEOUT_S
            tabs[0].page.evaluate("() => { seed.leave(); return seed.join(); }")
            tabs[0].page.wait_for_function(
                "(old) => seed.peerId() && seed.peerId() !== old", arg=old_ann, timeout=5_000
            )
            expect_everyone_decodes(tabs, deadline)

            deadline = time.monotonic() + RECOVERY_TIMEOUT_S
            tabs[2].close()
            tabs[2] = SeedTab(browser, seed_site, server, room, "cy")
            expect_everyone_decodes(tabs, deadline)
        assert health.checks > 0
        assert health.failures == [], f"slowest /health: {health.slowest:.2f} s"
        for tab in tabs:
            assert_clean(tab)
    finally:
        for tab in tabs:
            tab.close()


def test_closing_a_tab_is_leaving(browser: Any, seed_site: str, server: ServerProcess) -> None:
    """SEED_PROTOCOL §9: the old page sends no `leave` on unload; closing it must still be one."""
    tabs = [SeedTab(browser, seed_site, server, "seed-close", u) for u in ("ann", "bob")]
    ann, bob = tabs
    try:
        expect_everyone_decodes(tabs, join_deadline())
        bob_id = bob.peer_id()
        bob.close()
        try:
            ann.page.wait_for_function(
                "(id) => !seed.peers().includes(id) && seed.tiles().length === 0",
                arg=bob_id,
                timeout=RECOVERY_TIMEOUT_S * 1000,
            )
        except Exception as exc:
            raise AssertionError(f"no peer-left for a closed tab: {ann.describe()}") from exc
        assert_clean(ann)
    finally:
        for tab in tabs:
            tab.close()


def test_pong_without_data_keeps_the_socket_alive(browser: Any, seed_site: str) -> None:
    """Pings every 0.25 s, sockets silent for 1.5 s dropped: the page's bare `pong`s count.

    (A shorter timeout tests the loaded machine instead: a page starting its camera on two
    busy cores can stall its main thread for more than half a second.)
    """
    with run_server(SFU_PING_INTERVAL_SEC="0.25", SFU_PING_TIMEOUT_SEC="1.5") as fast_pings:
        tab = SeedTab(browser, seed_site, fast_pings, "seed-ping", "ann")
        try:
            tab.peer_id()
            # Once negotiation is over the page sends nothing but pongs: 24 more pings is
            # four keepalive timeouts.
            tab.page.wait_for_function("() => seed.iceState() === 'connected'", timeout=10_000)
            pings = tab.page.evaluate("() => seed.received.ping ?? 0")
            tab.page.wait_for_function(
                "(n) => (seed.received.ping ?? 0) >= n", arg=pings + 24, timeout=15_000
            )
            assert tab.page.evaluate("() => seed.socketOpen() && seed.sent.pong >= 24")
            assert_clean(tab)
        finally:
            tab.close()


def test_fourth_participant_sees_everyone_in_its_first_answer(
    browser: Any, seed_site: str, server: ServerProcess
) -> None:
    room = "seed-fourth"
    tabs = [SeedTab(browser, seed_site, server, room, u) for u in ("ann", "bob", "cy")]
    try:
        expect_everyone_decodes(tabs, join_deadline())
        earlier = [tab.peer_id() for tab in tabs]
        dan = SeedTab(browser, seed_site, server, room, "dan")
        tabs.append(dan)
        handle = dan.page.wait_for_function(
            f"(ids) => ({ALL_DECODING})(ids) && {{offers: seed.offersSent}}",
            arg=earlier,
            timeout=JOIN_TIMEOUT_MS,
        )
        assert handle.json_value() == {"offers": 1}
        first_answer_streams = dan.page.evaluate("() => seed.answersReceived[0]")
        assert set(earlier) <= set(first_answer_streams)
        for tab in tabs:
            assert_clean(tab)
    finally:
        for tab in tabs:
            tab.close()


def test_ice_restart_through_the_old_flow_keeps_media_flowing(
    browser: Any, seed_site: str, server: ServerProcess
) -> None:
    tabs = [SeedTab(browser, seed_site, server, "seed-restart", u) for u in ("ann", "bob")]
    ann, bob = tabs
    try:
        expect_everyone_decodes(tabs, join_deadline())
        ann_id, bob_id = ann.peer_id(), bob.peer_id()
        before = ann.page.evaluate("() => seed.transportStats()")
        ann.page.evaluate("() => seed.requestIceRestart()")
        ann.page.wait_for_function("() => seed.iceRestarts === 1", timeout=5_000)
        remote, local = ann.page.evaluate("() => [seed.remoteUfrags, seed.localUfrags]")
        assert remote[-1] != remote[-2], "the ice-restart-offer must carry new ICE credentials"
        assert local[-1] != local[-2], "Chromium answered without restarting ICE"
        # Two seconds of video (15 fps) in both directions after the restart, and Chromium's
        # transport has moved to a candidate pair of the new ICE generation.
        grow = [(ann, bob_id), (bob, ann_id)]
        targets = [frames_from(tab, peer) + 30 for tab, peer in grow]
        for (tab, peer), target in zip(grow, targets, strict=True):
            tab.page.wait_for_function(
                "([id, target]) => (seed.stats()[id]?.framesDecoded ?? 0) >= target",
                arg=[peer, target],
                timeout=10_000,
            )
        after = ann.page.evaluate("() => seed.transportStats()")
        assert after["iceLocalUsernameFragment"] == local[-1]
        assert after["selectedCandidatePairChanges"] > before["selectedCandidatePairChanges"]
        assert after["iceState"] in ("connected", "completed")
        for tab in tabs:
            assert_clean(tab)
    finally:
        for tab in tabs:
            tab.close()


def test_seed_page_and_project_client_in_one_room(
    browser: Any, seed_site: str, server: ServerProcess
) -> None:
    room = "seed-mixed"
    seed = SeedTab(browser, seed_site, server, room, "old")
    context = browser.new_context(viewport={"width": 640, "height": 480})
    client = context.new_page()
    client_errors: list[str] = []
    client.on("pageerror", lambda exc: client_errors.append(str(exc)))
    try:
        client.goto(f"{server.url}/?room={room}&name=New")
        client_id: str = client.wait_for_function(
            "() => window.sfu?.state.peerId", timeout=JOIN_TIMEOUT_MS
        ).json_value()
        seed_id = seed.peer_id()
        seed.wait_decoding([client_id])
        client.wait_for_function(
            """async (id) => {
                const stats = await window.sfu.stats();
                const from = stats.filter((s) => s.peerId === id);
                return from.some((s) => s.kind === "video" && s.framesDecoded > 0)
                    && from.some((s) => s.kind === "audio" && s.packetsReceived > 0);
            }""",
            arg=seed_id,
            timeout=JOIN_TIMEOUT_MS,
        )
        tiles = client.evaluate("() => window.sfu.tiles()")
        assert {"peerId": seed_id, "source": "camera", "video": True} in [
            {k: tile[k] for k in ("peerId", "source", "video")} for tile in tiles
        ]
        assert_clean(seed)
        assert client_errors == []
    finally:
        seed.close()
        context.close()
