"""Micro-benchmark of the forwarding pipeline (not a test): PublisherReceiver -> UpTrack ->
N DownTracks with a no-op send, for N = 1, 10, 100.

Reports the cost per packet (receiver + up-track, the N = 0 baseline) and the extra cost per
packet per subscriber (copy + header rewrite + extension renumbering + VP8 picture id +
transport-wide sequence number). Run: ``python benchmarks/pipeline_micro.py``.
"""

from __future__ import annotations

import argparse
import time
from types import MappingProxyType

from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.receiver import PublisherReceiver
from sfu_trio.media.track import TrackInfo
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.negotiated import RemoteSsrc
from sfu_trio.webrtc.rtp import RtpPacket
from sfu_trio.webrtc.rtp_extensions import (
    ABS_SEND_TIME_URI,
    MID_URI,
    REPAIRED_RID_URI,
    RID_URI,
    TWCC_URI,
)

PUBLISHER_IDS = {MID_URI: 4, ABS_SEND_TIME_URI: 2, TWCC_URI: 3, RID_URI: 10, REPAIRED_RID_URI: 11}
SUBSCRIBER_IDS = {MID_URI: 9, ABS_SEND_TIME_URI: 2, TWCC_URI: 5}
SSRC = 0x1234


def vp8_payload(picture_id: int, keyframe: bool, size: int) -> bytes:
    descriptor = bytes([0x90, 0xE0, 0x80 | picture_id >> 8, picture_id & 0xFF, 7, 0x20])
    return descriptor + bytes([0x00 if keyframe else 0x01]) + bytes(size - 7)


def make_packets(count: int, payload_size: int) -> list[bytes]:
    packets = []
    for i in range(count):
        packets.append(
            RtpPacket(
                payload_type=96,
                sequence_number=(1000 + i) & 0xFFFF,
                timestamp=(90_000 + 3000 * (i // 4)) & 0xFFFFFFFF,
                ssrc=SSRC,
                marker=i % 4 == 3,
                extensions={2: b"\x01\x02\x03", 3: (i & 0xFFFF).to_bytes(2, "big")},
                payload=vp8_payload(i // 4 & 0x7FFF, i == 0, payload_size),
            ).serialize()
        )
    return packets


def build(subscribers: int) -> PublisherReceiver:
    info = TrackInfo(
        track_id="t",
        publisher_id="p",
        kind="video",
        source="camera",
        mid="0",
        mime_type="video/VP8",
        clock_rate=90_000,
        payload_type=96,
        rtx_payload_type=97,
        extension_ids=MappingProxyType(PUBLISHER_IDS),
    )
    receiver = PublisherReceiver(
        extension_ids=PUBLISHER_IDS, send_rtcp=lambda data: None, rtcp_ssrc=1
    )
    up = UpTrack(info, send_rtcp=lambda data: None, rtcp_ssrc=1)
    receiver.add_track(up, [RemoteSsrc(SSRC, None)])
    for i in range(subscribers):
        down = DownTrack(
            up,
            ssrc=0x10000 + i,
            payload_type=100,
            send_rtp=lambda buf: None,
            extension_ids=SUBSCRIBER_IDS,
            transport_cc=TransportCcSender(),
        )
        up.add_down_track(down)
    return receiver


def measure(subscribers: int, packets: list[bytes], rounds: int) -> float:
    """Seconds per packet (best of `rounds`)."""
    best = float("inf")
    for _ in range(rounds):
        receiver = build(subscribers)
        on_rtp = receiver.on_rtp
        now = 1000.0
        start = time.perf_counter()
        for packet in packets:
            on_rtp(packet, now)
            now += 0.0005
        best = min(best, (time.perf_counter() - start) / len(packets))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--payload", type=int, default=1100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    packets = make_packets(args.packets, args.payload)
    base = measure(0, packets, args.rounds)
    print(f"receiver + up-track, no subscriber: {base * 1e6:6.2f} us/packet")
    for n in (1, 10, 100):
        count = args.packets if n < 100 else args.packets // 10
        total = measure(n, packets[:count], args.rounds)
        per = (total - base) / n
        print(f"N={n:3d}: {total * 1e6:8.2f} us/packet, {per * 1e6:5.2f} us/packet/subscriber")


if __name__ == "__main__":
    main()
