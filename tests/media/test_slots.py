"""Placing forwarded tracks on a subscriber's receive slots."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.slots import ReceiveSlot, assign_slots

SLOTS = [
    ReceiveSlot("0", "audio"),
    ReceiveSlot("1", "video"),
    ReceiveSlot("2", "video"),
    ReceiveSlot("3", "audio"),
]


def test_new_tracks_take_free_slots_in_order() -> None:
    result = assign_slots(SLOTS, [("a-mic", "audio"), ("a-cam", "video")], {})
    assert dict(result.placed) == {"0": "a-mic", "1": "a-cam"}
    assert result.waiting == ()


def test_current_placements_are_kept() -> None:
    result = assign_slots(SLOTS, [("a-cam", "video"), ("b-cam", "video")], {"2": "a-cam"})
    assert dict(result.placed) == {"1": "b-cam", "2": "a-cam"}


def test_tracks_that_do_not_fit_wait() -> None:
    wanted = [("a", "video"), ("b", "video"), ("c", "video")]
    result = assign_slots(SLOTS, wanted, {})
    assert dict(result.placed) == {"1": "a", "2": "b"}
    assert result.waiting == ("c",)


def test_gone_tracks_free_their_slots() -> None:
    result = assign_slots(SLOTS, [("new", "video")], {"1": "left", "2": "also-left"})
    assert dict(result.placed) == {"1": "new"}


def test_a_slot_of_the_wrong_kind_is_not_kept() -> None:
    result = assign_slots(SLOTS, [("cam", "video")], {"0": "cam"})
    assert dict(result.placed) == {"1": "cam"}


@given(
    kinds=st.lists(st.sampled_from(["audio", "video"]), max_size=12),
    wanted=st.lists(
        st.tuples(st.integers(0, 15), st.sampled_from(["audio", "video"])), max_size=16
    ),
    current=st.dictionaries(st.integers(0, 11).map(str), st.integers(0, 15), max_size=8),
)
def test_every_track_is_placed_once_or_waits(
    kinds: list[str], wanted: list[tuple[int, str]], current: dict[str, int]
) -> None:
    slots = [ReceiveSlot(str(i), kind) for i, kind in enumerate(kinds)]
    result = assign_slots(slots, wanted, current)
    kind_of = {}
    for track, kind in wanted:
        kind_of.setdefault(track, kind)
    placed_tracks = list(result.placed.values())
    assert len(placed_tracks) == len(set(placed_tracks))
    assert set(placed_tracks) | set(result.waiting) == set(kind_of)
    assert not set(placed_tracks) & set(result.waiting)
    slot_kind = {s.mid: s.kind for s in slots}
    for mid, track in result.placed.items():
        assert slot_kind[mid] == kind_of[track]
    # A waiting track means every slot of its kind is taken.
    for track in result.waiting:
        free_of_kind = [s for s in slots if s.kind == kind_of[track] and s.mid not in result.placed]
        assert free_of_kind == []
