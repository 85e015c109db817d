"""Capture real SDP offers from Debian Chromium into this directory.

Run from the checkout: python -m tests.data.sdp.capture_chromium
Needs /usr/bin/chromium (Debian package) and Playwright; never downloads a browser.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS

HERE = Path(__file__).parent

# Each script resolves to the offer SDP after ICE gathering completed (so candidates are inside).
SCRIPTS = {
    "chromium_audio_video.sdp": """async () => {
        const pc = new RTCPeerConnection();
        const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
        for (const t of stream.getTracks()) pc.addTrack(t, stream);
        return await offerAfterGathering(pc);
    }""",
    "chromium_simulcast.sdp": """async () => {
        const pc = new RTCPeerConnection();
        const stream = await navigator.mediaDevices.getUserMedia(
            {video: {width: 1280, height: 720}});
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: "sendonly", streams: [stream],
            sendEncodings: [{rid: "q", scaleResolutionDownBy: 4},
                            {rid: "h", scaleResolutionDownBy: 2},
                            {rid: "f", scaleResolutionDownBy: 1}]});
        return await offerAfterGathering(pc);
    }""",
    "chromium_seed_42.sdp": """async () => {
        const pc = new RTCPeerConnection({iceServers: []});
        const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
        for (const t of stream.getTracks()) pc.addTrack(t, stream);
        for (let i = 0; i < 20; i++) pc.addTransceiver("video", {direction: "recvonly"});
        for (let i = 0; i < 20; i++) pc.addTransceiver("audio", {direction: "recvonly"});
        return await offerAfterGathering(pc);
    }""",
}

PAGE = "<html><body>sdp capture</body></html>"

HELPER = """() => {
window.offerAfterGathering = async (pc) => {
    const done = new Promise((resolve) => {
        pc.addEventListener("icegatheringstatechange", () => {
            if (pc.iceGatheringState === "complete") resolve();
        });
    });
    await pc.setLocalDescription(await pc.createOffer());
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    return pc.localDescription.sdp;
};
}"""


def main() -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        # getUserMedia needs a secure context: serve the tiny page as http://localhost/.
        page.route(
            "http://localhost/",
            lambda route: route.fulfill(body=PAGE, content_type="text/html"),
        )
        page.goto("http://localhost/")
        page.evaluate(HELPER)
        for name, script in SCRIPTS.items():
            sdp = page.evaluate(script)
            (HERE / name).write_text(sdp, newline="")
            print(name, len(sdp), "bytes")
        print(browser.version)
        browser.close()


if __name__ == "__main__":
    main()
