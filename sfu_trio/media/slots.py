"""Which forwarded track rides on which of a subscriber's receive m-lines.

The client is the only offerer: it offers receive slots (recvonly or sendrecv m-lines) and the
server places the tracks the subscriber should get on them. A track keeps its slot across offers
while the slot is still offered (the browser's jitter buffer and the page's tile stay put); new
tracks take the free slots of their kind in m-line order; tracks that do not fit wait for the next
offer, and the caller asks for one with ``renegotiate``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

TrackKey = TypeVar("TrackKey", bound=Hashable)


@dataclass(frozen=True, slots=True)
class ReceiveSlot:
    """An m-line of the offer on which the server may send: its mid and media kind."""

    mid: str
    kind: str


@dataclass(frozen=True, slots=True)
class SlotAssignment(Generic[TrackKey]):
    """The result: mid -> track for every placed track, and the tracks left waiting."""

    placed: Mapping[str, TrackKey]
    waiting: tuple[TrackKey, ...]


def assign_slots(
    slots: Sequence[ReceiveSlot],
    wanted: Iterable[tuple[TrackKey, str]],
    current: Mapping[str, TrackKey],
) -> SlotAssignment[TrackKey]:
    """Place every wanted ``(track, kind)`` on a slot, keeping the ``current`` placements."""
    wanted_kinds: dict[TrackKey, str] = {}
    for track, kind in wanted:
        wanted_kinds.setdefault(track, kind)
    slot_kind = {slot.mid: slot.kind for slot in slots}
    placed: dict[str, TrackKey] = {}
    for mid, current_track in current.items():
        wanted_kind = wanted_kinds.get(current_track)
        if (
            wanted_kind is not None
            and slot_kind.get(mid) == wanted_kind
            and current_track not in placed.values()
        ):
            placed[mid] = current_track
    already = set(placed.values())
    free = [slot for slot in slots if slot.mid not in placed]
    waiting: list[TrackKey] = []
    for track, kind in wanted_kinds.items():
        if track in already:
            continue
        for index, slot in enumerate(free):
            if slot.kind == kind:
                placed[slot.mid] = track
                del free[index]
                break
        else:
            waiting.append(track)
    ordered = {slot.mid: placed[slot.mid] for slot in slots if slot.mid in placed}
    return SlotAssignment(ordered, tuple(waiting))
