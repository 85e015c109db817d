"""The per-peer protocol core: ICE-lite + DTLS + SRTP on one 5-tuple, sans-I/O (aioquic shape).

Inputs: `receive_datagram`, `handle_timer`, `send_rtp`, `send_rtcp`, `close`, `restart_ice`.
Outputs: `datagrams_to_send`, `get_timer`, `next_event`. Every call takes the caller's `now`.
"""

from __future__ import annotations

from collections import deque

from sfu_trio.webrtc import demux, ice_lite
from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import DtlsEndpoint, DtlsRole, DtlsState
from sfu_trio.webrtc.events import (
    Address,
    ConnectionClosed,
    ConnectionFailed,
    DtlsConnected,
    Event,
    IceAddressChanged,
    IceConnected,
    IcePairValidated,
    RtcpReceived,
    RtpReceived,
)
from sfu_trio.webrtc.srtp import SrtpContext, SrtpError


class PeerConnectionCore:
    """One peer's transport: answers ICE checks, runs the DTLS handshake, (un)protects media.

    Non-STUN packets are accepted only from the address the client nominated, except DTLS
    before any nomination, which is also taken from pairs a valid check came from (browsers
    start the handshake on the first pair that works, before they nominate it). DTLS and SRTP
    failures of single packets are counted, never raised.
    """

    def __init__(
        self,
        *,
        certificate: Certificate,
        local_ufrag: str,
        local_pwd: str,
        remote_ufrag: str,
        remote_pwd: str,
        remote_fingerprint: str,
        dtls_role: DtlsRole = "server",
        consent_timeout: float = 30.0,
    ) -> None:
        self._ice = ice_lite.IceLiteAgent(local_ufrag, local_pwd, consent_timeout=consent_timeout)
        self._ice.set_remote_credentials(remote_ufrag, remote_pwd)
        self._dtls = DtlsEndpoint(certificate, dtls_role, remote_fingerprint)
        self._srtp: SrtpContext | None = None
        self._dtls_state = self._dtls.state
        self._events: deque[Event] = deque()
        self._outgoing: list[tuple[bytes, Address]] = []
        self._finished = False
        self.remote_address: Address | None = None
        self.remote_transport: str | None = None
        self._dtls_address: Address | None = None  # where DTLS goes before nomination
        self._dtls_transport: str | None = None
        self.dropped_unknown_address = 0
        self.dropped_before_keys = 0
        self.dropped_unclassified = 0
        self.srtp_errors = 0
        if dtls_role == "server":
            self._dtls.start(0.0)  # a server only waits for the ClientHello; no clock needed

    @property
    def dtls_state(self) -> DtlsState:
        return self._dtls.state

    @property
    def send_transport(self) -> str | None:
        """The transport `datagrams_to_send` go over: the nominated pair's, or before the
        nomination the one DTLS runs on."""
        return self.remote_transport or self._dtls_transport

    @property
    def srtp(self) -> SrtpContext | None:
        return self._srtp

    # ------------------------------------------------------------------ inputs

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, transport: str = "udp"
    ) -> None:
        """Feed one datagram (or one RFC 4571 frame on ICE-TCP) received from `addr`."""
        if self._finished or not data:
            return
        kind = demux.classify(data[0])
        if kind is demux.PacketKind.STUN:
            self._receive_stun(data, addr, now, transport)
            return
        if addr != self.remote_address or transport != self.remote_transport:
            if kind is demux.PacketKind.DTLS and self._ice.accepts_dtls_from(addr, transport):
                self._dtls_address, self._dtls_transport = addr, transport
                self._dtls.receive_datagram_untrusted(data, now)
                self._after_dtls()
                return
            self.dropped_unknown_address += 1
            return
        if kind is demux.PacketKind.RTP:  # RTP and RTCP share the range (RFC 5761)
            self._receive_srtp(data)
        elif kind is demux.PacketKind.DTLS:
            self._dtls.receive_datagram_untrusted(data, now)
            self._after_dtls()
        else:
            self.dropped_unclassified += 1

    def handle_timer(self, now: float) -> None:
        if self._finished:
            return
        self._ice.handle_timer(now)
        if self._drain_ice_events(now):
            return
        self._dtls.handle_timer(now)
        self._after_dtls()

    def send_rtp(self, packet: bytes) -> bytes | None:
        """Protect an RTP packet; the runtime sends the result to `remote_address`."""
        if self._srtp is None or self._finished:
            return None
        return self._srtp.protect_rtp(packet)

    def send_rtcp(self, packet: bytes) -> bytes | None:
        """Protect an RTCP compound packet; the runtime sends it to `remote_address`."""
        if self._srtp is None or self._finished:
            return None
        return self._srtp.protect_rtcp(packet)

    def restart_ice(
        self,
        ufrag: str,
        pwd: str,
        remote_ufrag: str | None = None,
        remote_pwd: str | None = None,
    ) -> None:
        """ICE restart with our new `ufrag`/`pwd` (and the client's new ones, once known).

        The selected pair, DTLS and SRTP keep running (RFC 8445 §9).
        """
        self._ice.restart(ufrag, pwd)
        if remote_ufrag is not None and remote_pwd is not None:
            self._ice.set_remote_credentials(remote_ufrag, remote_pwd)

    def set_remote_ice_credentials(self, ufrag: str, pwd: str) -> None:
        """The client's ice-ufrag/ice-pwd of the current generation (after a restart)."""
        self._ice.set_remote_credentials(ufrag, pwd)

    def close(self, now: float) -> None:
        """Send DTLS close_notify and stop; emits `ConnectionClosed`."""
        if self._finished:
            return
        self._dtls.close()
        self._queue_dtls_datagrams()
        self._finish(ConnectionClosed())

    # ------------------------------------------------------------------ outputs

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """STUN responses and DTLS flights, each with its destination."""
        datagrams, self._outgoing = self._outgoing, []
        return datagrams

    def get_timer(self) -> float | None:
        if self._finished:
            return None
        timers = [t for t in (self._ice.get_timer(), self._dtls.get_timer()) if t is not None]
        return min(timers, default=None)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    # ------------------------------------------------------------------ internals

    def _receive_stun(self, data: bytes, addr: Address, now: float, transport: str) -> None:
        response = self._ice.handle_stun(data, addr, now, transport)
        if response is not None:
            self._outgoing.append((response, addr))
        self._drain_ice_events(now)

    def _receive_srtp(self, data: bytes) -> None:
        srtp = self._srtp
        if srtp is None:
            self.dropped_before_keys += 1
            return
        try:
            if demux.is_rtcp(data):
                self._events.append(RtcpReceived(srtp.unprotect_rtcp(data)))
            else:
                self._events.append(RtpReceived(srtp.unprotect_rtp(data)))
        except SrtpError:
            self.srtp_errors += 1

    def _drain_ice_events(self, now: float) -> bool:
        """Turn agent events into ours; True when the connection ended."""
        while (event := self._ice.next_event()) is not None:
            if isinstance(event, ice_lite.IceSelectedAddressChanged):
                first = self.remote_address is None
                self.remote_address = event.address
                self.remote_transport = event.transport
                if first:
                    self._events.append(IceConnected(event.address))
                    if self._dtls.state is DtlsState.NEW:
                        self._dtls.start(now)
                        self._after_dtls()
                else:
                    self._events.append(IceAddressChanged(event.address))
            elif isinstance(event, IcePairValidated):
                self._events.append(event)
            elif isinstance(event, ice_lite.IceConsentExpired):
                self._finish(ConnectionFailed("consent expired"))
                return True
        return False

    def _after_dtls(self) -> None:
        self._queue_dtls_datagrams()
        state = self._dtls.state
        if state is self._dtls_state:
            return
        self._dtls_state = state
        if state is DtlsState.CONNECTED:
            keys = self._dtls.srtp_keys
            assert keys is not None  # CONNECTED implies keys were derived
            self._srtp = SrtpContext(keys)
            self._events.append(DtlsConnected(keys.profile))
        elif state is DtlsState.FAILED:
            self._finish(ConnectionFailed(self._dtls.failure_reason or "DTLS failure"))
        elif state is DtlsState.CLOSED:
            self._finish(ConnectionClosed())

    def _queue_dtls_datagrams(self) -> None:
        datagrams = self._dtls.datagrams_to_send()
        address = self.remote_address or self._dtls_address
        if datagrams and address is not None:
            self._outgoing.extend((datagram, address) for datagram in datagrams)

    def _finish(self, event: Event) -> None:
        self._finished = True
        self._srtp = None
        self._events.append(event)
