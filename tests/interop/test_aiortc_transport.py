"""Interop: aiortc (an independent WebRTC stack, in a subprocess) connects to our transport.

ICE-lite + DTLS (both roles) + SRTP over UDP on 127.0.0.1, and over ICE-TCP. aioice has no
ICE-TCP client, so the TCP case puts a UDP -> RFC 4571 bridge in front of our TCP listener:
aiortc's real STUN, DTLS and SRTP bytes then reach the server only through ICE-TCP.
The server echoes every RTP packet back unchanged; aiortc decoding the frames proves the
whole media path (receive, unprotect, protect, send) both ways.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
import trio

from sfu_trio.runtime.media_transport import (
    MediaTransport,
    dtls_role_for_setup,
    sha256_fingerprint,
)
from sfu_trio.webrtc.candidates import host_udp_candidates
from sfu_trio.webrtc.ice_lite import generate_credentials
from sfu_trio.webrtc.negotiation import LocalTransport, OutgoingTrack, create_answer
from sfu_trio.webrtc.sdp import SessionDescription
from sfu_trio.webrtc.tcp_framing import RfcFramer, frame
from tests.interop.conftest import AiortcPeer

MIME = {"audio": "audio/opus", "video": "video/VP8"}

pytestmark = pytest.mark.interop


@pytest.fixture
async def media(nursery: trio.Nursery) -> MediaTransport:
    transport = MediaTransport(host="127.0.0.1", udp_port=0, tcp_port=0)
    await nursery.start(transport.run)
    return transport


async def udp_to_tcp_bridge(
    tcp_port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Carry each UDP client's datagrams over its own ICE-TCP connection, and back."""
    with trio.socket.socket(type=trio.socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        task_status.started(sock.getsockname()[1])
        streams: dict[Any, trio.SocketStream] = {}

        async def back(stream: trio.SocketStream, addr: Any) -> None:
            framer = RfcFramer()
            while data := await stream.receive_some(65536):
                for payload in framer.feed(data):
                    await sock.sendto(payload, addr)

        try:
            async with trio.open_nursery() as nursery:
                while True:
                    data, addr = await sock.recvfrom(4096)
                    if addr not in streams:
                        streams[addr] = await trio.open_tcp_stream("127.0.0.1", tcp_port)
                        nursery.start_soon(back, streams[addr], addr)
                    await streams[addr].send_all(frame(data))
        finally:
            for stream in streams.values():
                stream.socket.close()


def echo_tracks(offer: SessionDescription) -> dict[str, OutgoingTrack]:
    """Send each of aiortc's streams back on its own mid, SSRCs unchanged."""
    tracks = {}
    for media in offer.media:
        fid = next((g.ssrcs for g in media.ssrc_groups if g.semantics == "FID"), None)
        ssrc = fid[0] if fid else next(iter(media.ssrcs))
        assert media.mid is not None
        tracks[media.mid] = OutgoingTrack(
            kind=media.kind,  # type: ignore[arg-type]
            ssrc=ssrc,
            rtx_ssrc=fid[1] if fid else None,
            stream_id="echo",
            track_id=f"echo-{media.kind}",
            cname="sfu",
            mime_type=MIME[media.kind],
        )
    return tracks


@pytest.mark.parametrize("setup", ["passive", "active"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_aiortc_connects_sends_and_receives_echo(
    nursery: trio.Nursery,
    media: MediaTransport,
    aiortc_peer: AiortcPeer,
    transport: str,
    setup: str,
) -> None:
    with trio.fail_after(20):
        offer_message = await aiortc_peer.wait_for(type="offer")
        offer = SessionDescription.parse_untrusted(offer_message["sdp"])
        outgoing = echo_tracks(offer)
        kind_of_ssrc = {t.ssrc: t.kind for t in outgoing.values()}
        if transport == "udp":
            candidates = tuple(c for c in media.local_candidates() if c.transport == "udp")
        else:
            assert media.tcp is not None
            bridge_port = await nursery.start(udp_to_tcp_bridge, media.tcp.port)
            candidates = tuple(host_udp_candidates(["127.0.0.1"], bridge_port))
        ufrag, pwd = generate_credentials()
        answer = create_answer(
            offer,
            LocalTransport(
                ufrag,
                pwd,
                media.certificate.fingerprint_sha256,
                setup=setup,  # type: ignore[arg-type]
                candidates=candidates,
            ),
            outgoing,
        )
        assert [m.direction for m in answer.media] == ["sendrecv", "sendrecv"]
        assert answer.remote_ice_ufrag is not None and answer.remote_ice_pwd is not None

        kinds_received: dict[str, trio.Event] = {"audio": trio.Event(), "video": trio.Event()}
        states: list[str] = []
        rtcp_received = trio.Event()

        def on_rtp(packet: bytes, now: float) -> None:
            (ssrc,) = struct.unpack_from("!I", packet, 8)
            kind = kind_of_ssrc.get(ssrc)
            if kind is not None:
                kinds_received[kind].set()
            peer.send_rtp(packet)

        peer = media.create_peer_transport(
            local_ufrag=ufrag,
            local_pwd=pwd,
            dtls_role=dtls_role_for_setup(answer.setup),
            remote_fingerprint=sha256_fingerprint(answer.remote_fingerprints),
            remote_ufrag=answer.remote_ice_ufrag,
            remote_pwd=answer.remote_ice_pwd,
            on_rtp=on_rtp,
            on_rtcp=lambda packet, now: rtcp_received.set(),
            on_state_change=states.append,
        )
        peer_done = trio.Event()

        async def run_peer(task_status: trio.TaskStatus[None]) -> None:
            await peer.run(task_status=task_status)
            peer_done.set()

        await nursery.start(run_peer)
        await aiortc_peer.send({"type": "answer", "sdp": answer.sdp})

        await aiortc_peer.wait_for(type="state", connection="connected")
        for event in kinds_received.values():
            await event.wait()
        reported: set[str] = set()
        while reported != {"audio", "video"}:
            message = await aiortc_peer.wait_for(type="frames", count=5)
            reported.add(message["kind"])

        await rtcp_received.wait()  # aiortc's sender/receiver reports, SRTCP-unprotected
        stats = peer.statistics()
        assert stats.transport == transport
        assert stats.srtp_errors == 0
        assert stats.rtp_packets_sent == stats.rtp_packets_received > 0
        if transport == "tcp":
            assert media.tcp is not None
            assert media.tcp.statistics.connections_accepted == 1

        await aiortc_peer.send({"type": "close"})
        await aiortc_peer.wait_for(type="closed")
        await peer_done.wait()  # aiortc's DTLS close_notify ends the transport
    assert states == ["connecting", "connected", "closed"]
