"""A track published in a room, as the room and the subscribers see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..media.uptrack import UpTrack

if TYPE_CHECKING:
    from .participant import Participant


@dataclass(eq=False)
class PublishedTrack:
    """One published track: its publisher, its forwarding up-track and its public description."""

    publisher: Participant
    up: UpTrack
    track_id: str

    @property
    def key(self) -> str:
        """Unique in the room: a client's track ids are only unique within that client."""
        return f"{self.publisher.peer_id}/{self.track_id}"

    @property
    def kind(self) -> str:
        return self.up.info.kind

    @property
    def source(self) -> str:
        return self.up.info.source

    @property
    def muted(self) -> bool:
        return self.up.info.muted

    def layers(self) -> list[str]:
        return list(self.up.info.rids)

    def describe(self) -> dict[str, Any]:
        return {
            "trackId": self.track_id,
            "peerId": self.publisher.peer_id,
            "kind": self.kind,
            "source": self.source,
            "muted": self.muted,
            "layers": self.layers(),
        }
