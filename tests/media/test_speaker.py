"""Dominant speaker detection: tables of (now, levels per peer) -> expected change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from sfu_trio.media.speaker import DominantSpeakerDetector, SpeakerChange

Row = tuple[float, Mapping[str, int | None], SpeakerChange | None]

LOUD, NORMAL, QUIET, NOISE, SILENT = 20, 40, 60, 90, 127


def steady(
    start: float, end: float, levels: Mapping[str, int | None], step: float = 0.2
) -> list[Row]:
    """Rows every ``step`` seconds in [start, end) with the same levels and no change."""
    rows: list[Row] = []
    t = start
    while t < end - 1e-9:
        rows.append((round(t, 3), levels, None))
        t += step
    return rows


SCENARIOS: dict[str, list[Row]] = {
    "first speech takes over at once": [
        (0.0, {"a": SILENT, "b": SILENT}, None),
        (0.2, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        (0.4, {"a": NORMAL, "b": SILENT}, None),
    ],
    "background noise never speaks": steady(0.0, 5.0, {"a": NOISE, "b": None}),
    "no packets is silence": steady(0.0, 3.0, {"a": None}),
    "the loudest of simultaneous starters wins": [
        (0.0, {"a": QUIET, "b": LOUD}, SpeakerChange(None, "b")),
    ],
    "a louder challenger must lead for the hold time": [
        (0.0, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 1.0, {"a": NORMAL, "b": SILENT}),
        # b shouts: its score passes a's by the margin on the third sample (1.4) ...
        *steady(1.0, 2.4, {"a": QUIET, "b": LOUD}),
        # ... and after leading for 1 s it takes over.
        (2.4, {"a": QUIET, "b": LOUD}, SpeakerChange("a", "b")),
        *steady(2.6, 4.0, {"a": QUIET, "b": LOUD}),
    ],
    "a brief interjection does not switch": [
        (0.0, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 1.0, {"a": NORMAL, "b": SILENT}),
        *steady(1.0, 1.8, {"a": NORMAL, "b": LOUD}),
        *steady(1.8, 4.0, {"a": NORMAL, "b": SILENT}),
    ],
    "equal voices do not flap": [
        (0.0, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 6.0, {"a": NORMAL, "b": NORMAL}),
    ],
    "a lead that lapses restarts the hold": [
        (0.0, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 1.0, {"a": NORMAL, "b": SILENT}),
        *steady(1.0, 1.8, {"a": QUIET, "b": LOUD}),  # b leads from 1.4
        (1.8, {"a": LOUD, "b": SILENT}, None),  # lead lost
        *steady(2.0, 3.2, {"a": QUIET, "b": LOUD}),  # b leads again from 2.2
        (3.2, {"a": QUIET, "b": LOUD}, SpeakerChange("a", "b")),
    ],
    "silence over 2 s releases to nobody": [
        (0.0, {"a": NORMAL}, SpeakerChange(None, "a")),
        *steady(0.2, 2.2, {"a": SILENT}),  # last speech at 0.0: 2.0 s is not over 2 s
        (2.2, {"a": SILENT}, SpeakerChange("a", None)),
        *steady(2.4, 3.0, {"a": SILENT}),
        (3.0, {"a": QUIET}, SpeakerChange(None, "a")),
    ],
    "a speaker who stops fades under one who talks on": [
        (0.0, {"a": LOUD, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 1.0, {"a": LOUD, "b": SILENT}),
        *steady(1.0, 2.2, {"a": SILENT, "b": QUIET}),  # b leads from 1.2
        (2.2, {"a": SILENT, "b": QUIET}, SpeakerChange("a", "b")),
    ],
    "release hands over to whoever speaks now": [
        (0.0, {"a": LOUD, "b": SILENT}, SpeakerChange(None, "a")),
        *steady(0.2, 2.2, {"a": SILENT, "b": SILENT}),
        (2.2, {"a": SILENT, "b": QUIET}, SpeakerChange("a", "b")),
    ],
    "a dominant speaker who leaves is replaced": [
        (0.0, {"a": NORMAL, "b": QUIET}, SpeakerChange(None, "a")),
        (0.2, {"b": QUIET}, SpeakerChange("a", "b")),
    ],
    "a dominant speaker who leaves in silence leaves nobody": [
        (0.0, {"a": NORMAL, "b": SILENT}, SpeakerChange(None, "a")),
        (0.2, {"b": SILENT}, SpeakerChange("a", None)),
    ],
}


@pytest.mark.parametrize("rows", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_dominant_speaker_table(rows: Sequence[Row]) -> None:
    detector = DominantSpeakerDetector()
    for now, levels, expected in rows:
        assert detector.update(levels, now) == expected, f"at {now}: {dict(levels)}"


def test_score_is_an_average_of_loudness_with_silence_as_zero() -> None:
    detector = DominantSpeakerDetector(smoothing=0.5)
    detector.update({"a": 27}, 0.0)  # loudness 100
    assert detector.score("a") == 50.0
    detector.update({"a": 27}, 0.2)
    assert detector.score("a") == 75.0
    detector.update({"a": None}, 0.4)
    assert detector.score("a") == 37.5
    detector.update({"a": 100}, 0.6)  # quieter than max_speech_level: not speech
    assert detector.score("a") == 18.75
    assert detector.score("unknown") == 0.0


def test_forgotten_peers_start_from_zero() -> None:
    detector = DominantSpeakerDetector(smoothing=0.5)
    detector.update({"a": 27}, 0.0)
    detector.update({}, 0.2)
    assert detector.score("a") == 0.0


def test_smoothing_must_be_a_weight() -> None:
    with pytest.raises(ValueError):
        DominantSpeakerDetector(smoothing=0.0)
