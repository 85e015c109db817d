"""Packet builders and fakes shared by the forwarding pipeline tests."""

from __future__ import annotations

from types import MappingProxyType

from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.track import TrackInfo
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.rtcp import RtcpPacket, parse_compound_untrusted
from sfu_trio.webrtc.rtp import RtpPacket
from sfu_trio.webrtc.rtp_extensions import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    MID_URI,
    REPAIRED_RID_URI,
    RID_URI,
    TWCC_URI,
)

PUB_IDS = {
    MID_URI: 4,
    ABS_SEND_TIME_URI: 2,
    TWCC_URI: 3,
    RID_URI: 10,
    REPAIRED_RID_URI: 11,
    AUDIO_LEVEL_URI: 1,
}
SUB_IDS = {MID_URI: 9, ABS_SEND_TIME_URI: 6, TWCC_URI: 5, AUDIO_LEVEL_URI: 7}
VIDEO_PT, RTX_PT, OPUS_PT = 96, 97, 111
SFU_RTCP_SSRC = 0xFEED


def vp8_payload(picture_id: int = 1, keyframe: bool = False, size: int = 20) -> bytes:
    """A VP8 descriptor (X, S, PID=0; 15-bit PictureID, TL0PICIDX=7, TID 0) and a payload."""
    descriptor = bytes([0x90, 0xE0, 0x80 | picture_id >> 8 & 0x7F, picture_id & 0xFF, 7, 0x20])
    return descriptor + bytes([0x00 if keyframe else 0x01]) + bytes(range(size))


def rtp(
    seq: int,
    *,
    ssrc: int = 0x1111,
    ts: int = 9000,
    pt: int = VIDEO_PT,
    payload: bytes | None = None,
    keyframe: bool = False,
    picture_id: int = 1,
    extensions: dict[int, bytes] | None = None,
    padding: int = 0,
    marker: bool = False,
) -> bytes:
    return RtpPacket(
        payload_type=pt,
        sequence_number=seq & 0xFFFF,
        timestamp=ts & 0xFFFFFFFF,
        ssrc=ssrc,
        marker=marker,
        extensions=extensions or {},
        payload=vp8_payload(picture_id, keyframe) if payload is None else payload,
        padding_length=padding,
    ).serialize()


def video_info(rids: tuple[str, ...] = (), *, mid: str = "0", rtx: bool = True) -> TrackInfo:
    return TrackInfo(
        track_id=f"video-{mid}",
        publisher_id="alice",
        kind="video",
        source="camera",
        mid=mid,
        mime_type="video/VP8",
        clock_rate=90_000,
        payload_type=VIDEO_PT,
        rtx_payload_type=RTX_PT if rtx else None,
        rids=rids,
        extension_ids=MappingProxyType(PUB_IDS),
    )


def audio_info(mid: str = "1") -> TrackInfo:
    return TrackInfo(
        track_id=f"audio-{mid}",
        publisher_id="alice",
        kind="audio",
        source="microphone",
        mid=mid,
        mime_type="audio/opus",
        clock_rate=48_000,
        payload_type=OPUS_PT,
        extension_ids=MappingProxyType(PUB_IDS),
    )


class RtcpLog:
    """A fake send_rtcp that keeps the parsed packets."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.datagrams.append(data)

    @property
    def packets(self) -> list[RtcpPacket]:
        return [p for d in self.datagrams for p in parse_compound_untrusted(d)]

    def of_type(self, cls: type) -> list[RtcpPacket]:
        return [p for p in self.packets if isinstance(p, cls)]


class RtpLog:
    """A fake send_rtp that keeps the parsed packets."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []

    def __call__(self, buf: bytearray) -> None:
        self.packets.append(RtpPacket.parse_untrusted(bytes(buf)))

    @property
    def seqs(self) -> list[int]:
        return [p.sequence_number for p in self.packets]


def up_track(info: TrackInfo | None = None) -> tuple[UpTrack, RtcpLog]:
    log = RtcpLog()
    return UpTrack(info or video_info(), send_rtcp=log, rtcp_ssrc=SFU_RTCP_SSRC), log


def down_track(
    up: UpTrack,
    *,
    ssrc: int = 0xD0D0,
    rtx: bool = False,
    transport_cc: TransportCcSender | None = None,
    payload_type: int = 100,
) -> tuple[DownTrack, RtpLog]:
    log = RtpLog()
    down = DownTrack(
        up,
        ssrc=ssrc,
        payload_type=payload_type,
        send_rtp=log,
        extension_ids=SUB_IDS,
        rtx_ssrc=ssrc + 1 if rtx else None,
        rtx_payload_type=101 if rtx else None,
        transport_cc=transport_cc,
    )
    up.add_down_track(down)
    return down, log
