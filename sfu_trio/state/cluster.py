"""This node's membership of the cluster: heartbeat, room claims and records, session records.

With Redis configured, a node announces itself every ``NODE_HEARTBEAT_INTERVAL`` seconds
(``NodeInfo`` with its load) and drops out ``NODE_TTL`` seconds after its last heartbeat. It owns
the rooms it hosts: each room is claimed atomically before it is created here, the claim and the
room's ``RoomRecord`` are renewed every ``ROOM_RENEW_INTERVAL`` seconds and released when the room
closes. Each participant's ``SessionRecord`` is kept in the store while the participant lives, so
any node can find where a session lives.

Every store failure is counted and retried on the next round; the local rooms never depend on the
store answering. A claim found in another node's hands (after an outage long enough for the claim
to expire and be taken) sends the local room's clients elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
import trio

from ..runtime.participant import Participant
from ..runtime.room import Room
from ..runtime.rooms import RoomRegistry
from .backend import StateBackend, StateUnavailable
from .keys import NODE_HEARTBEAT_INTERVAL, NODE_TTL, ROOM_RENEW_INTERVAL, ROOM_TTL
from .placement import choose_node
from .records import (
    NodeInfo,
    RoomRecord,
    SessionRecord,
    hash_session_token,
    verify_session_token,
)

logger = structlog.get_logger("sfu_trio.cluster")

MembershipListener = Callable[[frozenset[str]], None]


def _nothing() -> None:
    return None


def _no_bytes() -> int:
    return 0


class ClusterNode:
    """This node in the cluster; also the registry's observer that keeps the store in step."""

    def __init__(
        self,
        backend: StateBackend,
        registry: RoomRegistry,
        *,
        node_id: str,
        session_ttl: float,
        media_host: str = "",
        forwarded_bytes: Callable[[], int] = _no_bytes,
        count_error: Callable[[], None] = _nothing,
        node_ttl: float = NODE_TTL,
        room_ttl: float = ROOM_TTL,
    ) -> None:
        self.backend = backend
        self.registry = registry
        self.node_id = node_id
        self.signaling_url = ""
        """Where clients reach this node; set once the HTTP server is bound."""
        self.registered = False
        """Whether the last heartbeat reached the store."""
        self.leaving = False
        self.live_nodes: dict[str, NodeInfo] = {}
        """The nodes listed at the last successful heartbeat."""
        self.membership_listeners: list[MembershipListener] = []
        self._session_ttl = session_ttl
        self._media = (media_host, 0, 0)
        self._forwarded_bytes = forwarded_bytes
        self._count_error = count_error
        self._node_ttl = node_ttl
        self._room_ttl = room_ttl
        self._dirty_rooms: set[str] = set()
        self._released_rooms: set[str] = set()
        self._sessions_to_save: dict[str, SessionRecord] = {}
        self._sessions_to_drop: set[str] = set()
        self._wake = trio.Event()
        self._load_sample = (time.monotonic(), time.process_time(), 0)
        registry.observer = self

    def set_media_ports(self, udp_port: int, tcp_port: int) -> None:
        """The media ports announced in heartbeats (known once the media sockets are bound)."""
        self._media = (self._media[0], udp_port, tcp_port)

    # -- tasks ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Heartbeat and keep claims, records and sessions in step until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeat_loop)
            nursery.start_soon(self._sync_loop)
            task_status.started()

    async def _heartbeat_loop(self) -> None:
        while not self.leaving:
            await self.heartbeat()
            await trio.sleep(NODE_HEARTBEAT_INTERVAL)

    async def heartbeat(self) -> None:
        """Register (or refresh) this node and read the list of live nodes."""
        try:
            await self.backend.register_node(self.node_info(), self._node_ttl)
            nodes = await self.backend.list_nodes()
        except StateUnavailable as exc:
            self._failed("heartbeat", exc)
            return
        self.live_nodes = {node.node_id: node for node in nodes}
        if not self.registered:
            self.registered = True
            logger.info("registered in the cluster", nodes=sorted(self.live_nodes))
            self._mark_everything()
        ids = frozenset(self.live_nodes)
        for listener in list(self.membership_listeners):
            listener(ids)

    async def _sync_loop(self) -> None:
        next_renewal = trio.current_time() + ROOM_RENEW_INTERVAL
        while True:
            with trio.move_on_at(next_renewal):
                await self._wake.wait()
            self._wake = trio.Event()
            if trio.current_time() >= next_renewal:
                next_renewal = trio.current_time() + ROOM_RENEW_INTERVAL
                self._mark_everything()
            await self.sync()

    def _mark_everything(self) -> None:
        for room in list(self.registry.rooms.values()):
            if not room.closed:
                self._dirty_rooms.add(room.name)
                for participant in room.participants.values():
                    self._queue_session(participant)
        self._wake.set()

    async def sync(self) -> None:
        """Write what changed since the last round: releases, claims and records, sessions."""
        if self.leaving:
            return
        backend = self.backend
        try:
            for name in sorted(self._released_rooms):
                if not self.hosts(name):
                    await backend.release_room(name, self.node_id)
                    if await backend.room_owner(name) is None:
                        await backend.delete_room_record(name)
                self._released_rooms.discard(name)
            for name in sorted(self._dirty_rooms):
                room = self.registry.rooms.get(name)
                if room is not None and not room.closed:
                    owner = await backend.claim_room(name, self.node_id, self._room_ttl)
                    if owner != self.node_id:
                        self._lost(room, owner)
                    else:
                        await backend.put_room(self.room_record(room), self._room_ttl)
                self._dirty_rooms.discard(name)
            for session_id, record in list(self._sessions_to_save.items()):
                await backend.save_session(record, self._session_ttl)
                if self._sessions_to_save.get(session_id) is record:
                    del self._sessions_to_save[session_id]
            for session_id in sorted(self._sessions_to_drop):
                await backend.delete_session(session_id)
                self._sessions_to_drop.discard(session_id)
        except StateUnavailable as exc:
            self._failed("sync", exc)

    def _failed(self, operation: str, exc: StateUnavailable) -> None:
        self._count_error()
        if self.registered:
            logger.warning("state store unreachable; serving local rooms only", error=str(exc))
        else:
            logger.debug("state store still unreachable", operation=operation, error=str(exc))
        self.registered = False

    def _lost(self, room: Room, owner: str) -> None:
        logger.warning(
            "room claimed by another node; moving its clients", room=room.name, owner=owner
        )
        self.registry.evict(room, f"room moved to node {owner}")

    def hosts(self, name: str) -> bool:
        room = self.registry.rooms.get(name)
        return room is not None and not room.closed

    # -- what this node publishes ---------------------------------------------------------

    def node_info(self) -> NodeInfo:
        """This node's record with its current load (CPU and bitrate since the last call)."""
        now, cpu, sent = time.monotonic(), time.process_time(), self._forwarded_bytes()
        last_now, last_cpu, last_sent = self._load_sample
        elapsed = now - last_now
        self._load_sample = (now, cpu, sent)
        host, udp_port, tcp_port = self._media
        return NodeInfo(
            node_id=self.node_id,
            signaling_url=self.signaling_url,
            media_host=host,
            udp_port=udp_port,
            tcp_port=tcp_port,
            rooms=len(self.registry.rooms),
            participants=self.registry.peer_count(),
            forwarded_bps=int(max(0, sent - last_sent) * 8 / elapsed) if elapsed > 0 else 0,
            cpu=round(max(0.0, cpu - last_cpu) / elapsed, 3) if elapsed > 0 else 0.0,
            updated_at=time.time(),
        )

    def room_record(self, room: Room) -> RoomRecord:
        return RoomRecord(
            name=room.name,
            owner_node=self.node_id,
            peer_count=len(room.participants),
            track_count=len(room.tracks),
            max_peers=room.max_peers,
            created_at=room.created_at,
        )

    def session_record(self, participant: Participant) -> SessionRecord:
        return SessionRecord(
            session_id=participant.session_id,
            token_hash=hash_session_token(participant.session_token),
            room=participant.room.name,
            peer_id=participant.peer_id,
            user_id=participant.user_id,
            name=participant.name,
            node_id=self.node_id,
        )

    # -- RegistryObserver -----------------------------------------------------------------

    def room_opened(self, room: Room) -> None:
        self._released_rooms.discard(room.name)
        self._dirty_rooms.add(room.name)
        self._wake.set()

    def room_closed(self, room: Room) -> None:
        self._dirty_rooms.discard(room.name)
        self._released_rooms.add(room.name)
        self._wake.set()

    def participant_joined(self, participant: Participant) -> None:
        self._queue_session(participant)
        self._dirty_rooms.add(participant.room.name)
        self._wake.set()

    def participant_left(self, participant: Participant) -> None:
        self._sessions_to_save.pop(participant.session_id, None)
        self._sessions_to_drop.add(participant.session_id)
        if self.hosts(participant.room.name):
            self._dirty_rooms.add(participant.room.name)
        self._wake.set()

    def _queue_session(self, participant: Participant) -> None:
        if not participant.removed:
            self._sessions_to_drop.discard(participant.session_id)
            self._sessions_to_save[participant.session_id] = self.session_record(participant)

    def forget_session(self, session_id: str) -> None:
        """Drop a stored session whose participant no longer exists anywhere."""
        self._sessions_to_drop.add(session_id)
        self._wake.set()

    # -- placement ------------------------------------------------------------------------

    async def route(self, room: str) -> str:
        """The node that hosts ``room``: this one if it has it, else its live owner, else the
        node the placement policy picks, claimed for it atomically (whoever wins the claim).

        A dead owner's claim is dropped first. With the store unreachable, this node serves
        the room itself. Raises nothing.
        """
        if self.hosts(room) or not self.registered:
            return self.node_id
        backend = self.backend
        try:
            owner = await backend.room_owner(room)
            nodes = {node.node_id: node for node in await backend.list_nodes()}
            if owner is not None and owner in nodes:
                return owner
            if owner is not None:
                logger.info("taking over the room of a dead node", room=room, dead=owner)
                await backend.release_room(room, owner)
            if self.leaving:
                nodes.pop(self.node_id, None)
            else:
                nodes.setdefault(self.node_id, self.node_info())
            chosen = choose_node(nodes.values())
            target = self.node_id if chosen is None else chosen.node_id
            return await backend.claim_room(room, target, self._room_ttl)
        except StateUnavailable as exc:
            self._failed("route", exc)
            return self.node_id

    async def session_node(self, session_id: str, token: str, room: str) -> str | None:
        """The live node holding a valid session of ``room``, if the store knows one."""
        if not self.registered:
            return None
        try:
            record = await self.backend.load_session(session_id)
            if record is None or record.room != room:
                return None
            live = {node.node_id for node in await self.backend.list_nodes()}
        except StateUnavailable as exc:
            self._failed("load_session", exc)
            return None
        if record.node_id not in live:
            return None
        return record.node_id if verify_session_token(record, token) else None

    async def leave(self) -> None:
        """Stop taking rooms: unregister and release every claim (best effort)."""
        self.leaving = True
        try:
            await self.backend.remove_node(self.node_id)
            for name in sorted(self.registry.rooms):
                await self.backend.release_room(name, self.node_id)
                await self.backend.delete_room_record(name)
        except StateUnavailable as exc:
            self._failed("leave", exc)
