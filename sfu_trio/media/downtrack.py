"""One subscriber's copy of a published track: layer choice, rewriting, repair, reports.

`DownTrack.write` is called for every packet of every layer of the up-track. The
`LayerSelector` says whether the packet belongs to the forwarded layer; a switch (and the
start) happens only at a keyframe of the target layer, and until then a keyframe is asked
for. Forwarded packets are copied once, renumbered by the `SequenceRewriter` (continuous
seq/timestamp across switches), given the subscriber's SSRC, payload type, extension ids,
transport-wide sequence number and (VP8) continuous picture ids, then sent.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sfu_trio.media.seqmap import PictureIdRewriter, SequenceRewriter
from sfu_trio.media.simulcast import DROP, FORWARD, SKIP, SWITCH, LayerSelector
from sfu_trio.media.twcc import TransportCcSender
from sfu_trio.media.uptrack import UpTrack
from sfu_trio.webrtc.codecs import CodecParseError, VideoFrameInfo, rewrite_vp8_picture_id
from sfu_trio.webrtc.rtcp import (
    ReportBlock,
    SenderReport,
    ntp_from_unix,
    ntp_to_compact,
    rtt_from_report_block,
)
from sfu_trio.webrtc.rtp import (
    RtpHeader,
    RtpParseError,
    remap_extension_ids,
    rewrite_header,
    set_extension_value,
)
from sfu_trio.webrtc.rtp_extensions import TWCC_URI

RESELECT_INTERVAL = 0.5  # seconds between layer re-evaluations while forwarding
_SEQ = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class DownTrackStatistics:
    """Counters and feedback figures of one `DownTrack`."""

    track_id: str
    ssrc: int
    packets_sent: int
    packets_malformed: int
    bytes_sent: int
    retransmissions_sent: int
    nacks_unrecoverable: int
    keyframe_requests: int
    layer_switches: int
    current_layer: int | None
    target_layer: int | None
    rtt: float | None
    fraction_lost: float
    packets_lost: int
    jitter: int


class DownTrack:
    """Forwards one up-track to one subscriber; ``send_rtp`` protects and sends a packet.

    ``extension_ids`` are the subscriber's header extension ids by URI; ``transport_cc``
    is the subscriber connection's transport-wide numbering (None when not negotiated).
    """

    __slots__ = (
        "_budget",
        "_clock_rate",
        "_extensions",
        "_forwarding",
        "_max_layer",
        "_next_select",
        "_pictures",
        "_retransmit_ids",
        "_rtx_seq",
        "_selector",
        "_send_rtp",
        "_seq",
        "_transport_cc",
        "_twcc_id",
        "bytes_sent",
        "fraction_lost",
        "jitter",
        "keyframe_requests",
        "kind",
        "layer_switches",
        "muted",
        "nacks_unrecoverable",
        "packets_lost",
        "packets_malformed",
        "packets_sent",
        "paused",
        "payload_type",
        "retransmissions_sent",
        "rtt",
        "rtx_payload_type",
        "rtx_ssrc",
        "ssrc",
        "transport_ready",
        "up",
    )

    def __init__(
        self,
        up: UpTrack,
        *,
        ssrc: int,
        payload_type: int,
        send_rtp: Callable[[bytearray], None],
        extension_ids: Mapping[str, int],
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        transport_cc: TransportCcSender | None = None,
        initial_rtx_seq: int = 0,
    ) -> None:
        info = up.info
        self.up = up
        self.kind = info.kind
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.rtx_ssrc = rtx_ssrc if rtx_payload_type is not None else None
        self.rtx_payload_type = rtx_payload_type if rtx_ssrc is not None else None
        self._send_rtp = send_rtp
        self._clock_rate = info.clock_rate
        self._extensions = up.extension_rewrites.for_subscriber(extension_ids)
        self._retransmit_ids = self._extensions.id_map
        self._twcc_id = extension_ids.get(TWCC_URI, 0) if transport_cc is not None else 0
        self._transport_cc = transport_cc
        self._seq = SequenceRewriter(info.clock_rate)
        video = info.kind == "video" and up.payload_parser is not None
        # Without a payload parser no keyframe can be seen: forward layer 0 as it comes.
        self._selector = LayerSelector(up.layer_count) if video else None
        self._max_layer: int | None = None
        # Picture ids only jump at a switch between simulcast layers (or at a resume, which
        # starts with a keyframe that a decoder takes with any picture id).
        vp8 = info.mime_type.lower() == "video/vp8" and up.layer_count > 1
        self._pictures = PictureIdRewriter() if vp8 else None
        self._rtx_seq = initial_rtx_seq & 0xFFFF
        self._budget = math.inf
        self._next_select = -math.inf
        self.paused = False
        self.transport_ready = True
        self.muted = False
        self._forwarding = True
        self.packets_sent = 0
        self.packets_malformed = 0
        self.bytes_sent = 0
        self.retransmissions_sent = 0
        self.nacks_unrecoverable = 0
        self.keyframe_requests = 0
        self.layer_switches = 0
        self.rtt: float | None = None
        self.fraction_lost = 0.0
        self.packets_lost = 0
        self.jitter = 0

    # -- forwarding (the hot path) ---------------------------------------------------------

    def write(
        self,
        packet: bytes,
        header: RtpHeader,
        layer: int,
        frame: VideoFrameInfo | None,
        now: float,
    ) -> None:
        """Forward (or drop) one packet of the up-track's `layer`."""
        if not self._forwarding:
            return
        seq = header.sequence_number
        selector = self._selector
        if selector is None:
            if layer:
                return
        else:
            reselected = now >= self._next_select
            if reselected:
                self._reselect(now, request_keyframe=False)
            if frame is None:
                if layer != selector.current:
                    return
                action = FORWARD
            else:
                action = selector.route(
                    layer, frame.keyframe, frame.frame_start, frame.temporal_id, frame.layer_sync
                )
                if reselected and action != SWITCH and selector.needs_keyframe:
                    self._request_keyframe(now)
                if action == DROP:
                    return
                if action == SKIP:
                    self._seq.skip(seq)
                    return
                if action == SWITCH:
                    self._switch(layer)
        if not header.payload_length:  # padding only (bandwidth probing): not forwarded
            self._seq.skip(seq)
            return
        extensions = self._extensions
        try:
            buf = extensions.copy(packet, header)
        except RtpParseError:  # a malformed extension block: not forwarded
            self.packets_malformed += 1
            self._seq.skip(seq)
            return
        mapped = self._seq.map(seq, header.timestamp, now)
        if mapped is None:
            return
        rewrite_header(buf, self.payload_type, mapped[0], mapped[1], self.ssrc)
        pictures = self._pictures
        if pictures is not None and frame is not None and frame.picture_id is not None:
            pid, tl0 = pictures.map(frame.picture_id, frame.tl0picidx)
            if pid != frame.picture_id or tl0 != frame.tl0picidx:
                # The up-track parsed this descriptor already: it is well formed.
                rewrite_vp8_picture_id(buf, header.header_length, pid, tl0)
        twcc = self._transport_cc
        if twcc is not None:
            offset = extensions.twcc_offset
            if offset >= 0:
                _SEQ.pack_into(buf, offset, twcc.next_sequence(len(buf), now))
        self.packets_sent += 1
        self.bytes_sent += len(buf)
        self._send_rtp(buf)

    def _send(self, buf: bytearray, header: RtpHeader, now: float) -> None:
        twcc = self._transport_cc
        if twcc is not None and self._twcc_id:
            number = twcc.next_sequence(len(buf), now)
            set_extension_value(buf, header, self._twcc_id, _SEQ.pack(number))
        self.packets_sent += 1
        self.bytes_sent += len(buf)
        self._send_rtp(buf)

    def _switch(self, layer: int) -> None:
        self._seq.switch_source(layer)
        if self._pictures is not None:
            self._pictures.switch_source()
        self.layer_switches += 1

    # -- layers ----------------------------------------------------------------------------

    def _reselect(self, now: float, request_keyframe: bool = True) -> None:
        """Re-evaluate the target layer; ask for a keyframe of it if it is not forwarded."""
        selector = self._selector
        self._next_select = now + RESELECT_INTERVAL
        if selector is None:
            return
        up = self.up
        alive = [up.layer_active(i, now) for i in range(up.layer_count)]
        if selector.update(now, self._budget, up.layer_bitrates(now), alive) is None:
            self._next_select = -math.inf  # no live layer yet: look again at the next packet
        elif request_keyframe and selector.needs_keyframe:
            self._request_keyframe(now)

    def _request_keyframe(self, now: float) -> None:
        # While not forwarding, a keyframe would be dropped here and its PLI would only hold
        # back (by the publisher's throttle) the one that matters, sent when forwarding starts.
        target = None if self._selector is None else self._selector.target
        if target is not None and self._forwarding:
            self.keyframe_requests += 1
            self.up.request_keyframe(target, now, "layer start or switch")

    @property
    def current_layer(self) -> int | None:
        return None if self._selector is None else self._selector.current

    @property
    def target_layer(self) -> int | None:
        return None if self._selector is None else self._selector.target

    def layer_bitrates(self, now: float) -> Sequence[int]:
        return self.up.layer_bitrates(now)

    def set_budget(self, bps: float, now: float) -> None:
        """The share of the subscriber's bandwidth this track may use."""
        self._budget = bps
        self._reselect(now)

    def set_max_layer(self, layer: int | None, now: float) -> None:
        """The client's ceiling (``layer-switch``); None lifts it."""
        self._max_layer = layer
        if self._selector is not None:
            self._selector.set_max_layer(layer)
            self._reselect(now)

    def set_max_rid(self, rid: str, now: float) -> None:
        """`set_max_layer` by rid; an unknown rid is a ValueError."""
        rids = self.up.info.rids
        if rid not in rids:
            raise ValueError(f"track {self.up.info.track_id} has no layer {rid!r}")
        self.set_max_layer(rids.index(rid), now)

    @property
    def wants_media(self) -> bool:
        return self._forwarding

    def set_paused(self, paused: bool, now: float) -> None:
        """Stop or resume forwarding (subscription control, or no bandwidth for it)."""
        self.paused = paused
        self._update_forwarding(now)

    def set_transport_ready(self, ready: bool, now: float) -> None:
        """Whether the subscriber's transport can carry media yet (ICE and DTLS done).

        A keyframe sent before that is lost: forwarding starts when the transport is ready,
        at a keyframe asked for then.
        """
        self.transport_ready = ready
        self._update_forwarding(now)

    def set_muted(self, muted: bool, now: float) -> None:
        """The subscriber does not want this track's media for now."""
        self.muted = muted
        self._update_forwarding(now)

    def _update_forwarding(self, now: float) -> None:
        forwarding = self.transport_ready and not (self.paused or self.muted)
        if forwarding and not self._forwarding:
            # Resume at a keyframe, continuing the numbering after what was sent.
            if self._selector is not None:
                self._selector = LayerSelector(self.up.layer_count)
                if self._max_layer is not None:
                    self._selector.set_max_layer(self._max_layer)
            self._seq.switch_source(self._seq.source)
            if self._pictures is not None:
                self._pictures.switch_source()
            self._forwarding = True
            self._reselect(now)
        self._forwarding = forwarding

    # -- feedback from the subscriber ------------------------------------------------------

    def on_keyframe_request(self, now: float) -> None:
        """The subscriber sent PLI/FIR for this track."""
        selector = self._selector
        if selector is None:
            return
        layer = selector.current if selector.current is not None else selector.target
        if layer is not None:
            self.keyframe_requests += 1
            self.up.request_keyframe(layer, now, "subscriber PLI/FIR")

    def on_nack(self, lost: Iterable[int], now: float) -> None:
        """Resend the packets the subscriber lost, from the up-track's cache."""
        seqmap = self._seq
        layer = seqmap.source
        for out_seq in lost:
            src_seq = seqmap.to_source(out_seq)
            packet = None
            if src_seq is not None and 0 <= layer < self.up.layer_count:
                packet = self.up.cached_packet(layer, src_seq)
            if packet is None:
                self.nacks_unrecoverable += 1
                continue
            try:
                self._retransmit(packet, out_seq, now)
            except RtpParseError:  # its extension block is malformed: it was never sent
                self.nacks_unrecoverable += 1

    def _retransmit(self, packet: bytes, out_seq: int, now: float) -> None:
        header = RtpHeader.parse_untrusted(packet)
        ts = self._seq.map_timestamp(header.timestamp)
        buf = bytearray(packet)
        remap_extension_ids(buf, header, self._retransmit_ids)
        rewrite_header(buf, self.payload_type, out_seq, ts, self.ssrc)
        if self._pictures is not None:
            self._rewrite_pictures(buf, header)
        if self.rtx_ssrc is not None and self.rtx_payload_type is not None:
            start = header.header_length
            buf[start:start] = _SEQ.pack(out_seq)
            rewrite_header(buf, self.rtx_payload_type, self._rtx_seq, ts, self.rtx_ssrc)
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            header = RtpHeader.parse_untrusted(buf)
        self.retransmissions_sent += 1
        self._send(buf, header, now)

    def _rewrite_pictures(self, buf: bytearray, header: RtpHeader) -> None:
        parser = self.up.payload_parser
        assert self._pictures is not None and parser is not None
        start = header.header_length
        try:
            frame = parser(buf, start, start + header.payload_length)
            if frame.picture_id is not None:
                pid, tl0 = self._pictures.map(frame.picture_id, frame.tl0picidx)
                rewrite_vp8_picture_id(buf, start, pid, tl0)
        except CodecParseError:
            pass

    def on_report_block(self, block: ReportBlock, wall_time: float) -> float | None:
        """A receiver report about this track; returns the round-trip time when known."""
        self.fraction_lost = block.fraction_lost / 256.0
        self.packets_lost = block.cumulative_lost
        self.jitter = block.jitter
        rtt = rtt_from_report_block(ntp_to_compact(ntp_from_unix(wall_time)), block.lsr, block.dlsr)
        if rtt is not None:
            self.rtt = rtt
        return rtt

    def sender_report(self, now: float, wall_time: float) -> SenderReport | None:
        """An SR for this track, or None before anything was sent."""
        seqmap = self._seq
        if not seqmap.started:
            return None
        elapsed = round((now - seqmap.last_time) * self._clock_rate)
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_from_unix(wall_time),
            rtp_timestamp=(seqmap.last_timestamp + elapsed) & 0xFFFFFFFF,
            packet_count=self.packets_sent & 0xFFFFFFFF,
            octet_count=self.bytes_sent & 0xFFFFFFFF,
        )

    def close(self) -> None:
        """Stop receiving packets from the up-track."""
        self.up.remove_down_track(self)
        self.up.extension_rewrites.release(self._extensions)

    def statistics(self) -> DownTrackStatistics:
        return DownTrackStatistics(
            track_id=self.up.info.track_id,
            ssrc=self.ssrc,
            packets_sent=self.packets_sent,
            packets_malformed=self.packets_malformed,
            bytes_sent=self.bytes_sent,
            retransmissions_sent=self.retransmissions_sent,
            nacks_unrecoverable=self.nacks_unrecoverable,
            keyframe_requests=self.keyframe_requests,
            layer_switches=self.layer_switches,
            current_layer=self.current_layer,
            target_layer=self.target_layer,
            rtt=self.rtt,
            fraction_lost=self.fraction_lost,
            packets_lost=self.packets_lost,
            jitter=self.jitter,
        )
