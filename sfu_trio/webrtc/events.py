"""Events that `PeerConnectionCore.next_event()` returns."""

from __future__ import annotations

from dataclasses import dataclass

from sfu_trio.webrtc.srtp import SrtpProfile

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class IceConnected:
    """The client nominated a candidate pair: media flows to and from `address`."""

    address: Address


@dataclass(frozen=True, slots=True)
class IcePairValidated:
    """Before any nomination, a valid check came from `address`: its DTLS is taken too (see
    `IceLiteAgent.accepts_dtls_from`), so route it here."""

    address: Address
    transport: str


@dataclass(frozen=True, slots=True)
class IceAddressChanged:
    """The client nominated another pair (network change, ICE restart): send to `address`."""

    address: Address


@dataclass(frozen=True, slots=True)
class DtlsConnected:
    """The DTLS handshake completed, the peer's fingerprint matched, SRTP keys are in place."""

    srtp_profile: SrtpProfile


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The connection is dead (consent expired, DTLS failure, fingerprint mismatch)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection was closed, by us or by the peer's DTLS close_notify."""


@dataclass(frozen=True, slots=True)
class RtpReceived:
    """An RTP packet from the peer, already SRTP-unprotected."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class RtcpReceived:
    """An RTCP compound packet from the peer, already SRTCP-unprotected."""

    packet: bytes


Event = (
    IceConnected
    | IcePairValidated
    | IceAddressChanged
    | DtlsConnected
    | ConnectionFailed
    | ConnectionClosed
    | RtpReceived
    | RtcpReceived
)
