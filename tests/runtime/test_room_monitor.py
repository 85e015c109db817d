"""The room monitor in a running room, on virtual time: dominant-speaker and quality-stats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import trio
import trio.testing

from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.runtime.link import OutboundMessage, SignalingLink
from sfu_trio.runtime.participant import Participant, Permissions
from sfu_trio.runtime.room import Room
from sfu_trio.runtime.rooms import RoomRegistry
from sfu_trio.runtime.tracks import PublishedTrack
from sfu_trio.server import ServerAddresses
from sfu_trio.webrtc.rtcp import ReportBlock, ntp_from_unix, ntp_to_compact
from sfu_trio.webrtc.rtp import RtpHeader
from tests.conftest import make_config
from tests.interop.conftest import open_aiortc_peer
from tests.interop.test_aiortc_signaling import follow_renegotiation, negotiate
from tests.media.forwarding_fixtures import OPUS_PT, RtpLog, audio_info, rtp
from tests.signaling_client import connect

AUDIO_LEVEL_ID = 1  # the publisher's id of the audio level extension in forwarding_fixtures


@dataclass
class FakeMedia:
    """What the monitor reads of a participant's media session: its down-tracks."""

    sending: dict[str, tuple[str, DownTrack]] = field(default_factory=dict)
    published: dict[str, PublishedTrack] = field(default_factory=dict)
    feedback: None = None
    receiver: None = None
    peer: None = None
    echo: bool = False

    def request_renegotiation(self) -> None:
        pass

    def drop_track(self, key: str) -> None:
        pass

    def close(self) -> None:
        pass


@asynccontextmanager
async def running_room() -> AsyncIterator[Room]:
    registry = RoomRegistry(make_config(speaker_detection_interval_ms=200))
    async with trio.open_nursery() as nursery:
        await nursery.start(registry.run)
        yield await registry.create_room("monitored")
        nursery.cancel_scope.cancel()


async def join(room: Room, name: str) -> tuple[Participant, SignalingLink]:
    link = SignalingLink()
    participant = await room.add_participant(
        user_id=name, name=name, permissions=Permissions(), link=link, now=trio.current_time()
    )
    room.announce(participant)
    drain(link)
    return participant, link


def drain(link: SignalingLink, type: str | None = None) -> list[dict[str, Any]]:
    """The data of the queued messages (of ``type``, if given)."""
    messages: list[OutboundMessage] = []
    while True:
        try:
            messages.append(link.receive.receive_nowait())
        except trio.WouldBlock:
            break
    return [m.data or {} for m in messages if type is None or m.type == type]


def publish_audio(room: Room, participant: Participant) -> UpTrack:
    info = audio_info()
    up = UpTrack(info, send_rtcp=lambda data: None, rtcp_ssrc=1)
    up.bind_ssrc(0, 0xA0D10, False)
    room.publish(PublishedTrack(participant, up, info.track_id))
    return up


def send_audio(up: UpTrack, seq: int, level: int, now: float) -> None:
    packet = rtp(
        seq, ssrc=0xA0D10, ts=960, pt=OPUS_PT, payload=b"opus", extensions={1: bytes([level])}
    )
    up.on_rtp(packet, RtpHeader.parse_untrusted(packet), 0, now)


async def tick(clock: trio.testing.MockClock, seconds: float) -> None:
    clock.jump(seconds)
    await trio.testing.wait_all_tasks_blocked()


async def half_step(clock: trio.testing.MockClock) -> None:
    """Move off the monitor's deadlines (every 0.2 s from the room's start) by half a step, so
    that no tick lands on one, where float rounding would decide whether it has passed."""
    await tick(clock, 0.1)


async def test_dominant_speaker_is_broadcast_on_change(mock_clock: trio.testing.MockClock) -> None:
    async with running_room() as room:
        alice, alice_link = await join(room, "alice")
        bob, bob_link = await join(room, "bob")
        alice_up, bob_up = publish_audio(room, alice), publish_audio(room, bob)
        drain(alice_link), drain(bob_link)
        await half_step(mock_clock)
        seq = 0

        async def interval(alice_level: int | None, bob_level: int | None) -> None:
            nonlocal seq
            seq += 1
            now = trio.current_time()
            if alice_level is not None:
                send_audio(alice_up, seq, alice_level, now)
            if bob_level is not None:
                send_audio(bob_up, seq, bob_level, now)
            await tick(mock_clock, 0.2)

        await interval(127, 127)
        assert drain(alice_link, "dominant-speaker") == []
        await interval(30, 127)
        expected = [{"oldPeerId": None, "newPeerId": alice.peer_id}]
        assert drain(alice_link, "dominant-speaker") == expected
        assert drain(bob_link, "dominant-speaker") == expected
        # Alice keeps talking while Bob interjects for 0.6 s: no switch.
        for _ in range(3):
            await interval(30, 10)
        await interval(30, 127)
        assert drain(bob_link, "dominant-speaker") == []
        # Alice stops; the last sample stays in her up-track, but no new packet is silence.
        for _ in range(9):
            await interval(None, 127)
        assert drain(bob_link, "dominant-speaker") == []
        for _ in range(2):  # silent for more than 2 s (exactly 2 s is a float coin toss)
            await interval(None, 127)
        released = [{"oldPeerId": alice.peer_id, "newPeerId": None}]
        assert drain(bob_link, "dominant-speaker") == released
        assert drain(alice_link, "dominant-speaker") == released
        # A muted microphone does not speak, whatever its packets say.
        room.set_media_state(bob, "microphone", True)
        for _ in range(5):
            await interval(127, 10)
        assert drain(alice_link, "dominant-speaker") == []


async def test_a_dominant_speaker_who_leaves_is_replaced(
    mock_clock: trio.testing.MockClock,
) -> None:
    async with running_room() as room:
        alice, _ = await join(room, "alice")
        _, bob_link = await join(room, "bob")
        carol, carol_link = await join(room, "carol")
        alice_up, carol_up = publish_audio(room, alice), publish_audio(room, carol)
        await half_step(mock_clock)
        send_audio(alice_up, 1, 20, trio.current_time())
        send_audio(carol_up, 1, 50, trio.current_time())
        await tick(mock_clock, 0.2)
        assert drain(bob_link, "dominant-speaker") == [
            {"oldPeerId": None, "newPeerId": alice.peer_id}
        ]
        room.remove(alice, reason="test")
        send_audio(carol_up, 2, 50, trio.current_time())
        await tick(mock_clock, 0.2)
        changes = [{"oldPeerId": alice.peer_id, "newPeerId": carol.peer_id}]
        assert drain(bob_link, "dominant-speaker") == changes
        assert drain(carol_link, "dominant-speaker") == [
            {"oldPeerId": None, "newPeerId": alice.peer_id},
            *changes,
        ]


async def test_quality_stats_own_every_interval_others_on_level_change(
    mock_clock: trio.testing.MockClock,
) -> None:
    async with running_room() as room:
        alice, alice_link = await join(room, "alice")
        bob, bob_link = await join(room, "bob")
        up = publish_audio(room, alice)
        down = DownTrack(up, ssrc=0xB0B, payload_type=111, send_rtp=RtpLog(), extension_ids={})
        up.add_down_track(down)
        bob.media = cast(Any, FakeMedia(sending={"0": (f"{alice.peer_id}/audio-1", down)}))
        now = trio.current_time()
        lost = {10, 20, 30, 40, 50}
        for seq in range(100):
            if seq not in lost:
                send_audio(up, seq, 127, now)
        assert down.packets_sent == 95
        # Bob reports 13/256 lost (about Alice's 5 % upstream loss), 10 ms jitter, 100 ms RTT.
        wall = 1_700_000_000.0
        compact = ntp_to_compact(ntp_from_unix(wall))
        down.on_report_block(ReportBlock(0xB0B, 13, 5, 99, 480, compact - 9830, 3277), wall)
        drain(alice_link), drain(bob_link)
        await half_step(mock_clock)

        await tick(mock_clock, 3.0)
        alice_own = {
            "peerId": alice.peer_id,
            "level": "poor",  # 5 of the 99 packets expected since the first snapshot
            "packetLoss": 5.05,
            "rtt": 0.0,
            "jitter": 0.0,
        }
        bob_own = {
            "peerId": bob.peer_id,
            "level": "excellent",
            "packetLoss": round((13 / 256 - 5 / 99) * 100, 2),
            "rtt": 100.0,
            "jitter": 10.0,
        }
        # Alice's first level (poor) is news to Bob; Bob's (excellent) is what Alice assumes.
        assert drain(alice_link, "quality-stats") == [alice_own]
        assert drain(bob_link, "quality-stats") == [bob_own, alice_own]

        await tick(mock_clock, 3.0)
        assert drain(alice_link, "quality-stats") == [alice_own]
        assert drain(bob_link, "quality-stats") == [bob_own]

        # A newcomer reads the levels the room has heard in its room-state.
        carol, _carol_link = await join(room, "carol")
        state = room.state_for(carol)  # what join() sent Carol (and drained)
        levels = {peer["peerId"]: peer["quality"] for peer in state["peers"]}
        assert levels == {alice.peer_id: "poor", bob.peer_id: "excellent"}


@pytest.mark.parametrize("participants", [0, 1])
async def test_nothing_is_sent_without_media(
    mock_clock: trio.testing.MockClock, participants: int
) -> None:
    async with running_room() as room:
        links = [(await join(room, f"p{i}"))[1] for i in range(participants)]
        await tick(mock_clock, 6.0)
        for link in links:
            assert drain(link) == []


@pytest.mark.interop
async def test_quality_stats_from_real_aiortc_traffic(server: ServerAddresses) -> None:
    async with (
        open_aiortc_peer() as peer_a,
        open_aiortc_peer() as peer_b,
        connect(server.http_url) as alice,
        connect(server.http_url) as bob,
    ):
        a_ack = await alice.join("quality", "alice")
        await negotiate(alice, peer_a, await peer_a.wait_for(type="offer"))
        b_ack = await bob.join("quality", "bob")
        await negotiate(bob, peer_b, await peer_b.wait_for(type="offer"))
        await follow_renegotiation(alice, peer_a)
        with trio.fail_after(15):
            for peer in (peer_a, peer_b):
                await peer.wait_decoded({"video": 5, "audio": 5})
        reports: dict[str, dict[str, Any]] = {}
        with trio.fail_after(10):
            while len(reports) < 2:
                for client in (alice, bob):
                    data = await client.wait_for("quality-stats", seconds=10)
                    reports[data["peerId"]] = data
    assert set(reports) == {a_ack["peerId"], b_ack["peerId"]}
    for report in reports.values():
        assert set(report) == {"peerId", "level", "packetLoss", "rtt", "jitter"}
        assert report["level"] in ("excellent", "good", "poor", "critical")
        assert 0.0 <= report["packetLoss"] <= 100.0
        assert report["rtt"] >= 0.0 and report["jitter"] >= 0.0


async def test_a_room_without_tracks_wakes_once_per_report(
    mock_clock: trio.testing.MockClock,
) -> None:
    async with running_room() as room:
        alice, alice_link = await join(room, "alice")
        await tick(mock_clock, 0.3)  # the first speaker check finds nothing to sample
        up = publish_audio(room, alice)
        send_audio(up, 1, 20, trio.current_time())
        await tick(mock_clock, 2.6)
        assert drain(alice_link, "dominant-speaker") == []
        await tick(mock_clock, 0.2)  # the report time: speaker checks resume
        assert drain(alice_link, "dominant-speaker") == [
            {"oldPeerId": None, "newPeerId": alice.peer_id}
        ]
