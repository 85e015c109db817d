"""Media-plane metrics, read from the live forwarding objects at scrape time.

`MediaSampler(registry)` is a snapshot collector (see `Metrics.add_snapshot_collector`): each
call walks every room, participant, transport, up-track and down-track once (O(tracks)) and
returns `sfu_media_*` samples. Counters are sums over live objects, so the sampler remembers
what each object showed at the previous scrape and keeps that once the object is gone: the
totals never go down when a participant leaves (what an object counted after the last scrape
before it went away is lost). `media_samples(registry)` is a one-off read without that memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from .media_views import (
    DownTrackView,
    FeedbackView,
    ReceiverView,
    RegistryView,
    TransportView,
    UpTrackView,
)
from .metrics import SnapshotSample

__all__ = ["MediaSampler", "media_samples"]


T = TypeVar("T")
Counters = tuple[tuple[str, str], ...]  # (name, help) of each value an extractor returns

DOWN_TRACK_COUNTERS: Counters = (
    ("sfu_media_packets_forwarded_total", "RTP packets sent to subscribers"),
    ("sfu_media_bytes_forwarded_total", "RTP bytes sent to subscribers"),
    ("sfu_media_retransmissions_sent_total", "Packets resent to subscribers after a NACK"),
    ("sfu_media_nacks_unrecoverable_total", "NACKed packets no longer in the packet cache"),
    ("sfu_media_keyframe_waits_total", "Keyframes asked for by down-tracks to start or switch"),
)
UP_TRACK_COUNTERS: Counters = (
    ("sfu_media_packets_received_total", "RTP packets received on published tracks"),
    ("sfu_media_bytes_received_total", "RTP bytes received on published tracks"),
    ("sfu_media_rtx_received_total", "RTX packets received from publishers"),
    ("sfu_media_keyframes_received_total", "Keyframes received from publishers"),
    ("sfu_media_plis_sent_total", "Keyframe requests (PLI) sent to publishers"),
    ("sfu_media_nacks_sent_total", "NACKs sent to publishers"),
)
FEEDBACK_COUNTERS: Counters = (
    ("sfu_media_nacks_received_total", "NACKs received from subscribers"),
    ("sfu_media_keyframe_requests_received_total", "PLI/FIR received from subscribers"),
    ("sfu_media_sender_reports_sent_total", "RTCP sender reports sent to subscribers"),
    ("sfu_media_subscriber_rtcp_malformed_total", "Unparseable RTCP from subscribers"),
)
RECEIVER_COUNTERS: Counters = (
    ("sfu_media_packets_unroutable_total", "RTP packets from publishers with no known track"),
    ("sfu_media_packets_malformed_total", "Unparseable RTP packets from publishers"),
    ("sfu_media_receiver_reports_sent_total", "RTCP receiver reports sent to publishers"),
    ("sfu_media_twcc_feedback_sent_total", "Transport-wide CC feedback sent to publishers"),
)
TRANSPORT_COUNTERS: Counters = (
    ("sfu_media_srtp_errors_total", "SRTP/SRTCP packets that failed to unprotect"),
    ("sfu_media_transport_receive_drops_total", "Datagrams dropped before SRTP (no keys...)"),
    ("sfu_media_transport_send_drops_total", "Packets not sent (no pair or full buffer)"),
)
TRANSPORT_FAILURES = "sfu_media_transport_failures_total"


def _down_track_values(down: DownTrackView) -> tuple[int, ...]:
    return (
        down.packets_sent,
        down.bytes_sent,
        down.retransmissions_sent,
        down.nacks_unrecoverable,
        down.keyframe_requests,
    )


def _up_track_values(up: UpTrackView) -> tuple[int, ...]:
    # Not statistics(now): that one samples the layer bitrates as it goes.
    return (
        up.packets_received,
        up.bytes_received,
        up.rtx_received,
        up.keyframes_received,
        up.keyframe_requests_sent,
        up.nacks_sent,
    )


def _feedback_values(feedback: FeedbackView) -> tuple[int, ...]:
    f = feedback
    return (f.nacks, f.keyframe_requests, f.sender_reports_sent, f.rtcp_malformed)


def _receiver_values(receiver: ReceiverView) -> tuple[int, ...]:
    s = receiver.statistics()
    return (
        s.packets_unroutable,
        s.packets_malformed,
        s.receiver_reports_sent,
        s.twcc_feedback_sent,
    )


def _transport_values(peer: TransportView) -> tuple[int, ...]:
    s = peer.statistics()
    return (s.srtp_errors, s.receive_drops, s.send_drops)


class _RetainedSum(Generic[T]):
    """Sums counters over live objects, keeping the last values of objects that went away."""

    def __init__(self, counters: Counters, values: Callable[[T], tuple[int, ...]]) -> None:
        self.counters = counters
        self._values = values
        self._retired = [0] * len(counters)
        self._last: dict[int, tuple[T, tuple[int, ...]]] = {}
        self.departed: list[T] = []  # objects that went away since the previous sum

    def sum(self, live: Iterable[T]) -> list[int]:
        totals = list(self._retired)
        current: dict[int, tuple[T, tuple[int, ...]]] = {}
        for obj in live:
            values = self._values(obj)
            current[id(obj)] = (obj, values)
            for i, value in enumerate(values):
                totals[i] += value
        self.departed = []
        for key, (obj, values) in self._last.items():
            if key not in current:
                self.departed.append(obj)
                for i, value in enumerate(values):
                    self._retired[i] += value
                    totals[i] += value
        self._last = current
        return totals

    def samples(self, live: Iterable[T]) -> Iterator[SnapshotSample]:
        for (name, help), value in zip(self.counters, self.sum(live), strict=True):
            yield SnapshotSample(name, help, "counter", value)


class MediaSampler:
    """The snapshot collector of the media plane; call it at every scrape."""

    def __init__(self, registry: RegistryView) -> None:
        self.registry = registry
        self._down = _RetainedSum(DOWN_TRACK_COUNTERS, _down_track_values)
        self._up = _RetainedSum(UP_TRACK_COUNTERS, _up_track_values)
        self._feedback = _RetainedSum(FEEDBACK_COUNTERS, _feedback_values)
        self._receivers = _RetainedSum(RECEIVER_COUNTERS, _receiver_values)
        self._transports = _RetainedSum(TRANSPORT_COUNTERS, _transport_values)
        self._failures = 0

    def __call__(self) -> list[SnapshotSample]:
        downs: list[DownTrackView] = []
        ups: list[UpTrackView] = []
        feedbacks: list[FeedbackView] = []
        receivers: list[ReceiverView] = []
        transports: list[TransportView] = []
        samples: list[SnapshotSample] = []
        for room in self.registry.rooms.values():
            labels = {"room": room.name}
            samples.append(
                SnapshotSample(
                    "sfu_media_room_participants",
                    "Participants in a room",
                    "gauge",
                    len(room.participants),
                    labels,
                )
            )
            samples.append(
                SnapshotSample(
                    "sfu_media_room_tracks",
                    "Tracks published in a room",
                    "gauge",
                    len(room.tracks),
                    labels,
                )
            )
            for participant in room.participants.values():
                media = participant.media
                if media is None:
                    continue
                downs.extend(down for _key, down in media.sending.values())
                ups.extend(track.up for track in media.published.values())
                if media.feedback is not None:
                    feedbacks.append(media.feedback)
                if media.receiver is not None:
                    receivers.append(media.receiver)
                if media.peer is not None:
                    transports.append(media.peer)
        samples += self._down.samples(downs)
        samples += self._up.samples(ups)
        samples += self._feedback.samples(feedbacks)
        samples += self._receivers.samples(receivers)
        samples += self._transports.samples(transports)
        self._failures += sum(peer.state == "failed" for peer in self._transports.departed)
        samples.append(
            SnapshotSample(
                TRANSPORT_FAILURES,
                "Media transports that failed (ICE consent, DTLS or fingerprint) and went away",
                "counter",
                self._failures,
            )
        )
        samples += _gauges(downs, ups, transports)
        samples += _socket_samples(self.registry)
        return samples


def media_samples(registry: RegistryView) -> list[SnapshotSample]:
    """One read of the media plane (its counters drop when participants leave: prefer
    registering a `MediaSampler`)."""
    return MediaSampler(registry)()


def _gauges(
    downs: list[DownTrackView], ups: list[UpTrackView], transports: list[TransportView]
) -> list[SnapshotSample]:
    samples = [
        SnapshotSample("sfu_media_down_tracks", "Live down-tracks", "gauge", len(downs)),
        SnapshotSample("sfu_media_up_tracks", "Live published up-tracks", "gauge", len(ups)),
    ]
    states: dict[str, int] = dict.fromkeys(("new", "connecting", "connected", "failed"), 0)
    for peer in transports:
        states[peer.state] = states.get(peer.state, 0) + 1
    samples += [
        SnapshotSample(
            "sfu_media_transports", "Live media transports by state", "gauge", n, {"state": s}
        )
        for s, n in states.items()
    ]
    return samples


def _socket_samples(registry: RegistryView) -> list[SnapshotSample]:
    media = registry.media
    if media is None:
        return []
    samples: list[SnapshotSample] = []
    try:
        udp = media.udp.statistics
    except RuntimeError:  # the media transport is not running
        udp = None
    if udp is not None:
        samples += [
            SnapshotSample(
                "sfu_media_udp_datagrams_total",
                "UDP datagrams on the media socket, by direction",
                "counter",
                value,
                {"direction": direction},
            )
            for direction, value in (("in", udp.datagrams_received), ("out", udp.datagrams_sent))
        ]
        samples += [
            SnapshotSample(
                "sfu_media_udp_bytes_total",
                "UDP bytes on the media socket, by direction",
                "counter",
                value,
                {"direction": direction},
            )
            for direction, value in (("in", udp.bytes_received), ("out", udp.bytes_sent))
        ]
        samples += [
            SnapshotSample(
                "sfu_media_udp_drops_total",
                "UDP datagrams dropped: send (socket buffer full) or unknown_source",
                "counter",
                value,
                {"reason": reason},
            )
            for reason, value in (
                ("send", udp.send_drops),
                ("unknown_source", udp.unknown_source_drops),
            )
        ]
    tcp = media.tcp
    if tcp is not None:
        t = tcp.statistics
        samples += [
            SnapshotSample(
                "sfu_media_tcp_connections_total",
                "ICE-TCP connections, by outcome",
                "counter",
                value,
                {"outcome": outcome},
            )
            for outcome, value in (
                ("accepted", t.connections_accepted),
                ("rejected", t.connections_rejected),
            )
        ]
        samples += [
            SnapshotSample(
                "sfu_media_tcp_connections_open",
                "Open ICE-TCP connections",
                "gauge",
                t.connections_open,
            ),
            SnapshotSample(
                "sfu_media_tcp_frames_total",
                "ICE-TCP frames, by direction",
                "counter",
                t.frames_received,
                {"direction": "in"},
            ),
            SnapshotSample(
                "sfu_media_tcp_frames_total",
                "ICE-TCP frames, by direction",
                "counter",
                t.frames_sent,
                {"direction": "out"},
            ),
            SnapshotSample(
                "sfu_media_tcp_send_drops_total",
                "ICE-TCP frames not sent (connection gone or full)",
                "counter",
                t.send_drops,
            ),
        ]
    return samples
