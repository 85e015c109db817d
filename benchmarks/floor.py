"""The floor: the least a Python SFU must do per forwarded packet, measured under the same load.

The forwarder (``python benchmarks/floor.py forward ...``, run inside the benchmark namespace)
does, per packet from the publisher: one blocking ``recv``, one SRTP unprotect, then for each
subscriber one SRTP protect (its own context) and one ``sendto`` — nothing else. It measures its
own CPU time (``time.process_time``) over the window and prints it as JSON.

`run_floor` drives it from outside: it sends the load generator's synthetic publisher streams
(1.5 Mbit/s VP8-sized video at 30 fps + Opus-sized audio at 50 packets/s), SRTP-protected, and
drains N subscriber sockets, counting what arrives (and, on the first one, the added latency).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sfu_trio.loadtest.stats import LatencyHistogram
from sfu_trio.loadtest.synthetic import (
    AUDIO_INTERVAL,
    TRAILER,
    TRAILER_SIZE,
    AudioStream,
    StreamSpec,
    VideoStream,
)
from sfu_trio.webrtc.srtp import SrtpContext, SrtpError, SrtpKeys, SrtpProfile

PROFILE = SrtpProfile.AEAD_AES_128_GCM
BUFFER = 4 * 1024 * 1024


def _context(local: bytes, remote: bytes) -> SrtpContext:
    return SrtpContext(SrtpKeys(PROFILE, local_key_and_salt=local, remote_key_and_salt=remote))


def forward(args: argparse.Namespace) -> None:
    """The floor forwarder's loop; prints ``{cpu_s, packets_in, forwarded}`` for the window."""
    key_in, key_out = bytes.fromhex(args.key_in), bytes.fromhex(args.key_out)
    sinks = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in args.sinks.split(","))]
    host, port = args.bind.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
    sock.bind((host, int(port)))
    sock.settimeout(10.0)
    print(json.dumps({"event": "ready", "port": sock.getsockname()[1]}), flush=True)
    unprotect = _context(key_out, key_in).unprotect_rtp
    outputs = [(_context(key_out, key_in).protect_rtp, address) for address in sinks]
    recv, sendto = sock.recv, sock.sendto
    data = recv(2048)
    start = time.monotonic() + args.warmup
    end = start + args.duration
    measuring = False
    cpu_start = packets = 0.0
    packets_in = 0
    while True:
        plain = unprotect(data)
        for protect, address in outputs:
            sendto(protect(plain), address)
        if measuring:
            packets_in += 1
        data = recv(2048)
        now = time.monotonic()
        if not measuring and now >= start:
            measuring, cpu_start = True, time.process_time()
        elif measuring and now >= end:
            break
    cpu = time.process_time() - cpu_start
    packets = packets_in * len(sinks)
    sock.settimeout(0.5)  # keep forwarding the tail so that the sinks can count every packet
    try:
        while True:
            plain = unprotect(recv(2048))
            for protect, address in outputs:
                sendto(protect(plain), address)
    except TimeoutError:
        pass
    print(json.dumps({"cpu_s": cpu, "packets_in": packets_in, "forwarded": packets}), flush=True)


@dataclass
class FloorResult:
    subscribers: int
    cpu_s: float
    packets_in: int
    forwarded: int
    received: int
    expected: int
    latency: LatencyHistogram

    @property
    def us_per_packet(self) -> float:
        return self.cpu_s / self.forwarded * 1e6 if self.forwarded else float("nan")

    @property
    def loss(self) -> float:
        return max(0.0, 1.0 - self.received / self.expected) if self.expected else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "subscribers": self.subscribers,
            "cpu_s": self.cpu_s,
            "packets_in": self.packets_in,
            "packets_forwarded": self.forwarded,
            "us_per_packet": self.us_per_packet,
            "loss": self.loss,
            "latency_ms": {
                "p50": self.latency.percentile_ms(0.5),
                "p99": self.latency.percentile_ms(0.99),
            },
        }


def run_floor(
    command: list[str],
    server_address: str,
    client_address: str,
    subscribers: int,
    *,
    duration: float,
    warmup: float = 1.0,
    bitrate: int = 1_500_000,
    fps: float = 30.0,
) -> FloorResult:
    """Start the forwarder (``command`` prefix: e.g. ``ip netns exec ...``) and load it."""
    key_in, key_out = secrets.token_bytes(28), secrets.token_bytes(28)
    sinks = []
    for _ in range(subscribers):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        sink.bind((client_address, 0))
        sink.setblocking(False)
        sinks.append(sink)
    forwarder = subprocess.Popen(
        [
            *command,
            sys.executable,
            os.path.abspath(__file__),
            "forward",
            "--bind",
            f"{server_address}:0",
            "--sinks",
            ",".join(f"{client_address}:{s.getsockname()[1]}" for s in sinks),
            "--key-in",
            key_in.hex(),
            "--key-out",
            key_out.hex(),
            "--warmup",
            str(warmup),
            "--duration",
            str(duration),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert forwarder.stdout is not None
        port = json.loads(forwarder.stdout.readline())["port"]
        received, sent, latency = _drive(
            sinks,
            (server_address, port),
            key_in,
            key_out,
            seconds=warmup + duration + 0.5,
            bitrate=bitrate,
            fps=fps,
        )
        report = json.loads(forwarder.stdout.readline())
    finally:
        forwarder.kill()
        forwarder.wait()
        for sink in sinks:
            sink.close()
    return FloorResult(
        subscribers=subscribers,
        cpu_s=report["cpu_s"],
        packets_in=report["packets_in"],
        forwarded=report["forwarded"],
        received=received,
        expected=sent * subscribers,
        latency=latency,
    )


def _publish(
    target: tuple[str, int], key_in: bytes, key_out: bytes, seconds: float, bitrate: int, fps: float
) -> int:
    """Send the publisher's streams to ``target`` for ``seconds``; the packets sent."""
    publisher = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    protect = _context(key_in, key_out).protect_rtp
    audio = AudioStream(StreamSpec(1111, 111, 1, "0"))
    video = VideoStream(StreamSpec(2222, 96, 1, "1"), bitrate, fps)
    sent = frame = 0
    now = start = time.monotonic()
    next_audio = next_video = start
    while now < start + seconds:
        if now >= next_audio:
            publisher.sendto(protect(audio.packet(time.monotonic_ns())), target)
            sent += 1
            next_audio += AUDIO_INTERVAL
        if now >= next_video:
            for packet in video.frame(frame % 150 == 0, time.monotonic_ns()):
                publisher.sendto(protect(packet), target)
                sent += 1
            frame += 1
            next_video += 1.0 / fps
        time.sleep(max(0.0, min(next_audio, next_video) - time.monotonic()))
        now = time.monotonic()
    publisher.close()
    return sent


def _drain(
    sinks: list[socket.socket], key_in: bytes, key_out: bytes, until: float, out: Connection
) -> None:
    """Count what the sinks receive until ``until``, and the latency of every packet.

    Each sink does what a load generator subscriber does with a packet (its own SRTP
    unprotect, the trailer read), so that the forwarder's kernel path meets receivers as
    busy as the ones sfu_trio and Janus meet.
    """
    poller = select.epoll()
    for sink in sinks:
        poller.register(sink.fileno(), select.EPOLLIN)
    by_fd = {sink.fileno(): (sink.recv, _context(key_in, key_out).unprotect_rtp) for sink in sinks}
    latency = LatencyHistogram()
    received = 0
    while time.monotonic() < until:
        for fd, _ in poller.poll(0.05):
            recv, unprotect = by_fd[fd]
            while True:
                try:
                    data = recv(2048)
                except BlockingIOError:
                    break
                received += 1
                try:
                    plain = unprotect(data)
                except SrtpError:
                    continue
                _, sent_ns = TRAILER.unpack_from(plain, len(plain) - TRAILER_SIZE)
                latency.add(time.monotonic_ns() - sent_ns)
    out.send((received, latency.to_json()))


def _drive(
    sinks: list[socket.socket],
    target: tuple[str, int],
    key_in: bytes,
    key_out: bytes,
    *,
    seconds: float,
    bitrate: int,
    fps: float,
) -> tuple[int, int, LatencyHistogram]:
    """Publish from this process while forked children drain the sinks.

    The sinks are split over as many drain processes as the load generator would spread the
    same subscribers over (`drain_processes`), so the forwarder meets the same receivers.
    """
    context = multiprocessing.get_context("fork")
    until = time.monotonic() + seconds + 1.0
    count = drain_processes(len(sinks))
    drainers = []
    for index in range(count):
        receiving, sending = context.Pipe(duplex=False)
        drainer = context.Process(
            target=_drain, args=(sinks[index::count], key_in, key_out, until, sending)
        )
        drainer.start()
        drainers.append((drainer, receiving))
    try:
        sent = _publish(target, key_in, key_out, seconds, bitrate, fps)
        received = 0
        latency = LatencyHistogram()
        for _, receiving in drainers:
            part, part_latency = receiving.recv()
            received += part
            latency.merge(LatencyHistogram.from_json(part_latency))
    finally:
        for drainer, _ in drainers:
            drainer.join(timeout=5)
            if drainer.is_alive():
                drainer.kill()
    return received, sent, latency


def drain_processes(subscribers: int) -> int:
    """The load generator's subscriber workers for a 1->`subscribers` run: benchmarks/run.py
    gives it 3 processes from 40 participants on, one of them the publisher's."""
    return 2 if subscribers + 1 >= 40 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fwd = commands.add_parser("forward", help="the floor forwarder (run by run_floor)")
    fwd.add_argument("--bind", required=True)
    fwd.add_argument("--sinks", required=True)
    fwd.add_argument("--key-in", required=True)
    fwd.add_argument("--key-out", required=True)
    fwd.add_argument("--warmup", type=float, default=1.0)
    fwd.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    forward(args)


if __name__ == "__main__":
    main()
