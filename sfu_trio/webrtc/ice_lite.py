"""ICE-lite agent (RFC 8445 §2.5) for one PeerConnection (BUNDLE, rtcp-mux: one component).

The server never sends checks: it answers the client's Binding requests, takes the pair the
client nominates with USE-CANDIDATE, and watches consent freshness (RFC 7675) on that pair.
Sans-I/O: `handle_stun` returns the response to send, `next_event` reports nominations and
consent expiry, `get_timer`/`handle_timer` drive the consent deadline with an explicit `now`.
"""

from __future__ import annotations

import random
import string
from collections import deque
from dataclasses import dataclass
from typing import Literal

from sfu_trio.webrtc.events import IcePairValidated
from sfu_trio.webrtc.stun import (
    Class,
    Method,
    StunParseError,
    build_binding_success,
    build_error_response,
    check_message_integrity,
    parse_stun_untrusted,
)

__all__ = [
    "ICE_CHARS",
    "MAX_VALIDATED_PAIRS",
    "IceConsentExpired",
    "IceEvent",
    "IceLiteAgent",
    "IcePairValidated",
    "IceSelectedAddressChanged",
    "IceState",
    "generate_credentials",
]

ICE_CHARS = string.ascii_letters + string.digits + "+/"
_ICE_CHAR_SET = frozenset(ICE_CHARS)
UFRAG_LENGTH = 16  # unique enough to route datagrams by ufrag on the shared socket
PWD_LENGTH = 32

IceState = Literal["new", "connected", "failed"]
Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class IceSelectedAddressChanged:
    """The client nominated a pair: media now goes to `address` over `transport`."""

    address: Address
    transport: str


@dataclass(frozen=True, slots=True)
class IceConsentExpired:
    """No valid check arrived on the selected pair for the consent timeout (RFC 7675)."""


IceEvent = IceSelectedAddressChanged | IceConsentExpired | IcePairValidated

MAX_VALIDATED_PAIRS = 8  # before nomination; a client has a handful of candidates


def generate_credentials(rng: random.Random | None = None) -> tuple[str, str]:
    """A fresh (ufrag, pwd) of ice-chars, 16 and 32 characters (RFC 8839 §5.4 minimum 4/22)."""
    rng = rng if rng is not None else random.SystemRandom()
    ufrag = "".join(rng.choice(ICE_CHARS) for _ in range(UFRAG_LENGTH))
    pwd = "".join(rng.choice(ICE_CHARS) for _ in range(PWD_LENGTH))
    return ufrag, pwd


def _validate(ufrag: str, pwd: str) -> None:
    if not 4 <= len(ufrag) <= 256 or not _ICE_CHAR_SET.issuperset(ufrag):
        raise ValueError(f"ICE ufrag must be 4-256 ice-chars, got {ufrag!r}")
    if not 22 <= len(pwd) <= 256 or not _ICE_CHAR_SET.issuperset(pwd):
        raise ValueError("ICE pwd must be 22-256 ice-chars")


class _Credentials:
    """One ICE generation: our ufrag/pwd and, once signalled, the client's."""

    __slots__ = ("key", "local_pwd", "local_ufrag", "remote_pwd", "remote_ufrag", "used")

    def __init__(self, local_ufrag: str, local_pwd: str) -> None:
        self.local_ufrag = local_ufrag
        self.local_pwd = local_pwd
        self.key = local_pwd.encode("ascii")
        self.remote_ufrag: str | None = None
        self.remote_pwd: str | None = None
        self.used = False

    def matches(self, local: str, remote: str) -> bool:
        return local == self.local_ufrag and self.remote_ufrag in (None, remote)


class IceLiteAgent:
    """The controlled, lite side of ICE for one PeerConnection.

    A Binding request is answered when its USERNAME is "<our ufrag>:<their ufrag>" and its
    MESSAGE-INTEGRITY verifies with our pwd; until `set_remote_credentials` the client's
    ufrag is not checked. After `restart`, checks with the previous credentials are still
    answered (media keeps flowing) until the first valid check with the new ones.
    """

    def __init__(self, local_ufrag: str, local_pwd: str, *, consent_timeout: float = 30.0) -> None:
        _validate(local_ufrag, local_pwd)
        if consent_timeout <= 0:
            raise ValueError("consent_timeout must be positive")
        self.consent_timeout = consent_timeout
        self._current = _Credentials(local_ufrag, local_pwd)
        self._previous: _Credentials | None = None
        self._state: IceState = "new"
        self._selected_address: Address | None = None
        self._selected_transport: str | None = None
        self._validated: set[tuple[Address, str]] = set()
        self._consent_at = 0.0
        self._events: deque[IceEvent] = deque()
        self.answered_checks = 0
        self.rejected_checks = 0
        self.dropped_datagrams = 0

    # ------------------------------------------------------------------ properties

    @property
    def local_ufrag(self) -> str:
        return self._current.local_ufrag

    @property
    def local_pwd(self) -> str:
        return self._current.local_pwd

    @property
    def state(self) -> IceState:
        return self._state

    @property
    def selected_address(self) -> Address | None:
        return self._selected_address

    @property
    def selected_transport(self) -> str | None:
        return self._selected_transport

    @property
    def consent_deadline(self) -> float | None:
        """When consent on the selected pair expires, unless a valid check refreshes it."""
        if self._state != "connected":
            return None
        return self._consent_at + self.consent_timeout

    # ------------------------------------------------------------------ inputs

    def set_remote_credentials(self, ufrag: str, pwd: str) -> None:
        """The client's ice-ufrag/ice-pwd from its offer (for the current generation)."""
        self._current.remote_ufrag = ufrag
        self._current.remote_pwd = pwd

    def restart(self, local_ufrag: str, local_pwd: str) -> None:
        """ICE restart with new local credentials; the selected pair keeps working.

        The client's new ufrag comes with `set_remote_credentials` after this. A `failed`
        agent stays failed (consent expiry is final for the PeerConnection).
        """
        _validate(local_ufrag, local_pwd)
        # With two restarts in a row before the client used the first, keep the generation
        # the client is actually using.
        if self._previous is None or self._current.used:
            self._previous = self._current
        self._current = _Credentials(local_ufrag, local_pwd)

    def handle_stun(
        self, data: bytes, addr: Address, now: float, transport: str = "udp"
    ) -> bytes | None:
        """Answer a Binding request from `addr`; return the response, or None to stay silent."""
        if self._state == "failed":
            return None
        try:
            request = parse_stun_untrusted(data)
        except StunParseError:
            self.dropped_datagrams += 1
            return None
        if request.message_method != Method.BINDING or request.message_class != Class.REQUEST:
            return None  # responses and indications (keepalives) get no answer
        attributes = request.attributes
        username = attributes.get("USERNAME")
        if (
            not isinstance(username, str)
            or "MESSAGE-INTEGRITY" not in attributes
            or "FINGERPRINT" not in attributes
        ):
            self.rejected_checks += 1
            return build_error_response(request, 400)
        credentials = self._credentials_for(username)
        if credentials is None or not check_message_integrity(request, data, credentials.key):
            self.rejected_checks += 1
            return build_error_response(request, 401)
        pwd = credentials.local_pwd
        controlling = "ICE-CONTROLLING" in attributes
        if "PRIORITY" not in attributes or (controlling and "ICE-CONTROLLED" in attributes):
            self.rejected_checks += 1
            return build_error_response(request, 400, pwd)
        if "ICE-CONTROLLED" in attributes:
            # Both sides controlled. A lite agent cannot take the controlling role, so it
            # keeps its role whatever the tie-breakers and the full agent switches
            # (RFC 8445 §6.1.1, §7.3.1.1, §7.2.5.1).
            self.rejected_checks += 1
            return build_error_response(request, 487, pwd)
        self._accept(credentials, addr, transport, "USE-CANDIDATE" in attributes, now)
        self.answered_checks += 1
        return build_binding_success(request, addr, pwd)

    def accepts_dtls_from(self, addr: Address, transport: str) -> bool:
        """Whether DTLS may run on this pair although it is not nominated: a valid check came
        from it and no pair is nominated yet. Browsers start the handshake on the first pair
        that works, often before the check that nominates it (RFC 8445 §7.3.1.5 lets a
        controlled agent use a valid pair before nomination)."""
        return self._selected_address is None and (addr, transport) in self._validated

    def handle_timer(self, now: float) -> None:
        deadline = self.consent_deadline
        if deadline is not None and now >= deadline:
            self._state = "failed"
            self._events.append(IceConsentExpired())

    # ------------------------------------------------------------------ outputs

    def get_timer(self) -> float | None:
        return self.consent_deadline

    def next_event(self) -> IceEvent | None:
        return self._events.popleft() if self._events else None

    # ------------------------------------------------------------------ internals

    def _credentials_for(self, username: str) -> _Credentials | None:
        local, colon, remote = username.partition(":")
        if not colon:
            return None
        if self._current.matches(local, remote):
            return self._current
        previous = self._previous
        if previous is not None and previous.matches(local, remote):
            return previous
        return None

    def _accept(
        self,
        credentials: _Credentials,
        addr: Address,
        transport: str,
        use_candidate: bool,
        now: float,
    ) -> None:
        credentials.used = True
        if credentials is self._current:
            self._previous = None  # the restart is complete
        selected = addr == self._selected_address and transport == self._selected_transport
        if (
            not use_candidate
            and self._selected_address is None
            and (addr, transport) not in self._validated
            and len(self._validated) < MAX_VALIDATED_PAIRS
        ):
            self._validated.add((addr, transport))
            self._events.append(IcePairValidated(addr, transport))
        if use_candidate and not selected:
            self._selected_address = addr
            self._selected_transport = transport
            self._state = "connected"
            self._events.append(IceSelectedAddressChanged(addr, transport))
            selected = True
        if selected:
            self._consent_at = now
