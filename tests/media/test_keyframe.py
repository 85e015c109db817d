"""KeyframeRequester and FirFilter, table-driven."""

from __future__ import annotations

import pytest

from sfu_trio.media.keyframe import FirFilter, KeyframeRequester, KeyframeRequestStatistics

# (now, event, result: True = send a PLI now (None for "keyframe"), get_timer() afterwards)
Row = tuple[float, str, bool | None, float | None]

TABLES: dict[str, list[Row]] = {
    "first request is sent at once": [
        (0.0, "request", True, 1.0),  # the timer is the retry
        (0.2, "keyframe", None, None),
    ],
    "requests in the window coalesce into one at its end": [
        (0.0, "request", True, 1.0),
        (0.1, "request", False, 0.5),
        (0.2, "request", False, 0.5),
        (0.4, "timer", False, 0.5),  # early wake-up: nothing
        (0.5, "timer", True, 1.5),
        (0.6, "keyframe", None, None),
        (1.5, "timer", False, None),
    ],
    "a keyframe cancels the pending request": [
        (0.0, "request", True, 1.0),
        (0.2, "request", False, 0.5),
        (0.3, "keyframe", None, None),
        (0.5, "timer", False, None),
        (0.6, "request", True, 1.6),
    ],
    "a request after the window is sent at once": [
        (0.0, "request", True, 1.0),
        (0.5, "request", True, 1.5),
        (1.1, "request", True, 2.1),
    ],
    "a keyframe does not reopen the window": [
        (0.0, "request", True, 1.0),
        (0.1, "keyframe", None, None),
        (0.2, "request", False, 0.5),  # a new subscriber after that keyframe still waits
        (0.5, "timer", True, 1.5),
    ],
    "retried while no keyframe arrives, at most twice": [
        (0.0, "request", True, 1.0),
        (1.0, "timer", True, 2.0),
        (2.0, "timer", True, None),
        (3.0, "timer", False, None),
        (3.0, "request", True, 4.0),
        (3.1, "keyframe", None, None),
        (4.0, "timer", False, None),
    ],
    "a request during the retry wait coalesces with the retry window": [
        (0.0, "request", True, 1.0),
        (1.0, "timer", True, 2.0),
        (1.2, "request", False, 1.5),  # the window follows the retry sent at 1.0
        (1.5, "timer", True, 2.5),
    ],
}


def _play(requester: KeyframeRequester, rows: list[Row]) -> None:
    for i, (now, event, expected, timer) in enumerate(rows):
        if event == "request":
            assert requester.request(now, "test") is expected, f"row {i}"
        elif event == "timer":
            assert requester.handle_timer(now) is expected, f"row {i}"
        else:
            requester.keyframe_received(now)
        assert requester.get_timer() == timer, f"row {i}"


@pytest.mark.parametrize("name", list(TABLES))
def test_keyframe_requester_table(name: str) -> None:
    _play(KeyframeRequester(), TABLES[name])


def test_custom_interval_without_retries() -> None:
    rows: list[Row] = [
        (0.0, "request", True, None),
        (0.5, "request", False, 1.0),
        (0.99, "timer", False, 1.0),
        (1.0, "timer", True, None),
        (5.0, "timer", False, None),
    ]
    _play(KeyframeRequester(min_interval=1.0, retry_interval=None), rows)


def test_fir_sequence_number_changes_per_request_not_per_retry() -> None:
    requester = KeyframeRequester()
    assert requester.fir_sequence_number == 0
    assert requester.request(0.0)
    assert requester.fir_sequence_number == 1
    assert requester.handle_timer(1.0)  # retry: same command
    assert requester.fir_sequence_number == 1
    requester.keyframe_received(1.1)
    assert requester.request(1.5)
    assert requester.fir_sequence_number == 2
    for i in range(300):
        requester.keyframe_received(2.0 + i)
        assert requester.request(2.0 + i)
    assert requester.fir_sequence_number == 302 & 0xFF


def test_statistics() -> None:
    requester = KeyframeRequester()
    requester.request(0.0, "subscriber joined")
    requester.request(0.1, "layer switch")
    requester.handle_timer(0.5)
    requester.handle_timer(1.5)  # retry
    requester.keyframe_received(1.6)
    assert requester.statistics() == KeyframeRequestStatistics(
        requests=2, sent=2, retries=1, keyframes=1, last_reason="layer switch"
    )
    assert not requester.pending


def test_fir_filter() -> None:
    fir = FirFilter()
    assert fir.is_new(sender_ssrc=1, media_ssrc=10, seq=0)
    assert not fir.is_new(1, 10, 0)  # repetition
    assert fir.is_new(2, 10, 0)  # another subscriber
    assert fir.is_new(1, 11, 0)  # another stream
    assert fir.is_new(1, 10, 1)
    fir.forget(1)
    assert fir.is_new(1, 10, 1)
    assert not fir.is_new(2, 10, 0)
