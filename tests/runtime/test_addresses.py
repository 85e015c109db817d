"""Which addresses the server advertises in its candidates (table-driven)."""

from __future__ import annotations

import pytest

from sfu_trio.runtime.addresses import advertised_addresses, interface_addresses

INTERFACES = ["127.0.0.1", "::1", "192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1%eth0", "169.254.1.1"]


@pytest.mark.parametrize(
    ("host", "public_ip", "expected"),
    [
        ("0.0.0.0", "203.0.113.7", ["203.0.113.7"]),
        ("127.0.0.1", "203.0.113.7", ["203.0.113.7"]),
        ("127.0.0.1", None, ["127.0.0.1"]),
        ("192.0.2.2", None, ["192.0.2.2"]),
        ("0.0.0.0", None, ["192.0.2.2", "127.0.0.1"]),
        ("", None, ["192.0.2.2", "127.0.0.1"]),
        ("::", None, ["192.0.2.2", "fd00::2", "127.0.0.1", "::1"]),
    ],
)
def test_advertised_addresses(host: str, public_ip: str | None, expected: list[str]) -> None:
    assert advertised_addresses(host, public_ip, lambda: INTERFACES) == expected


def test_machine_interfaces_include_loopback() -> None:
    addresses = interface_addresses()
    assert "127.0.0.1" in addresses
    assert "127.0.0.1" in advertised_addresses("0.0.0.0")
