"""The web client at / joins a room on a real server and lists the other participants."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e

TILE_IDS = "[...document.querySelectorAll('[data-peer-id]')].map((t) => t.dataset.peerId)"


def open_client(browser: Any, url: str, room: str, name: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/?room={room}&name={name}")
    page.errors = errors
    return page


def test_two_tabs_join_and_see_each_other(browser: Any, sfu_server: ServerProcess) -> None:
    alice = open_client(browser, sfu_server.url, "e2e-join", "Alice")
    bob = open_client(browser, sfu_server.url, "e2e-join", "Bob")
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        page.wait_for_function(
            "(name) => document.body.innerText.includes(name)", arg=other, timeout=10_000
        )
        page.wait_for_function(f"() => new Set({TILE_IDS}).size === 2", timeout=10_000)
    bob.context.close()  # closing the tab is leaving: the tile and the name go away
    alice.wait_for_function(f"() => new Set({TILE_IDS}).size === 1", timeout=10_000)
    alice.wait_for_function("() => !document.body.innerText.includes('Bob')", timeout=10_000)
    assert alice.errors == []
    alice.context.close()
