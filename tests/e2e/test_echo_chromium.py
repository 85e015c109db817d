"""The client's camera and microphone test (`/?echo=1`): Chromium decodes its own camera coming
back through the server (the transport, SRTP both ways, and forwarding to the publisher itself)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.e2e.helpers import open_participant
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e

SELF_TILE_SHOWS_VIDEO = """() => window.sfu.tiles().some(
    (t) => t.peerId === window.sfu.state.peerId && t.source === "camera" && t.video)"""


def test_echo_page_decodes_its_own_camera(browser: Browser, sfu_server: ServerProcess) -> None:
    page = open_participant(browser, sfu_server.url, "", "Echo", echo="1")
    me = page.peer_id
    assert page.page.evaluate("() => window.sfu.state.roomId").startswith("echo-")
    page.wait_receiving([me], timeout=10)
    page.wait(SELF_TILE_SHOWS_VIDEO, timeout=5)
    # The first answer carries no echo tracks; they come with the offer after `renegotiate`.
    types = page.page.evaluate("() => window.sfu.log.map((m) => m.type)")
    assert types.count("answer") >= 2 and "renegotiate" in types
    assert page.errors == []
    page.close()
