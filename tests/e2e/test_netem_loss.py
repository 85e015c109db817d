"""5 % packet loss on a subscriber's leg: its video keeps decoding, repaired by NACK and RTX.

The loss must hit only the subscriber's leg, never loopback as a whole. `tc netem` on a veth
pair in a test-made network namespace would do, but needs a kernel with ``sch_netem`` (the
machine this was written on has none: ``tc qdisc add ... netem`` says "unknown qdisc"). So the
test puts a lossy UDP relay of its own on that leg: the subscriber's page is told (an init
script rewrites the candidates of the answers it applies) to reach the server through the
relay, which drops 5 % of the RTP/RTCP datagrams the server sends to that subscriber (seeded:
the same pattern every run). STUN and DTLS pass untouched, so the handshake stays
deterministic. Nothing else on the machine is affected.
"""

from __future__ import annotations

import json
import random
import selectors
import socket
import threading
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.e2e.helpers import Participant, open_participant
from tests.server_process import run_server

pytestmark = pytest.mark.e2e

LOSS = 0.05
RELAYED_ANSWER = """(relayPort) => {
    const original = RTCPeerConnection.prototype.setRemoteDescription;
    RTCPeerConnection.prototype.setRemoteDescription = function (description) {
        if (description && description.sdp) {
            const sdp = description.sdp
                .split("\\r\\n")
                .filter((line) => !/^a=candidate:.* tcp /i.test(line))
                .map((line) => line.replace(
                    /^(a=candidate:\\S+ \\d+ udp \\d+ 127\\.0\\.0\\.1 )\\d+/i, `$1${relayPort}`))
                .join("\\r\\n");
            description = {type: description.type, sdp};
        }
        return original.call(this, description);
    };
}"""


class LossyRelay:
    """A UDP relay between one browser and the server that drops a share of the server's
    RTP/RTCP (first byte 128-191, RFC 7983) on the way to the browser."""

    def __init__(self, server: tuple[str, int], loss: float, seed: int = 7) -> None:
        self.server = server
        self.loss = loss
        self._rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the browser's side
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the server's side
        for sock in (self.front, self.back):
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
        self.port: int = self.front.getsockname()[1]
        self.media_to_browser = 0
        self.dropped = 0
        self._browser: tuple[str, int] | None = None
        self._stop_reader, self._stop_writer = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)

    def __enter__(self) -> LossyRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop_writer.send(b"x")
        self._thread.join(timeout=5)
        for sock in (self.front, self.back, self._stop_reader, self._stop_writer):
            sock.close()

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.front, selectors.EVENT_READ)
            selector.register(self.back, selectors.EVENT_READ)
            selector.register(self._stop_reader, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._stop_reader:
                        return
                    self._forward(key.fileobj)  # type: ignore[arg-type]

    def _forward(self, sock: socket.socket) -> None:
        try:
            data, source = sock.recvfrom(65536)
        except BlockingIOError:
            return
        if sock is self.front:
            self._browser = source
            self.back.sendto(data, self.server)
            return
        if self._browser is None:
            return
        if data and 128 <= data[0] <= 191:
            self.media_to_browser += 1
            if self._rng.random() < self.loss:
                self.dropped += 1
                return
        self.front.sendto(data, self._browser)


def _metric(metrics_url: str, name: str) -> float | None:
    """The sum of a Prometheus metric's samples, or None when the server exports none."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    ]
    return sum(values) if values else None


def _video_row(subscriber: Participant, peer_id: str) -> dict[str, Any]:
    return next(s for s in subscriber.stats() if s["peerId"] == peer_id and s["kind"] == "video")


def test_subscriber_keeps_decoding_with_5_percent_loss(browser: Browser) -> None:
    with run_server() as server:
        relay_target = ("127.0.0.1", int(server.env["SFU_UDP_PORT"]))
        with LossyRelay(relay_target, LOSS) as relay:
            publisher = open_participant(browser, server.url, "e2e-loss", "Publisher")
            publisher_id = publisher.peer_id
            context = browser.new_context(viewport={"width": 640, "height": 360})
            context.add_init_script(f"({RELAYED_ANSWER})({relay.port})")
            subscriber_page = context.new_page()
            subscriber_page.goto(f"{server.url}/?room=e2e-loss&name=Subscriber&simulcast=0")
            subscriber = Participant(subscriber_page, "Subscriber", 0.0)
            subscriber.wait_receiving([publisher_id], audio=False, timeout=15)
            metrics_url = f"http://127.0.0.1:{server.env['METRICS_PORT']}/metrics"
            served_before = _metric(metrics_url, "sfu_media_retransmissions_sent_total")
            before = _video_row(subscriber, publisher_id)
            # 120 more frames (4-8 s of video) decoded through the lossy leg.
            subscriber.wait_stats(
                "(stats, arg) => stats.some((s) => s.peerId === arg.peer && s.kind === 'video'"
                " && s.framesDecoded >= arg.frames)",
                {"peer": publisher_id, "frames": before["framesDecoded"] + 120},
                timeout=20,
            )
            after = _video_row(subscriber, publisher_id)
            served_after = _metric(metrics_url, "sfu_media_retransmissions_sent_total")
            share = relay.dropped / max(relay.media_to_browser, 1)
            report = json.dumps(
                {
                    "dropped": relay.dropped,
                    "media": relay.media_to_browser,
                    "before": before,
                    "after": after,
                    "served": [served_before, served_after],
                }
            )
            assert 0.02 < share < 0.09, report
            assert after["nackCount"] > before["nackCount"], report
            assert after["retransmittedPacketsReceived"] > before["retransmittedPacketsReceived"], (
                report
            )
            # NACKs served from the packet cache, as the server counts them.
            assert served_before is not None and served_after is not None, report
            assert served_after > served_before, report
            context.close()
            publisher.close()
