"""One load-test participant's media: ICE, DTLS (always the client) and SRTP over a plain socket.

No jitter buffer and no decoder: a subscriber unprotects each packet, checks its sequence number,
reads the publisher's trailer (index, send time) and counts. A publisher sends synthetic frames
(see `synthetic`) and answers PLI/FIR with a keyframe. The socket is non-blocking and drained in
a loop after each wake-up, so a burst of packets costs one trip through Trio.
"""

from __future__ import annotations

import math
import random
import socket
import struct
import time

import trio
from aioice import stun

from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import DtlsEndpoint, DtlsState
from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.ice_lite import generate_credentials
from sfu_trio.webrtc.rtcp import (
    FullIntraRequest,
    PictureLossIndication,
    parse_compound_untrusted,
)
from sfu_trio.webrtc.rtcp_feedback import ReceiverEstimatedMaxBitrate
from sfu_trio.webrtc.srtp import SrtpContext, SrtpError

from .session_description import LocalTransport, RemoteTransport
from .stats import ReceivedStream, Window, WorkerStats
from .synthetic import TRAILER, TRAILER_SIZE, VP8_PAYLOAD_TYPE

Address = tuple[str, int]
_SEQ_SSRC = struct.Struct("!H4xI")
ICE_CHECK_INTERVAL = 0.05
CONSENT_INTERVAL = 5.0
REMB_INTERVAL = 1.0
RECEIVE_BUFFER = 4 * 1024 * 1024


class ConnectError(Exception):
    """ICE or DTLS did not complete."""


class LoadPeer:
    """The transport of one participant, and the counting of what it receives."""

    def __init__(
        self,
        *,
        certificate: Certificate,
        stats: WorkerStats,
        local_host: str,
        rng: random.Random,
        window: Window,
    ) -> None:
        self.stats = stats
        self.ufrag, self.pwd = generate_credentials(rng)
        self.certificate = certificate
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
        self.sock.bind((local_host, 0))
        self.sock.setblocking(False)
        self.rtcp_ssrc = rng.randrange(1, 2**32)
        self._rng = rng
        self.window = window
        self.remote: RemoteTransport | None = None
        self.controlling = True
        self.selected: Address | None = None
        self.dtls: DtlsEndpoint | None = None
        self.srtp: SrtpContext | None = None
        self.connected = trio.Event()
        self.keyframe_wanted = False
        self.streams: dict[int, ReceivedStream] = {}
        self.first_packet_ns = 0
        self.stream_added = trio.Event()
        self.remb_bitrate = 0

    @property
    def local(self) -> LocalTransport:
        host, port = self.sock.getsockname()[:2]
        return LocalTransport(self.ufrag, self.pwd, self.certificate.fingerprint_sha256, host, port)

    def close(self) -> None:
        self.sock.close()

    # -- connecting --------------------------------------------------------------------------

    async def connect(self, remote: RemoteTransport, controlling: bool) -> None:
        """Find a working candidate pair, then run DTLS as the client (until it completes,
        raising ConnectError if it fails; the caller bounds the time)."""
        self.remote, self.controlling = remote, controlling
        if not remote.candidates:
            raise ConnectError("the remote description has no UDP candidate")
        self.dtls = DtlsEndpoint(self.certificate, "client", remote.fingerprint)
        while self.selected is None:
            for address in remote.candidates:
                self._send_to(self._binding_request(nominate=controlling), address)
            await trio.sleep(ICE_CHECK_INTERVAL)
        self.dtls.start(trio.current_time())
        self._flush_dtls()
        while not self.connected.is_set():
            if self.dtls.state is DtlsState.FAILED:
                raise ConnectError(f"DTLS failed: {self.dtls.failure_reason}")
            timer = self.dtls.get_timer()
            with trio.move_on_at(min(timer or math.inf, trio.current_time() + 0.5)):
                await self.connected.wait()
            self.dtls.handle_timer(trio.current_time())
            self._flush_dtls()

    @property
    def connect_state(self) -> str:
        """Where `connect` got to (for failure messages)."""
        if self.selected is None:
            return "no ICE response"
        return "connected" if self.connected.is_set() else "DTLS did not complete"

    async def keep_consent(self) -> None:
        """Consent freshness (RFC 7675): a binding request every few seconds."""
        while True:
            await trio.sleep(CONSENT_INTERVAL)
            if self.selected is not None:
                self._send_to(self._binding_request(nominate=False), self.selected)

    def _binding_request(self, nominate: bool) -> bytes:
        assert self.remote is not None
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.remote.ufrag}:{self.ufrag}"
        request.attributes["PRIORITY"] = 1853824767
        tie_breaker = self._rng.getrandbits(63)
        if self.controlling:
            request.attributes["ICE-CONTROLLING"] = tie_breaker
            if nominate:
                request.attributes["USE-CANDIDATE"] = None
        else:
            request.attributes["ICE-CONTROLLED"] = tie_breaker
        request.add_message_integrity(self.remote.pwd.encode())
        request.add_fingerprint()
        return bytes(request)

    def _send_to(self, data: bytes, address: Address) -> None:
        try:
            self.sock.sendto(data, address)
        except (BlockingIOError, OSError):
            self.stats.send_errors += 1

    def _flush_dtls(self) -> None:
        dtls = self.dtls
        if dtls is None or self.selected is None:
            return
        for datagram in dtls.datagrams_to_send():
            self._send_to(datagram, self.selected)
        if self.srtp is None and dtls.srtp_keys is not None:
            self.srtp = SrtpContext(dtls.srtp_keys)
            self.connected.set()

    # -- receiving ---------------------------------------------------------------------------

    async def receive_forever(self) -> None:
        sock = self.sock
        recv = sock.recvfrom
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    data, address = recv(2048)
                except BlockingIOError:
                    break
                except OSError:  # ICMP port unreachable of an earlier send
                    continue
                first = data[0]
                if first > 127:
                    if 192 <= data[1] <= 223:
                        self._on_rtcp(data)
                    else:
                        self._on_rtp(data)
                elif first < 4:
                    self._on_stun(data, address)
                elif 19 < first < 64 and address == self.selected and self.dtls is not None:
                    self.dtls.receive_datagram_untrusted(data, trio.current_time())
                    self._flush_dtls()

    def _on_rtp(self, data: bytes) -> None:
        srtp = self.srtp
        if srtp is None:
            return
        try:
            packet = srtp.unprotect_rtp(data)
        except SrtpError:
            self.stats.srtp_errors += 1
            return
        now = time.monotonic_ns()
        seq, ssrc = _SEQ_SSRC.unpack_from(packet, 2)
        stream = self.streams.get(ssrc)
        if stream is None:
            signalled = self.remote.ssrcs.get(ssrc) if self.remote is not None else None
            pt_kind = "video" if packet[1] & 0x7F == VP8_PAYLOAD_TYPE else "audio"
            kind = signalled or pt_kind
            stream = self.streams[ssrc] = self.stats.new_stream(kind)
            if not self.first_packet_ns:
                self.first_packet_ns = now
            self.stream_added.set()
            self.stream_added = trio.Event()
        stream.packets += 1
        stream.bytes += len(packet)
        last = stream.last_seq
        if last >= 0:
            delta = (seq - last) & 0xFFFF
            if delta == 1:
                stream.last_seq = seq
            elif delta < 0x8000:
                stream.seq_gaps += delta - 1
                stream.last_seq = seq
            else:
                stream.seq_disorder += 1
        else:
            stream.last_seq = seq
        window = self.window
        if window.start_ns <= now < window.end_ns and len(packet) > TRAILER_SIZE + 12:
            index, sent_ns = TRAILER.unpack_from(packet, len(packet) - TRAILER_SIZE)
            stream.window_packets += 1
            stream.window_bytes += len(packet)
            if stream.first_index < 0:
                stream.first_index = stream.last_index = index
            elif index > stream.last_index:
                stream.last_index = index
            self.stats.latency.add(now - sent_ns)

    def _on_rtcp(self, data: bytes) -> None:
        srtp = self.srtp
        if srtp is None:
            return
        try:
            packets = parse_compound_untrusted(srtp.unprotect_rtcp(data))
        except (SrtpError, ParseError):
            self.stats.srtp_errors += 1
            return
        for packet in packets:
            if isinstance(packet, (PictureLossIndication, FullIntraRequest)):
                self.keyframe_wanted = True
                self.stats.keyframe_requests += 1

    def _on_stun(self, data: bytes, address: Address) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return
        if message.message_class == stun.Class.REQUEST and message.message_method == (
            stun.Method.BINDING
        ):
            response = stun.Message(
                message_method=stun.Method.BINDING,
                message_class=stun.Class.RESPONSE,
                transaction_id=message.transaction_id,
            )
            response.attributes["XOR-MAPPED-ADDRESS"] = address
            response.add_message_integrity(self.pwd.encode())
            response.add_fingerprint()
            self._send_to(bytes(response), address)
            if self.selected is None and not self.controlling:
                self.selected = address
        elif message.message_class == stun.Class.RESPONSE and self.selected is None:
            self.selected = address

    # -- sending -----------------------------------------------------------------------------

    def send_rtp(self, packets: list[bytes]) -> int:
        """Protect and send ``packets`` to the selected pair; the bytes sent."""
        srtp, address = self.srtp, self.selected
        if srtp is None or address is None:
            return 0
        protect, sendto = srtp.protect_rtp, self.sock.sendto
        sent = 0
        for packet in packets:
            try:
                sent += sendto(protect(packet), address)
            except (BlockingIOError, OSError):
                self.stats.send_errors += 1
        return sent

    def send_rtcp(self, data: bytes) -> None:
        if self.srtp is not None and self.selected is not None:
            self._send_to(self.srtp.protect_rtcp(data), self.selected)

    async def send_remb_forever(self, bitrate: int) -> None:
        """REMB for every received stream: lets the SFU forward the top simulcast layer."""
        while True:
            await trio.sleep(REMB_INTERVAL)
            if self.streams:
                ssrcs = tuple(self.streams)[:255]
                self.send_rtcp(
                    ReceiverEstimatedMaxBitrate(self.rtcp_ssrc, bitrate, ssrcs).serialize()
                )
