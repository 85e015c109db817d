"""What every load-test participant shares, whatever server it talks to: its plan, its media
loops and its readiness."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import trio

from sfu_trio.webrtc.certs import Certificate

from .peer import ConnectError, LoadPeer
from .session_description import MID_EXTENSION_ID, RID_EXTENSION_ID, SIMULCAST_RIDS, SendSection
from .stats import Window, WorkerStats
from .synthetic import (
    AUDIO_INTERVAL,
    OPUS_PAYLOAD_TYPE,
    VP8_PAYLOAD_TYPE,
    AudioStream,
    StreamSpec,
    VideoStream,
    simulcast_bitrates,
)

CONNECT_TIMEOUT = 20.0
REMB_BITRATE = 50_000_000


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """What each publisher sends."""

    bitrate: int = 1_500_000
    fps: float = 30.0
    simulcast: bool = False
    keyframe_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    """One participant of the plan: where it joins and what it does."""

    room: str
    user: str
    publish: bool
    subscribe: bool
    expected_streams: int  # streams it should receive (audio + video of the other publishers)


@dataclass(slots=True)
class WorkerContext:
    """Shared by the participants of one worker process."""

    url: str
    local_host: str
    media: MediaOptions
    stats: WorkerStats
    window: Window
    stop: trio.Event
    certificate: Certificate
    rng: random.Random

    def new_peer(self) -> LoadPeer:
        return LoadPeer(
            certificate=self.certificate,
            stats=self.stats,
            local_host=self.local_host,
            rng=self.rng,
            window=self.window,
        )


class Publication:
    """The streams a publishing participant sends: Opus audio and VP8 video (maybe simulcast)."""

    def __init__(self, user: str, media: MediaOptions, rng: random.Random, first_mid: int = 0):
        self.user = user
        self.media = media
        layers = len(SIMULCAST_RIDS) if media.simulcast else 1
        audio_ssrc = rng.randrange(1, 2**32)
        video_ssrcs = tuple(rng.randrange(1, 2**32) for _ in range(layers))
        self.audio_mid, self.video_mid = str(first_mid), str(first_mid + 1)
        self.sections = [
            SendSection(self.audio_mid, "audio", (audio_ssrc,), f"{user}-audio"),
            SendSection(self.video_mid, "video", video_ssrcs, f"{user}-video", media.simulcast),
        ]
        self.audio = AudioStream(
            StreamSpec(audio_ssrc, OPUS_PAYLOAD_TYPE, MID_EXTENSION_ID, self.audio_mid),
            first_seq=rng.randrange(1, 0x8000),
        )
        bitrates = simulcast_bitrates(media.bitrate, layers) if media.simulcast else [media.bitrate]
        self.video = [
            VideoStream(
                StreamSpec(
                    ssrc,
                    VP8_PAYLOAD_TYPE,
                    MID_EXTENSION_ID,
                    self.video_mid,
                    SIMULCAST_RIDS[i] if media.simulcast else None,
                    RID_EXTENSION_ID,
                ),
                bitrate,
                media.fps,
                first_seq=rng.randrange(1, 0x8000),
            )
            for i, (ssrc, bitrate) in enumerate(zip(video_ssrcs, bitrates, strict=True))
        ]

    @property
    def sources(self) -> list[dict[str, str]]:
        return [
            {"trackId": f"{self.user}-audio", "source": "microphone"},
            {"trackId": f"{self.user}-video", "source": "camera"},
        ]

    async def send_forever(self, peer: LoadPeer, stats: WorkerStats, window: Window) -> None:
        """Audio every 20 ms, a video frame every 1/fps s; keyframes on request and regularly."""
        frame_interval = 1.0 / self.media.fps
        now = trio.current_time()
        next_audio = next_video = now
        next_keyframe = now + self.media.keyframe_interval
        stats.sent_window_packets.setdefault(self.user, 0)
        while True:
            await trio.sleep_until(min(next_audio, next_video))
            now = trio.current_time()
            now_ns = time.monotonic_ns()
            in_window = window.start_ns <= now_ns < window.end_ns
            counted = 0
            if now >= next_audio:
                packet = self.audio.packet(now_ns)
                sent = peer.send_rtp([packet])
                counted += 1
                next_audio = max(next_audio + AUDIO_INTERVAL, now - AUDIO_INTERVAL)
                if in_window:
                    stats.sent_window_bytes += sent
            if now >= next_video:
                keyframe = peer.keyframe_wanted or now >= next_keyframe
                if keyframe:
                    peer.keyframe_wanted = False
                    next_keyframe = now + self.media.keyframe_interval
                for layer, stream in enumerate(self.video):
                    packets = stream.frame(keyframe, now_ns)
                    sent = peer.send_rtp(packets)
                    if layer == len(self.video) - 1:
                        counted += len(packets)
                    if in_window:
                        stats.sent_window_bytes += sent
                next_video = max(next_video + frame_interval, now - frame_interval)
            if in_window:
                stats.sent_window_packets[self.user] += counted


async def run_media(
    ctx: WorkerContext,
    spec: ParticipantSpec,
    peer: LoadPeer,
    publication: Publication | None,
    controlling: bool,
    join_ns: int,
    on_ready: trio.Event,
) -> None:
    """Connect ``peer`` (its remote side is set), then send and receive until cancelled."""
    assert peer.remote is not None
    try:
        with trio.move_on_after(CONNECT_TIMEOUT):
            await peer.connect(peer.remote, controlling)
    except ConnectError as exc:
        ctx.stats.failures.append(f"{spec.user}: {exc}")
        return
    if not peer.connected.is_set():
        ctx.stats.failures.append(f"{spec.user}: {peer.connect_state} in {CONNECT_TIMEOUT} s")
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.keep_consent)
        if publication is not None:
            nursery.start_soon(publication.send_forever, peer, ctx.stats, ctx.window)
        if spec.subscribe and ctx.media.simulcast:
            nursery.start_soon(peer.send_remb_forever, REMB_BITRATE)
        while len(peer.streams) < spec.expected_streams:
            await peer.stream_added.wait()
        if spec.expected_streams:
            ctx.stats.first_packet_ms.append((peer.first_packet_ns - join_ns) / 1e6)
        on_ready.set()
