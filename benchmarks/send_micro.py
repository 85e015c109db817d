"""Micro-benchmark of the fan-out with real SRTP and real sockets (not a test).

In one process, on loopback: the floor's per-subscriber step (pylibsrtp protect + ``sendto``)
against sfu_trio's (`UpTrack` -> `DownTrack` -> `RtpSender`: renumbering, header rewrite,
SRTP protect in place, ``sendto``), for N subscribers with sockets of their own. Prints the
CPU time per packet per subscriber, user and system apart. Run:
``python benchmarks/send_micro.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import time
from collections.abc import Callable

from pipeline_micro import SUBSCRIBER_IDS, build, make_packets

from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.runtime.rtp_sender import RtpSender
from sfu_trio.runtime.udp import UdpTransport
from sfu_trio.webrtc.srtp import SrtpContext, SrtpKeys, SrtpProfile

PROFILE = SrtpProfile.AEAD_AES_128_GCM


def srtp_context() -> SrtpContext:
    size = PROFILE.value.key_length + PROFILE.value.salt_length
    return SrtpContext(SrtpKeys(PROFILE, os.urandom(size), os.urandom(size)))


def open_sinks(count: int) -> list[socket.socket]:
    sinks = []
    for _ in range(count):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        sinks.append(sink)
    return sinks


def drain(sinks: list[socket.socket]) -> None:
    for sink in sinks:
        try:
            while True:
                sink.recv(2048)
        except BlockingIOError:
            pass


def floor_run(packets: list[bytes], sinks: list[socket.socket]) -> Callable[[], None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sendto = sock.sendto
    outputs = [(srtp_context().protect_rtp, sink.getsockname()) for sink in sinks]

    def run() -> None:
        for packet in packets:
            for protect, address in outputs:
                sendto(protect(packet), address)

    return run


def sfu_trio_run(packets: list[bytes], sinks: list[socket.socket]) -> Callable[[], None]:
    udp = UdpTransport.bind("127.0.0.1", 0)
    receiver = build(0)
    (up,) = receiver.tracks
    for index, sink in enumerate(sinks):
        sender = RtpSender()
        sender.connect_udp(
            srtp_context().protect_rtp_view, udp.raw_sendto, sink.getsockname(), udp.statistics
        )
        up.add_down_track(
            DownTrack(
                up,
                ssrc=0x10000 + index,
                payload_type=100,
                send_rtp=sender.send,
                extension_ids=SUBSCRIBER_IDS,
                transport_cc=TransportCcSender(),
            )
        )
    on_rtp = receiver.on_rtp
    clock = [1000.0]

    def run() -> None:
        now = clock[0]
        for packet in packets:
            on_rtp(packet, now)
            now += 0.0005
        clock[0] = now

    return run


def measure(name: str, run: Callable[[], None], sinks: list[socket.socket], sends: int) -> None:
    best = (float("inf"), 0.0, 0.0)
    for _ in range(5):
        drain(sinks)
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.process_time()
        run()
        spent = time.process_time() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        if spent < best[0]:
            best = (spent, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)
    total, user, system = (value / sends * 1e6 for value in best)
    print(f"{name:9s} {total:5.2f} µs a packet a subscriber (user {user:.2f}, system {system:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--packets", type=int, default=400)
    args = parser.parse_args()
    packets = make_packets(args.packets, 1100)
    sinks = open_sinks(args.subscribers)
    sends = len(packets) * len(sinks)
    measure("floor", floor_run(packets, sinks), sinks, sends)
    measure("sfu_trio", sfu_trio_run(packets, sinks), sinks, sends)


if __name__ == "__main__":
    main()
