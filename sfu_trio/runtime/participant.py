"""A participant of a room: identity, session, and the signaling link of its current socket."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
import trio

from .link import SignalingLink

if TYPE_CHECKING:
    from .media_session import ParticipantMedia
    from .room import Room

logger = structlog.get_logger("sfu_trio.participant")


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a participant may do, from its token's grants (everything when auth is off)."""

    can_publish: bool = True
    can_subscribe: bool = True
    room_admin: bool = False


class Participant:
    """One member of a room, alive from join until leave or session expiry.

    Its socket may drop and come back: while no socket is attached the participant is
    *suspended* and can be resumed with its session token for ``session_ttl`` seconds. Its tasks
    run in its own nursery inside the room's, so removing it cancels everything it owns.
    """

    def __init__(
        self,
        *,
        room: Room,
        user_id: str,
        name: str,
        permissions: Permissions,
        now: float,
    ) -> None:
        self.room = room
        self.peer_id = secrets.token_hex(8)
        self.user_id = user_id
        self.name = name
        self.permissions = permissions
        self.session_id = secrets.token_urlsafe(12)
        self.session_token = secrets.token_urlsafe(32)
        self.joined_at = now
        self.link: SignalingLink | None = None
        self.bandwidth_limit: int | None = None
        self.muted_sources: dict[str, bool] = {}
        self.unsubscribed: set[str] = set()
        self.media: ParticipantMedia | None = None
        self.suspended_at: float | None = now
        self.last_heard = now
        self.removed = False
        self.nursery: trio.Nursery | None = None
        self._cancel_scope: trio.CancelScope | None = None
        self._session_changed = trio.Event()

    @property
    def connected(self) -> bool:
        return self.link is not None and not self.link.closed

    def describe(self) -> dict[str, Any]:
        return {"peerId": self.peer_id, "userId": self.user_id, "name": self.name}

    def check_session_token(self, token: str) -> bool:
        return secrets.compare_digest(self.session_token.encode(), token.encode())

    def send(self, type: str, data: dict[str, Any] | None = None) -> bool:
        """Queue a message for the client; False when it has no live socket."""
        if self.link is None:
            return False
        return self.link.send(type, data)

    def attach(self, link: SignalingLink, now: float) -> None:
        """Bind a socket to this participant, replacing (and closing) any previous one."""
        previous = self.link
        if previous is not None and previous is not link:
            previous.close(4001, "session resumed on another connection")
        self.link = link
        self.suspended_at = None
        self.last_heard = now
        self._notify_session_changed()

    def detach(self, link: SignalingLink, now: float) -> None:
        """The socket behind ``link`` is gone: suspend, unless a newer socket took over."""
        if self.link is not link:
            return
        self.link = None
        self.suspended_at = now
        self._notify_session_changed()
        logger.info("participant suspended", peer_id=self.peer_id, room=self.room.name)

    def _notify_session_changed(self) -> None:
        self._session_changed.set()
        self._session_changed = trio.Event()

    def heard_from(self, now: float) -> None:
        self.last_heard = now

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the participant's tasks until it is removed."""
        structlog.contextvars.bind_contextvars(room=self.room.name, peer_id=self.peer_id)
        with trio.CancelScope() as scope:
            self._cancel_scope = scope
            if self.removed:
                scope.cancel()
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                nursery.start_soon(self._expire_when_suspended)
                task_status.started()
                await trio.sleep_forever()

    async def ensure_media(self) -> ParticipantMedia:
        """This participant's media session, created (and started) on its first offer."""
        if self.media is None:
            from .media_session import ParticipantMedia

            transport = self.room.registry.media
            if transport is None:
                from .errors import Unavailable

                raise Unavailable("media is not available on this server")
            assert self.nursery is not None, "participant is not running"
            media = ParticipantMedia(self, transport)
            self.media = media
            await self.nursery.start(media.run)
        return self.media

    def cancel(self) -> None:
        """End every task the participant owns (called once it is removed from its room)."""
        self.removed = True
        self.link = None
        if self.media is not None:
            self.media.close()
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def _expire_when_suspended(self) -> None:
        ttl = self.room.config.session_ttl
        while True:
            changed = self._session_changed
            if self.suspended_at is None:
                await changed.wait()
                continue
            deadline = self.suspended_at + ttl
            with trio.move_on_at(deadline):
                await changed.wait()
            if self.suspended_at is not None and trio.current_time() >= deadline:
                logger.info("session expired", peer_id=self.peer_id)
                self.room.remove(self, reason="session expired")
                return
