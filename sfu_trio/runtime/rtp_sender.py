"""The forwarding hot path's last step: SRTP-protect one RTP packet and send it, in one frame.

Every down-track of a subscriber holds the same `RtpSender.send`. The subscriber's
`PeerTransport` points the sender at its SRTP context and selected pair when both exist
(`connect`) and away from them when they go (`disconnect`), so `send` needs no lookups through
the transport, the core and the socket wrapper per packet: one protect, one ``sendto``, and
the counters.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ..webrtc.srtp import SrtpError
from .udp import Address, UdpStatistics

__all__ = ["RtpSender"]

Protect = Callable[[bytes | bytearray], bytes | memoryview]
SendTo = Callable[[bytes | memoryview, Address], object]
Send = Callable[[bytes | memoryview, Address], bool]

# A datagram to a peer that went away is dropped, not an error of the server.
_UNREACHABLE = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)


class RtpSender:
    """Protects and sends RTP for one participant; drops (and counts) what it cannot send."""

    __slots__ = (
        "_address",
        "_protect",
        "_send",
        "_sendto",
        "_udp_statistics",
        "bytes_sent",
        "drops",
        "packets_sent",
    )

    def __init__(self) -> None:
        self._protect: Protect | None = None
        self._sendto: SendTo | None = None
        self._send: Send | None = None
        self._address: Address | None = None
        self._udp_statistics: UdpStatistics | None = None
        self.packets_sent = 0
        self.bytes_sent = 0
        self.drops = 0

    @property
    def connected(self) -> bool:
        return self._protect is not None

    def connect_udp(
        self, protect: Protect, sendto: SendTo, address: Address, statistics: UdpStatistics
    ) -> None:
        """Send over the shared UDP socket's raw ``sendto`` (its counters kept too)."""
        self._point(protect, sendto, None, address, statistics)

    def connect(self, protect: Protect, send: Send, address: Address) -> None:
        """Send through ``send`` (ICE-TCP framing), which returns False for a drop."""
        self._point(protect, None, send, address, None)

    def disconnect(self) -> None:
        self._point(None, None, None, None, None)

    def _point(
        self,
        protect: Protect | None,
        sendto: SendTo | None,
        send: Send | None,
        address: Address | None,
        statistics: UdpStatistics | None,
    ) -> None:
        self._protect, self._sendto, self._send = protect, sendto, send
        self._address, self._udp_statistics = address, statistics

    def send(self, packet: bytes | bytearray) -> None:
        """Protect `packet` and send it to the selected pair, or count a drop."""
        protect = self._protect
        if protect is None:
            self.drops += 1
            return
        try:
            protected = protect(packet)
            sendto = self._sendto
            if sendto is not None:
                sendto(protected, self._address)  # type: ignore[arg-type]
                statistics = self._udp_statistics
                assert statistics is not None
                statistics.datagrams_sent += 1
                statistics.bytes_sent += len(protected)
            elif not self._send(protected, self._address):  # type: ignore[arg-type,misc]
                self.drops += 1
                return
        except (SrtpError, BlockingIOError):
            self._drop_udp()
            return
        except OSError as exc:
            if exc.errno not in _UNREACHABLE:
                raise
            self._drop_udp()
            return
        self.packets_sent += 1
        self.bytes_sent += len(protected)

    def _drop_udp(self) -> None:
        self.drops += 1
        statistics = self._udp_statistics
        if statistics is not None:
            statistics.send_drops += 1
