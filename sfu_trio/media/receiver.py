"""The receiving side of one publishing participant's connection: RTP routing and upstream RTCP.

RTP from a BUNDLE transport is routed to its `UpTrack` by SSRC once the SSRC is known. An
unknown SSRC is learned from the packet itself: the ``sdes:mid`` extension names the track,
``rtp-stream-id`` the simulcast layer and ``repaired-rtp-stream-id`` the layer an RTX stream
repairs (Chromium signals no SSRCs for simulcast). For a track without rids the RTX payload
type tells RTX from media. SSRCs announced in the SDP are routed from the start. Packets that
cannot be placed are counted and dropped; a track keeps at most one SSRC per (layer, RTX) slot,
so the routing table cannot grow without bound.

Timers: transport-wide CC feedback (every ~50 ms), receiver reports for every receive stream
(every ~1 s, randomised as RFC 3550 asks) and the up-tracks' NACKs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sfu_trio.media.twcc import TransportCcRecorder
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.negotiated import RemoteSsrc
from sfu_trio.webrtc.rtcp import (
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    parse_compound_untrusted,
)
from sfu_trio.webrtc.rtp import RtpHeader
from sfu_trio.webrtc.rtp_extensions import (
    MID_URI,
    REPAIRED_RID_URI,
    RID_URI,
    TWCC_URI,
    parse_sdes_untrusted,
)

MAX_REPORT_BLOCKS = 31
Route = tuple[UpTrack, int, bool]  # (track, layer index, is RTX)


@dataclass(frozen=True, slots=True)
class PublisherReceiverStatistics:
    """Counters of one `PublisherReceiver`."""

    packets_received: int
    packets_malformed: int
    packets_unroutable: int
    rtcp_received: int
    rtcp_malformed: int
    ssrcs_learned: int
    twcc_feedback_sent: int
    receiver_reports_sent: int


class PublisherReceiver:
    """Routes one publisher connection's RTP to its up-tracks and sends its upstream RTCP.

    ``extension_ids`` are the connection's negotiated header extension ids by URI (BUNDLE
    makes them the same on every m-line). ``send_rtcp`` sends one serialized RTCP datagram
    to the publisher; ``rtcp_ssrc`` is the sender SSRC the SFU uses in it.
    """

    def __init__(
        self,
        *,
        extension_ids: Mapping[str, int],
        send_rtcp: Callable[[bytes], None],
        rtcp_ssrc: int,
        twcc_interval: float = 0.05,
        report_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._mid_id = self._rid_id = self._rrid_id = self._twcc_id = 0
        self.set_extension_ids(extension_ids)
        self._send_rtcp = send_rtcp
        self.rtcp_ssrc = rtcp_ssrc
        self._rng = rng or random.Random()
        self._report_interval = report_interval
        self._next_report: float | None = None
        self._twcc = TransportCcRecorder(interval=twcc_interval)
        self._by_mid: dict[str, UpTrack] = {}
        self._routes: dict[int, Route] = {}
        self._slots: dict[tuple[int, int, bool], int] = {}  # (id(track), layer, rtx) -> ssrc
        self.packets_received = 0
        self.packets_malformed = 0
        self.packets_unroutable = 0
        self.rtcp_received = 0
        self.rtcp_malformed = 0
        self.ssrcs_learned = 0
        self.receiver_reports_sent = 0

    def set_extension_ids(self, extension_ids: Mapping[str, int]) -> None:
        """The connection's header extension ids, from every m-line of the latest answer.

        Audio m-lines carry no ``rtp-stream-id``: the ids must come from all of them.
        """
        self._mid_id = extension_ids.get(MID_URI, self._mid_id)
        self._rid_id = extension_ids.get(RID_URI, self._rid_id)
        self._rrid_id = extension_ids.get(REPAIRED_RID_URI, self._rrid_id)
        self._twcc_id = extension_ids.get(TWCC_URI, self._twcc_id)

    # -- tracks ------------------------------------------------------------------------------

    @property
    def tracks(self) -> Iterable[UpTrack]:
        return self._by_mid.values()

    def track(self, mid: str) -> UpTrack | None:
        return self._by_mid.get(mid)

    def add_track(self, track: UpTrack, ssrcs: Sequence[RemoteSsrc] = ()) -> None:
        """Route ``track.info.mid``; ``ssrcs`` (from the SDP, one per layer, low -> high)
        are routed at once."""
        mid = track.info.mid
        if mid in self._by_mid:
            raise ValueError(f"a track is already published on mid {mid!r}")
        self._by_mid[mid] = track
        for layer, remote in enumerate(ssrcs[: track.layer_count]):
            self._bind(track, layer, False, remote.ssrc)
            if remote.rtx_ssrc is not None:
                self._bind(track, layer, True, remote.rtx_ssrc)

    def remove_track(self, mid: str) -> UpTrack | None:
        """Stop routing the track on ``mid``; returns it (its down-tracks are the caller's)."""
        track = self._by_mid.pop(mid, None)
        if track is not None:
            for ssrc in [s for s, route in self._routes.items() if route[0] is track]:
                del self._routes[ssrc]
            key = id(track)
            for slot in [s for s in self._slots if s[0] == key]:
                del self._slots[slot]
        return track

    def route_of(self, ssrc: int) -> Route | None:
        return self._routes.get(ssrc)

    # -- RTP (the hot path) ----------------------------------------------------------------

    def on_rtp(self, packet: bytes, now: float) -> None:
        """One unprotected RTP packet from the publisher."""
        self.packets_received += 1
        try:
            header = RtpHeader.parse_untrusted(packet)
            twcc_id = self._twcc_id
            if twcc_id:
                value = header.extension(twcc_id)
                if value is not None and len(value) == 2:
                    self._twcc.on_packet(value[0] << 8 | value[1], now)
            route = self._routes.get(header.ssrc)
            if route is None:
                route = self._learn(header)
                if route is None:
                    self.packets_unroutable += 1
                    return
            track, layer, is_rtx = route
            if is_rtx:
                track.on_rtx(packet, header, layer, now)
            else:
                track.on_rtp(packet, header, layer, now)
        except ParseError:
            self.packets_malformed += 1

    def _learn(self, header: RtpHeader) -> Route | None:
        """Place a packet of an unknown SSRC by its mid/rid extensions (raises ParseError)."""
        if not self._mid_id:
            return None
        raw = header.extension(self._mid_id)
        if raw is None:
            return None
        track = self._by_mid.get(parse_sdes_untrusted(raw))
        if track is None:
            return None
        rids = track.info.rids
        if rids:
            is_rtx = False
            raw = header.extension(self._rid_id) if self._rid_id else None
            if raw is None and self._rrid_id:
                raw = header.extension(self._rrid_id)
                is_rtx = True
            if raw is None:
                return None
            rid = parse_sdes_untrusted(raw)
            if rid not in rids:
                return None
            layer = rids.index(rid)
        else:
            layer = 0
            rtx_pt = track.info.rtx_payload_type
            is_rtx = rtx_pt is not None and header.payload_type == rtx_pt
        self.ssrcs_learned += 1
        return self._bind(track, layer, is_rtx, header.ssrc)

    def _bind(self, track: UpTrack, layer: int, is_rtx: bool, ssrc: int) -> Route:
        slot = (id(track), layer, is_rtx)
        old = self._slots.get(slot)
        if old is not None and old != ssrc:
            self._routes.pop(old, None)
        previous = self._routes.get(ssrc)
        if previous is not None and previous[0] is not track:  # SSRC moved to another mid
            self._slots.pop((id(previous[0]), previous[1], previous[2]), None)
        self._slots[slot] = ssrc
        route = (track, layer, is_rtx)
        self._routes[ssrc] = route
        track.bind_ssrc(layer, ssrc, is_rtx)
        return route

    # -- RTCP from the publisher -----------------------------------------------------------

    def on_rtcp(self, data: bytes, now: float) -> None:
        """One unprotected RTCP datagram from this participant (parsed here)."""
        try:
            packets = parse_compound_untrusted(data)
        except ParseError:
            self.rtcp_malformed += 1
            return
        self.on_rtcp_packets(packets, now)

    def on_rtcp_packets(self, packets: Sequence[RtcpPacket], now: float) -> None:
        """Parsed RTCP from this participant: sender reports feed the receive statistics.

        Everything else is about what the SFU sends and belongs to `SubscriberFeedback`.
        """
        self.rtcp_received += 1
        for packet in packets:
            if isinstance(packet, SenderReport):
                route = self._routes.get(packet.ssrc)
                if route is not None and not route[2]:
                    route[0].on_sender_report(route[1], packet, now)

    # -- timers ----------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When `handle_timer` next has work, or None while nothing is published."""
        if not self._by_mid:
            return None
        due = self._twcc.get_timer()
        report = self._next_report
        if report is None:
            if self._routes:
                return float("-inf")  # schedule the first receiver report now
        elif due is None or report < due:
            due = report
        for track in self._by_mid.values():
            at = track.get_timer()
            if at is not None and (due is None or at < due):
                due = at
        return due

    def handle_timer(self, now: float) -> None:
        """Send the RTCP that is due: TWCC feedback, receiver reports, NACKs."""
        media_ssrc = next(iter(self._routes), 0)
        while (feedback := self._twcc.build_feedback(now, self.rtcp_ssrc, media_ssrc)) is not None:
            self._send_rtcp(feedback.serialize())
        if self._next_report is None:
            if self._routes:
                self._next_report = now + self._jittered_interval()
        elif now >= self._next_report:
            self._next_report = now + self._jittered_interval()
            self.send_receiver_reports(now)
        for track in self._by_mid.values():
            track.handle_timer(now)

    def send_receiver_reports(self, now: float) -> None:
        """Send RR blocks for every receive stream now (at most 31 per RR packet)."""
        blocks = [block for track in self._by_mid.values() for block in track.report_blocks(now)]
        if not blocks:
            return
        data = b"".join(
            ReceiverReport(self.rtcp_ssrc, tuple(blocks[i : i + MAX_REPORT_BLOCKS])).serialize()
            for i in range(0, len(blocks), MAX_REPORT_BLOCKS)
        )
        self.receiver_reports_sent += 1
        self._send_rtcp(data)

    def _jittered_interval(self) -> float:
        return self._report_interval * self._rng.uniform(0.5, 1.5)

    def statistics(self) -> PublisherReceiverStatistics:
        return PublisherReceiverStatistics(
            packets_received=self.packets_received,
            packets_malformed=self.packets_malformed,
            packets_unroutable=self.packets_unroutable,
            rtcp_received=self.rtcp_received,
            rtcp_malformed=self.rtcp_malformed,
            ssrcs_learned=self.ssrcs_learned,
            twcc_feedback_sent=self._twcc.feedback_sent,
            receiver_reports_sent=self.receiver_reports_sent,
        )
