import pytest

from sfu_trio.media.quality import QualityLevel, QualityTracker, classify_quality

E, G, P, C = (QualityLevel.EXCELLENT, QualityLevel.GOOD, QualityLevel.POOR, QualityLevel.CRITICAL)


@pytest.mark.parametrize(
    ("loss", "rtt", "jitter", "expected"),
    [
        (0.0, 0.020, 0.002, E),
        (0.0099, 0.099, 0.029, E),
        (0.01, 0.050, 0.005, G),  # loss bound is exclusive
        (0.0, 0.100, 0.005, G),
        (0.0, 0.050, 0.030, G),
        (0.029, 0.249, 0.049, G),
        (0.03, 0.050, 0.005, P),
        (0.0, 0.250, 0.005, P),
        (0.0, 0.050, 0.050, P),
        (0.099, 0.499, 0.099, P),
        (0.10, 0.050, 0.005, C),
        (0.0, 0.500, 0.005, C),
        (0.0, 0.050, 0.100, C),
        (1.0, 5.0, 1.0, C),
    ],
)
def test_classify(loss: float, rtt: float, jitter: float, expected: QualityLevel) -> None:
    assert classify_quality(loss, rtt, jitter) is expected


def test_levels_are_strings() -> None:
    assert [str(level) for level in QualityLevel] == ["excellent", "good", "poor", "critical"]


# (now, loss, rtt, reported change)
TRACKER_ROWS: list[tuple[float, float, float, QualityLevel | None]] = [
    (0.0, 0.0, 0.05, E),  # first sample reported at once
    (1.0, 0.0, 0.05, None),
    (2.0, 0.05, 0.05, None),  # poor figures start a candidate
    (3.0, 0.05, 0.05, None),
    (4.0, 0.0, 0.05, None),  # back to excellent before the hold: candidate dropped
    (5.0, 0.05, 0.05, None),
    (6.0, 0.02, 0.05, None),  # a different candidate (good) restarts the wait
    (8.0, 0.02, 0.05, None),
    (9.0, 0.02, 0.05, G),  # good held for 3 s
    (10.0, 0.02, 0.05, None),
    (10.5, 0.5, 0.05, None),
    (13.5, 0.5, 0.05, C),
]


def test_tracker_hysteresis() -> None:
    tracker = QualityTracker(hold=3.0)
    assert tracker.level is None
    for now, loss, rtt, expected in TRACKER_ROWS:
        assert tracker.update(loss, rtt, 0.005, now) == expected
    assert tracker.level is C
