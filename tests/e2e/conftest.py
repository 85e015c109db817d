"""Browser fixtures: Debian's Chromium driven by Playwright, and a real server process.

Under CI=true a missing /usr/bin/chromium is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import ServerProcess, run_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but /usr/bin/chromium is missing (apt-get install -y chromium)")
    pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")


# Package scope: sync Playwright runs an asyncio loop in this thread while it lives, which
# would break the asyncio.run() of tests outside tests/e2e in the same process.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def sfu_server() -> Iterator[ServerProcess]:
    with run_server() as server:
        yield server
