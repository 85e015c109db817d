"""A room: its participants, their announcements to each other, and its own lifetime."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
import trio

from ..config import Config
from .errors import Conflict, NotFound, RoomFull
from .link import SignalingLink
from .participant import Participant, Permissions
from .room_monitor import RoomMonitor
from .tracks import PublishedTrack

if TYPE_CHECKING:
    from .rooms import RoomRegistry

logger = structlog.get_logger("sfu_trio.room")


class Room:
    """A named room; its nursery owns the tasks of every participant in it.

    A room with nobody in it (suspended participants count as in it) closes after
    ``config.empty_room_ttl`` seconds, whether it was created by a join or through the REST API.
    """

    def __init__(
        self,
        *,
        name: str,
        registry: RoomRegistry,
        max_peers: int,
        created_at: float,
    ) -> None:
        self.name = name
        self.room_id = secrets.token_hex(8)
        self.registry = registry
        self.config: Config = registry.config
        self.max_peers = max_peers
        self.created_at = created_at
        self.participants: dict[str, Participant] = {}
        self.tracks: dict[str, PublishedTrack] = {}
        self._by_user: dict[str, Participant] = {}
        self._announced: set[str] = set()
        self.closed = False
        self._nursery: trio.Nursery | None = None
        self._cancel_scope = trio.CancelScope()
        self._occupancy_changed = trio.Event()
        self._finished = trio.Event()
        self._running = trio.Event()
        self.monitor = RoomMonitor(self)

    # -- lifetime -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        structlog.contextvars.bind_contextvars(room=self.name)
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._running.set()
                    nursery.start_soon(self._close_when_empty)
                    nursery.start_soon(self.monitor.run)
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            self.closed = True
            self.registry.forget(self)
            self._finished.set()

    async def wait_closed(self) -> None:
        """Return once the room's tasks have ended."""
        await self._finished.wait()

    def close(self, reason: str) -> None:
        """Tell everyone the room is closed, disconnect them and end the room's tasks."""
        if self.closed:
            return
        self.closed = True
        logger.info("room closed", room=self.name, reason=reason)
        for participant in list(self.participants.values()):
            link = participant.link
            participant.send("room-closed", {"roomId": self.name, "reason": reason})
            self._drop(participant)
            if link is not None:
                link.close(1000, "room closed")
        self._cancel_scope.cancel()

    async def _close_when_empty(self) -> None:
        while True:
            changed = self._occupancy_changed
            if self.participants:
                await changed.wait()
                continue
            with trio.move_on_after(self.config.empty_room_ttl):
                await changed.wait()
            if not self.participants and not changed.is_set():
                self.close("empty")
                return

    def _notify_occupancy(self) -> None:
        self._occupancy_changed.set()
        self._occupancy_changed = trio.Event()

    # -- membership -----------------------------------------------------------------------

    async def add_participant(
        self,
        *,
        user_id: str,
        name: str,
        permissions: Permissions,
        link: SignalingLink,
        now: float,
    ) -> Participant:
        """Admit a new participant; the caller acknowledges, then calls :meth:`announce`.

        A userId whose previous participant is connected and alive is refused (Conflict); one
        whose socket is gone or silent past the keepalive timeout is replaced.
        """
        # A join may find the room while it is still starting (two first joins racing).
        await self._running.wait()
        if self.closed:
            raise Conflict(f"room {self.name!r} closed while joining")
        assert self._nursery is not None
        existing = self._by_user.get(user_id)
        if existing is not None:
            alive = now - existing.last_heard < self.config.ping_timeout
            if existing.connected and alive:
                raise Conflict(f"userId {user_id!r} is already connected to room {self.name!r}")
            logger.info("replacing suspended participant", peer_id=existing.peer_id)
            self.remove(existing, reason="replaced by a new connection")
        if len(self.participants) >= self.max_peers:
            raise RoomFull(f"room {self.name!r} is full ({self.max_peers} participants)")
        participant = Participant(
            room=self, user_id=user_id, name=name, permissions=permissions, now=now
        )
        self.participants[participant.peer_id] = participant
        self._by_user[user_id] = participant
        self._notify_occupancy()
        await self._nursery.start(participant.run)
        participant.attach(link, now)
        return participant

    def announce(self, participant: Participant) -> None:
        """Send the newcomer the room's state and tell the others it joined."""
        participant.send("room-state", self.state_for(participant))
        self.broadcast("peer-joined", self.peer_info(participant), exclude=participant)
        self._announced.add(participant.peer_id)

    def state_for(self, participant: Participant) -> dict[str, Any]:
        levels = self.monitor.reporter
        peers = [
            {**self.peer_info(other), "quality": levels.level_of(other.peer_id).value}
            for other in self.participants.values()
            if other is not participant and other.peer_id in self._announced
        ]
        return {
            "roomId": self.name,
            "peers": peers,
            "dominantSpeaker": self.monitor.detector.dominant,
        }

    def peer_info(self, participant: Participant) -> dict[str, Any]:
        return {
            **participant.describe(),
            "roomId": self.name,
            "mediaState": dict(participant.muted_sources),
            "tracks": [t.describe() for t in self.tracks.values() if t.publisher is participant],
        }

    def remove(self, participant: Participant, *, reason: str) -> None:
        """Take a participant out of the room: the others see it leave; its tasks end."""
        if participant.removed or self.participants.get(participant.peer_id) is not participant:
            return
        announced = participant.peer_id in self._announced
        self._drop(participant)
        logger.info("participant left", peer_id=participant.peer_id, reason=reason)
        if announced:
            self.broadcast("peer-left", self.peer_info(participant))

    def _drop(self, participant: Participant) -> None:
        self.participants.pop(participant.peer_id, None)
        if self._by_user.get(participant.user_id) is participant:
            del self._by_user[participant.user_id]
        self._announced.discard(participant.peer_id)
        self.registry.forget_session(participant)
        participant.cancel()
        self._notify_occupancy()

    def set_media_state(self, participant: Participant, source: str, muted: bool) -> None:
        """Record a participant's mute or camera-off and tell the others."""
        participant.muted_sources[source] = muted
        data: dict[str, Any] = {"peerId": participant.peer_id, "source": source, "muted": muted}
        for track in self.tracks.values():
            if track.publisher is participant and track.source == source:
                track.up.set_muted(muted)
                data["trackId"] = track.track_id
        self.broadcast("media-state", data, exclude=participant)

    # -- tracks ---------------------------------------------------------------------------

    def publish(self, track: PublishedTrack) -> None:
        """A participant publishes a track: everyone else is told and asked to re-offer."""
        self.tracks[track.key] = track
        logger.info("track published", track=track.key, kind=track.kind, source=track.source)
        self.broadcast("track-published", track.describe(), exclude=track.publisher)
        for other in self.participants.values():
            if other.media is not None and (other is not track.publisher or other.media.echo):
                other.media.request_renegotiation()

    def change_subscription(self, participant: Participant, track_id: str, action: str) -> None:
        """``subscription``: (un)subscribe from a track, or pause/resume its forwarding."""
        track = next((t for t in self.tracks.values() if t.track_id == track_id), None)
        if track is None:
            raise NotFound(f"subscription: no track {track_id!r} in this room")
        media = participant.media
        if action in ("subscribe", "unsubscribe"):
            if action == "unsubscribe":
                participant.unsubscribed.add(track.key)
                if media is not None:
                    media.drop_track(track.key)
            else:
                participant.unsubscribed.discard(track.key)
                if media is not None:
                    media.request_renegotiation()
            return
        if media is None:
            raise Conflict("subscription: no media session yet")
        media.set_paused(track.key, action == "pause")

    def unpublish(self, track: PublishedTrack) -> None:
        """Stop forwarding a track everywhere; subscribers are told and asked to re-offer."""
        if self.tracks.get(track.key) is not track:
            return
        del self.tracks[track.key]
        logger.info("track unpublished", track=track.key)
        data = {
            k: v
            for k, v in track.describe().items()
            if k in ("trackId", "peerId", "kind", "source")
        }
        self.broadcast("track-unpublished", data, exclude=track.publisher)
        for other in self.participants.values():
            if other.media is not None:
                other.media.drop_track(track.key)

    def broadcast(
        self, type: str, data: dict[str, Any], *, exclude: Participant | None = None
    ) -> None:
        for other in self.participants.values():
            if other is not exclude and other.peer_id in self._announced:
                other.send(type, data)

    def describe(self, *, with_participants: bool = False) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "id": self.name,
            "name": self.name,
            "roomId": self.room_id,
            "peerCount": len(self.participants),
            "trackCount": len(self.tracks),
            "maxPeers": self.max_peers,
            "createdAt": datetime.fromtimestamp(self.created_at, UTC).isoformat(),
        }
        if with_participants:
            summary["participants"] = [
                {**p.describe(), "connected": p.connected} for p in self.participants.values()
            ]
        return summary
