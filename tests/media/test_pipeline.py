"""End to end in memory: publisher packets -> PublisherReceiver -> UpTrack -> DownTracks ->
fake subscriber sockets, with RTCP from the subscribers going back through SubscriberFeedback."""

from __future__ import annotations

import itertools
import random

from sfu_trio.media.bwe import create_estimator
from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.receiver import PublisherReceiver
from sfu_trio.media.subscriber import SubscriberFeedback
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.codecs import parse_vp8_untrusted
from sfu_trio.webrtc.rtcp import (
    GenericNack,
    PictureLossIndication,
    TransportCcFeedback,
)
from sfu_trio.webrtc.rtp import RtpHeader
from sfu_trio.webrtc.rtp_extensions import (
    ABS_SEND_TIME_URI,
    MID_URI,
    TWCC_URI,
    encode_sdes,
    encode_twcc_sequence,
)
from tests.media.forwarding_fixtures import (
    PUB_IDS,
    SFU_RTCP_SSRC,
    RtcpLog,
    RtpLog,
    rtp,
    video_info,
)

RIDS = ("q", "h", "f")
LAYER_SSRCS = (0xA0, 0xA1, 0xA2)
SUBSCRIBER_EXTS = [
    {MID_URI: 1, TWCC_URI: 3, ABS_SEND_TIME_URI: 2},
    {MID_URI: 3, TWCC_URI: 7, ABS_SEND_TIME_URI: 12},
    {MID_URI: 5, ABS_SEND_TIME_URI: 9},
]


class Publisher:
    """Sends three simulcast layers at 30 fps, one packet per frame, sdes on the first 5.

    Answers the SFU's PLIs with a keyframe on the next frame while ``auto_keyframes``.
    """

    def __init__(self, receiver: PublisherReceiver, log: RtcpLog) -> None:
        self.receiver = receiver
        self.log = log
        self.seq = [1000, 20000, 40000]
        self.ts = [0, 100_000, 200_000]
        self.picture = [1, 1000, 5000]
        self.twcc = 0
        self.now = 0.0
        self.keyframe_wanted = [True, True, True]
        self.auto_keyframes = True
        self.plis_answered = 0
        self.drop: set[tuple[int, int]] = set()  # (layer, seq) lost on the way to the SFU

    def frame(self) -> None:
        requested = plis(self.log)
        if self.auto_keyframes:
            for ssrc in requested[self.plis_answered :]:
                self.keyframe_wanted[LAYER_SSRCS.index(ssrc)] = True
        self.plis_answered = len(requested)
        for layer in range(3):
            exts = {3: encode_twcc_sequence(self.twcc)}
            self.twcc += 1
            if self.seq[layer] - (1000, 20000, 40000)[layer] < 5:
                exts |= {4: encode_sdes("0"), 10: encode_sdes(RIDS[layer])}
            keyframe = self.keyframe_wanted[layer]
            self.keyframe_wanted[layer] = False
            packet = rtp(
                self.seq[layer],
                ssrc=LAYER_SSRCS[layer],
                ts=self.ts[layer],
                keyframe=keyframe,
                picture_id=self.picture[layer],
                extensions=exts,
                marker=True,
            )
            if (layer, self.seq[layer]) not in self.drop:
                self.receiver.on_rtp(packet, self.now)
            self.seq[layer] += 1
            self.ts[layer] += 3000
            self.picture[layer] += 1
        self.now += 1 / 30

    def frames(self, count: int) -> None:
        for _ in range(count):
            self.frame()


class Subscriber:
    def __init__(self, up: UpTrack, index: int, *, rtx: bool, now: float) -> None:
        exts = SUBSCRIBER_EXTS[index]
        self.rtcp = RtcpLog()
        twcc = TransportCcSender() if TWCC_URI in exts else None
        self.feedback = SubscriberFeedback(
            estimator=create_estimator("twcc" if twcc else "remb", 5_000_000),
            send_rtcp=self.rtcp,
            transport_cc=twcc,
            rng=random.Random(index),
        )
        self.rtp = RtpLog()
        self.ssrc = 0x5000 + 16 * index
        self.down = DownTrack(
            up,
            ssrc=self.ssrc,
            payload_type=100 + index,
            send_rtp=self.rtp,
            extension_ids=exts,
            rtx_ssrc=self.ssrc + 1 if rtx else None,
            rtx_payload_type=120 if rtx else None,
            transport_cc=twcc,
        )
        self.feedback.add_down_track(self.down, now)
        up.add_down_track(self.down)


def setup(warm_up: int = 100) -> tuple[Publisher, UpTrack, list[Subscriber]]:
    """A publisher, its up-track and three subscribers, after `warm_up` frames."""
    upstream = RtcpLog()
    receiver = PublisherReceiver(
        extension_ids=PUB_IDS, send_rtcp=upstream, rtcp_ssrc=SFU_RTCP_SSRC, rng=random.Random(0)
    )
    up = UpTrack(video_info(RIDS), send_rtcp=upstream, rtcp_ssrc=SFU_RTCP_SSRC)
    receiver.add_track(up)
    publisher = Publisher(receiver, upstream)
    subscribers = [Subscriber(up, i, rtx=i == 0, now=0.0) for i in range(3)]
    publisher.frames(warm_up)
    return publisher, up, subscribers


def plis(log: RtcpLog) -> list[int]:
    return [p.media_ssrc for p in log.packets if isinstance(p, PictureLossIndication)]


def continuous(seqs: list[int]) -> bool:
    return seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]


def test_each_subscriber_sees_one_continuous_stream_of_its_own() -> None:
    _publisher, _up, subscribers = setup()
    for index, sub in enumerate(subscribers):
        packets = sub.rtp.packets
        assert len(packets) >= 95
        assert {p.ssrc for p in packets} == {sub.ssrc}
        assert {p.payload_type for p in packets} == {100 + index}
        assert continuous(sub.rtp.seqs)
        ts = [p.timestamp for p in packets]
        assert all(0 < b - a <= 3000 for a, b in itertools.pairwise(ts))
        ids = SUBSCRIBER_EXTS[index]
        twcc_id = ids.get(TWCC_URI)
        for p in packets:  # the publisher's mid/rid are gone; ids are the subscriber's
            assert set(p.extensions) <= {ids[ABS_SEND_TIME_URI], twcc_id}
        if twcc_id is not None:
            numbers = [int.from_bytes(p.extensions[twcc_id], "big") for p in packets]
            assert numbers == list(range(1, len(packets) + 1))
    # Each started on the first live layer and moved up to the top one (a keyframe switch).
    assert [s.down.current_layer for s in subscribers] == [2, 2, 2]
    assert [s.down.statistics().layer_switches for s in subscribers] == [2, 2, 2]


def test_simulcast_switch_at_a_keyframe_keeps_seq_and_ts_continuous() -> None:
    publisher, _up, subscribers = setup()
    sub = subscribers[1]
    publisher.auto_keyframes = False
    sub.down.set_max_rid("q", publisher.now)
    assert plis(publisher.log)[-1] == LAYER_SSRCS[0]
    before = len(sub.rtp.packets)
    publisher.frames(3)  # still layer 2 until layer 0's keyframe
    assert sub.down.current_layer == 2
    publisher.keyframe_wanted[0] = True
    publisher.frames(3)
    assert sub.down.current_layer == 0
    assert len(sub.rtp.packets) == before + 6
    assert continuous(sub.rtp.seqs)
    ts = [p.timestamp for p in sub.rtp.packets[before - 1 :]]
    assert all(b - a == 3000 for a, b in itertools.pairwise(ts))


def test_nack_from_a_subscriber_gets_the_original_packet_back() -> None:
    publisher, up, subscribers = setup()
    for sub in subscribers[:2]:
        wanted = sub.rtp.packets[-5]
        nack = GenericNack(0x99, sub.ssrc, (wanted.sequence_number,))
        sub.feedback.on_rtcp(nack.serialize(), publisher.now)
        repair = sub.rtp.packets[-1]
        assert repair.timestamp == wanted.timestamp
        if sub is subscribers[0]:  # RTX negotiated
            assert (repair.ssrc, repair.payload_type) == (sub.ssrc + 1, 120)
            assert repair.payload == wanted.sequence_number.to_bytes(2, "big") + wanted.payload
        else:  # the same packet, with a new transport-wide sequence number
            assert (repair.ssrc, repair.sequence_number) == (sub.ssrc, wanted.sequence_number)
            assert repair.payload == wanted.payload
            assert repair.extensions.keys() == wanted.extensions.keys()
    assert up.statistics(publisher.now).nacks_sent == 0  # never forwarded upstream


def test_plis_from_two_subscribers_within_500_ms_make_one_upstream_pli() -> None:
    publisher, _up, subscribers = setup()
    before = len(plis(publisher.log))
    now = publisher.now
    for sub, delay in ((subscribers[0], 0.0), (subscribers[2], 0.2)):
        sub.feedback.on_rtcp(PictureLossIndication(0x99, sub.ssrc).serialize(), now + delay)
    assert plis(publisher.log)[before:] == [LAYER_SSRCS[2]]


def test_a_late_joining_subscriber_waits_for_a_keyframe_and_asks_for_one() -> None:
    publisher, up, _subscribers = setup()
    publisher.auto_keyframes = False
    before = len(plis(publisher.log))
    late = Subscriber(up, 2, rtx=False, now=publisher.now)
    publisher.frames(2)
    assert late.rtp.packets == []
    assert plis(publisher.log)[before:] == [LAYER_SSRCS[2]]
    publisher.keyframe_wanted[2] = True
    publisher.frame()
    (first,) = late.rtp.packets
    assert parse_vp8_untrusted(first.payload).keyframe


def test_loss_on_the_publisher_leg_is_nacked_upstream() -> None:
    publisher, _up, _subscribers = setup(warm_up=5)
    lost = publisher.seq[1]
    publisher.drop.add((1, lost))
    publisher.frames(2)
    publisher.receiver.handle_timer(publisher.now)
    nacks = [p for p in publisher.log.packets if isinstance(p, GenericNack)]
    assert nacks == [GenericNack(SFU_RTCP_SSRC, LAYER_SSRCS[1], (lost,))]


def test_twcc_feedback_goes_to_the_publisher() -> None:
    publisher, _up, _subscribers = setup(warm_up=4)
    publisher.receiver.handle_timer(publisher.now)
    feedback = [p for p in publisher.log.packets if isinstance(p, TransportCcFeedback)]
    assert len(feedback) == 1
    assert feedback[0].sender_ssrc == SFU_RTCP_SSRC
    assert feedback[0].base_sequence == 0
    # 3 packets per frame at the same instant, frames 1/30 s apart (133 or 134 ticks)
    deltas = feedback[0].receive_deltas
    assert len(deltas) == 12 and deltas[1:3] == (0, 0) and deltas[3] in (133, 134)


def test_rtx_from_the_publisher_repairs_a_subscribers_hole() -> None:
    publisher, up, subscribers = setup()
    lost = publisher.seq[2]
    publisher.drop.add((2, lost))
    lost_ts, lost_picture = publisher.ts[2], publisher.picture[2]
    publisher.frames(2)
    sub = subscribers[2]
    assert sub.rtp.seqs[-1] == sub.rtp.seqs[-2] + 2  # the subscriber sees the hole
    original = rtp(lost, ssrc=LAYER_SSRCS[2], ts=lost_ts, picture_id=lost_picture, marker=True)
    header = RtpHeader.parse_untrusted(original)
    rtx = rtp(
        1,
        ssrc=0xB2,
        pt=97,
        ts=lost_ts,
        marker=True,
        payload=lost.to_bytes(2, "big") + original[header.header_length :],
        extensions={4: encode_sdes("0"), 11: encode_sdes("f")},
    )
    publisher.receiver.on_rtp(rtx, publisher.now)
    assert up.rtx_ssrcs[2] == 0xB2
    before, after, repaired = sub.rtp.packets[-3:]
    assert repaired.sequence_number == after.sequence_number - 1  # fills the hole in place
    assert repaired.timestamp == after.timestamp - 3000
    assert repaired.payload[6:] == header.payload[6:]
    first, middle, last = (
        parse_vp8_untrusted(p.payload).picture_id for p in (before, repaired, after)
    )
    assert first is not None and (middle, last) == (first + 1, first + 2)
