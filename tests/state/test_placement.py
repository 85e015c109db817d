"""The room placement policy: least participants, ties by node id."""

from __future__ import annotations

import pytest

from sfu_trio.state.placement import choose_node, placement_key
from sfu_trio.state.records import NodeInfo


def node(node_id: str, participants: int, rooms: int = 0, cpu: float = 0.0) -> NodeInfo:
    return NodeInfo(
        node_id=node_id,
        signaling_url=f"ws://{node_id}/ws",
        media_host="192.0.2.1",
        udp_port=7882,
        tcp_port=7881,
        rooms=rooms,
        participants=participants,
        forwarded_bps=0,
        cpu=cpu,
        updated_at=0.0,
    )


# (nodes as (node_id, participants, rooms, cpu), expected node id)
CASES: list[tuple[list[tuple[str, int, int, float]], str | None]] = [
    ([], None),
    ([("a", 5, 1, 0.1)], "a"),
    ([("a", 5, 1, 0.1), ("b", 3, 1, 0.1)], "b"),
    ([("b", 3, 1, 0.1), ("a", 5, 1, 0.1)], "b"),
    # a tie on participants goes to the smallest node id, whatever the order of the list
    ([("b", 4, 0, 0.0), ("a", 4, 9, 0.9), ("c", 4, 0, 0.0)], "a"),
    ([("node-10", 0, 0, 0.0), ("node-9", 0, 0, 0.0)], "node-10"),
    # rooms and CPU do not matter: an empty room costs nothing, CPU is too noisy to rank by
    ([("a", 1, 0, 0.0), ("b", 0, 50, 3.5)], "b"),
    ([("a", 100, 2, 0.5), ("b", 99, 40, 1.0), ("c", 101, 0, 0.0)], "b"),
]


@pytest.mark.parametrize(("nodes", "expected"), CASES)
def test_choose_node(nodes: list[tuple[str, int, int, float]], expected: str | None) -> None:
    infos = [node(node_id, participants, rooms, cpu) for node_id, participants, rooms, cpu in nodes]
    chosen = choose_node(infos)
    assert (chosen.node_id if chosen else None) == expected
    assert choose_node(reversed(infos)) == chosen


def test_placement_key_orders_by_participants_then_id() -> None:
    assert placement_key(node("z", 1)) < placement_key(node("a", 2))
    assert placement_key(node("a", 2)) < placement_key(node("b", 2))
    assert placement_key(node("a", 2)) == (2, "a")
