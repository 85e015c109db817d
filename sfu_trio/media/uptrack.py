"""One published track as received by the SFU: per-layer receive state and the fan-out.

For each simulcast layer (one for a plain track) an `UpTrack` keeps the packet cache that
answers subscribers' NACKs, the NACK generator and receive statistics of the publisher leg, a
`KeyframeRequester` that coalesces keyframe requests, and a byte counter for the layer's
bitrate. Every packet is then handed to each down-track with the frame bits read once here.
RTX from the publisher is unwrapped into the original packet; RTX without payload (bandwidth
probes) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfu_trio.media.extension_rewrite import ExtensionRewrites
from sfu_trio.media.keyframe import KeyframeRequester
from sfu_trio.media.nack import NackGenerator
from sfu_trio.media.packet_cache import PacketCache
from sfu_trio.media.receive_stats import ReceiveStatistics
from sfu_trio.media.track import TrackInfo
from sfu_trio.webrtc.codecs import CodecParseError, PayloadParser, VideoFrameInfo, parser_for
from sfu_trio.webrtc.rtcp import GenericNack, PictureLossIndication, ReportBlock, SenderReport
from sfu_trio.webrtc.rtp import RtpHeader, RtpParseError, rewrite_header
from sfu_trio.webrtc.rtp_extensions import AUDIO_LEVEL_URI

if TYPE_CHECKING:
    from sfu_trio.media.downtrack import DownTrack

BITRATE_INTERVAL = 0.5  # seconds between layer bitrate samples
LAYER_TIMEOUT = 1.0  # a layer with no packet for this long is inactive
VOICE_SMOOTHING = 0.1  # weight of each packet's voice flag in the voice activity average


@dataclass(frozen=True, slots=True)
class UpTrackStatistics:
    """Counters of one `UpTrack`."""

    track_id: str
    packets_received: int
    bytes_received: int
    rtx_received: int
    rtx_padding_dropped: int
    wrong_payload_type: int
    malformed_payload: int
    keyframes_received: int
    keyframe_requests_sent: int
    nacks_sent: int
    down_tracks: int
    layer_bitrates: tuple[int, ...]


class UpTrack:
    """A published track with 1..3 layers; ``send_rtcp`` sends RTCP to its publisher."""

    __slots__ = (
        "_audio_level_id",
        "_caches",
        "_down_tracks",
        "_keyframe_requesters",
        "_last_arrival",
        "_layer_bytes",
        "_layer_rates",
        "_nacks",
        "_parser",
        "_payload_type",
        "_rate_bytes",
        "_rate_time",
        "_send_nacks",
        "_send_rtcp",
        "_stats",
        "audio_level",
        "bytes_received",
        "extension_rewrites",
        "info",
        "keyframe_requests_sent",
        "keyframes_received",
        "malformed_payload",
        "nacks_sent",
        "packets_received",
        "rtcp_ssrc",
        "rtx_padding_dropped",
        "rtx_received",
        "rtx_ssrcs",
        "ssrcs",
        "voice_activity",
        "wrong_payload_type",
    )

    def __init__(
        self,
        info: TrackInfo,
        *,
        send_rtcp: Callable[[bytes], None],
        rtcp_ssrc: int,
        send_nacks: bool | None = None,
        cache_size: int | None = None,
        keyframe_interval: float = 0.5,
    ) -> None:
        count = info.layer_count
        video = info.kind == "video"
        self.info = info
        self.rtcp_ssrc = rtcp_ssrc
        self._send_rtcp = send_rtcp
        self._send_nacks = video if send_nacks is None else send_nacks
        self._payload_type = info.payload_type
        self._parser = parser_for(info.mime_type) if video else None
        self._audio_level_id = 0 if video else info.extension_ids.get(AUDIO_LEVEL_URI, 0)
        size = cache_size or (1024 if video else 128)
        self.ssrcs: list[int | None] = [None] * count
        self.rtx_ssrcs: list[int | None] = [None] * count
        self._caches = [PacketCache(size) for _ in range(count)]
        self._nacks = [NackGenerator() for _ in range(count)]
        self._stats: list[ReceiveStatistics | None] = [None] * count
        self._keyframe_requesters = [
            KeyframeRequester(min_interval=keyframe_interval) for _ in range(count)
        ]
        self._layer_bytes = [0] * count
        self._last_arrival = [float("-inf")] * count
        self._rate_bytes = [0] * count
        self._layer_rates = [0] * count
        self._rate_time: float | None = None
        self._down_tracks: tuple[DownTrack, ...] = ()
        self.extension_rewrites = ExtensionRewrites(info.extension_ids)
        self.audio_level = 127  # -dBov of the last packet: 0 loudest, 127 silence
        self.voice_activity = 0.0  # smoothed share of recent packets flagged as voice
        self.packets_received = 0
        self.bytes_received = 0
        self.rtx_received = 0
        self.rtx_padding_dropped = 0
        self.wrong_payload_type = 0
        self.malformed_payload = 0
        self.keyframes_received = 0
        self.keyframe_requests_sent = 0
        self.nacks_sent = 0

    @property
    def layer_count(self) -> int:
        return len(self.ssrcs)

    @property
    def payload_parser(self) -> PayloadParser | None:
        """The video payload parser of the track's codec (None: audio or unknown codec)."""
        return self._parser

    @property
    def down_tracks(self) -> tuple[DownTrack, ...]:
        return self._down_tracks

    def add_down_track(self, down: DownTrack) -> None:
        if down not in self._down_tracks:
            self._down_tracks = (*self._down_tracks, down)

    def remove_down_track(self, down: DownTrack) -> None:
        self._down_tracks = tuple(d for d in self._down_tracks if d is not down)

    def set_muted(self, muted: bool) -> None:
        self.info = self.info.with_muted(muted)

    def bind_ssrc(self, layer: int, ssrc: int, is_rtx: bool) -> None:
        """The publisher sends `layer` (or its RTX) on `ssrc`; a new media SSRC resets it."""
        if is_rtx:
            self.rtx_ssrcs[layer] = ssrc
            return
        if self.ssrcs[layer] == ssrc:
            return
        restarted = self.ssrcs[layer] is not None
        self.ssrcs[layer] = ssrc
        self._stats[layer] = ReceiveStatistics(ssrc, self.info.clock_rate)
        if restarted:
            self._caches[layer].clear()
            self._nacks[layer] = NackGenerator()

    # -- RTP (the hot path) ------------------------------------------------------------------

    def on_rtp(self, packet: bytes, header: RtpHeader, layer: int, now: float) -> None:
        """A media packet of `layer`; cached, accounted, then written to every down-track."""
        if header.payload_type != self._payload_type:
            self.wrong_payload_type += 1
            return
        seq = header.sequence_number
        size = len(packet)
        self.packets_received += 1
        self.bytes_received += size
        self._layer_bytes[layer] += size
        self._last_arrival[layer] = now
        self._caches[layer].put(seq, packet)
        stats = self._stats[layer]
        if stats is not None:
            stats.on_packet(seq, header.timestamp, now, size)
        frame: VideoFrameInfo | None = None
        parser = self._parser
        if parser is not None and header.payload_length:
            start = header.header_length
            try:
                frame = parser(packet, start, start + header.payload_length)
            except CodecParseError:
                self.malformed_payload += 1
            else:
                if frame.keyframe:
                    self.keyframes_received += 1
                    self._keyframe_requesters[layer].keyframe_received(now)
        if self._nacks[layer].on_packet(seq, now, frame is not None and frame.keyframe):
            self.request_keyframe(layer, now, "unrepairable loss")
        if self._audio_level_id:
            self._read_audio_level(header)
        for down in self._down_tracks:
            down.write(packet, header, layer, frame, now)

    def _read_audio_level(self, header: RtpHeader) -> None:
        try:
            raw = header.extension(self._audio_level_id)
        except RtpParseError:
            return
        if raw:
            b = raw[0]
            self.audio_level = b & 0x7F
            self.voice_activity += ((1.0 if b >= 0x80 else 0.0) - self.voice_activity) * (
                VOICE_SMOOTHING
            )

    def on_rtx(self, packet: bytes, header: RtpHeader, layer: int, now: float) -> None:
        """An RTX packet from the publisher (RFC 4588): unwrapped and handled as the original."""
        self.rtx_received += 1
        ssrc = self.ssrcs[layer]
        if header.payload_length < 2 or ssrc is None:
            self.rtx_padding_dropped += 1
            return
        start = header.header_length
        original_seq = packet[start] << 8 | packet[start + 1]
        if self._caches[layer].get(original_seq) is not None:
            return  # a duplicate: the original (or an earlier repair) already came
        buf = bytearray(packet)
        del buf[start : start + 2]
        rewrite_header(buf, self._payload_type, original_seq, header.timestamp, ssrc)
        original = bytes(buf)
        self.on_rtp(original, RtpHeader.parse_untrusted(original), layer, now)

    # -- keyframes, NACKs, reports -------------------------------------------------------------

    def request_keyframe(self, layer: int, now: float, reason: str = "") -> None:
        """Ask the publisher for a keyframe of `layer` (throttled per layer)."""
        if self.info.kind != "video":
            return
        if self._keyframe_requesters[layer].request(now, reason):
            self._send_pli(layer)

    def _send_pli(self, layer: int) -> None:
        ssrc = self.ssrcs[layer]
        if ssrc is not None:
            self.keyframe_requests_sent += 1
            self._send_rtcp(PictureLossIndication(self.rtcp_ssrc, ssrc).serialize())

    def get_timer(self) -> float | None:
        due: float | None = None
        for requester in self._keyframe_requesters:
            at = requester.get_timer()
            if at is not None and (due is None or at < due):
                due = at
        if self._send_nacks:
            for nack in self._nacks:
                at = nack.get_timer()
                if at is not None and (due is None or at < due):
                    due = at
        return due

    def handle_timer(self, now: float) -> None:
        """Send due NACKs and due (coalesced or retried) keyframe requests."""
        for layer, requester in enumerate(self._keyframe_requesters):
            if requester.handle_timer(now):
                self._send_pli(layer)
        for layer, nack in enumerate(self._nacks):
            lost = nack.handle_timer(now)
            ssrc = self.ssrcs[layer]
            if lost and ssrc is not None and self._send_nacks:
                self.nacks_sent += 1
                self._send_rtcp(GenericNack(self.rtcp_ssrc, ssrc, lost).serialize())

    def set_rtt(self, rtt: float) -> None:
        """The publisher leg's round-trip time (paces NACK retries)."""
        for nack in self._nacks:
            nack.set_rtt(rtt)

    def report_blocks(self, now: float) -> list[ReportBlock]:
        blocks = []
        for stats in self._stats:
            if stats is not None:
                block = stats.report_block(now)
                if block is not None:
                    blocks.append(block)
        return blocks

    def on_sender_report(self, layer: int, report: SenderReport, now: float) -> None:
        stats = self._stats[layer]
        if stats is not None:
            stats.on_sender_report(report.ntp_timestamp, now)

    # -- for down-tracks and the allocator ----------------------------------------------------

    @property
    def receive_statistics(self) -> Sequence[ReceiveStatistics | None]:
        """Each layer's receive statistics (None: no SSRC bound for that layer yet)."""
        return self._stats

    def cached_packet(self, layer: int, seq: int) -> bytes | None:
        return self._caches[layer].get(seq)

    def layer_active(self, layer: int, now: float) -> bool:
        return now - self._last_arrival[layer] < LAYER_TIMEOUT

    def layer_bitrates(self, now: float) -> Sequence[int]:
        """Measured bit/s of each layer (low -> high), sampled every 0.5 s; 0 when idle."""
        last = self._rate_time
        if last is None:
            self._rate_time = now
            self._rate_bytes = list(self._layer_bytes)
        elif now - last >= BITRATE_INTERVAL:
            elapsed = now - last
            for i, total in enumerate(self._layer_bytes):
                rate = int((total - self._rate_bytes[i]) * 8 / elapsed)
                self._layer_rates[i] = rate if self.layer_active(i, now) else 0
                self._rate_bytes[i] = total
            self._rate_time = now
        return self._layer_rates

    def statistics(self, now: float) -> UpTrackStatistics:
        return UpTrackStatistics(
            track_id=self.info.track_id,
            packets_received=self.packets_received,
            bytes_received=self.bytes_received,
            rtx_received=self.rtx_received,
            rtx_padding_dropped=self.rtx_padding_dropped,
            wrong_payload_type=self.wrong_payload_type,
            malformed_payload=self.malformed_payload,
            keyframes_received=self.keyframes_received,
            keyframe_requests_sent=self.keyframe_requests_sent,
            nacks_sent=self.nacks_sent,
            down_tracks=len(self._down_tracks),
            layer_bitrates=tuple(self.layer_bitrates(now)),
        )
