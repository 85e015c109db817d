"""One-off (not part of the test suite): capture the Binding requests Chromium sends to an
ICE-lite answerer, answered by our own IceLiteAgent.

Run: /tmp/venv/bin/python tests/data/stun/capture_chromium.py
Writes chromium_binding_request.hex (first check) and chromium_binding_use_candidate.hex.
"""

import asyncio
import time
from pathlib import Path

from playwright.async_api import async_playwright

from sfu_trio.webrtc import stun
from sfu_trio.webrtc.ice_lite import IceLiteAgent

HERE = Path(__file__).parent
UFRAG, PWD = "SfuT", "SfuTrioCaptureIcePwd0123"
ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OFFER_JS = """async () => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.createDataChannel("x");
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription.sdp;
}"""


class Capture(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.agent = IceLiteAgent(UFRAG, PWD)
        self.requests: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data and data[0] < 4:
            self.requests.append(data)
            response = self.agent.handle_stun(data, addr, time.monotonic())
            if response is not None:
                self.transport.sendto(response, addr)  # type: ignore[attr-defined]


def answer_sdp(port: int) -> str:
    return "\r\n".join(
        [
            "v=0",
            "o=- 1 1 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=ice-lite",
            "a=group:BUNDLE 0",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN IP4 127.0.0.1",
            "a=mid:0",
            f"a=ice-ufrag:{UFRAG}",
            f"a=ice-pwd:{PWD}",
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
            "a=setup:passive",
            "a=sctp-port:5000",
            f"a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host",
            "a=end-of-candidates",
            "",
        ]
    )


async def main() -> None:
    loop = asyncio.get_running_loop()
    transport, capture = await loop.create_datagram_endpoint(Capture, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = await browser.new_page()
        await page.evaluate(OFFER_JS)
        sdp = answer_sdp(port)
        await page.evaluate("async (sdp) => pc.setRemoteDescription({type: 'answer', sdp})", sdp)
        await asyncio.sleep(3)
        await browser.close()
    transport.close()
    print(f"{len(capture.requests)} STUN datagrams; agent state {capture.agent.state}")
    first = capture.requests[0]
    nominating = next(
        r for r in capture.requests if "USE-CANDIDATE" in stun.parse_stun_untrusted(r).attributes
    )
    for name, data in (
        ("chromium_binding_request", first),
        ("chromium_binding_use_candidate", nominating),
    ):
        print(name, stun.parse_stun_untrusted(data))
        (HERE / f"{name}.hex").write_text(
            f"# Captured from Chromium by capture_chromium.py (ICE-lite answer, ufrag {UFRAG},\n"
            f"# pwd {PWD}); see SOURCES.md.\n" + data.hex() + "\n"
        )


if __name__ == "__main__":
    asyncio.run(main())
