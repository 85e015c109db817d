"""One UDP socket for every participant's media: read in batches, route, send without awaiting.

Routing: a datagram from a known remote address goes to that address's endpoint. A datagram from
an unknown address is looked at only if it is a STUN message whose USERNAME names a local ufrag
we issued; anything else is counted and dropped before any allocation.

Sending is synchronous (a non-blocking ``sendto``): the forwarding path never awaits. When the
kernel's send buffer is full the datagram is dropped and counted, as a congested link would.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
import trio

from ..webrtc.stun import local_ufrag_of, stun_username_untrusted

logger = structlog.get_logger("sfu_trio.udp")

Address = tuple[str, int]
RECEIVE_BUFFER = 4 * 1024 * 1024
SEND_BUFFER = 4 * 1024 * 1024
MAX_DATAGRAM = 2048
BATCH = 64
# Kernel receive timestamps (Linux): TWCC feedback must carry arrival times, not read times.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("qq")


class DatagramEndpoint(Protocol):
    """What the transports deliver datagrams (UDP) and frames (ICE-TCP) to: a PeerTransport."""

    def datagram_received(
        self, data: bytes, addr: Address, now: float, transport: str = "udp"
    ) -> None: ...


@dataclass(slots=True)
class UdpStatistics:
    """Plain counters, read by the metrics collector at scrape time."""

    datagrams_received: int = 0
    bytes_received: int = 0
    datagrams_sent: int = 0
    bytes_sent: int = 0
    send_drops: int = 0
    unknown_source_drops: int = 0


class UdpTransport:
    """The media socket shared by every participant of this node."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._sendto = sock.sendto
        self._by_ufrag: dict[str, DatagramEndpoint] = {}
        self._by_address: dict[Address, DatagramEndpoint] = {}
        self.statistics = UdpStatistics()

    @classmethod
    def bind(cls, host: str, port: int) -> UdpTransport:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            with contextlib.suppress(OSError):  # without kernel timestamps the read time is used
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return cls(sock)

    @property
    def local_address(self) -> Address:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def close(self) -> None:
        self._sock.close()

    # -- routing --------------------------------------------------------------------------

    @property
    def routes(self) -> tuple[int, int]:
        """How many (ufrags, remote addresses) are routed now: a gauge for leak checks."""
        return len(self._by_ufrag), len(self._by_address)

    def register_ufrag(self, ufrag: str, endpoint: DatagramEndpoint) -> None:
        self._by_ufrag[ufrag] = endpoint

    def unregister_ufrag(self, ufrag: str) -> None:
        self._by_ufrag.pop(ufrag, None)

    def bind_address(self, addr: Address, endpoint: DatagramEndpoint) -> None:
        """Route datagrams from ``addr`` to ``endpoint`` (after a valid STUN check from it)."""
        self._by_address[addr] = endpoint

    def bind_free_address(self, addr: Address, endpoint: DatagramEndpoint) -> bool:
        """`bind_address` unless another endpoint routes ``addr`` already; True when bound."""
        return self._by_address.setdefault(addr, endpoint) is endpoint

    def unbind_address(self, addr: Address, endpoint: DatagramEndpoint) -> None:
        """Stop routing ``addr`` to ``endpoint`` (its pair moved); other endpoints' routes stay."""
        if self._by_address.get(addr) is endpoint:
            del self._by_address[addr]

    def unbind_endpoint(self, endpoint: DatagramEndpoint) -> None:
        for addr in [a for a, e in self._by_address.items() if e is endpoint]:
            del self._by_address[addr]
        for ufrag in [u for u, e in self._by_ufrag.items() if e is endpoint]:
            del self._by_ufrag[ufrag]

    def deliver(self, data: bytes, addr: Address, now: float) -> None:
        endpoint = self._by_address.get(addr)
        if endpoint is None:
            endpoint = self._endpoint_for_stun(data)
            if endpoint is None:
                self.statistics.unknown_source_drops += 1
                return
        endpoint.datagram_received(data, addr, now)

    def _endpoint_for_stun(self, data: bytes) -> DatagramEndpoint | None:
        if not data or data[0] > 3:
            return None
        username = stun_username_untrusted(data)
        if username is None:
            return None
        return self._by_ufrag.get(local_ufrag_of(username))

    # -- I/O ------------------------------------------------------------------------------

    @property
    def raw_sendto(self) -> Callable[[bytes | memoryview, Address], int]:
        """The socket's own ``sendto``, for `RtpSender` (which handles its errors itself)."""
        return self._sendto

    def send(self, data: bytes, addr: Address) -> bool:
        """Send without blocking; False when the datagram was dropped (buffer full, unreachable)."""
        try:
            self._sendto(data, addr)
        except BlockingIOError:
            self.statistics.send_drops += 1
            return False
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                self.statistics.send_drops += 1
                return False
            raise
        stats = self.statistics
        stats.datagrams_sent += 1
        stats.bytes_sent += len(data)
        return True

    async def run(self) -> None:
        """Read datagrams until cancelled, in batches without awaiting between them."""
        recvmsg = self._sock.recvmsg
        deliver = self.deliver
        stats = self.statistics
        current_time = trio.current_time
        unpack = _TIMESPEC.unpack_from
        while True:
            await trio.lowlevel.wait_readable(self._sock)
            read_at = current_time()
            wall_to_trio = read_at - time.time()
            for _ in range(BATCH):
                try:
                    data, ancillary, _flags, addr = recvmsg(MAX_DATAGRAM, 64)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    # ICMP errors from an earlier send surface here on some systems.
                    continue
                now = read_at
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = unpack(value)
                        now = min(seconds + nanoseconds * 1e-9 + wall_to_trio, read_at)
                stats.datagrams_received += 1
                stats.bytes_received += len(data)
                try:
                    deliver(data, addr[:2], now)
                except Exception:
                    logger.exception("datagram handling failed", addr=addr)
