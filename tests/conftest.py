"""Shared fixtures: an in-process server on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, settings

from sfu_trio.config import Config
from sfu_trio.server import ServerAddresses, serve

# Timings on shared 2-core machines are noisy: no per-example deadline, no too-slow health check.
settings.register_profile(
    "sfu", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("sfu")

TEST_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "udp_port": 0,
    "tcp_port": 0,
    "metrics_enabled": False,
    "log_level": "warning",
    "log_format": "console",
}


def make_config(**overrides: Any) -> Config:
    return Config(**{**TEST_DEFAULTS, **overrides})


async def start_server(nursery: trio.Nursery, **overrides: Any) -> ServerAddresses:
    """Start a server in ``nursery``; stop it with ``addresses.context.shutdown_requested``."""
    config = make_config(**overrides)
    addresses: ServerAddresses = await nursery.start(partial(serve, config, handle_signals=False))
    return addresses


@pytest.fixture
async def server(nursery: trio.Nursery) -> AsyncIterator[ServerAddresses]:
    addresses = await start_server(nursery)
    yield addresses
    addresses.context.shutdown_requested.set()
