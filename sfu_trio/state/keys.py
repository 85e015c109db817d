"""Redis key names, relay channel names and expiry defaults of the cluster state.

Every key starts with a prefix (``sfu:`` by default; tests use a unique one each) followed by a
type segment, so a room or node name containing ``:`` can never collide with another key type.
Nothing is stored without an expiry, so a dead node leaves nothing behind for long.

===============================  ==========================  ======================================
Key                              Value                       Expiry
===============================  ==========================  ======================================
``{p}node:{node_id}``            NodeInfo JSON               node ttl, renewed by every heartbeat
``{p}index:nodes``               sorted set: node id ->      entries pruned once their deadline
                                 deadline (server ms)        passes; key expires with its longest
                                                             member
``{p}owner:{room}``              owning node id              room ttl, renewed by the owner only
``{p}room:{room}``               RoomRecord JSON             room ttl, renewed with each update
``{p}index:rooms``               sorted set: room name ->    as ``index:nodes``
                                 deadline (server ms)
``{p}session:{session_id}``      SessionRecord JSON          session ttl: how long a disconnected
                                                             client may resume
===============================  ==========================  ======================================

Relay channels are Redis pub/sub channels (not keys, nothing is stored): ``{p}relay:{name}``, where
``name`` comes from :func:`node_channel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_PREFIX = "sfu:"

NODE_TTL = 5.0
"""Seconds a node stays listed after its last heartbeat."""

NODE_HEARTBEAT_INTERVAL = NODE_TTL / 3
"""Heartbeat period: two heartbeats may be lost before the node drops out."""

ROOM_TTL = 15.0
"""Seconds a room claim and its record outlive the last renewal (a dead owner's rooms free up)."""

ROOM_RENEW_INTERVAL = ROOM_TTL / 3
"""Period at which the owner renews its claims and rewrites its room records."""

SESSION_TTL = 120.0
"""Default seconds a session survives without its client (``Config.session_ttl`` overrides)."""


def node_channel(node_id: str) -> str:
    """The relay channel a node listens on for signaling relayed to it by other nodes."""
    return f"node:{node_id}"


def ttl_to_ms(ttl: float) -> int:
    """A positive expiry in seconds as whole milliseconds (at least 1)."""
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return max(1, round(ttl * 1000))


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The key and channel names under one prefix (see the module table)."""

    prefix: str = DEFAULT_PREFIX

    def node(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    @property
    def nodes_index(self) -> str:
        return f"{self.prefix}index:nodes"

    def room_owner(self, name: str) -> str:
        return f"{self.prefix}owner:{name}"

    def room(self, name: str) -> str:
        return f"{self.prefix}room:{name}"

    @property
    def rooms_index(self) -> str:
        return f"{self.prefix}index:rooms"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def channel(self, name: str) -> str:
        return f"{self.prefix}relay:{name}"
