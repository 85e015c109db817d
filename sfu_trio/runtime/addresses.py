"""Which host addresses the server advertises in its ICE candidates.

``SFU_PUBLIC_IP`` (a 1:1 NAT) wins; otherwise a specific bound host is the only reachable
address; a wildcard bind (``0.0.0.0`` / ``::``) advertises every interface address of that
family, link-local ones excepted (they need a scope id that SDP cannot carry), loopback last
so that clients on other machines try real interfaces first.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import psutil

__all__ = ["advertised_addresses", "interface_addresses"]

_WILDCARDS = ("", "0.0.0.0", "::")


def interface_addresses() -> list[str]:
    """Every IPv4 and IPv6 address configured on this machine's interfaces."""
    addresses: list[str] = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addresses.append(entry.address)
    return addresses


def advertised_addresses(
    host: str,
    public_ip: str | None = None,
    interfaces: Callable[[], Iterable[str]] = interface_addresses,
) -> list[str]:
    """The addresses to put in host candidates, best first.

    ``host`` is the address the media sockets are bound to; ``interfaces`` lists the machine's
    addresses (injectable for tests).
    """
    if public_ip:
        return [str(ipaddress.ip_address(public_ip))]
    if host not in _WILDCARDS:
        return [str(ipaddress.ip_address(host))]
    want_v6 = host == "::"  # a dual-stack socket: both families reach it
    chosen: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for text in interfaces():
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if address.version == 6 and not want_v6:
            continue
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            continue
        if address not in chosen:
            chosen.append(address)
    chosen.sort(key=lambda a: (a.is_loopback, a.version == 6))
    return [str(a) for a in chosen]
