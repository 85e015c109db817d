"""UdpTransport over real sockets on 127.0.0.1: routing, and no state for unknown senders."""

from __future__ import annotations

import random
import socket

import trio
from aioice import stun

from sfu_trio.runtime.udp import Address, UdpTransport
from tests.runtime.ice_client import bound_udp

UFRAG = "serverUfrag00001"


class RecordingEndpoint:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, Address]] = []
        self.arrived = trio.Event()

    def datagram_received(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append((data, addr))
        self.arrived.set()


def binding_request(username: str) -> bytes:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = username
    request.add_message_integrity(b"x" * 22)
    request.add_fingerprint()
    return bytes(request)


def client_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_unknown_senders_leave_no_state_and_known_peer_is_served(
    nursery: trio.Nursery,
) -> None:
    rng = random.Random(1)
    with bound_udp() as udp, client_socket() as known, client_socket() as stranger:
        endpoint = RecordingEndpoint()
        udp.register_ufrag(UFRAG, endpoint)
        known_addr: Address = known.getsockname()
        udp.bind_address(known_addr, endpoint)
        nursery.start_soon(udp.run)
        routes = udp.routes
        total = 10_000
        with trio.fail_after(10):
            for index in range(total):
                size = rng.randrange(0, 1200)
                stranger.sendto(rng.randbytes(size), udp.local_address)
                if index % 100 == 99:  # stay below the socket's receive buffer
                    while udp.statistics.datagrams_received < index + 1:
                        await udp.wait_delivered()
            known.sendto(b"\x80media", udp.local_address)
            await endpoint.arrived.wait()
        assert udp.statistics.unknown_source_drops == total
        assert udp.statistics.datagrams_received == total + 1
        assert udp.routes == routes == (1, 1)
        assert endpoint.received == [(b"\x80media", known_addr)]
        assert udp.send(b"reply", known_addr)
        assert known.recv(100) == b"reply"


async def test_stun_from_unknown_address_is_routed_by_registered_ufrag_only(
    nursery: trio.Nursery,
) -> None:
    with bound_udp() as udp, client_socket() as client:
        endpoint = RecordingEndpoint()
        udp.register_ufrag(UFRAG, endpoint)
        nursery.start_soon(udp.run)
        with trio.fail_after(5):
            client.sendto(binding_request("unregisteredUfrag:abcd"), udp.local_address)
            await udp.wait_delivered()
            assert udp.statistics.unknown_source_drops == 1
            assert endpoint.received == []
            request = binding_request(f"{UFRAG}:abcd")
            client.sendto(request, udp.local_address)
            await endpoint.arrived.wait()
        assert endpoint.received == [(request, client.getsockname())]
        assert udp.routes == (1, 0)  # routing a check binds nothing; the endpoint decides


async def test_unbind_address_and_endpoint_remove_routes() -> None:
    with bound_udp() as udp:
        first, second = RecordingEndpoint(), RecordingEndpoint()
        udp.register_ufrag(UFRAG, first)
        udp.bind_address(("127.0.0.1", 1000), first)
        udp.bind_address(("127.0.0.1", 2000), second)
        udp.unbind_address(("127.0.0.1", 2000), first)  # not first's: kept
        assert udp.routes == (1, 2)
        udp.unbind_address(("127.0.0.1", 1000), first)
        assert udp.routes == (1, 1)
        udp.unbind_endpoint(first)
        udp.unbind_endpoint(second)
        assert udp.routes == (0, 0)


async def test_send_to_unreachable_is_counted_not_raised() -> None:
    udp = UdpTransport.bind("127.0.0.1", 0)
    try:
        # A closed port answers with ICMP port unreachable; the next send may see ECONNREFUSED.
        with client_socket() as gone:
            addr = gone.getsockname()
        for _ in range(3):
            udp.send(b"x", addr)
        stats = udp.statistics
        assert stats.datagrams_sent + stats.send_drops == 3
    finally:
        udp.close()
