"""The server's own ICE candidates: host UDP and passive ICE-TCP (RFC 8445 §5.1, RFC 6544).

The caller passes the addresses to advertise (the bound addresses, or SFU_PUBLIC_IP for a
1:1 NAT). Every candidate is host type (preference 126); TCP candidates get a lower local
preference than any UDP one so clients only fall back to TCP when UDP fails.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aioice.candidate import Candidate, candidate_foundation

__all__ = [
    "COMPONENT",
    "host_udp_candidates",
    "passive_tcp_candidates",
    "priority",
    "server_candidates",
]

COMPONENT = 1  # BUNDLE + rtcp-mux: one component
HOST_TYPE_PREFERENCE = 126
UDP_LOCAL_PREFERENCE = 65535
# RFC 6544 §4.2: local preference = 2^13 * direction-pref + other-pref; passive host is 4.
TCP_PASSIVE_DIRECTION_PREFERENCE = 4
_MAX_OTHER_PREFERENCE = (1 << 13) - 1


def priority(local_preference: int, type_preference: int = HOST_TYPE_PREFERENCE) -> int:
    """RFC 8445 §5.1.2.1: 2^24 * type + 2^8 * local + (256 - component)."""
    if not 0 <= local_preference <= 0xFFFF or not 0 <= type_preference <= 126:
        raise ValueError("preference out of range")
    return (type_preference << 24) + (local_preference << 8) + (256 - COMPONENT)


def _normalised(addresses: Sequence[str]) -> list[str]:
    unique: list[str] = []
    for address in addresses:
        text = str(ipaddress.ip_address(address))  # rejects hostnames and typos early
        if text not in unique:
            unique.append(text)
    return unique


def host_udp_candidates(addresses: Sequence[str], port: int) -> list[Candidate]:
    """One host UDP candidate per address; earlier addresses are preferred."""
    return [
        Candidate(
            foundation=candidate_foundation("host", "udp", address),
            component=COMPONENT,
            transport="udp",
            priority=priority(UDP_LOCAL_PREFERENCE - index),
            host=address,
            port=port,
            type="host",
        )
        for index, address in enumerate(_normalised(addresses))
    ]


def passive_tcp_candidates(addresses: Sequence[str], port: int) -> list[Candidate]:
    """One passive ICE-TCP host candidate (`tcptype passive`) per address."""
    return [
        Candidate(
            foundation=candidate_foundation("host", "tcp", address),
            component=COMPONENT,
            transport="tcp",
            priority=priority(
                (TCP_PASSIVE_DIRECTION_PREFERENCE << 13) + max(_MAX_OTHER_PREFERENCE - index, 0)
            ),
            host=address,
            port=port,
            type="host",
            tcptype="passive",
        )
        for index, address in enumerate(_normalised(addresses))
    ]


def server_candidates(
    addresses: Sequence[str], udp_port: int, tcp_port: int | None = None
) -> list[Candidate]:
    """Every candidate the server puts in its answer: UDP first, then passive TCP."""
    candidates = host_udp_candidates(addresses, udp_port)
    if tcp_port is not None:
        candidates += passive_tcp_candidates(addresses, tcp_port)
    return candidates
