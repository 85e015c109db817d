"""Per-participant connection quality from windowed stream figures, and who should hear of it.

A participant's connection has two legs: the publisher leg (its up-tracks, measured by the
SFU's receive statistics over the last few seconds) and the subscriber leg (its down-tracks,
from the fraction lost, jitter and RTT of its latest receiver reports). Each leg's loss and
jitter is the mean over its streams; the participant's figures are the worse of the two legs,
and its RTT the largest known. A subscriber reports the loss of the publisher's leg as well
(the SFU keeps the sequence gaps), so that share is taken off a down-track's loss.

The seed rule (O(N) messages, not O(N^2)): each participant is sent its own figures every
report; the others are sent a participant's figures only when its level changes (the level
must hold for ``hold`` seconds, see `QualityTracker`). Until the others hear otherwise a
participant is `excellent` (`DEFAULT_LEVEL`), so a first level of `excellent` is no change: a
room of 100 that starts at once sends no 9,900-message burst. Someone who joins later reads the
levels the room has heard (`QualityReporter.level_of`) in its ``room-state``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sfu_trio.media.quality import QualityLevel, QualityTracker

DEFAULT_LEVEL = QualityLevel.EXCELLENT  # what the others assume until told otherwise


@dataclass(frozen=True, slots=True)
class StreamFigures:
    """Windowed figures of one stream: loss ratio 0..1, jitter and RTT in seconds."""

    loss_ratio: float
    jitter: float
    rtt: float | None = None


@dataclass(frozen=True, slots=True)
class ConnectionFigures:
    """One participant's figures: loss ratio 0..1, jitter and RTT (None: unknown) in seconds."""

    loss_ratio: float
    jitter: float
    rtt: float | None

    @classmethod
    def of_legs(
        cls, publisher: Iterable[StreamFigures], subscriber: Iterable[StreamFigures]
    ) -> ConnectionFigures | None:
        """The worse leg's mean figures; None when neither leg has a stream."""
        loss = jitter = 0.0
        rtt: float | None = None
        found = False
        for leg in (list(publisher), list(subscriber)):
            if not leg:
                continue
            found = True
            loss = max(loss, sum(s.loss_ratio for s in leg) / len(leg))
            jitter = max(jitter, sum(s.jitter for s in leg) / len(leg))
            for stream in leg:
                if stream.rtt is not None and (rtt is None or stream.rtt > rtt):
                    rtt = stream.rtt
        return cls(loss, jitter, rtt) if found else None


@dataclass(frozen=True, slots=True)
class ParticipantQuality:
    """The figures and (held) level of one participant."""

    peer_id: str
    level: QualityLevel
    figures: ConnectionFigures

    def message(self) -> dict[str, Any]:
        """The ``quality-stats`` data: packetLoss in percent (0..100), rtt and jitter in ms.

        An unknown RTT is sent as 0.
        """
        figures = self.figures
        return {
            "peerId": self.peer_id,
            "level": self.level.value,
            "packetLoss": round(figures.loss_ratio * 100.0, 2),
            "rtt": round((figures.rtt or 0.0) * 1000.0, 1),
            "jitter": round(figures.jitter * 1000.0, 1),
        }


@dataclass(frozen=True, slots=True)
class QualityRound:
    """One report: every participant's quality (for itself) and those whose level the others
    must hear of."""

    current: tuple[ParticipantQuality, ...]
    changed: tuple[ParticipantQuality, ...]


class QualityReporter:
    """Keeps a `QualityTracker` per participant; call `update` every report interval."""

    def __init__(self, hold: float = 3.0) -> None:
        self._hold = hold
        self._trackers: dict[str, QualityTracker] = {}
        self._told: dict[str, QualityLevel] = {}  # the level the room last heard, by peer

    def update(self, figures: Mapping[str, ConnectionFigures], now: float) -> QualityRound:
        """``figures`` by peer id (participants without figures are forgotten)."""
        trackers = self._trackers
        told = self._told
        for gone in [peer for peer in trackers if peer not in figures]:
            del trackers[gone]
            told.pop(gone, None)
        current: list[ParticipantQuality] = []
        changed: list[ParticipantQuality] = []
        for peer, figure in figures.items():
            tracker = trackers.get(peer)
            if tracker is None:
                tracker = trackers[peer] = QualityTracker(self._hold)
            rtt = figure.rtt or 0.0
            tracker.update(figure.loss_ratio, rtt, figure.jitter, now)
            level = tracker.level
            assert level is not None
            quality = ParticipantQuality(peer, level, figure)
            current.append(quality)
            if level is not told.get(peer, DEFAULT_LEVEL):
                told[peer] = level
                changed.append(quality)
        return QualityRound(tuple(current), tuple(changed))

    def level_of(self, peer_id: str) -> QualityLevel:
        """The level the room last heard for `peer_id` (`DEFAULT_LEVEL` until it heard one)."""
        return self._told.get(peer_id, DEFAULT_LEVEL)


def subscriber_loss(reported: float, upstream: float) -> float:
    """A down-track's own loss: the subscriber's reported loss less the publisher leg's."""
    return max(0.0, reported - upstream)
