"""A room task: who is the dominant speaker, and how good is each participant's connection.

Every ``config.speaker_detection_interval_ms`` the monitor samples each participant's
microphone up-tracks (the audio level of the latest packet, if one came since the previous
sample) into a `DominantSpeakerDetector` and broadcasts ``dominant-speaker`` on a change.
Every `QUALITY_INTERVAL` seconds it gathers each participant's windowed stream figures into a
`QualityReporter`: each participant gets its own ``quality-stats``, and the others get a
participant's only when its level changes from what they last heard (`excellent` until then);
a newcomer reads the current levels in its ``room-state``. A room without tracks wakes once per
report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import trio

from ..media.downtrack import DownTrack
from ..media.quality_report import (
    ConnectionFigures,
    QualityReporter,
    QualityRound,
    StreamFigures,
    subscriber_loss,
)
from ..media.speaker import DominantSpeakerDetector, SpeakerChange
from ..media.uptrack import UpTrack

if TYPE_CHECKING:
    from .participant import Participant
    from .room import Room

QUALITY_INTERVAL = 3.0  # seconds between quality reports


class RoomMonitor:
    """Speaker detection and quality reports of one room; `run` lives in the room's nursery."""

    def __init__(
        self,
        room: Room,
        *,
        detector: DominantSpeakerDetector | None = None,
        reporter: QualityReporter | None = None,
        quality_interval: float = QUALITY_INTERVAL,
    ) -> None:
        self.room = room
        self.detector = detector or DominantSpeakerDetector()
        self.reporter = reporter or QualityReporter()
        self.speaker_interval = room.config.speaker_detection_interval_ms / 1000.0
        self.quality_interval = quality_interval
        self._packets_seen: dict[UpTrack, int] = {}

    async def run(self) -> None:
        now = trio.current_time()
        next_speaker = now + self.speaker_interval
        next_quality = now + self.quality_interval
        while True:
            await trio.sleep_until(min(next_speaker, next_quality))
            now = trio.current_time()
            if now >= next_speaker:
                self.detect_speaker(now)
                next_speaker = max(next_speaker + self.speaker_interval, now)
                if not self.room.tracks and self.detector.dominant is None:
                    next_speaker = max(next_speaker, next_quality)  # idle: wake every report
            if now >= next_quality:
                self.report_quality(now)
                next_quality = max(next_quality + self.quality_interval, now)

    # -- dominant speaker -----------------------------------------------------------------

    def detect_speaker(self, now: float) -> SpeakerChange | None:
        """Sample the microphones; broadcast and return a change of dominant speaker."""
        levels: dict[str, int | None] = {}
        seen: dict[UpTrack, int] = {}
        for track in self.room.tracks.values():
            if track.kind != "audio" or track.source == "screen" or track.publisher.removed:
                continue
            up = track.up
            count = up.packets_received
            seen[up] = count
            peer_id = track.publisher.peer_id
            level = levels.get(peer_id)
            if count != self._packets_seen.get(up, 0) and not track.muted:
                level = up.audio_level if level is None else min(level, up.audio_level)
            levels[peer_id] = level
        self._packets_seen = seen
        change = self.detector.update(levels, now)
        if change is not None:
            self.room.broadcast(
                "dominant-speaker", {"oldPeerId": change.old, "newPeerId": change.new}
            )
        return change

    # -- quality --------------------------------------------------------------------------

    def report_quality(self, now: float) -> QualityRound:
        """Send each participant its own figures, and everyone the level changes."""
        room = self.room
        published: dict[str, list[UpTrack]] = {}
        for track in room.tracks.values():
            published.setdefault(track.publisher.peer_id, []).append(track.up)
        upstream: dict[UpTrack, list[float | None]] = {}
        publisher_legs: dict[str, list[StreamFigures]] = {}
        for peer_id, ups in published.items():
            leg = publisher_legs[peer_id] = []
            for up in ups:
                layers = publisher_streams(up, now)
                upstream[up] = [None if s is None else s.loss_ratio for s in layers]
                leg.extend(s for s in layers if s is not None)
        figures: dict[str, ConnectionFigures] = {}
        for peer_id, participant in room.participants.items():
            downs = _down_tracks(participant)
            figure = ConnectionFigures.of_legs(
                publisher_legs.get(peer_id, ()), subscriber_streams(downs, upstream)
            )
            if figure is not None:
                figures[peer_id] = figure
        result = self.reporter.update(figures, now)
        participants = room.participants
        for quality in result.current:
            participants[quality.peer_id].send("quality-stats", quality.message())
        for quality in result.changed:
            room.broadcast(
                "quality-stats", quality.message(), exclude=participants[quality.peer_id]
            )
        return result


def publisher_streams(up: UpTrack, now: float) -> list[StreamFigures | None]:
    """The windowed loss and jitter of each layer of ``up`` (None: nothing received yet)."""
    return [
        StreamFigures(stats.window_loss_ratio(now), stats.window_jitter_ms(now) / 1000.0)
        if stats is not None and stats.packets_received
        else None
        for stats in up.receive_statistics
    ]


def subscriber_streams(
    downs: Iterable[DownTrack], upstream: Mapping[UpTrack, Sequence[float | None]]
) -> list[StreamFigures]:
    """The latest receiver-report figures of each down-track that has sent something.

    The loss the publisher leg caused on the forwarded layer is taken off the reported loss.
    """
    streams = []
    for down in downs:
        if not down.packets_sent:
            continue
        losses = [loss for loss in upstream.get(down.up, ()) if loss is not None]
        layer = down.current_layer if down.current_layer is not None else 0
        layer_losses = upstream.get(down.up, ())
        upstream_loss = layer_losses[layer] if layer < len(layer_losses) else None
        if upstream_loss is None:
            upstream_loss = sum(losses) / len(losses) if losses else 0.0
        streams.append(
            StreamFigures(
                subscriber_loss(down.fraction_lost, upstream_loss),
                down.jitter / down.up.info.clock_rate,
                down.rtt,
            )
        )
    return streams


def _down_tracks(participant: Participant) -> list[DownTrack]:
    media = participant.media
    if media is None:
        return []
    return [down for _key, down in media.sending.values()]
