"""The benchmark's network: a namespace with a veth pair, servers inside, load generator outside.

Janus gathers no loopback candidates, so its media needs a real interface; sfu_trio and the floor
run in the same namespace so that all three pay the same kernel path. The addresses come from a
documentation range (RFC 5737: TEST-NET-2, -3 or -1, never routed on the Internet), the first one
this machine does not use already (some hosts put TEST-NET-1 on their own interface).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

NAMESPACE = "sfubench"
HOST_INTERFACE, NAMESPACE_INTERFACE = "sfub0", "sfub1"
DOCUMENTATION_RANGES = ("198.51.100", "203.0.113", "192.0.2")
PREFIX = 24


@dataclass(frozen=True)
class BenchNetwork:
    """Where servers listen (``server_address``), where load comes from, how to enter it."""

    server_address: str
    client_address: str
    namespace: str | None

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the servers' namespace."""
        if self.namespace is None:
            return argv
        return ["ip", "netns", "exec", self.namespace, *argv]


LOOPBACK = BenchNetwork("127.0.0.1", "127.0.0.1", None)


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def namespace_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def remove_namespace() -> None:
    _ip("link", "del", HOST_INTERFACE, check=False)
    _ip("netns", "del", NAMESPACE, check=False)


def free_documentation_range() -> str:
    """The first documentation /24 (``a.b.c``) that no address or route of this host uses."""
    used = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    used += subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for prefix in DOCUMENTATION_RANGES:
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("every documentation range is in use on this host")


@contextmanager
def bench_network() -> Iterator[BenchNetwork]:
    """A namespace with a veth pair (root only); removed afterwards."""
    remove_namespace()  # left over from an interrupted run
    prefix = free_documentation_range()
    host_address, namespace_address = f"{prefix}.1", f"{prefix}.2"
    try:
        _ip("netns", "add", NAMESPACE)
        _ip("link", "add", HOST_INTERFACE, "type", "veth", "peer", "name", NAMESPACE_INTERFACE)
        _ip("link", "set", NAMESPACE_INTERFACE, "netns", NAMESPACE)
        _ip("addr", "add", f"{host_address}/{PREFIX}", "dev", HOST_INTERFACE)
        _ip("link", "set", HOST_INTERFACE, "up")
        inside = ("netns", "exec", NAMESPACE, "ip")
        _ip(*inside, "addr", "add", f"{namespace_address}/{PREFIX}", "dev", NAMESPACE_INTERFACE)
        _ip(*inside, "link", "set", NAMESPACE_INTERFACE, "up")
        _ip(*inside, "link", "set", "lo", "up")
        yield BenchNetwork(namespace_address, host_address, NAMESPACE)
    finally:
        remove_namespace()
