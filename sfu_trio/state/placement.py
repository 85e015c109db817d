"""Room placement: which node a new room is created on.

Policy (the default and, for now, the only one): **least loaded by participants**. Among the
live nodes, pick the one hosting the fewest participants; on a tie, the smallest node id, so
every node that evaluates the same node list picks the same node. Participants are the measure
because forwarding cost grows with them (each one publishes and subscribes), while an empty room
costs almost nothing.

The choice is only a proposal: the chosen node still claims the room atomically
(``StateBackend.claim_room``), and whoever wins the claim owns the room.
"""

from __future__ import annotations

from collections.abc import Iterable

from .records import NodeInfo


def placement_key(node: NodeInfo) -> tuple[int, str]:
    """Sort key of the policy: smaller is a better home for a new room."""
    return (node.participants, node.node_id)


def choose_node(nodes: Iterable[NodeInfo]) -> NodeInfo | None:
    """The node a new room should be created on, or None when there is no node."""
    return min(nodes, key=placement_key, default=None)
