"""The registry of live rooms on this node, and of the sessions that can be resumed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import structlog
import trio

from ..config import Config
from .errors import Conflict, NotFound, Unavailable
from .media_transport import MediaTransport
from .participant import Participant
from .room import Room

logger = structlog.get_logger("sfu_trio.rooms")


@dataclass(frozen=True, slots=True)
class RegistryStatistics:
    """Counters since start-up, read by the metrics collector at scrape time."""

    rooms: int
    participants: int
    rooms_created: int
    joins: int
    leaves: int
    resumes: int


class RegistryObserver(Protocol):
    """Told about rooms and participants coming and going (the cluster keeps Redis in step)."""

    def room_opened(self, room: Room) -> None: ...

    def room_closed(self, room: Room) -> None: ...

    def participant_joined(self, participant: Participant) -> None: ...

    def participant_left(self, participant: Participant) -> None: ...


class RoomRegistry:
    """Every live room of this node; its nursery (a child of the server's) owns the rooms."""

    def __init__(
        self,
        config: Config,
        *,
        media: MediaTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.media = media
        self.rooms: dict[str, Room] = {}
        self.draining = False
        self._sessions: dict[str, Participant] = {}
        self._wall_clock = wall_clock
        self._nursery: trio.Nursery | None = None
        self._rooms_created = 0
        self._joins = 0
        self._leaves = 0
        self._resumes = 0
        self.media_failures: dict[str, int] = {}  # failure category -> count
        self.observer: RegistryObserver | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    # -- rooms ----------------------------------------------------------------------------

    def get(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None or room.closed:
            raise NotFound(f"room {name!r} not found")
        return room

    async def create_room(self, name: str, *, max_peers: int | None = None) -> Room:
        if name in self.rooms and not self.rooms[name].closed:
            raise Conflict(f"room {name!r} already exists")
        if self.draining:
            raise Unavailable("server is shutting down")
        if len(self.rooms) >= self.config.max_rooms:
            raise Unavailable(f"too many rooms (limit {self.config.max_rooms})")
        assert self._nursery is not None, "registry is not running"
        limit = self.config.max_peers_per_room
        room = Room(
            name=name,
            registry=self,
            max_peers=min(max_peers, limit) if max_peers else limit,
            created_at=self._wall_clock(),
        )
        self.rooms[name] = room
        self._rooms_created += 1
        await self._nursery.start(room.run)
        logger.info("room created", room=name)
        if self.observer is not None:
            self.observer.room_opened(room)
        return room

    async def get_or_create_room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is not None and not room.closed:
            return room
        return await self.create_room(name)

    def delete_room(self, name: str, reason: str = "deleted") -> None:
        self.get(name).close(reason)

    def forget(self, room: Room) -> None:
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]
            if self.observer is not None:
                self.observer.room_closed(room)

    def evict(self, room: Room, reason: str) -> None:
        """Send the room's clients elsewhere: ``server-shutdown`` with a reconnect hint, then close.

        Their sockets close before the room does, so they never see ``room-closed`` (which
        tells a client not to come back).
        """
        for participant in list(room.participants.values()):
            link = participant.link
            participant.send("server-shutdown", {"reason": reason, "reconnect": True})
            if link is not None:
                link.close(1001, reason)
        room.close(reason)

    def close_all(self, reason: str) -> None:
        for room in list(self.rooms.values()):
            room.close(reason)

    # -- participants and sessions --------------------------------------------------------

    def participants(self) -> Iterator[Participant]:
        for room in self.rooms.values():
            yield from room.participants.values()

    def peer_count(self) -> int:
        return sum(len(room.participants) for room in self.rooms.values())

    def remember_session(self, participant: Participant) -> None:
        self._sessions[participant.session_id] = participant
        self._joins += 1
        if self.observer is not None:
            self.observer.participant_joined(participant)

    def forget_session(self, participant: Participant) -> None:
        if self._sessions.get(participant.session_id) is participant:
            del self._sessions[participant.session_id]
            self._leaves += 1
            if self.observer is not None:
                self.observer.participant_left(participant)

    def find_session(self, session_id: str, session_token: str) -> Participant | None:
        """The participant a (sessionId, sessionToken) pair resumes, if both are valid."""
        participant = self._sessions.get(session_id)
        if participant is None or participant.removed:
            return None
        if not participant.check_session_token(session_token):
            return None
        return participant

    def count_media_failure(self, reason: str) -> str:
        """Count a failed media connection by a bounded category; returns the category."""
        category = media_failure_category(reason)
        self.media_failures[category] = self.media_failures.get(category, 0) + 1
        return category

    def count_resume(self) -> None:
        self._resumes += 1

    def statistics(self) -> RegistryStatistics:
        return RegistryStatistics(
            rooms=len(self.rooms),
            participants=self.peer_count(),
            rooms_created=self._rooms_created,
            joins=self._joins,
            leaves=self._leaves,
            resumes=self._resumes,
        )


MEDIA_FAILURE_CATEGORIES = {
    "fingerprint mismatch": "fingerprint_mismatch",
    "consent expired": "consent_expired",
    "handshake timeout": "dtls_timeout",
}


def media_failure_category(reason: str | None) -> str:
    """Metrics labels stay bounded: free-form DTLS errors count as ``dtls_error``."""
    return MEDIA_FAILURE_CATEGORIES.get(reason or "", "dtls_error")
