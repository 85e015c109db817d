"""Per-participant quality figures and the O(N) reporting rule."""

from __future__ import annotations

import pytest

from sfu_trio.media.quality import QualityLevel
from sfu_trio.media.quality_report import (
    ConnectionFigures,
    ParticipantQuality,
    QualityReporter,
    StreamFigures,
    subscriber_loss,
)

GOOD = ConnectionFigures(0.0, 0.005, 0.040)
BAD = ConnectionFigures(0.2, 0.005, 0.040)


@pytest.mark.parametrize(
    ("publisher", "subscriber", "expected"),
    [
        ([], [], None),
        ([StreamFigures(0.02, 0.010)], [], ConnectionFigures(0.02, 0.010, None)),
        (
            [StreamFigures(0.00, 0.010), StreamFigures(0.04, 0.030)],
            [StreamFigures(0.01, 0.005, 0.080), StreamFigures(0.01, 0.001, 0.120)],
            ConnectionFigures(0.02, 0.020, 0.120),
        ),
        (
            [StreamFigures(0.0, 0.002)],
            [StreamFigures(0.10, 0.050, None), StreamFigures(0.0, 0.010, 0.030)],
            ConnectionFigures(0.05, 0.030, 0.030),
        ),
    ],
)
def test_connection_figures_are_the_worse_legs_mean(
    publisher: list[StreamFigures],
    subscriber: list[StreamFigures],
    expected: ConnectionFigures | None,
) -> None:
    figures = ConnectionFigures.of_legs(publisher, subscriber)
    if expected is None:
        assert figures is None
        return
    assert figures is not None
    assert figures.loss_ratio == pytest.approx(expected.loss_ratio)
    assert figures.jitter == pytest.approx(expected.jitter)
    assert figures.rtt == expected.rtt


@pytest.mark.parametrize(
    ("reported", "upstream", "own"), [(0.1, 0.04, 0.06), (0.02, 0.05, 0.0), (0.0, 0.0, 0.0)]
)
def test_subscriber_loss_excludes_the_publisher_leg(
    reported: float, upstream: float, own: float
) -> None:
    assert subscriber_loss(reported, upstream) == pytest.approx(own)


def test_message_units() -> None:
    quality = ParticipantQuality(
        "p1", QualityLevel.GOOD, ConnectionFigures(0.02346, 0.0123456, 0.1504)
    )
    assert quality.message() == {
        "peerId": "p1",
        "level": "good",
        "packetLoss": 2.35,
        "rtt": 150.4,
        "jitter": 12.3,
    }
    unknown_rtt = ParticipantQuality("p2", QualityLevel.EXCELLENT, ConnectionFigures(0, 0, None))
    assert unknown_rtt.message()["rtt"] == 0.0


def test_everyone_gets_its_own_and_the_others_only_level_changes() -> None:
    reporter = QualityReporter(hold=3.0)
    first = reporter.update({"a": GOOD, "b": GOOD}, 0.0)
    assert [(q.peer_id, q.level) for q in first.current] == [
        ("a", QualityLevel.EXCELLENT),
        ("b", QualityLevel.EXCELLENT),
    ]
    assert first.changed == ()  # excellent is what the others assume: no news
    assert reporter.level_of("b") is QualityLevel.EXCELLENT
    same = reporter.update({"a": GOOD, "b": GOOD}, 3.0)
    assert [q.peer_id for q in same.current] == ["a", "b"]
    assert same.changed == ()
    # b degrades: the level must hold 3 s before the others hear of it
    pending = reporter.update({"a": GOOD, "b": BAD}, 6.0)
    assert pending.changed == ()
    assert pending.current[1].level is QualityLevel.EXCELLENT
    assert pending.current[1].figures == BAD  # its own figures are the current ones
    held = reporter.update({"a": GOOD, "b": BAD}, 9.0)
    assert [(q.peer_id, q.level) for q in held.changed] == [("b", QualityLevel.CRITICAL)]
    assert reporter.level_of("b") is QualityLevel.CRITICAL
    # b recovers: going back to excellent is news too, and then nothing is announced
    reporter.update({"a": GOOD, "b": GOOD}, 12.0)
    recovered = reporter.update({"a": GOOD, "b": GOOD}, 15.0)
    assert [(q.peer_id, q.level) for q in recovered.changed] == [("b", QualityLevel.EXCELLENT)]
    assert reporter.level_of("b") is QualityLevel.EXCELLENT


def test_a_first_level_below_excellent_is_news() -> None:
    reporter = QualityReporter()
    first = reporter.update({"a": GOOD, "b": BAD}, 0.0)
    assert [(q.peer_id, q.level) for q in first.changed] == [("b", QualityLevel.CRITICAL)]
    assert (reporter.level_of("a"), reporter.level_of("b")) == (
        QualityLevel.EXCELLENT,
        QualityLevel.CRITICAL,
    )


def test_departed_participants_are_forgotten() -> None:
    reporter = QualityReporter()
    reporter.update({"a": GOOD}, 0.0)
    reporter.update({}, 3.0)
    back = reporter.update({"a": BAD}, 6.0)
    assert [(q.peer_id, q.level) for q in back.changed] == [("a", QualityLevel.CRITICAL)]
