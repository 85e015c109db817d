"""An in-test WebRTC client: a controlling ICE agent (aioice STUN), DTLS and SRTP over a real
UDP socket or an ICE-TCP (RFC 4571) connection — what a browser does against the server."""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import trio
from aioice import stun

from sfu_trio.runtime.udp import UdpTransport
from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import DtlsEndpoint, DtlsRole
from sfu_trio.webrtc.ice_lite import generate_credentials
from sfu_trio.webrtc.srtp import SrtpContext
from sfu_trio.webrtc.tcp_framing import RfcFramer, frame

Address = tuple[str, int]


def rtp_packet(seq: int, ssrc: int = 0xCAFE, payload_type: int = 111) -> bytes:
    return (
        struct.pack("!BBHII", 0x80, payload_type, seq, seq * 960, ssrc) + bytes([seq & 0xFF]) * 40
    )


class Link(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes: ...

    def close(self) -> None: ...


class UdpLink:
    """A connected UDP socket on 127.0.0.1."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    @classmethod
    async def open(cls, server: Address) -> UdpLink:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        await sock.connect(server)
        return cls(sock)

    @property
    def local_address(self) -> Address:
        host, port = self.sock.getsockname()[:2]
        return host, port

    async def send(self, data: bytes) -> None:
        await self.sock.send(data)

    async def receive(self) -> bytes:
        return await self.sock.recv(4096)

    def close(self) -> None:
        self.sock.close()


class TcpLink:
    """An ICE-TCP connection: RFC 4571 frames over a TCP stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._framer = RfcFramer()
        self._frames: list[bytes] = []
        self._send_lock = trio.Lock()

    @classmethod
    async def open(cls, server: Address) -> TcpLink:
        return cls(await trio.open_tcp_stream(*server))

    async def send(self, data: bytes) -> None:
        async with self._send_lock:
            await self.stream.send_all(frame(data))

    async def receive(self) -> bytes:
        while not self._frames:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return b""  # reset by the server
            if not data:
                return b""
            self._frames.extend(self._framer.feed(data))
        return self._frames.pop(0)

    def close(self) -> None:
        self.stream.socket.close()


class IceDtlsClient:
    """The client side of one PeerConnection: nominates the pair, runs DTLS, (un)protects RTP."""

    def __init__(
        self,
        *,
        certificate: Certificate,
        server_fingerprint: str,
        server_ufrag: str,
        server_pwd: str,
        dtls_role: DtlsRole = "client",
        seed: int = 7,
    ) -> None:
        self.ufrag, self.pwd = generate_credentials(random.Random(seed))
        self.server_ufrag, self.server_pwd = server_ufrag, server_pwd
        self.dtls = DtlsEndpoint(certificate, dtls_role, server_fingerprint)
        self.srtp: SrtpContext | None = None
        self.link: Link | None = None
        self.connected = trio.Event()
        self._stun_responses, self.stun_responses = trio.open_memory_channel[stun.Message](16)
        self._rtp, self.rtp = trio.open_memory_channel[bytes](1000)

    def binding_request(self, use_candidate: bool = True) -> bytes:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.server_ufrag}:{self.ufrag}"
        request.attributes["PRIORITY"] = 1853824767
        request.attributes["ICE-CONTROLLING"] = 0x1122334455667788
        if use_candidate:
            request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(self.server_pwd.encode())
        request.add_fingerprint()
        return bytes(request)

    def restart(self, server_ufrag: str, server_pwd: str, seed: int) -> None:
        """New credentials on both sides (the re-offer and its answer were exchanged)."""
        self.ufrag, self.pwd = generate_credentials(random.Random(seed))
        self.server_ufrag, self.server_pwd = server_ufrag, server_pwd

    async def serve(self, link: Link) -> None:
        """Read ``link`` until it closes: STUN responses, DTLS, SRTP."""
        while data := await link.receive():
            if data[0] < 4:
                self._stun_responses.send_nowait(stun.parse_message(data))
            elif data[0] < 64:
                self.dtls.receive_datagram_untrusted(data, trio.current_time())
                await self._send_dtls(link)
            elif self.srtp is not None and data[1] not in range(192, 224):
                self._rtp.send_nowait(self.srtp.unprotect_rtp(data))

    async def nominate(self, link: Link) -> stun.Message:
        """Send a check with USE-CANDIDATE on ``link``; return the server's answer."""
        self.link = link
        await link.send(self.binding_request())
        return await self.stun_responses.receive()

    async def connect(self, link: Link) -> None:
        """Nominate ``link`` and complete DTLS (retransmitting on the DTLS timer)."""
        response = await self.nominate(link)
        assert response.message_class == stun.Class.RESPONSE, response
        await self._handshake(link)

    async def connect_before_nominating(self, link: Link) -> None:
        """What Chromium often does: a plain check, DTLS on that pair, then the nomination."""
        self.link = link
        await link.send(self.binding_request(use_candidate=False))
        response = await self.stun_responses.receive()
        assert response.message_class == stun.Class.RESPONSE, response
        await self._handshake(link)
        assert (await self.nominate(link)).message_class == stun.Class.RESPONSE

    async def _handshake(self, link: Link) -> None:
        self.dtls.start(trio.current_time())
        await self._send_dtls(link)
        while not self.connected.is_set():
            timer = self.dtls.get_timer()
            with trio.move_on_at(timer if timer is not None else float("inf")):
                await self.connected.wait()
            self.dtls.handle_timer(trio.current_time())
            await self._send_dtls(link)

    async def send_rtp(self, packet: bytes) -> None:
        assert self.srtp is not None and self.link is not None
        await self.link.send(self.srtp.protect_rtp(packet))

    async def _send_dtls(self, link: Link) -> None:
        for datagram in self.dtls.datagrams_to_send():
            await link.send(datagram)
        if self.srtp is None and self.dtls.srtp_keys is not None:
            self.srtp = SrtpContext(self.dtls.srtp_keys)
            self.connected.set()


class ObservedUdpTransport(UdpTransport):
    """A `UdpTransport` that lets a test wait until it has handled another datagram."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._delivered = trio.Event()

    def deliver(self, data: bytes, addr: Address, now: float) -> None:
        super().deliver(data, addr, now)
        self._delivered.set()
        self._delivered = trio.Event()

    async def wait_delivered(self) -> None:
        await self._delivered.wait()


@contextmanager
def bound_udp() -> Iterator[ObservedUdpTransport]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    udp = ObservedUdpTransport(sock)
    try:
        yield udp
    finally:
        udp.close()
