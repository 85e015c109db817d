"""The sending side of one subscribing participant's connection: its feedback and its budget.

RTCP from the subscriber is dispatched by SSRC: PLI/FIR, NACK and report blocks to the
down-track that owns the SSRC, REMB and transport-wide CC feedback to the connection's
`BandwidthEstimator`. The estimate (capped by the subscriber's own bandwidth limit) is then
split among the subscriber's video down-tracks, one simulcast layer step at a time, lowest
layers first, so that every video gets its lowest layer before any gets a higher one.
Sender reports for every down-track are sent about once a second.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sfu_trio.media.bwe import BandwidthEstimator
from sfu_trio.media.downtrack import DownTrack
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.rtcp import (
    FullIntraRequest,
    GenericNack,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    TransportCcFeedback,
    parse_compound_untrusted,
)

AUDIO_RESERVE_BPS = 64_000  # kept out of the video budget for each audio down-track
MAX_RTCP_DATAGRAM = 1200


@dataclass(frozen=True, slots=True)
class SubscriberFeedbackStatistics:
    """Counters of one `SubscriberFeedback`."""

    estimate_bps: int
    bandwidth_limit_bps: int | None
    down_tracks: int
    rtcp_received: int
    rtcp_malformed: int
    feedback_unknown_ssrc: int
    keyframe_requests: int
    nacks: int
    sender_reports_sent: int


class SubscriberFeedback:
    """Handles a subscriber's RTCP and shares its bandwidth among its video down-tracks.

    ``transport_cc`` numbers the packets of every down-track of this connection when the
    subscriber negotiated transport-cc (give it to each `DownTrack`); ``send_rtcp`` sends a
    serialized RTCP datagram to the subscriber. ``wall_clock_offset`` turns the monotonic
    ``now`` into Unix time for the NTP timestamps of sender reports.
    """

    def __init__(
        self,
        *,
        estimator: BandwidthEstimator,
        send_rtcp: Callable[[bytes], None],
        transport_cc: TransportCcSender | None = None,
        wall_clock_offset: float = 0.0,
        report_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.estimator = estimator
        self.transport_cc = transport_cc
        self._send_rtcp = send_rtcp
        self._wall_clock_offset = wall_clock_offset
        self._report_interval = report_interval
        self._rng = rng or random.Random()
        self._next_report: float | None = None
        self._by_ssrc: dict[int, DownTrack] = {}
        self._down_tracks: list[DownTrack] = []
        self._fir_seen: dict[int, int] = {}  # media ssrc -> last FIR command sequence number
        self.bandwidth_limit: int | None = None
        self.rtcp_received = 0
        self.rtcp_malformed = 0
        self.feedback_unknown_ssrc = 0
        self.keyframe_requests = 0
        self.nacks = 0
        self.sender_reports_sent = 0

    # -- down-tracks ---------------------------------------------------------------------

    @property
    def down_tracks(self) -> Sequence[DownTrack]:
        return self._down_tracks

    def add_down_track(self, down: DownTrack, now: float) -> None:
        """Dispatch feedback about ``down.ssrc`` to it and give it a share of the budget."""
        if down.ssrc in self._by_ssrc:
            raise ValueError(f"SSRC {down.ssrc} is already sent to this subscriber")
        self._by_ssrc[down.ssrc] = down
        self._down_tracks.append(down)
        self.allocate(now)

    def remove_down_track(self, down: DownTrack, now: float) -> None:
        if self._by_ssrc.get(down.ssrc) is down:
            del self._by_ssrc[down.ssrc]
            self._down_tracks.remove(down)
            self._fir_seen.pop(down.ssrc, None)
            self.allocate(now)

    # -- RTCP from the subscriber ------------------------------------------------------------

    def on_rtcp(self, data: bytes, now: float) -> None:
        """One unprotected RTCP datagram from the subscriber (parsed here)."""
        try:
            packets = parse_compound_untrusted(data)
        except ParseError:
            self.rtcp_malformed += 1
            return
        self.on_rtcp_packets(packets, now)

    def on_rtcp_packets(self, packets: Sequence[RtcpPacket], now: float) -> None:
        """Parsed RTCP from the subscriber; what is about its own sends is ignored here."""
        self.rtcp_received += 1
        estimate_changed = False
        by_ssrc = self._by_ssrc
        for packet in packets:
            if isinstance(packet, (ReceiverReport, SenderReport)):
                for block in packet.reports:
                    estimate_changed |= self._on_report_block(block, now)
            elif isinstance(packet, GenericNack):
                down = by_ssrc.get(packet.media_ssrc)
                if down is None:
                    self.feedback_unknown_ssrc += 1
                else:
                    self.nacks += 1
                    down.on_nack(packet.lost, now)
            elif isinstance(packet, PictureLossIndication):
                self._keyframe_request(packet.media_ssrc, now)
            elif isinstance(packet, FullIntraRequest):
                for ssrc, command_seq in packet.entries:
                    if self._fir_seen.get(ssrc) != command_seq:  # a repeat is the same request
                        self._fir_seen[ssrc] = command_seq
                        self._keyframe_request(ssrc, now)
            elif isinstance(packet, TransportCcFeedback):
                if self.transport_cc is not None:
                    results = self.transport_cc.on_feedback(packet, now)
                    if results:
                        self.estimator.on_packet_results(results, now)
                        estimate_changed = True
            elif isinstance(packet, ReceiverEstimatedMaxBitrate):
                self.estimator.on_remb(packet.bitrate, now)
                estimate_changed = True
        if estimate_changed:
            self.allocate(now)

    def _keyframe_request(self, ssrc: int, now: float) -> None:
        down = self._by_ssrc.get(ssrc)
        if down is None:
            self.feedback_unknown_ssrc += 1
            return
        self.keyframe_requests += 1
        down.on_keyframe_request(now)

    def _on_report_block(self, block: ReportBlock, now: float) -> bool:
        down = self._by_ssrc.get(block.ssrc)
        if down is None:
            return False
        rtt = down.on_report_block(block, now + self._wall_clock_offset)
        if rtt is not None:
            self.estimator.on_rtt(rtt, now)
        self.estimator.on_loss_report(block.fraction_lost / 256.0, now)
        return True

    # -- bandwidth -------------------------------------------------------------------------

    @property
    def estimate(self) -> int:
        """The bandwidth available for this subscriber (estimate capped by its limit)."""
        estimate = self.estimator.estimate
        limit = self.bandwidth_limit
        return estimate if limit is None else min(estimate, limit)

    def set_bandwidth_limit(self, bps: int | None, now: float) -> None:
        """The subscriber's own cap (``set-bandwidth-limit``); None or 0 removes it."""
        self.bandwidth_limit = bps or None
        self.allocate(now)

    def allocate(self, now: float) -> None:
        """Give each video down-track the highest layer the shared budget allows."""
        videos = [d for d in self._down_tracks if d.kind == "video" and d.wants_media]
        audio = sum(1 for d in self._down_tracks if d.kind == "audio" and d.wants_media)
        budget = self.estimate - audio * AUDIO_RESERVE_BPS
        rates = [d.layer_bitrates(now) for d in videos]
        chosen = [0] * len(videos)
        budget -= sum(layer_rates[0] for layer_rates in rates)
        top = max((len(r) for r in rates), default=0)
        for level in range(1, top):
            for i, layer_rates in enumerate(rates):
                if level < len(layer_rates) and chosen[i] == level - 1:
                    cost = layer_rates[level] - layer_rates[level - 1]
                    if cost <= budget:
                        budget -= cost
                        chosen[i] = level
        share = max(budget, 0) / len(videos) if videos else 0
        for down, layer, layer_rates in zip(videos, chosen, rates, strict=True):
            down.set_budget(layer_rates[layer] + share, now)

    # -- sender reports ----------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When `handle_timer` next has work: the next round of sender reports."""
        if not self._down_tracks:
            return None
        if self._next_report is None:
            return float("-inf")
        return self._next_report

    def handle_timer(self, now: float) -> None:
        if not self._down_tracks:
            return
        if self._next_report is None:
            self._next_report = now + self._report_interval * self._rng.uniform(0.5, 1.5)
            return
        if now >= self._next_report:
            self._next_report = now + self._report_interval * self._rng.uniform(0.5, 1.5)
            self.send_sender_reports(now)

    def send_sender_reports(self, now: float) -> None:
        """An SR for every down-track that has sent something, in datagrams of <= 1200 bytes."""
        wall = now + self._wall_clock_offset
        chunk: list[bytes] = []
        size = 0
        for down in self._down_tracks:
            report = down.sender_report(now, wall)
            if report is None:
                continue
            data = report.serialize()
            if size + len(data) > MAX_RTCP_DATAGRAM and chunk:
                self._send_rtcp(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
            self.sender_reports_sent += 1
        if chunk:
            self._send_rtcp(b"".join(chunk))

    def statistics(self) -> SubscriberFeedbackStatistics:
        return SubscriberFeedbackStatistics(
            estimate_bps=self.estimate,
            bandwidth_limit_bps=self.bandwidth_limit,
            down_tracks=len(self._down_tracks),
            rtcp_received=self.rtcp_received,
            rtcp_malformed=self.rtcp_malformed,
            feedback_unknown_ssrc=self.feedback_unknown_ssrc,
            keyframe_requests=self.keyframe_requests,
            nacks=self.nacks,
            sender_reports_sent=self.sender_reports_sent,
        )
