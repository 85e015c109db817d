"""SRTP/SRTCP protection for one DTLS-SRTP association, over pylibsrtp."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pylibsrtp
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _lib

REPLAY_WINDOW = 1024


class SrtpError(Exception):
    """A packet from the remote peer failed SRTP/SRTCP unprotection (auth, replay, garbage).

    Count it and drop the packet; it never indicates a local bug.
    """


@dataclass(frozen=True, slots=True)
class SrtpProfileSpec:
    """Key sizes and identifiers of one DTLS-SRTP protection profile (RFC 5764, RFC 7714)."""

    openssl_name: bytes
    libsrtp_profile: int
    key_length: int
    salt_length: int


class SrtpProfile(enum.Enum):
    """The protection profiles we negotiate, in order of preference."""

    AEAD_AES_128_GCM = SrtpProfileSpec(
        b"SRTP_AEAD_AES_128_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12
    )
    AES128_CM_SHA1_80 = SrtpProfileSpec(
        b"SRTP_AES128_CM_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14
    )

    @property
    def key_and_salt_length(self) -> int:
        return self.value.key_length + self.value.salt_length

    @classmethod
    def from_openssl_name(cls, name: bytes) -> SrtpProfile | None:
        for profile in cls:
            if profile.value.openssl_name == name:
                return profile
        return None


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """Keying material of one direction pair: what we protect with, what we unprotect with."""

    profile: SrtpProfile
    local_key_and_salt: bytes
    remote_key_and_salt: bytes


def split_exported_keying_material(
    profile: SrtpProfile, material: bytes, is_client: bool
) -> SrtpKeys:
    """Split `client key | server key | client salt | server salt` (RFC 5764 §4.2) per role."""
    key_len, salt_len = profile.value.key_length, profile.value.salt_length
    if len(material) != 2 * (key_len + salt_len):
        raise ValueError("keying material has the wrong length for the profile")
    client = material[:key_len] + material[2 * key_len : 2 * key_len + salt_len]
    server = material[key_len : 2 * key_len] + material[2 * key_len + salt_len :]
    if is_client:
        return SrtpKeys(profile, local_key_and_salt=client, remote_key_and_salt=server)
    return SrtpKeys(profile, local_key_and_salt=server, remote_key_and_salt=client)


# libsrtp's buffer is 1500 bytes; the authentication tag (and MKI) need room after the packet.
MAX_PROTECTED_INPUT = 1500 - pylibsrtp.SRTP_MAX_TRAILER_LEN


class SrtpContext:
    """Outbound and inbound SRTP sessions of one peer; any SSRC, replay protection on."""

    __slots__ = (
        "_inbound",
        "_len",
        "_out_buffer",
        "_out_cdata",
        "_out_srtp",
        "_out_view",
        "_outbound",
        "profile",
    )

    def __init__(self, keys: SrtpKeys) -> None:
        self.profile = keys.profile
        libsrtp_profile = keys.profile.value.libsrtp_profile
        outbound = pylibsrtp.Policy(
            key=keys.local_key_and_salt,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=libsrtp_profile,
        )
        # NACKed packets are protected again with the same index: allow it.
        outbound.allow_repeat_tx = True
        outbound.window_size = REPLAY_WINDOW
        inbound = pylibsrtp.Policy(
            key=keys.remote_key_and_salt,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
            srtp_profile=libsrtp_profile,
        )
        inbound.window_size = REPLAY_WINDOW
        self._outbound = pylibsrtp.Session(outbound)
        self._inbound = pylibsrtp.Session(inbound)
        # The forwarding hot path protects in place in the outbound session's own 1500-byte
        # buffer (pylibsrtp's `protect` would copy twice and allocate per packet).
        self._out_srtp = self._outbound._srtp[0]
        self._out_cdata = self._outbound._cdata
        self._out_buffer = self._outbound._buffer
        self._out_view = memoryview(self._out_buffer)
        self._len = _ffi.new("int *")

    def protect_rtp_view(self, packet: bytes | bytearray | memoryview) -> memoryview:
        """Protect an RTP packet; the result is a view valid until the next protect call.

        Send (or copy) it at once: the next call reuses the same buffer.
        """
        size = len(packet)
        if size > MAX_PROTECTED_INPUT:
            raise SrtpError(f"RTP packet of {size} bytes is too large to protect")
        self._out_buffer[0:size] = packet
        length = self._len
        length[0] = size
        if _lib.srtp_protect(self._out_srtp, self._out_cdata, length) != 0:
            raise SrtpError("srtp_protect failed")
        return self._out_view[: length[0]]

    def protect_rtp(self, packet: bytes) -> bytes:
        result: bytes = self._outbound.protect(packet)
        return result

    def protect_rtcp(self, packet: bytes) -> bytes:
        result: bytes = self._outbound.protect_rtcp(packet)
        return result

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """Authenticate and decrypt an SRTP packet; raise `SrtpError` on any failure."""
        try:
            result: bytes = self._inbound.unprotect(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(str(exc)) from None
        return result

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """Authenticate and decrypt an SRTCP packet; raise `SrtpError` on any failure."""
        try:
            result: bytes = self._inbound.unprotect_rtcp(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(str(exc)) from None
        return result
