"""Media-plane metrics: retained counters on fakes, and real figures after aiortc traffic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from sfu_trio.observability.media_metrics import MediaSampler, media_samples
from sfu_trio.observability.metrics import Metrics, SnapshotSample
from sfu_trio.server import ServerAddresses
from tests.interop.conftest import open_aiortc_peer
from tests.interop.test_aiortc_signaling import follow_renegotiation, negotiate
from tests.signaling_client import connect


@dataclass
class FakeDown:
    packets_sent: int = 0
    bytes_sent: int = 0
    retransmissions_sent: int = 0
    nacks_unrecoverable: int = 0
    keyframe_requests: int = 0


@dataclass
class FakeTransportStatistics:
    srtp_errors: int = 0
    receive_drops: int = 0
    send_drops: int = 0


@dataclass
class FakeTransport:
    state: str = "connected"
    srtp_errors: int = 0

    def statistics(self) -> FakeTransportStatistics:
        return FakeTransportStatistics(srtp_errors=self.srtp_errors)


@dataclass
class FakeMedia:
    sending: dict[str, tuple[str, FakeDown]] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    feedback: None = None
    receiver: None = None
    peer: FakeTransport | None = None


@dataclass
class FakeParticipant:
    media: FakeMedia | None


@dataclass
class FakeRoom:
    name: str
    participants: dict[str, FakeParticipant] = field(default_factory=dict)
    tracks: dict[str, object] = field(default_factory=dict)


@dataclass
class FakeRegistry:
    rooms: dict[str, FakeRoom] = field(default_factory=dict)
    media: None = None


def value(samples: list[SnapshotSample], name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and dict(s.labels) == labels]
    return found


def test_counters_keep_what_departed_objects_counted() -> None:
    registry = FakeRegistry()
    room = registry.rooms["r"] = FakeRoom("r")
    alice = FakeParticipant(FakeMedia({"0": ("k", FakeDown(10, 1000))}, peer=FakeTransport()))
    bob = FakeParticipant(FakeMedia({"0": ("k", FakeDown(5, 500))}, peer=FakeTransport()))
    room.participants.update(alice=alice, bob=bob)
    sampler = MediaSampler(registry)
    first = sampler()
    assert value(first, "sfu_media_packets_forwarded_total") == 15
    assert value(first, "sfu_media_bytes_forwarded_total") == 1500
    assert value(first, "sfu_media_down_tracks") == 2
    assert value(first, "sfu_media_room_participants", room="r") == 2
    assert value(first, "sfu_media_transports", state="connected") == 2

    assert bob.media is not None and bob.media.peer is not None
    bob.media.sending["0"][1].packets_sent = 7
    bob.media.peer.state = "failed"
    del room.participants["bob"]
    second = sampler()
    # Bob's down-track counted 5 at the previous scrape: kept; its later 2 are lost.
    assert value(second, "sfu_media_packets_forwarded_total") == 15
    assert value(second, "sfu_media_down_tracks") == 1
    assert value(second, "sfu_media_transport_failures_total") == 1
    assert value(second, "sfu_media_room_participants", room="r") == 1

    assert alice.media is not None
    alice.media.sending["0"][1].packets_sent = 12
    third = sampler()
    assert value(third, "sfu_media_packets_forwarded_total") == 17
    assert value(third, "sfu_media_transport_failures_total") == 1

    del registry.rooms["r"]
    assert value(sampler(), "sfu_media_packets_forwarded_total") == 17
    # the one-off read only sees live objects
    assert value(media_samples(registry), "sfu_media_packets_forwarded_total") == 0


def test_every_sample_of_a_family_agrees_and_counters_end_in_total() -> None:
    registry = FakeRegistry()
    registry.rooms["r"] = FakeRoom("r", {"a": FakeParticipant(FakeMedia(peer=FakeTransport()))})
    samples = MediaSampler(registry)()
    families: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for sample in samples:
        assert sample.name.startswith("sfu_media_")
        assert sample.name.endswith("_total") == (sample.kind == "counter"), sample.name
        shape = (sample.help, sample.kind, tuple(sample.labels))
        assert families.setdefault(sample.name, shape) == shape


def scrape(sampler: Callable[[], list[SnapshotSample]]) -> dict[tuple[str, str], float]:
    """Render through prometheus_client and read back {(sample name, labels): value}."""
    metrics = Metrics()
    metrics.add_snapshot_collector(sampler)
    body, _ = metrics.render()
    values = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name.startswith("sfu_media_"):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[(sample.name, labels)] = sample.value
    return values


@pytest.mark.interop
async def test_media_metrics_after_aiortc_traffic(server: ServerAddresses) -> None:
    registry = server.context.registry
    sampler = MediaSampler(registry)
    async with (
        open_aiortc_peer() as peer_a,
        open_aiortc_peer() as peer_b,
        connect(server.http_url) as alice,
        connect(server.http_url) as bob,
    ):
        await alice.join("metered", "alice")
        await negotiate(alice, peer_a, await peer_a.wait_for(type="offer"))
        await bob.join("metered", "bob")
        await negotiate(bob, peer_b, await peer_b.wait_for(type="offer"))
        await follow_renegotiation(alice, peer_a)
        with trio.fail_after(15):
            for peer in (peer_a, peer_b):
                await peer.wait_decoded({"video": 5, "audio": 5})
        values = scrape(sampler)

    assert values[("sfu_media_room_participants", "room=metered")] == 2
    assert values[("sfu_media_room_tracks", "room=metered")] == 4
    assert values[("sfu_media_up_tracks", "")] == 4
    assert values[("sfu_media_down_tracks", "")] == 4
    assert values[("sfu_media_transports", "state=connected")] == 2
    assert values[("sfu_media_packets_received_total", "")] > 0
    forwarded = values[("sfu_media_packets_forwarded_total", "")]
    assert 0 < forwarded <= values[("sfu_media_packets_received_total", "")]
    assert values[("sfu_media_bytes_forwarded_total", "")] > forwarded * 12
    assert values[("sfu_media_plis_sent_total", "")] >= 1  # each video start needs a keyframe
    assert values[("sfu_media_keyframe_waits_total", "")] >= 1
    assert values[("sfu_media_srtp_errors_total", "")] == 0
    udp_in = values[("sfu_media_udp_datagrams_total", "direction=in")]
    udp_out = values[("sfu_media_udp_datagrams_total", "direction=out")]
    assert udp_in >= values[("sfu_media_packets_received_total", "")]
    assert udp_out >= forwarded
    assert values[("sfu_media_udp_drops_total", "reason=send")] == 0
    assert ("sfu_media_tcp_connections_open", "") not in values  # SFU_TCP_PORT=0: no ICE-TCP
