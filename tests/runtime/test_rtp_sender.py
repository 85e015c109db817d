"""RtpSender: protect + send in one step, drops counted, never raised for a gone peer."""

from __future__ import annotations

import errno

import pytest

from sfu_trio.runtime.rtp_sender import RtpSender
from sfu_trio.runtime.udp import Address, UdpStatistics
from sfu_trio.webrtc.srtp import SrtpError

PEER: Address = ("127.0.0.1", 5004)


def protect(packet: bytes | bytearray) -> bytes:
    return b"srtp:" + bytes(packet)


class Socket:
    def __init__(self, error: OSError | None = None) -> None:
        self.sent: list[tuple[bytes, Address]] = []
        self.error = error

    def sendto(self, data: bytes | memoryview, addr: Address) -> int:
        if self.error is not None:
            raise self.error
        self.sent.append((bytes(data), addr))
        return len(data)


def test_nothing_is_sent_before_connect_or_after_disconnect() -> None:
    sender = RtpSender()
    sender.send(b"rtp")
    assert (sender.connected, sender.drops, sender.packets_sent) == (False, 1, 0)
    sock, stats = Socket(), UdpStatistics()
    sender.connect_udp(protect, sock.sendto, PEER, stats)
    sender.send(bytearray(b"rtp"))
    sender.disconnect()
    sender.send(b"rtp")
    assert sock.sent == [(b"srtp:rtp", PEER)]
    assert (sender.packets_sent, sender.bytes_sent, sender.drops) == (1, 8, 2)
    assert (stats.datagrams_sent, stats.bytes_sent) == (1, 8)


@pytest.mark.parametrize(
    "error",
    [
        BlockingIOError(errno.EAGAIN, "full"),
        OSError(errno.ECONNREFUSED, "refused"),
        OSError(errno.EHOSTUNREACH, "unreachable"),
    ],
)
def test_a_full_buffer_or_a_gone_peer_is_a_drop(error: OSError) -> None:
    sender, stats = RtpSender(), UdpStatistics()
    sender.connect_udp(protect, Socket(error).sendto, PEER, stats)
    sender.send(b"rtp")
    assert (sender.drops, stats.send_drops, sender.packets_sent, stats.datagrams_sent) == (
        1,
        1,
        0,
        0,
    )


def test_other_socket_errors_are_raised() -> None:
    sender = RtpSender()
    sender.connect_udp(protect, Socket(OSError(errno.EBADF, "bad")).sendto, PEER, UdpStatistics())
    with pytest.raises(OSError):
        sender.send(b"rtp")


def test_an_srtp_failure_is_a_drop() -> None:
    def failing(packet: bytes | bytearray) -> bytes:
        raise SrtpError("too large")

    sender = RtpSender()
    sender.connect_udp(failing, Socket().sendto, PEER, UdpStatistics())
    sender.send(b"rtp")
    assert (sender.drops, sender.packets_sent) == (1, 0)


def test_tcp_sends_through_the_framing_send_and_its_verdict() -> None:
    accepted: list[bytes] = []
    verdicts = iter([True, False])

    def send(data: bytes | memoryview, addr: Address) -> bool:
        accepted.append(bytes(data))
        return next(verdicts)

    sender = RtpSender()
    sender.connect(protect, send, PEER)
    sender.send(b"a")
    sender.send(b"b")
    assert accepted == [b"srtp:a", b"srtp:b"]
    assert (sender.packets_sent, sender.bytes_sent, sender.drops) == (1, 6, 1)
