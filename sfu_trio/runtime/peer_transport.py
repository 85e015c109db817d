"""The Trio shell around one participant's `PeerConnectionCore` (ICE-lite, DTLS, SRTP).

Input arrives synchronously: `UdpTransport.run` (or an ICE-TCP connection) calls
`datagram_received`, which feeds the core, sends what it answers and dispatches its events at
once; RTP reaches `on_rtp` without a task switch. `run` only drives the core's timers (DTLS
retransmission, consent expiry): it sleeps in a cancel scope whose deadline is the core's
timer, and every input that moves the timer moves that deadline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog
import trio

from ..webrtc.certs import Certificate
from ..webrtc.connection import PeerConnectionCore
from ..webrtc.dtls import DtlsRole
from ..webrtc.events import (
    ConnectionClosed,
    ConnectionFailed,
    DtlsConnected,
    IceAddressChanged,
    IceConnected,
    IcePairValidated,
    RtcpReceived,
    RtpReceived,
)
from .rtp_sender import RtpSender
from .tcp import IceTcpListener
from .udp import Address, UdpTransport

logger = structlog.get_logger("sfu_trio.peer_transport")

TransportState = Literal["new", "connecting", "connected", "failed", "closed"]
SendFunction = Callable[[bytes, Address], bool]
_MEDIA_FIRST_BYTE = 128  # RTP/RTCP: never changes the core's timers nor makes it answer


@dataclass(frozen=True, slots=True)
class PeerTransportStatistics:
    """A snapshot of one participant's transport counters."""

    state: TransportState
    transport: str | None  # "udp" | "tcp" once a pair is selected
    remote_address: Address | None
    packets_received: int
    bytes_received: int
    rtp_packets_received: int
    rtcp_packets_received: int
    packets_sent: int
    bytes_sent: int
    rtp_packets_sent: int
    rtcp_packets_sent: int
    send_drops: int
    srtp_errors: int
    receive_drops: int


class PeerTransport:
    """One participant's media transport on the shared UDP socket (and ICE-TCP listener).

    Build it when answering the offer, `await nursery.start(transport.run)`; `run` returns when
    the connection fails or is closed. Sending never awaits: without a selected pair and
    keys, or with a full socket buffer, the packet is dropped and counted.
    """

    def __init__(
        self,
        *,
        udp: UdpTransport,
        tcp: IceTcpListener | None,
        certificate: Certificate,
        local_ufrag: str,
        local_pwd: str,
        dtls_role: DtlsRole,
        remote_fingerprint: str | None,
        on_rtp: Callable[[bytes, float], None],
        on_rtcp: Callable[[bytes, float], None],
        on_state_change: Callable[[str], None],
        remote_ufrag: str | None = None,
        remote_pwd: str | None = None,
        consent_timeout: float = 30.0,
    ) -> None:
        self._udp = udp
        self._tcp = tcp
        self._certificate = certificate
        self._dtls_role: DtlsRole = dtls_role
        self._consent_timeout = consent_timeout
        self._local_ufrag = local_ufrag
        self._local_pwd = local_pwd
        self._ufrags = [local_ufrag]  # the previous generation stays routable during a restart
        self._remote_fingerprint = remote_fingerprint
        self._on_rtp = on_rtp
        self._on_rtcp = on_rtcp
        self._on_state_change = on_state_change
        self._core: PeerConnectionCore | None = None
        self._registered = False
        self._finished = False
        self._timer_scope: trio.CancelScope | None = None
        self._send: SendFunction | None = None
        self.rtp_sender = RtpSender()  # what down-tracks send through: `send_rtp`
        self.failure_reason: str | None = None  # why the state became "failed"
        self._remote: Address | None = None
        self._validated: list[Address] = []  # UDP routes taken before nomination
        self._log = logger.bind(ufrag=local_ufrag)
        self.state: TransportState = "new"
        self.packets_received = 0
        self.bytes_received = 0
        self.rtp_packets_received = 0
        self.rtcp_packets_received = 0
        self.packets_sent = 0
        self.bytes_sent = 0
        self.rtcp_packets_sent = 0
        self.send_drops = 0
        self.drops_before_remote = 0
        if remote_ufrag is not None and remote_pwd is not None and remote_fingerprint is not None:
            self.set_remote(remote_ufrag, remote_pwd, remote_fingerprint)

    @property
    def local_ufrag(self) -> str:
        return self._local_ufrag

    @property
    def local_pwd(self) -> str:
        return self._local_pwd

    # ------------------------------------------------------------------ signalling inputs

    def set_remote(self, ufrag: str, pwd: str, fingerprint: str) -> None:
        """The client's ICE credentials and DTLS fingerprint (from each offer)."""
        core = self._core
        if core is None:
            self._remote_fingerprint = fingerprint
            self._core = PeerConnectionCore(
                certificate=self._certificate,
                local_ufrag=self._local_ufrag,
                local_pwd=self._local_pwd,
                remote_ufrag=ufrag,
                remote_pwd=pwd,
                remote_fingerprint=fingerprint,
                dtls_role=self._dtls_role,
                consent_timeout=self._consent_timeout,
            )
            self._timer_changed()
            return
        if self._remote_fingerprint is None or fingerprint.upper() != (
            self._remote_fingerprint.upper()
        ):
            # A new certificate needs a new DTLS association, i.e. a new transport.
            now = trio.current_time()
            self._fail("remote fingerprint changed", now)
            core.close(now)
            self._flush(core, now, core.send_transport)
            return
        core.set_remote_ice_credentials(ufrag, pwd)

    def restart_ice(self, ufrag: str, pwd: str) -> None:
        """ICE restart with our new credentials; then `set_remote` with the client's new ones.

        Media keeps flowing on the selected pair until the client nominates a new one.
        """
        if self._core is not None:
            self._core.restart_ice(ufrag, pwd)
        self._local_ufrag, self._local_pwd = ufrag, pwd
        self._ufrags.append(ufrag)
        while len(self._ufrags) > 2:
            self._unregister_ufrag(self._ufrags.pop(0))
        if self._registered:
            self._register_ufrag(ufrag)

    def close(self) -> None:
        """Send DTLS close_notify and end `run`."""
        core = self._core
        if self._finished:
            return
        if core is None:
            self._finish("closed")
            return
        now = trio.current_time()
        core.close(now)
        self._flush(core, now, core.send_transport)
        self._dispatch(core, now)

    # ------------------------------------------------------------------ the hot path

    def datagram_received(
        self, data: bytes, addr: Address, now: float, transport: str = "udp"
    ) -> None:
        """One datagram (or ICE-TCP frame) from ``addr``: feed the core, act on its output."""
        if not data:
            return
        self.packets_received += 1
        self.bytes_received += len(data)
        core = self._core
        if core is None:
            self.drops_before_remote += 1
            return
        core.receive_datagram(data, addr, now, transport)
        if data[0] >= _MEDIA_FIRST_BYTE:
            self._dispatch(core, now)
            return
        self._flush(core, now, transport)
        self._dispatch(core, now)
        self._timer_changed()

    def send_rtp(self, packet: bytes | bytearray) -> None:
        """Protect and send an RTP packet to the selected pair; drop and count if impossible.

        Down-tracks call ``rtp_sender.send`` directly: the same thing, one frame shorter.
        """
        self.rtp_sender.send(packet)

    def send_rtcp(self, packet: bytes) -> None:
        """Protect and send an RTCP compound packet; drop and count if impossible."""
        core = self._core
        send = self._send
        if core is None or send is None:
            self.send_drops += 1
            return
        protected = core.send_rtcp(packet if type(packet) is bytes else bytes(packet))
        if protected is not None and send(protected, self._remote):  # type: ignore[arg-type]
            self.rtcp_packets_sent += 1
            self.bytes_sent += len(protected)
        else:
            self.send_drops += 1

    # ------------------------------------------------------------------ the timer task

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Route this peer's ufrag here and drive the core's timers until the connection ends."""
        for ufrag in self._ufrags:
            self._register_ufrag(ufrag)
        self._registered = True
        try:
            task_status.started()
            while not self._finished:
                with trio.CancelScope(deadline=self._deadline()) as scope:
                    self._timer_scope = scope
                    await trio.sleep_forever()
                self._timer_scope = None
                core = self._core
                if self._finished or core is None:
                    continue
                now = trio.current_time()
                core.handle_timer(now)
                self._flush(core, now, core.send_transport)
                self._dispatch(core, now)
        finally:
            self._timer_scope = None
            if not self._finished:
                self.close()  # cancelled from outside: tell the peer, synchronously
            self._udp.unbind_endpoint(self)
            if self._tcp is not None:
                self._tcp.unbind_endpoint(self)
            self._registered = False

    def statistics(self) -> PeerTransportStatistics:
        core = self._core
        rtp = self.rtp_sender
        srtp_errors = receive_drops = 0
        if core is not None:
            srtp_errors = core.srtp_errors
            receive_drops = (
                core.dropped_unknown_address + core.dropped_before_keys + core.dropped_unclassified
            )
        return PeerTransportStatistics(
            state=self.state,
            transport=None if core is None else core.remote_transport,
            remote_address=self._remote,
            packets_received=self.packets_received,
            bytes_received=self.bytes_received,
            rtp_packets_received=self.rtp_packets_received,
            rtcp_packets_received=self.rtcp_packets_received,
            packets_sent=self.packets_sent + rtp.packets_sent + self.rtcp_packets_sent,
            bytes_sent=self.bytes_sent + rtp.bytes_sent,
            rtp_packets_sent=rtp.packets_sent,
            rtcp_packets_sent=self.rtcp_packets_sent,
            send_drops=self.send_drops + rtp.drops,
            srtp_errors=srtp_errors,
            receive_drops=receive_drops + self.drops_before_remote,
        )

    # ------------------------------------------------------------------ internals

    def _dispatch(self, core: PeerConnectionCore, now: float) -> None:
        next_event = core.next_event
        while (event := next_event()) is not None:
            if type(event) is RtpReceived:
                self.rtp_packets_received += 1
                self._on_rtp(event.packet, now)
            elif type(event) is RtcpReceived:
                self.rtcp_packets_received += 1
                self._on_rtcp(event.packet, now)
            elif isinstance(event, IceConnected | IceAddressChanged):
                self._select(core, event.address)
            elif isinstance(event, IcePairValidated):
                if event.transport == "udp" and self._udp.bind_free_address(event.address, self):
                    self._validated.append(event.address)
            elif isinstance(event, DtlsConnected):
                self._log.info("peer transport connected", srtp=event.srtp_profile.name)
                self._connect_rtp_sender(core)
                if self._remote is not None:  # else once the client nominates its pair
                    self._set_state("connected")
            elif isinstance(event, ConnectionFailed):
                self._fail(event.reason, now)
            elif isinstance(event, ConnectionClosed):
                self._finish("closed")

    def _select(self, core: PeerConnectionCore, address: Address) -> None:
        previous = self._remote
        if previous is not None:
            self._udp.unbind_address(previous, self)
        for validated in self._validated:
            if validated != address:
                self._udp.unbind_address(validated, self)
        self._validated.clear()
        self._remote = address
        if core.remote_transport == "tcp" and self._tcp is not None:
            self._send = self._tcp.send
        else:
            self._send = self._udp.send
            self._udp.bind_address(address, self)
        self._log.info("ice pair selected", addr=address, transport=core.remote_transport)
        self._connect_rtp_sender(core)
        if core.srtp is not None and not self._finished:
            self._set_state("connected")  # DTLS completed on the pair before its nomination
        elif self.state == "new":
            self._set_state("connecting")

    def _flush(self, core: PeerConnectionCore, now: float, transport: str | None) -> None:
        datagrams = core.datagrams_to_send(now)
        if not datagrams:
            return
        tcp = self._tcp
        send = tcp.send if transport == "tcp" and tcp is not None else self._udp.send
        for data, addr in datagrams:
            if send(data, addr):
                self.packets_sent += 1
                self.bytes_sent += len(data)
            else:
                self.send_drops += 1

    def _connect_rtp_sender(self, core: PeerConnectionCore) -> None:
        """Point the sender at the keys and the selected pair, once both exist."""
        srtp = core.srtp
        address = self._remote
        if srtp is None or address is None or self._finished:
            self.rtp_sender.disconnect()
        elif core.remote_transport == "tcp" and self._tcp is not None:
            self.rtp_sender.connect(srtp.protect_rtp_view, self._tcp.send, address)
        else:
            udp = self._udp
            self.rtp_sender.connect_udp(
                srtp.protect_rtp_view, udp.raw_sendto, address, udp.statistics
            )

    def _deadline(self) -> float:
        timer = None if self._core is None else self._core.get_timer()
        return math.inf if timer is None else timer

    def _timer_changed(self) -> None:
        scope = self._timer_scope
        if scope is not None:
            scope.deadline = self._deadline()

    def _fail(self, reason: str, now: float) -> None:
        self.failure_reason = reason
        self._log.warning("peer transport failed", reason=reason, at=now)
        self._finish("failed")

    def _finish(self, state: TransportState) -> None:
        self._finished = True
        self._send = None
        self.rtp_sender.disconnect()
        self._set_state(state)
        if self._timer_scope is not None:
            self._timer_scope.cancel()

    def _set_state(self, state: TransportState) -> None:
        if state != self.state:
            self.state = state
            self._on_state_change(state)

    def _register_ufrag(self, ufrag: str) -> None:
        self._udp.register_ufrag(ufrag, self)
        if self._tcp is not None:
            self._tcp.register_ufrag(ufrag, self)

    def _unregister_ufrag(self, ufrag: str) -> None:
        self._udp.unregister_ufrag(ufrag)
        if self._tcp is not None:
            self._tcp.unregister_ufrag(ufrag)
