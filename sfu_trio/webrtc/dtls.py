"""DTLS 1.2 endpoint for DTLS-SRTP (RFC 5764), sans-I/O, over pyOpenSSL memory BIOs.

Retransmission and the clock
----------------------------
OpenSSL's own DTLS retransmission timer (``DTLSv1_get_timeout``/``DTLSv1_handle_timeout``)
reads the real wall clock and refuses to retransmit before its deadline, and the hook that
would let us replace it (``DTLS_set_timer_cb``) is not exported by ``cryptography``. Our core
runs on an injected ``now``, so this endpoint keeps its own schedule (RFC 6347 §4.2.4.1:
1 s, doubling, capped at 60 s) and keeps a copy of the last flight it sent. When that timer
fires it first asks OpenSSL to retransmit (which succeeds when ``now`` is the real clock, as
in production, and re-encrypts with fresh record numbers); if OpenSSL declines (a fake clock
in tests, or a few ms of skew), it re-sends the copied flight verbatim.

A verbatim record is either new to the peer (it was lost: accepted) or a duplicate (the
peer's replay window drops it, and it had the content already), so it is safe. The one
thing it cannot do is make the peer notice a retransmitted Finished, which is what tells
the sender of the final flight (the server, in a full handshake) that its flight was lost.
So the endpoint that sent the final flight re-sends it itself when a handshake record
arrives after completion and OpenSSL answered nothing. Peers that retransmit with fresh
record numbers (browsers, OpenSSL on a real clock) are answered by OpenSSL itself.
"""

from __future__ import annotations

import contextlib
import enum
import struct
from collections.abc import Sequence
from typing import Literal

from cryptography.hazmat.primitives import hashes
from OpenSSL import SSL

from sfu_trio.webrtc.certs import Certificate, format_fingerprint
from sfu_trio.webrtc.srtp import SrtpKeys, SrtpProfile
from sfu_trio.webrtc.srtp import split_exported_keying_material as _split_keys

DtlsRole = Literal["server", "client"]

INITIAL_RETRANSMIT_TIMEOUT = 1.0
MAX_RETRANSMIT_TIMEOUT = 60.0
MAX_RETRANSMISSIONS = 7
DEFAULT_MTU = 1200

_RECORD_HEADER = 13
_CONTENT_HANDSHAKE = 22
_CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
)
_BIO_CHUNK = 65536


class DtlsState(enum.Enum):
    """Lifecycle of a `DtlsEndpoint`."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


def split_records_untrusted(datagram: bytes) -> list[tuple[int, int, int]] | None:
    """Frame a datagram into DTLS records: (content type, offset, total length) per record.

    Returns None when the datagram is not a well-formed sequence of whole records.
    """
    records: list[tuple[int, int, int]] = []
    offset = 0
    size = len(datagram)
    while offset < size:
        if size - offset < _RECORD_HEADER:
            return None
        (length,) = struct.unpack_from("!H", datagram, offset + 11)
        total = _RECORD_HEADER + length
        if offset + total > size:
            return None
        records.append((datagram[offset], offset, total))
        offset += total
    return records


def pack_records(stream: bytes, mtu: int) -> list[bytes]:
    """Pack the record stream OpenSSL wrote into datagrams of at most `mtu` bytes."""
    framing = split_records_untrusted(stream)
    if framing is None:  # OpenSSL writes whole records; never expected.
        return [stream]
    datagrams: list[bytes] = []
    start = end = 0
    for _content_type, offset, total in framing:
        if offset + total - start > mtu and end > start:
            datagrams.append(stream[start:end])
            start = offset
        end = offset + total
    if end > start:
        datagrams.append(stream[start:end])
    return datagrams


def _accept_any_certificate(*_args: object) -> bool:
    # Self-signed certificates are the norm; identity is the SDP fingerprint, checked later.
    return True


def make_ssl_context(
    certificate: Certificate, srtp_profiles: Sequence[SrtpProfile] = tuple(SrtpProfile)
) -> SSL.Context:
    """The DTLS context for DTLS-SRTP: our certificate, a peer certificate required, use_srtp."""
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_options(SSL.OP_NO_TICKET | SSL.OP_NO_QUERY_MTU | SSL.OP_NO_RENEGOTIATION)
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _accept_any_certificate)
    context.use_certificate(certificate.x509)
    context.use_privatekey(certificate.private_key)
    context.set_cipher_list(_CIPHERS)
    context.set_tlsext_use_srtp(b":".join(p.value.openssl_name for p in srtp_profiles))
    return context


class DtlsEndpoint:
    """One side of a DTLS-SRTP handshake, fed datagrams and timer ticks, producing SRTP keys."""

    def __init__(
        self,
        certificate: Certificate,
        role: DtlsRole,
        remote_fingerprint: str | None,
        *,
        srtp_profiles: Sequence[SrtpProfile] = tuple(SrtpProfile),
        mtu: int = DEFAULT_MTU,
    ) -> None:
        if role not in ("server", "client"):
            raise ValueError(f"unknown DTLS role {role!r}")
        self.role: DtlsRole = role
        self.state = DtlsState.NEW
        self.failure_reason: str | None = None
        self.srtp_keys: SrtpKeys | None = None
        self.remote_fingerprint = remote_fingerprint
        self.dropped_datagrams = 0
        self._mtu = mtu
        self._ssl = SSL.Connection(make_ssl_context(certificate, srtp_profiles))
        self._ssl.set_ciphertext_mtu(mtu)
        if role == "server":
            self._ssl.set_accept_state()
        else:
            self._ssl.set_connect_state()
        self._outgoing: list[bytes] = []
        self._flight: list[bytes] = []
        self._final_flight_is_ours = False
        self._timer: float | None = None
        self._timeout = INITIAL_RETRANSMIT_TIMEOUT
        self._retransmissions = 0

    @property
    def srtp_profile(self) -> SrtpProfile | None:
        return None if self.srtp_keys is None else self.srtp_keys.profile

    def start(self, now: float) -> None:
        """Begin the handshake: the client sends its ClientHello, the server waits for one."""
        if self.state is not DtlsState.NEW:
            return
        self.state = DtlsState.CONNECTING
        if self.role == "client":
            self._step_handshake(now)

    def receive_datagram_untrusted(self, data: bytes, now: float) -> None:
        """Feed one datagram from the peer; malformed framing is counted and dropped."""
        if self.state in (DtlsState.FAILED, DtlsState.CLOSED):
            return
        framing = split_records_untrusted(data)
        if not framing:
            self.dropped_datagrams += 1
            return
        if self.state is DtlsState.NEW:
            if self.role == "client":
                self.dropped_datagrams += 1
                return
            self.state = DtlsState.CONNECTING
        self._ssl.bio_write(data)
        if self.state is DtlsState.CONNECTING:
            self._step_handshake(now)
        else:
            handshake_record = any(kind == _CONTENT_HANDSHAKE for kind, _, _ in framing)
            self._read_application(handshake_record)

    def datagrams_to_send(self) -> list[bytes]:
        datagrams, self._outgoing = self._outgoing, []
        return datagrams

    def get_timer(self) -> float | None:
        return self._timer

    def handle_timer(self, now: float) -> None:
        """Retransmit the last flight if the retransmission timer has expired."""
        if self._timer is None or now < self._timer or self.state is not DtlsState.CONNECTING:
            return
        if self._retransmissions >= MAX_RETRANSMISSIONS:
            self._fail("handshake timeout")
            return
        self._retransmissions += 1
        self._timeout = min(self._timeout * 2, MAX_RETRANSMIT_TIMEOUT)
        self._timer = now + self._timeout
        try:
            self._ssl.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(f"handshake failed: {exc}")
            return
        native = self._drain_output()
        if native:
            self._flight = native
        else:
            self._outgoing.extend(self._flight)

    def close(self) -> None:
        """Send close_notify (if a handshake happened) and stop."""
        if self.state in (DtlsState.CONNECTING, DtlsState.CONNECTED):
            self._shutdown_quietly()
            self._drain_output()
        if self.state is not DtlsState.FAILED:
            self.state = DtlsState.CLOSED
        self._timer = None

    def _step_handshake(self, now: float) -> None:
        try:
            self._ssl.do_handshake()
        except SSL.WantReadError:
            completed = False
        except SSL.Error as exc:
            self._drain_output()  # a fatal alert, if OpenSSL wrote one
            self._fail(f"handshake failed: {exc}")
            return
        else:
            completed = True
        flight = self._drain_output()
        if flight:
            self._flight = flight
            self._timeout = INITIAL_RETRANSMIT_TIMEOUT
            self._retransmissions = 0
            self._timer = now + self._timeout
        if completed:
            self._final_flight_is_ours = bool(flight)
            self._timer = None
            self._complete()

    def _complete(self) -> None:
        peer = self._ssl.get_peer_certificate(as_cryptography=True)
        if peer is None:
            self._fail("no peer certificate")
            return
        actual = format_fingerprint(peer.fingerprint(hashes.SHA256()))
        expected = self.remote_fingerprint
        if expected is None or actual != expected.upper():
            self._fail("fingerprint mismatch")
            return
        profile = SrtpProfile.from_openssl_name(self._ssl.get_selected_srtp_profile())
        if profile is None:
            self._fail("no SRTP profile negotiated")
            return
        material = self._ssl.export_keying_material(
            b"EXTRACTOR-dtls_srtp", 2 * profile.key_and_salt_length, None
        )
        self.srtp_keys = _split_keys(profile, material, is_client=self.role == "client")
        self.state = DtlsState.CONNECTED

    def _read_application(self, handshake_record: bool) -> None:
        while True:
            try:
                self._ssl.recv(_BIO_CHUNK)  # no data channels: application data is discarded
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._shutdown_quietly()
                self._drain_output()
                self.state = DtlsState.CLOSED
                return
            except SSL.Error as exc:
                self._drain_output()
                self._fail(f"DTLS error: {exc}")
                return
        answered = self._drain_output()
        if handshake_record and not answered and self._final_flight_is_ours:
            # The peer retransmitted its last flight with the same record numbers: our
            # final flight was lost, and OpenSSL did not notice (see the module docstring).
            self._outgoing.extend(self._flight)

    def _drain_output(self) -> list[bytes]:
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._ssl.bio_read(_BIO_CHUNK)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return []
        datagrams = pack_records(b"".join(chunks), self._mtu)
        self._outgoing.extend(datagrams)
        return datagrams

    def _shutdown_quietly(self) -> None:
        with contextlib.suppress(SSL.Error):
            self._ssl.shutdown()

    def _fail(self, reason: str) -> None:
        self.state = DtlsState.FAILED
        self.failure_reason = reason
        self.srtp_keys = None
        self._timer = None
