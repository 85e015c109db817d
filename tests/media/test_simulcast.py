"""LayerSelector: tables of (time, estimate, liveness, client wishes) -> target; routing."""

from __future__ import annotations

import pytest

from sfu_trio.media.simulcast import (
    ALL_TEMPORAL,
    DROP,
    FORWARD,
    SKIP,
    SWITCH,
    LayerSelector,
)

BITRATES = (150_000, 500_000, 1_500_000)  # q, h, f
ALL = (True, True, True)

# ("update", now, estimate bps, alive, expected target) | ("max_layer", layer) | ("limit", bps)
Row = tuple[object, ...]

TABLES: dict[str, list[Row]] = {
    "ramp up, one hold at a time": [
        ("update", 0.0, 200_000, ALL, 0),
        ("update", 1.0, 700_000, ALL, 0),  # 500k * 1.2 fits: the hold starts
        ("update", 2.0, 700_000, ALL, 0),
        ("update", 3.0, 700_000, ALL, 1),  # held 2 s
        ("update", 4.0, 2_000_000, ALL, 1),  # 1.5M * 1.2 fits: hold starts
        ("update", 5.0, 1_700_000, ALL, 1),  # no margin for f any more: hold resets
        ("update", 6.0, 2_000_000, ALL, 1),
        ("update", 7.9, 2_000_000, ALL, 1),
        ("update", 8.0, 2_000_000, ALL, 2),
    ],
    "straight to the top when bitrates are low": [
        ("update", 0.0, 200_000, ALL, 0),
        ("update", 1.0, 5_000_000, ALL, 0),
        ("update", 3.0, 5_000_000, ALL, 2),
    ],
    "down at once, to what fits": [
        ("update", 0.0, 3_000_000, ALL, 2),
        ("update", 0.1, 1_200_000, ALL, 1),
        ("update", 0.2, 550_000, ALL, 1),  # fits without margin: stays
        ("update", 0.3, 100_000, ALL, 0),  # nothing fits: the lowest layer
        ("update", 0.4, 0, ALL, 0),
    ],
    "never a dead layer": [
        ("update", 0.0, 3_000_000, (True, True, False), 1),
        ("update", 1.0, 3_000_000, ALL, 1),  # f comes alive: hold
        ("update", 3.0, 3_000_000, ALL, 2),
        ("update", 3.1, 3_000_000, (True, False, False), 0),  # f and h die
        ("update", 3.2, 3_000_000, (False, False, False), None),
        ("update", 3.3, 3_000_000, (False, True, False), 1),
    ],
    "client ceiling": [
        ("max_layer", 1),
        ("update", 0.0, 3_000_000, ALL, 1),
        ("max_layer", 0),
        ("update", 0.1, 3_000_000, ALL, 0),  # lowered: at once
        ("max_layer", None),
        ("update", 0.2, 3_000_000, ALL, 2),  # lifted: no hold either
        ("update", 0.3, 300_000, ALL, 0),  # the estimate still rules
    ],
    "ceiling on a dead layer falls back to the lowest live one": [
        ("max_layer", 0),
        ("update", 0.0, 3_000_000, (False, True, True), 1),
    ],
    "bandwidth limit": [
        ("limit", 600_000),
        ("update", 0.0, 3_000_000, ALL, 1),
        ("limit", 0),  # 0 lifts it
        ("update", 0.1, 3_000_000, ALL, 2),
        ("limit", 100_000),
        ("update", 0.2, 3_000_000, ALL, 0),
    ],
}


@pytest.mark.parametrize("name", list(TABLES))
def test_layer_selector_table(name: str) -> None:
    selector = LayerSelector(3, up_margin=0.2, up_hold=2.0)
    for i, row in enumerate(TABLES[name]):
        if row[0] == "max_layer":
            selector.set_max_layer(row[1])  # type: ignore[arg-type]
        elif row[0] == "limit":
            selector.set_bandwidth_limit(row[1])  # type: ignore[arg-type]
        else:
            _, now, bps, alive, expected = row
            got = selector.update(now, bps, BITRATES, alive)  # type: ignore[arg-type]
            assert got == expected, f"row {i}"
            assert selector.target == expected


def test_unmeasured_layers_fit_any_budget() -> None:
    selector = LayerSelector(3)
    assert selector.update(0.0, 100_000, (0, 0, 0), (True, True, False)) == 1


def test_switch_happens_at_a_keyframe_of_the_target() -> None:
    selector = LayerSelector(3)
    assert selector.update(0.0, 3_000_000, BITRATES, ALL) == 2
    assert (selector.current, selector.needs_keyframe) == (None, True)
    assert selector.route(0, True, True, None, True) == DROP  # not the target
    assert selector.route(2, False, True, None, False) == DROP  # target, but no keyframe
    assert selector.route(2, True, True, None, True) == SWITCH
    assert (selector.current, selector.needs_keyframe) == (2, False)
    assert selector.route(2, False, False, None, False) == FORWARD
    assert selector.route(1, True, True, None, True) == DROP
    # over budget: the target drops at once, the forwarded layer at its keyframe
    assert selector.update(0.1, 200_000, BITRATES, ALL) == 0
    assert selector.needs_keyframe
    assert selector.route(2, False, True, None, False) == FORWARD
    assert selector.route(0, False, True, None, False) == DROP
    assert selector.route(0, True, True, None, True) == SWITCH
    assert selector.route(2, False, True, None, False) == DROP
    assert (selector.current, selector.needs_keyframe) == (0, False)


def test_no_live_layer_needs_no_keyframe() -> None:
    selector = LayerSelector(2)
    assert selector.update(0.0, 1e6, (1, 1), (False, False)) is None
    assert not selector.needs_keyframe


TEMPORAL = ((50_000, 100_000, 150_000), (200_000, 350_000, 500_000), (600_000, 1e6, 1.5e6))

# (estimate, expected target_temporal) with the lowest layer forwarded
TEMPORAL_ROWS = [
    (200_000, ALL_TEMPORAL),
    (120_000, 1),
    (40_000, 0),  # below even TL0: keep TL0
    (120_000, 1),  # TL1 back without margin (100k * 1.2 < 120k anyway)
    (160_000, 1),  # full layer needs 150k * 1.2 = 180k to come back
    (190_000, ALL_TEMPORAL),
]


def test_temporal_layer_targets() -> None:
    selector = LayerSelector(3, up_margin=0.2)
    selector.update(0.0, 200_000, BITRATES, ALL, TEMPORAL)
    assert selector.route(0, True, True, 0, True) == SWITCH
    for i, (bps, expected) in enumerate(TEMPORAL_ROWS):
        selector.update(1.0 + i, bps, BITRATES, ALL, TEMPORAL)
        assert selector.target == 0
        assert selector.target_temporal == expected, f"row {i}"


def test_temporal_switching_happens_at_frame_starts_and_sync_frames() -> None:
    selector = LayerSelector(3, up_margin=0.2)
    selector.update(0.0, 200_000, BITRATES, ALL, TEMPORAL)
    assert selector.route(0, True, True, 0, True) == SWITCH
    assert selector.current_temporal == ALL_TEMPORAL
    assert selector.route(0, False, True, 2, False) == FORWARD
    selector.update(1.0, 120_000, BITRATES, ALL, TEMPORAL)  # target TL1
    assert selector.route(0, False, False, 2, False) == FORWARD  # rest of the current frame
    assert selector.route(0, False, True, 2, False) == SKIP  # next TL2 frame
    assert selector.current_temporal == 1
    assert selector.route(0, False, False, 2, False) == SKIP
    assert selector.route(0, False, True, 0, False) == FORWARD
    assert selector.route(0, False, True, 1, False) == FORWARD
    selector.update(2.0, 500_000, BITRATES, ALL, TEMPORAL)  # all temporal layers again
    assert selector.route(0, False, True, 2, False) == SKIP  # not a sync frame
    assert selector.route(0, False, True, 2, True) == FORWARD  # layer sync: up
    assert selector.current_temporal == 2
    assert selector.route(0, False, False, 2, False) == FORWARD
    assert selector.route(0, False, True, None, False) == FORWARD  # no temporal id


def test_needs_at_least_one_layer() -> None:
    with pytest.raises(ValueError):
        LayerSelector(0)
