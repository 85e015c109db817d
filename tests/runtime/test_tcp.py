"""ICE-TCP (RFC 6544 passive, RFC 4571 framing) over real TCP on 127.0.0.1."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
import trio
from aioice import stun

from sfu_trio.runtime.media_transport import MediaTransport
from sfu_trio.runtime.tcp import IceTcpListener
from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import DtlsState
from sfu_trio.webrtc.ice_lite import generate_credentials
from sfu_trio.webrtc.tcp_framing import frame
from tests.runtime.ice_client import IceDtlsClient, TcpLink, bound_udp, rtp_packet
from tests.runtime.test_peer_transport import Received, make_pair

ADDR = tuple[str, int]


@pytest.fixture(scope="module")
def server_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture(scope="module")
def client_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture
async def tcp(nursery: trio.Nursery) -> AsyncIterator[IceTcpListener]:
    listener = IceTcpListener(first_request_timeout=0.2, max_connections=4)
    await nursery.start(listener.run, "127.0.0.1", 0)
    yield listener


class FrameSink:
    def __init__(self) -> None:
        self.frames: list[tuple[bytes, ADDR, str]] = []

    def datagram_received(
        self, data: bytes, addr: ADDR, now: float, transport: str = "udp"
    ) -> None:
        self.frames.append((data, addr, transport))


def binding_request(username: str) -> bytes:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = username
    request.add_fingerprint()
    return bytes(request)


async def assert_closed_by_server(stream: trio.SocketStream) -> None:
    with trio.fail_after(5):
        assert await stream.receive_some(100) == b""


async def test_connect_and_rtp_round_trip_over_ice_tcp(
    nursery: trio.Nursery,
    tcp: IceTcpListener,
    server_cert: Certificate,
    client_cert: Certificate,
) -> None:
    received = Received.make()
    with bound_udp() as udp:
        peer, client = make_pair(udp, tcp, server_cert, client_cert, received)
        await nursery.start(peer.run)
        link = await TcpLink.open(("127.0.0.1", tcp.port))
        link_closed = trio.Event()

        async def serve_client() -> None:
            await client.serve(link)  # returns when the server closes the connection
            link_closed.set()

        nursery.start_soon(serve_client)
        with trio.fail_after(5):
            await client.connect(link)
            for seq in (1, 2, 3):
                await client.send_rtp(rtp_packet(seq))
            assert [await received.rtp.receive() for _ in range(3)] == [
                rtp_packet(1),
                rtp_packet(2),
                rtp_packet(3),
            ]
            peer.send_rtp(rtp_packet(9, ssrc=0xBEEF))
            assert await client.rtp.receive() == rtp_packet(9, ssrc=0xBEEF)
        stats = peer.statistics()
        assert stats.transport == "tcp"
        assert stats.remote_address == link.stream.socket.getsockname()[:2]
        assert (stats.rtp_packets_received, stats.rtp_packets_sent, stats.send_drops) == (3, 1, 0)
        assert udp.routes == (1, 0)  # nothing bound on UDP for a TCP pair
        assert tcp.statistics.connections_accepted == 1
        peer.close()  # unbinding the endpoint closes its TCP connection
        with trio.fail_after(5):
            await link_closed.wait()
        assert client.dtls.state is DtlsState.CLOSED  # close_notify was sent before closing
        await link.stream.aclose()


async def test_first_frame_must_be_stun_for_a_registered_ufrag(tcp: IceTcpListener) -> None:
    sink = FrameSink()
    tcp.register_ufrag("knownUfrag", sink)
    for first in (b"\x80not stun", binding_request("unknownUfrag:x")):
        stream = await trio.open_tcp_stream("127.0.0.1", tcp.port)
        await stream.send_all(frame(first))
        await assert_closed_by_server(stream)
        await stream.aclose()
    stream = await trio.open_tcp_stream("127.0.0.1", tcp.port)
    await stream.send_all(frame(b"\x00"[:0]))  # an empty frame is skipped, no request yet
    await assert_closed_by_server(stream)  # ... and the first-request timeout closes it
    await stream.aclose()
    assert sink.frames == []
    assert tcp.statistics.connections_rejected == 3

    stream = await trio.open_tcp_stream("127.0.0.1", tcp.port)
    request = binding_request("knownUfrag:x")
    # Split across writes: the framer reassembles.
    await stream.send_all(frame(request)[:5])
    await stream.send_all(frame(request)[5:] + frame(b"\x80rtp"))
    address = stream.socket.getsockname()[:2]
    with trio.fail_after(5):
        while len(sink.frames) < 2:
            await trio.testing.wait_all_tasks_blocked()
    assert sink.frames == [(request, address, "tcp"), (b"\x80rtp", address, "tcp")]
    assert tcp.send(b"reply", address)
    assert not tcp.send(b"reply", ("127.0.0.1", 1))
    with trio.fail_after(5):
        assert await stream.receive_some(100) == frame(b"reply")
    queued = [bytes([n]) * 100 for n in range(5)]
    for payload in queued:
        assert tcp.send(payload, address)
    tcp.unbind_endpoint(sink)  # what was queued is still sent, then the connection closes
    assert not tcp.send(b"late", address)
    received = b""
    with trio.fail_after(5):
        while data := await stream.receive_some(65536):
            received += data
    assert received == b"".join(frame(p) for p in queued)
    await stream.aclose()


async def test_connection_limit(tcp: IceTcpListener) -> None:
    streams = [await trio.open_tcp_stream("127.0.0.1", tcp.port) for _ in range(4)]
    extra = await trio.open_tcp_stream("127.0.0.1", tcp.port)
    await assert_closed_by_server(extra)
    assert tcp.statistics.connections_rejected >= 1
    for stream in [*streams, extra]:
        await stream.aclose()


async def test_media_transport_binds_both_and_lists_candidates(
    nursery: trio.Nursery, server_cert: Certificate
) -> None:
    media = MediaTransport(host="127.0.0.1", udp_port=0, tcp_port=0, certificate=server_cert)
    await nursery.start(media.run)
    assert media.addresses == ["127.0.0.1"]
    candidates = media.local_candidates()
    assert [(c.transport, c.host, c.port, c.tcptype) for c in candidates] == [
        ("udp", "127.0.0.1", media.udp.local_address[1], None),
        ("tcp", "127.0.0.1", media.tcp.port if media.tcp else 0, "passive"),
    ]
    ufrag, pwd = generate_credentials(random.Random(4))
    peer = media.create_peer_transport(
        local_ufrag=ufrag,
        local_pwd=pwd,
        dtls_role="server",
        remote_fingerprint=None,
        on_rtp=lambda packet, now: None,
        on_rtcp=lambda packet, now: None,
        on_state_change=lambda state: None,
    )
    client = IceDtlsClient(
        certificate=server_cert,
        server_fingerprint=server_cert.fingerprint_sha256,
        server_ufrag=ufrag,
        server_pwd=pwd,
    )
    peer.set_remote(client.ufrag, client.pwd, server_cert.fingerprint_sha256)
    await nursery.start(peer.run)
    assert media.udp.routes == (1, 0)
