"""Dominant speaker detection from RFC 6464 audio levels, sans-I/O.

The caller samples each participant's microphone every evaluation interval (~200 ms) and
passes the audio level (0 loudest .. 127 silence, -dBov) of the latest packet received since
the previous evaluation, or None when no packet came (or the track is muted).

Policy:

- A sample is *speech* when its level is at most ``max_speech_level`` (default 70, i.e. louder
  than -70 dBov). The voice-activity flag is not used: aiortc never sets it and browsers set
  it from differing detectors.
- Each participant's *score* is an exponential average of its loudness (``127 - level``),
  where a sample without speech counts as 0, so a participant who stops talking fades.
- With nobody dominant, the loudest participant speaking in this sample becomes dominant.
- A challenger replaces the dominant speaker only once its score has exceeded the dominant
  speaker's by more than ``margin`` for ``switch_hold`` seconds (no flapping).
- A dominant speaker silent for more than ``silence_release`` seconds is released: the
  loudest participant speaking now takes over, or nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SILENCE = 127


@dataclass(frozen=True, slots=True)
class SpeakerChange:
    """The dominant speaker changed from ``old`` to ``new`` (peer ids; None for nobody)."""

    old: str | None
    new: str | None


class _Voice:
    __slots__ = ("last_speech", "score")

    def __init__(self) -> None:
        self.score = 0.0
        self.last_speech: float | None = None


class DominantSpeakerDetector:
    """Decides who the dominant speaker is; feed it one sample per peer per evaluation."""

    def __init__(
        self,
        *,
        max_speech_level: int = 70,
        smoothing: float = 0.4,
        margin: float = 6.0,
        switch_hold: float = 1.0,
        silence_release: float = 2.0,
    ) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError("smoothing must be in (0, 1]")
        self._max_speech_level = max_speech_level
        self._smoothing = smoothing
        self._margin = margin
        self._switch_hold = switch_hold
        self._silence_release = silence_release
        self._voices: dict[str, _Voice] = {}
        self._challenger: str | None = None
        self._challenger_since = 0.0
        self.dominant: str | None = None

    def score(self, peer_id: str) -> float:
        """The smoothed loudness of ``peer_id`` (0 when unknown)."""
        voice = self._voices.get(peer_id)
        return 0.0 if voice is None else voice.score

    def update(self, levels: Mapping[str, int | None], now: float) -> SpeakerChange | None:
        """One evaluation: ``levels`` holds every peer that may speak (others are forgotten).

        Returns the change of dominant speaker, if any.
        """
        voices = self._voices
        for gone in [peer for peer in voices if peer not in levels]:
            del voices[gone]
        speaking: list[str] = []
        for peer, level in levels.items():
            voice = voices.get(peer)
            if voice is None:
                voice = voices[peer] = _Voice()
            loudness = 0
            if level is not None and level <= self._max_speech_level:
                loudness = SILENCE - level
                voice.last_speech = now
                speaking.append(peer)
            voice.score += (loudness - voice.score) * self._smoothing
        return self._decide(speaking, now)

    def _decide(self, speaking: list[str], now: float) -> SpeakerChange | None:
        current = self.dominant
        voices = self._voices
        voice = voices.get(current) if current is not None else None
        if voice is None or (
            voice.last_speech is not None and now - voice.last_speech > self._silence_release
        ):
            return self._switch(self._loudest(speaking))
        challenger = self._loudest([peer for peer in speaking if peer != current])
        if challenger is None or voices[challenger].score <= voice.score + self._margin:
            self._challenger = None
            return None
        if challenger != self._challenger:
            self._challenger = challenger
            self._challenger_since = now
        if now - self._challenger_since >= self._switch_hold:
            return self._switch(challenger)
        return None

    def _loudest(self, peers: list[str]) -> str | None:
        voices = self._voices
        return max(peers, key=lambda peer: voices[peer].score, default=None)

    def _switch(self, new: str | None) -> SpeakerChange | None:
        old = self.dominant
        self._challenger = None
        if new == old:
            return None
        self.dominant = new
        return SpeakerChange(old, new)
