"""What the HTTP and WebSocket handlers of one server share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from .. import __version__
from ..config import Config
from ..observability.metrics import Metrics
from ..runtime.rooms import RoomRegistry
from ..state.backend import StateBackend
from ..state.cluster import ClusterNode
from .auth import TokenVerifier
from .origins import OriginPolicy

if TYPE_CHECKING:
    from .relay import SignalingRelay


@dataclass
class ServerContext:
    """The server's shared parts, handed to the Quart app at creation (no globals)."""

    config: Config
    registry: RoomRegistry
    metrics: Metrics
    state: StateBackend
    instance_id: str
    origins: OriginPolicy
    verifier: TokenVerifier | None = None
    cluster: ClusterNode | None = None
    """This node's cluster membership; None without Redis (a single node)."""
    relay: SignalingRelay | None = None
    version: str = __version__
    started_at: float = field(default_factory=trio.current_time)
    shutdown_requested: trio.Event = field(default_factory=trio.Event)
    forced_exit: bool = False

    @property
    def draining(self) -> bool:
        return self.registry.draining

    def uptime(self) -> float:
        return trio.current_time() - self.started_at
