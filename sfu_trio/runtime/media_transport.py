"""The node's media plane sockets: one UDP socket, one optional ICE-TCP listener, one certificate.

``await nursery.start(media.run)`` binds both and serves until cancelled; participants get a
`PeerTransport` from `create_peer_transport` and put `local_candidates()` in their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import trio
from aioice import Candidate

from ..config import Config
from ..webrtc.candidates import server_candidates
from ..webrtc.certs import Certificate
from ..webrtc.dtls import DtlsRole
from ..webrtc.sdp import Fingerprint
from .addresses import advertised_addresses
from .peer_transport import PeerTransport
from .tcp import IceTcpListener
from .udp import UdpTransport

__all__ = ["MediaTransport", "dtls_role_for_setup", "sha256_fingerprint"]


def dtls_role_for_setup(setup: Literal["passive", "active"]) -> DtlsRole:
    """The server's DTLS role for its answer's ``a=setup`` (passive waits for the ClientHello)."""
    return "server" if setup == "passive" else "client"


def sha256_fingerprint(fingerprints: Sequence[Fingerprint]) -> str | None:
    """The offer's SHA-256 certificate fingerprint, the one the DTLS layer checks."""
    for fingerprint in fingerprints:
        if fingerprint.algorithm.lower() == "sha-256":
            return fingerprint.value
    return None


class MediaTransport:
    """UDP socket + ICE-TCP listener + DTLS certificate shared by every participant."""

    def __init__(
        self,
        *,
        host: str,
        udp_port: int,
        tcp_port: int | None,
        public_ip: str | None = None,
        certificate: Certificate | None = None,
        advertised: Sequence[str] | None = None,
    ) -> None:
        """``tcp_port`` None turns ICE-TCP off; port 0 picks any free port (tests).

        ``advertised`` overrides the candidate addresses (default: `advertised_addresses`).
        """
        self.host = host
        self.certificate = certificate if certificate is not None else Certificate.generate()
        self._udp_port = udp_port
        self._tcp_port = tcp_port
        self._addresses = (
            list(advertised) if advertised is not None else advertised_addresses(host, public_ip)
        )
        self._udp: UdpTransport | None = None
        self.tcp: IceTcpListener | None = None if tcp_port is None else IceTcpListener()

    @classmethod
    def from_config(cls, config: Config, certificate: Certificate | None = None) -> MediaTransport:
        """SFU_TCP_PORT=0 means no ICE-TCP here."""
        return cls(
            host=config.host,
            udp_port=config.udp_port,
            tcp_port=config.tcp_port or None,
            public_ip=config.public_ip,
            certificate=certificate,
        )

    @property
    def udp(self) -> UdpTransport:
        if self._udp is None:
            raise RuntimeError("the media transport is not running")
        return self._udp

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    async def run(
        self, *, task_status: trio.TaskStatus[MediaTransport] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind the sockets, report ``self`` once they are bound, serve until cancelled."""
        udp = UdpTransport.bind(self.host, self._udp_port)
        self._udp = udp
        try:
            async with trio.open_nursery() as nursery:
                if self.tcp is not None and self._tcp_port is not None:
                    await nursery.start(self.tcp.run, self.host, self._tcp_port)
                nursery.start_soon(udp.run)
                task_status.started(self)
        finally:
            self._udp = None
            udp.close()

    def local_candidates(self) -> tuple[Candidate, ...]:
        """The host UDP (and passive TCP) candidates of every advertised address."""
        tcp_port = self.tcp.port if self.tcp is not None else None
        return tuple(server_candidates(self._addresses, self.udp.local_address[1], tcp_port))

    def create_peer_transport(
        self,
        *,
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
    ) -> PeerTransport:
        """A `PeerTransport` on these sockets; start it with ``nursery.start(peer.run)``."""
        return PeerTransport(
            udp=self.udp,
            tcp=self.tcp,
            certificate=self.certificate,
            local_ufrag=local_ufrag,
            local_pwd=local_pwd,
            dtls_role=dtls_role,
            remote_fingerprint=remote_fingerprint,
            on_rtp=on_rtp,
            on_rtcp=on_rtcp,
            on_state_change=on_state_change,
            remote_ufrag=remote_ufrag,
            remote_pwd=remote_pwd,
            consent_timeout=consent_timeout,
        )
