"""Which browser origins may open the /ws WebSocket (protection against cross-site WebSockets).

Only browsers send `Origin`, and they cannot forge it, so the policy only guards against other
web pages driving a visitor's browser; non-browser clients (no `Origin`) are always allowed.

Default policy (`allowed=None`): no Origin, Origin "null" (a page opened from a file), the same
origin as the Host header, and http(s) pages on localhost / 127.0.0.0/8 / [::1] (any port).
With an allow-list (SFU_ALLOWED_ORIGINS): exact origins after normalisation (scheme and host
lower-cased, default ports made explicit), or "*" for any; same-origin and no-Origin still pass.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["OriginPolicy", "normalize_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = frozenset({"localhost"})


def normalize_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, or None if it is not one."""
    try:
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username is not None:
        return None
    return scheme, host.lower(), _DEFAULT_PORTS[scheme] if port is None else port


def _split_host_header(host: str, default_port: int) -> tuple[str, int] | None:
    try:
        parts = urlsplit("//" + host.strip())
        name = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not name:
        return None
    return name.lower(), default_port if port is None else port


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OriginPolicy:
    """Decides whether a WebSocket upgrade's Origin is acceptable."""

    def __init__(self, allowed: tuple[str, ...] | None = None) -> None:
        self._allow_any = False
        self._allowed: frozenset[tuple[str, str, int]] | None = None
        self._allow_null = False
        if allowed is None:
            return
        normalized: set[tuple[str, str, int]] = set()
        for entry in allowed:
            if entry.strip() == "*":
                self._allow_any = True
            elif entry.strip() == "null":
                self._allow_null = True
            else:
                origin = normalize_origin(entry)
                if origin is None:
                    raise ValueError(f"not an http(s) origin: {entry!r}")
                normalized.add(origin)
        self._allowed = frozenset(normalized)

    def is_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a request with these Origin and Host headers may proceed."""
        if origin is None or self._allow_any:
            return True
        if origin == "null":
            return self._allowed is None or self._allow_null
        parsed = normalize_origin(origin)
        if parsed is None:
            return False
        scheme, origin_host, origin_port = parsed
        if host is not None:
            served = _split_host_header(host, _DEFAULT_PORTS[scheme])
            if served == (origin_host, origin_port):
                return True
        if self._allowed is None:
            return _is_loopback(origin_host)
        return parsed in self._allowed
