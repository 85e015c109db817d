"""aiortc as an independent WebRTC client, driven over stdin/stdout JSON lines (asyncio, so it
runs in its own process).

Out: {"type": "offer", "sdp", "tracks"}, {"type": "state", "connection"},
     {"type": "frames", "kind", "count"}
In:  {"type": "answer", "sdp"}, {"type": "offer", "recv": {"audio": n, "video": n}} (make a new
     offer, first adding n recvonly transceivers of each kind), {"type": "close"}
Command line: ``--publish`` (default) or ``--no-publish`` (a receive-only client).
The offer has one audio and one video sendrecv transceiver fed by small generated frames;
decoded frames of the tracks the server sends back are counted and reported.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import VideoFrame

REPORT_AT = (1, 5)  # frame counts worth reporting per received track


def only_loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


aioice.ice.get_host_addresses = only_loopback


class SmallVideoTrack(VideoStreamTrack):
    """Generated 160x120 frames: cheap to encode and decode."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        for plane in frame.planes:
            plane.update(bytes([pts // 3000 % 256]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def count_frames(track: Any) -> None:
    count = 0
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        count += 1
        if count in REPORT_AT:
            emit({"type": "frames", "kind": track.kind, "count": count})


async def main() -> None:
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tasks: set[asyncio.Task[None]] = set()

    @pc.on("connectionstatechange")
    def on_state() -> None:
        emit({"type": "state", "connection": pc.connectionState})

    @pc.on("track")
    def on_track(track: Any) -> None:
        task = asyncio.ensure_future(count_frames(track))
        tasks.add(task)

    published = []
    if "--no-publish" not in sys.argv:
        for track, source in ((AudioStreamTrack(), "microphone"), (SmallVideoTrack(), "camera")):
            pc.addTrack(track)
            published.append({"trackId": track.id, "source": source})

    async def offer() -> None:
        await pc.setLocalDescription(await pc.createOffer())
        emit({"type": "offer", "sdp": pc.localDescription.sdp, "tracks": published})

    if published:
        await offer()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        message = json.loads(line)
        if message["type"] == "answer":
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
        elif message["type"] == "offer":
            for kind, count in message.get("recv", {}).items():
                for _ in range(count):
                    pc.addTransceiver(kind, direction="recvonly")
            await offer()
        elif message["type"] == "close":
            break
    await pc.close()
    for task in tasks:
        task.cancel()
    emit({"type": "closed"})


if __name__ == "__main__":
    asyncio.run(main())
