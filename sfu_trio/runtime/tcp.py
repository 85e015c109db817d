"""ICE-TCP passive candidates (RFC 6544): one TCP listener shared by every participant.

Each accepted connection carries RFC 4571 frames. The first frame must be a STUN request
whose USERNAME names a local ufrag we issued; that binds the connection to the ufrag's
endpoint for its lifetime, and every later frame is delivered to the endpoint's
``datagram_received(frame, peer_address, now, "tcp")``. The peer's real (host, port) is the
connection's address: it is unique among open connections and the core tells it from a UDP
address by the transport tag.

Sending never awaits: ``send`` frames the packet into a bounded per-connection queue, drained
by that connection's writer task; a full queue drops the packet, as a congested link would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import structlog
import trio

from ..webrtc.errors import ParseError
from ..webrtc.stun import local_ufrag_of, stun_username_untrusted
from ..webrtc.tcp_framing import RfcFramer, frame
from .udp import Address, DatagramEndpoint

logger = structlog.get_logger("sfu_trio.tcp")

READ_SIZE = 65536
SEND_QUEUE_FRAMES = 256
CLOSE_LINGER = 1.0  # seconds a closing connection may take to send its queue (DTLS close_notify)


@dataclass(slots=True)
class TcpStatistics:
    """Plain counters, read by the metrics collector at scrape time."""

    connections_accepted: int = 0
    connections_rejected: int = 0
    connections_open: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    send_drops: int = 0


class _Connection:
    __slots__ = ("address", "endpoint", "queue", "scope")

    def __init__(
        self,
        address: Address,
        endpoint: DatagramEndpoint,
        queue: trio.MemorySendChannel[bytes],
        scope: trio.CancelScope,
    ) -> None:
        self.address = address
        self.endpoint = endpoint
        self.queue = queue
        self.scope = scope


class IceTcpListener:
    """The ICE-TCP listener; ``await nursery.start(listener.run, host, port)`` binds it."""

    def __init__(
        self,
        *,
        max_connections: int = 1024,
        first_request_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        send_queue_frames: int = SEND_QUEUE_FRAMES,
    ) -> None:
        self.max_connections = max_connections
        self.first_request_timeout = first_request_timeout
        self.idle_timeout = idle_timeout
        self._send_queue_frames = send_queue_frames
        self._by_ufrag: dict[str, DatagramEndpoint] = {}
        self._connections: dict[Address, _Connection] = {}
        self._port: int | None = None
        self.statistics = TcpStatistics()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the ICE-TCP listener is not bound yet")
        return self._port

    # -- routing ----------------------------------------------------------------------------

    def register_ufrag(self, ufrag: str, endpoint: DatagramEndpoint) -> None:
        self._by_ufrag[ufrag] = endpoint

    def unregister_ufrag(self, ufrag: str) -> None:
        self._by_ufrag.pop(ufrag, None)

    def unbind_endpoint(self, endpoint: DatagramEndpoint) -> None:
        """Forget the endpoint's ufrags; close its connections once their queues are sent."""
        for ufrag in [u for u, e in self._by_ufrag.items() if e is endpoint]:
            del self._by_ufrag[ufrag]
        deadline = trio.current_time() + CLOSE_LINGER
        for connection in self._connections.values():
            if connection.endpoint is endpoint:
                connection.queue.close()  # the writer sends what is queued, then closes
                connection.scope.deadline = min(connection.scope.deadline, deadline)

    def send(self, data: bytes | memoryview, addr: Address) -> bool:
        """Queue one packet for the connection from ``addr``; False when it was dropped."""
        connection = self._connections.get(addr)
        if connection is None:
            self.statistics.send_drops += 1
            return False
        try:
            connection.queue.send_nowait(frame(data))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.statistics.send_drops += 1
            return False
        return True

    # -- I/O --------------------------------------------------------------------------------

    async def run(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host``:``port`` (0: any free port) until cancelled; reports the port."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        self._port = listeners[0].socket.getsockname()[1]
        logger.debug("ice-tcp listening", host=host, port=self._port)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(partial(trio.serve_listeners, self._serve, listeners))
                task_status.started(self._port)
        finally:
            self._port = None

    async def _serve(self, stream: trio.SocketStream) -> None:
        stats = self.statistics
        if stats.connections_open >= self.max_connections:
            stats.connections_rejected += 1
            await trio.aclose_forcefully(stream)
            return
        stats.connections_open += 1
        try:
            async with stream:
                await self._serve_stream(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the peer reset or closed the connection
        finally:
            stats.connections_open -= 1

    async def _serve_stream(self, stream: trio.SocketStream) -> None:
        address: Address = tuple(stream.socket.getpeername()[:2])
        framer = RfcFramer()
        frames: list[bytes] = []
        with trio.move_on_after(self.first_request_timeout):
            while not frames:
                data = await stream.receive_some(READ_SIZE)
                if not data:
                    return
                try:
                    frames = framer.feed(data)
                except ParseError:
                    break
        endpoint = self._endpoint_for_stun(frames[0]) if frames else None
        if endpoint is None or address in self._connections:
            self.statistics.connections_rejected += 1
            return
        self.statistics.connections_accepted += 1
        send_queue, receive_queue = trio.open_memory_channel[bytes](self._send_queue_frames)
        with trio.CancelScope() as scope:
            connection = _Connection(address, endpoint, send_queue, scope)
            self._connections[address] = connection
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write, stream, receive_queue, scope)
                    self._deliver(connection, frames)
                    await self._read(stream, framer, connection)
                    nursery.cancel_scope.cancel()
            finally:
                del self._connections[address]
                send_queue.close()

    async def _read(
        self, stream: trio.SocketStream, framer: RfcFramer, connection: _Connection
    ) -> None:
        deliver = self._deliver
        with trio.CancelScope(deadline=trio.current_time() + self.idle_timeout) as idle:
            while True:
                data = await stream.receive_some(READ_SIZE)
                if not data:
                    return
                try:
                    frames = framer.feed(data)
                except ParseError as exc:
                    logger.info("ice-tcp framing error", addr=connection.address, error=str(exc))
                    return
                if frames:
                    idle.deadline = trio.current_time() + self.idle_timeout
                    deliver(connection, frames)
        if idle.cancelled_caught:
            logger.info("ice-tcp connection idle", addr=connection.address)

    def _deliver(self, connection: _Connection, frames: list[bytes]) -> None:
        stats = self.statistics
        now = trio.current_time()
        endpoint = connection.endpoint
        address = connection.address
        for payload in frames:
            stats.frames_received += 1
            stats.bytes_received += len(payload)
            try:
                endpoint.datagram_received(payload, address, now, "tcp")
            except Exception:
                logger.exception("ice-tcp frame handling failed", addr=address)

    async def _write(
        self,
        stream: trio.SocketStream,
        queue: trio.MemoryReceiveChannel[bytes],
        scope: trio.CancelScope,
    ) -> None:
        stats = self.statistics
        try:
            async for first in queue:
                chunks = [first]
                while len(chunks) < 64:
                    try:
                        chunks.append(queue.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                payload = b"".join(chunks)
                await stream.send_all(payload)
                stats.frames_sent += len(chunks)
                stats.bytes_sent += len(payload)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        scope.cancel()  # the peer is gone, or the endpoint closed the queue

    def _endpoint_for_stun(self, data: bytes) -> DatagramEndpoint | None:
        if not data or data[0] > 3:
            return None
        username = stun_username_untrusted(data)
        if username is None:
            return None
        return self._by_ufrag.get(local_ufrag_of(username))
