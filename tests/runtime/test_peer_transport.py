"""PeerTransport over real UDP on 127.0.0.1 against an in-test client (ICE + DTLS + SRTP)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import trio
from aioice import stun

from sfu_trio.runtime.peer_transport import PeerTransport
from sfu_trio.runtime.tcp import IceTcpListener
from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import DtlsRole
from sfu_trio.webrtc.ice_lite import generate_credentials
from tests.runtime.ice_client import (
    IceDtlsClient,
    ObservedUdpTransport,
    UdpLink,
    bound_udp,
    rtp_packet,
)


@pytest.fixture(scope="module")
def server_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture(scope="module")
def client_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture
def udp(nursery: trio.Nursery) -> Iterator[ObservedUdpTransport]:
    with bound_udp() as transport:
        nursery.start_soon(transport.run)
        yield transport


@dataclass
class Received:
    """What the server-side callbacks saw."""

    rtp_send: trio.MemorySendChannel[bytes]
    rtp: trio.MemoryReceiveChannel[bytes]
    rtcp: list[bytes] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    @classmethod
    def make(cls) -> Received:
        send, receive = trio.open_memory_channel[bytes](1000)
        return cls(send, receive)

    def on_rtp(self, packet: bytes, now: float) -> None:
        self.rtp_send.send_nowait(packet)

    def on_rtcp(self, packet: bytes, now: float) -> None:
        self.rtcp.append(packet)


def make_pair(
    udp: ObservedUdpTransport,
    tcp: IceTcpListener | None,
    server_cert: Certificate,
    client_cert: Certificate,
    received: Received,
    *,
    server_role: DtlsRole = "server",
    client_fingerprint: str | None = None,
) -> tuple[PeerTransport, IceDtlsClient]:
    ufrag, pwd = generate_credentials(random.Random(1))
    client = IceDtlsClient(
        certificate=client_cert,
        server_fingerprint=server_cert.fingerprint_sha256,
        server_ufrag=ufrag,
        server_pwd=pwd,
        dtls_role="client" if server_role == "server" else "server",
    )
    peer = PeerTransport(
        udp=udp,
        tcp=tcp,
        certificate=server_cert,
        local_ufrag=ufrag,
        local_pwd=pwd,
        dtls_role=server_role,
        remote_fingerprint=None,
        on_rtp=received.on_rtp,
        on_rtcp=received.on_rtcp,
        on_state_change=received.states.append,
    )
    peer.set_remote(client.ufrag, client.pwd, client_fingerprint or client_cert.fingerprint_sha256)
    return peer, client


async def start_pair(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
    received: Received,
    *,
    server_role: DtlsRole = "server",
) -> tuple[PeerTransport, IceDtlsClient]:
    """`make_pair` over UDP, the transport running and the client reading ``link``."""
    peer, client = make_pair(udp, None, server_cert, client_cert, received, server_role=server_role)
    await nursery.start(peer.run)
    nursery.start_soon(client.serve, link)
    return peer, client


@pytest.fixture
async def link(udp: ObservedUdpTransport) -> AsyncIterator[UdpLink]:
    link = await UdpLink.open(udp.local_address)
    yield link
    link.close()


@pytest.fixture
async def new_link(udp: ObservedUdpTransport) -> AsyncIterator[UdpLink]:
    link = await UdpLink.open(udp.local_address)
    yield link
    link.close()


@pytest.mark.parametrize("server_role", ["server", "client"])
async def test_connect_and_rtp_both_ways(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
    server_role: DtlsRole,
) -> None:
    received = Received.make()
    peer, client = await start_pair(
        nursery, udp, link, server_cert, client_cert, received, server_role=server_role
    )
    with trio.fail_after(5):
        await client.connect(link)
        packets = [rtp_packet(seq) for seq in range(1, 6)]
        for packet in packets:
            await client.send_rtp(packet)
        assert [await received.rtp.receive() for _ in packets] == packets
        peer.send_rtp(bytearray(rtp_packet(77, ssrc=0xBEEF)))
        assert await client.rtp.receive() == rtp_packet(77, ssrc=0xBEEF)
    assert peer.state == "connected"
    assert received.states == ["connecting", "connected"]
    stats = peer.statistics()
    assert stats.transport == "udp"
    assert stats.remote_address == link.local_address
    assert (stats.rtp_packets_received, stats.rtp_packets_sent) == (5, 1)
    assert (stats.srtp_errors, stats.send_drops) == (0, 0)
    assert udp.routes == (1, 1)
    peer.close()
    assert peer.statistics().state == "closed"


async def test_dtls_completes_on_a_validated_pair_before_its_nomination(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
) -> None:
    received = Received.make()
    peer, client = await start_pair(nursery, udp, link, server_cert, client_cert, received)
    with trio.fail_after(5):
        await client.connect_before_nominating(link)
        await client.send_rtp(rtp_packet(1))
        assert await received.rtp.receive() == rtp_packet(1)
        peer.send_rtp(rtp_packet(2, ssrc=0xBEEF))
        assert await client.rtp.receive() == rtp_packet(2, ssrc=0xBEEF)
    # "connected" waits for the nomination: before it there is no pair to send media on.
    assert received.states == ["connected"]
    assert peer.statistics().send_drops == 0
    assert udp.routes == (1, 1)


async def test_send_before_connected_is_dropped_and_counted(
    udp: ObservedUdpTransport, server_cert: Certificate, client_cert: Certificate
) -> None:
    peer, _ = make_pair(udp, None, server_cert, client_cert, Received.make())
    peer.send_rtp(rtp_packet(1))
    peer.send_rtcp(b"\x80\xc9\x00\x01\x00\x00\xca\xfe")
    assert peer.statistics().send_drops == 2


async def test_fingerprint_mismatch_fails_and_delivers_nothing(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
) -> None:
    received = Received.make()
    other = Certificate.generate()  # the certificate the SDP promised, not the one used
    peer, client = make_pair(
        udp, None, server_cert, client_cert, received, client_fingerprint=other.fingerprint_sha256
    )
    finished = trio.Event()

    async def run_peer(task_status: trio.TaskStatus[None]) -> None:
        await peer.run(task_status=task_status)
        finished.set()

    await nursery.start(run_peer)
    nursery.start_soon(client.serve, link)
    with trio.fail_after(5):
        await client.connect(link)  # the client is satisfied: the server's certificate is right
        await finished.wait()
        assert peer.state == "failed"
        assert peer.failure_reason == "fingerprint mismatch"
        assert udp.routes == (0, 0)
        drops = udp.statistics.unknown_source_drops
        await client.send_rtp(rtp_packet(1))
        while udp.statistics.unknown_source_drops == drops:
            await udp.wait_delivered()
    assert received.states == ["connecting", "failed"]
    assert received.rtp.statistics().current_buffer_used == 0
    peer.send_rtp(rtp_packet(2))
    assert peer.statistics().send_drops == 1


async def test_ice_restart_moves_to_a_new_address_and_keeps_rtp_flowing(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    new_link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
) -> None:
    received = Received.make()
    peer, client = await start_pair(nursery, udp, link, server_cert, client_cert, received)
    with trio.fail_after(5):
        await client.connect(link)
        await client.send_rtp(rtp_packet(1))
        assert await received.rtp.receive() == rtp_packet(1)

        new_ufrag, new_pwd = generate_credentials(random.Random(2))
        peer.restart_ice(new_ufrag, new_pwd)
        client.restart(new_ufrag, new_pwd, seed=3)
        peer.set_remote(client.ufrag, client.pwd, client_cert.fingerprint_sha256)
        assert udp.routes == (2, 1)  # the old ufrag stays routable until the switch

        nursery.start_soon(client.serve, new_link)
        response = await client.nominate(new_link)
        assert response.message_class == stun.Class.RESPONSE
        assert response.attributes["XOR-MAPPED-ADDRESS"] == new_link.local_address
        await client.send_rtp(rtp_packet(2))
        assert await received.rtp.receive() == rtp_packet(2)
        peer.send_rtp(rtp_packet(3))
        assert await client.rtp.receive() == rtp_packet(3)
    assert peer.statistics().remote_address == new_link.local_address
    assert udp.routes == (2, 1)  # the old address no longer routes here
    assert received.states == ["connecting", "connected"]


async def test_cancelled_run_closes_and_unregisters(
    udp: ObservedUdpTransport, server_cert: Certificate, client_cert: Certificate
) -> None:
    received = Received.make()
    peer, _ = make_pair(udp, None, server_cert, client_cert, received)
    async with trio.open_nursery() as nursery:
        await nursery.start(peer.run)
        assert udp.routes == (1, 0)
        nursery.cancel_scope.cancel()
    assert udp.routes == (0, 0)
    assert peer.statistics().state == "closed"


async def test_consent_expiry_fails_the_transport_from_the_timer_task(
    nursery: trio.Nursery,
    udp: ObservedUdpTransport,
    link: UdpLink,
    server_cert: Certificate,
    client_cert: Certificate,
) -> None:
    received = Received.make()
    ufrag, pwd = generate_credentials(random.Random(1))
    client = IceDtlsClient(
        certificate=client_cert,
        server_fingerprint=server_cert.fingerprint_sha256,
        server_ufrag=ufrag,
        server_pwd=pwd,
    )
    peer = PeerTransport(
        udp=udp,
        tcp=None,
        certificate=server_cert,
        local_ufrag=ufrag,
        local_pwd=pwd,
        dtls_role="server",
        remote_fingerprint=client_cert.fingerprint_sha256,
        remote_ufrag=client.ufrag,
        remote_pwd=client.pwd,
        on_rtp=received.on_rtp,
        on_rtcp=received.on_rtcp,
        on_state_change=received.states.append,
        consent_timeout=0.3,
    )
    finished = trio.Event()

    async def run_peer(task_status: trio.TaskStatus[None]) -> None:
        await peer.run(task_status=task_status)
        finished.set()

    await nursery.start(run_peer)
    nursery.start_soon(client.serve, link)
    with trio.fail_after(5):
        await client.connect(link)
        connected_at = trio.current_time()
        await finished.wait()  # the client sends no more checks
    assert trio.current_time() - connected_at < 1.0
    assert received.states == ["connecting", "connected", "failed"]
    assert udp.routes == (0, 0)


async def test_renegotiation_with_another_fingerprint_fails(
    udp: ObservedUdpTransport, server_cert: Certificate, client_cert: Certificate
) -> None:
    received = Received.make()
    peer, client = make_pair(udp, None, server_cert, client_cert, received)
    peer.set_remote(client.ufrag, client.pwd, client_cert.fingerprint_sha256.lower())  # same
    assert peer.state == "new"
    peer.set_remote(client.ufrag, client.pwd, server_cert.fingerprint_sha256)
    assert received.states == ["failed"]
