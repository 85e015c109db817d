"""A participant's media: its one PeerConnection, the tracks it publishes and those it receives.

The client is the only offerer. Each offer is answered at once: the client's send m-lines become
published tracks (up-tracks routed by the publisher's receiver), and the tracks this participant
should receive are placed on its receive m-lines (down-tracks). Tracks that find no free slot wait
for the next offer, which the server asks for with ``renegotiate``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
import trio

from ..media.bwe import create_estimator
from ..media.downtrack import DownTrack
from ..media.receiver import PublisherReceiver
from ..media.slots import ReceiveSlot, assign_slots
from ..media.subscriber import SubscriberFeedback
from ..media.track import TrackInfo
from ..media.twcc import TransportCcSender
from ..media.uptrack import UpTrack
from ..webrtc.errors import ParseError
from ..webrtc.ice_lite import generate_credentials
from ..webrtc.negotiation import (
    Answer,
    LocalTransport,
    NegotiatedMedia,
    OutgoingTrack,
    create_answer,
    create_offer_for_ice_restart,
)
from ..webrtc.rtcp import parse_compound_untrusted
from ..webrtc.rtp_extensions import TWCC_URI
from ..webrtc.sdp import SessionDescription
from .errors import BadRequest, Forbidden
from .media_transport import MediaTransport, dtls_role_for_setup, sha256_fingerprint
from .peer_transport import PeerTransport
from .tracks import PublishedTrack

if TYPE_CHECKING:
    from .participant import Participant

logger = structlog.get_logger("sfu_trio.media")

SOURCES = ("camera", "microphone", "screen")
RENEGOTIATION_DEBOUNCE = 0.15
TIMER_CAP = 0.05
IDLE_TIMER_CAP = 1.0
INITIAL_ESTIMATE_BPS = 1_000_000


def _random_ssrc(rng: random.Random) -> int:
    return rng.randrange(1, 2**32)


class ParticipantMedia:
    """The media side of one participant (publisher and subscriber on one connection)."""

    def __init__(self, participant: Participant, transport: MediaTransport) -> None:
        self.participant = participant
        self.transport = transport
        self._rng = random.Random()
        self.ice_ufrag, self.ice_pwd = generate_credentials(self._rng)
        self.rtcp_ssrc = _random_ssrc(self._rng)
        self.cname = f"sfu-{participant.peer_id}"
        self.peer: PeerTransport | None = None
        self.answer: Answer | None = None
        self.receiver: PublisherReceiver | None = None
        self.feedback: SubscriberFeedback | None = None
        self.published: dict[str, PublishedTrack] = {}  # mid -> track this client publishes
        self.sending: dict[str, tuple[str, DownTrack]] = {}  # mid -> (track key, down-track)
        self.echo = False
        self._renegotiation_wanted = trio.Event()
        self._publishing_started = trio.Event()
        self._remote_ice: tuple[str, str] | None = None
        self._wall_offset = time.time() - trio.current_time()

    @property
    def room(self) -> Any:
        return self.participant.room

    # -- tasks ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """RTCP timers and debounced renegotiation; runs in the participant's nursery."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run_timers)
            nursery.start_soon(self._run_renegotiation)
            task_status.started()

    async def _run_timers(self) -> None:
        while True:
            now = trio.current_time()
            # A publisher's packets create timers (NACK, TWCC feedback) without waking this task,
            # so poll at TIMER_CAP while publishing; otherwise the timers are all known here.
            publishing = self.receiver is not None and bool(self.published)
            deadline = now + (TIMER_CAP if publishing else IDLE_TIMER_CAP)
            for source in (self.receiver, self.feedback):
                due = source.get_timer() if source is not None else None
                if due is not None and due < deadline:
                    deadline = due
            with trio.move_on_at(max(deadline, now)):
                await self._publishing_started.wait()
            self._publishing_started = trio.Event()
            now = trio.current_time()
            if self.receiver is not None:
                self.receiver.handle_timer(now)
            if self.feedback is not None:
                self.feedback.handle_timer(now)

    async def _run_renegotiation(self) -> None:
        while True:
            await self._renegotiation_wanted.wait()
            await trio.sleep(RENEGOTIATION_DEBOUNCE)
            self._renegotiation_wanted = trio.Event()
            if self.needs_offer():
                self.participant.send(
                    "renegotiate",
                    {
                        "reason": "track_change",
                        "peerId": self.participant.peer_id,
                        "trackCount": len(self.wanted_tracks()),
                    },
                )

    def request_renegotiation(self) -> None:
        self._renegotiation_wanted.set()

    # -- what this participant should receive -------------------------------------------

    def wanted_tracks(self) -> list[PublishedTrack]:
        if not self.participant.permissions.can_subscribe:
            return []
        own = self.participant
        return [
            track
            for track in self.room.tracks.values()
            if (track.publisher is not own or self.echo) and track.key not in own.unsubscribed
        ]

    def needs_offer(self) -> bool:
        if self.answer is None:
            return False
        sent = {key for key, _ in self.sending.values()}
        return sent != {track.key for track in self.wanted_tracks()}

    # -- negotiation ----------------------------------------------------------------------

    async def handle_offer(self, sdp: str, sources: Mapping[str, str]) -> dict[str, Any]:
        """Answer the client's offer; returns the ``answer`` message's data."""
        try:
            offer = SessionDescription.parse_untrusted(sdp)
        except ParseError as exc:
            raise BadRequest(f"offer: invalid SDP: {exc}") from None
        slots = [
            ReceiveSlot(media.mid, media.kind)
            for media in offer.media
            if media.mid is not None
            and media.port != 0
            and media.kind in ("audio", "video")
            and media.direction in ("recvonly", "sendrecv")
        ]
        wanted = self.wanted_tracks()
        by_key = {track.key: track for track in wanted}
        current = {mid: key for mid, (key, _) in self.sending.items()}
        placement = assign_slots(slots, [(t.key, t.kind) for t in wanted], current)
        outgoing = {
            mid: self._outgoing_track(mid, by_key[key]) for mid, key in placement.placed.items()
        }
        remote_ice = _offer_ice_credentials(offer)
        if self._remote_ice is not None and remote_ice != self._remote_ice:
            self.ice_ufrag, self.ice_pwd = generate_credentials(self._rng)
            if self.peer is not None:
                self.peer.restart_ice(self.ice_ufrag, self.ice_pwd)
        answer = create_answer(
            offer,
            LocalTransport(
                ice_ufrag=self.ice_ufrag,
                ice_pwd=self.ice_pwd,
                fingerprint_sha256=self.transport.certificate.fingerprint_sha256,
                setup="passive",
                candidates=self.transport.local_candidates(),
            ),
            outgoing,
            previous=self.answer,
        )
        await self._apply_transport(answer)
        self._remote_ice = remote_ice
        self.answer = answer
        now = trio.current_time()
        self._apply_publications(answer, sources, now)
        self._apply_subscriptions(answer, placement.placed, by_key, now)
        if placement.waiting:
            self.request_renegotiation()
        return {
            "sdp": answer.sdp,
            "type": "answer",
            "peerId": self.participant.peer_id,
            "tracks": [
                {"mid": mid, **self.room.tracks[key].describe()}
                for mid, (key, _) in self.sending.items()
                if key in self.room.tracks
            ],
        }

    def _outgoing_track(self, mid: str, track: PublishedTrack) -> OutgoingTrack:
        existing = self.sending.get(mid)
        if existing is not None and existing[0] == track.key:
            ssrc, rtx_ssrc = existing[1].ssrc, existing[1].rtx_ssrc
        else:
            ssrc = _random_ssrc(self._rng)
            rtx_ssrc = _random_ssrc(self._rng) if track.kind == "video" else None
        info = track.up.info
        return OutgoingTrack(
            kind="video" if info.kind == "video" else "audio",
            ssrc=ssrc,
            rtx_ssrc=rtx_ssrc,
            stream_id=track.publisher.peer_id,
            track_id=track.track_id,
            cname=f"sfu-{track.publisher.peer_id}",
            mime_type=info.mime_type,
        )

    async def _apply_transport(self, answer: Answer) -> None:
        if answer.remote_ice_ufrag is None or answer.remote_ice_pwd is None:
            raise BadRequest("offer: no m-line could be accepted")
        fingerprint = sha256_fingerprint(answer.remote_fingerprints)
        if fingerprint is None:
            raise BadRequest("offer: a sha-256 fingerprint is required")
        if self.peer is None:
            nursery = self.participant.nursery
            assert nursery is not None, "participant is not running"
            self.peer = self.transport.create_peer_transport(
                local_ufrag=self.ice_ufrag,
                local_pwd=self.ice_pwd,
                dtls_role=dtls_role_for_setup(answer.setup),
                remote_fingerprint=fingerprint,
                remote_ufrag=answer.remote_ice_ufrag,
                remote_pwd=answer.remote_ice_pwd,
                on_rtp=self._on_rtp,
                on_rtcp=self._on_rtcp,
                on_state_change=self._on_transport_state,
            )
            await nursery.start(self.peer.run)
        else:
            self.peer.set_remote(answer.remote_ice_ufrag, answer.remote_ice_pwd, fingerprint)

    def _apply_publications(self, answer: Answer, sources: Mapping[str, str], now: float) -> None:
        peer = self.peer
        assert peer is not None
        still: set[str] = set()
        for media in answer.media:
            if not (media.accepted and media.receives and media.mid and media.codecs):
                continue
            track_id = media.remote_msid.track_id if media.remote_msid else None
            track_id = track_id or f"{self.participant.peer_id}-{media.mid}"
            still.add(media.mid)
            existing = self.published.get(media.mid)
            if existing is not None and existing.track_id == track_id:
                continue
            if existing is not None:
                self._unpublish(media.mid)
            if not self.participant.permissions.can_publish:
                raise Forbidden("this token does not allow publishing")
            self._publish(answer, media, track_id, _source_for(media, track_id, sources))
        for mid in [mid for mid in self.published if mid not in still]:
            self._unpublish(mid)

    def _ensure_receiver(self, answer: Answer) -> PublisherReceiver:
        extension_ids: dict[str, int] = {}
        for media in answer.media:
            if media.accepted:
                extension_ids.update(media.extensions)
        if self.receiver is None:
            peer = self.peer
            assert peer is not None
            self.receiver = PublisherReceiver(
                extension_ids=extension_ids,
                send_rtcp=peer.send_rtcp,
                rtcp_ssrc=self.rtcp_ssrc,
            )
        else:
            self.receiver.set_extension_ids(extension_ids)
        return self.receiver

    def _publish(self, answer: Answer, media: NegotiatedMedia, track_id: str, source: str) -> None:
        peer = self.peer
        assert peer is not None and media.mid is not None
        info = TrackInfo.from_negotiated(
            media,
            track_id=track_id,
            publisher_id=self.participant.peer_id,
            source=source,  # type: ignore[arg-type]
        )
        muted = self.participant.muted_sources.get(source, False)
        up = UpTrack(info.with_muted(muted), send_rtcp=peer.send_rtcp, rtcp_ssrc=self.rtcp_ssrc)
        self._ensure_receiver(answer).add_track(up, media.remote_ssrcs)
        track = PublishedTrack(self.participant, up, track_id)
        self.published[media.mid] = track
        self._publishing_started.set()
        self.room.publish(track)

    def _unpublish(self, mid: str) -> None:
        track = self.published.pop(mid)
        if self.receiver is not None:
            self.receiver.remove_track(mid)
        self.room.unpublish(track)

    def _apply_subscriptions(
        self,
        answer: Answer,
        placed: Mapping[str, str],
        by_key: Mapping[str, PublishedTrack],
        now: float,
    ) -> None:
        peer = self.peer
        assert peer is not None
        if self.feedback is None:
            twcc = any(TWCC_URI in media.extensions for media in answer.media)
            self.feedback = SubscriberFeedback(
                estimator=create_estimator("twcc" if twcc else "remb", INITIAL_ESTIMATE_BPS),
                send_rtcp=peer.send_rtcp,
                transport_cc=TransportCcSender() if twcc else None,
                wall_clock_offset=self._wall_offset,
            )
            self.feedback.set_bandwidth_limit(self.participant.bandwidth_limit, now)
        delivered: dict[str, tuple[str, DownTrack]] = {}
        for media in answer.media:
            mid = media.mid
            codec = media.send_codec
            if mid is None or media.outgoing is None or codec is None or mid not in placed:
                continue
            key = placed[mid]
            existing = self.sending.get(mid)
            if existing is not None and existing[0] == key:
                delivered[mid] = existing
                continue
            track = by_key[key]
            down = DownTrack(
                track.up,
                ssrc=media.outgoing.ssrc,
                payload_type=codec.payload_type,
                send_rtp=peer.rtp_sender.send,
                extension_ids=media.extensions,
                rtx_ssrc=media.outgoing.rtx_ssrc,
                rtx_payload_type=codec.rtx_payload_type,
                transport_cc=self.feedback.transport_cc,
            )
            if peer.state != "connected":
                down.set_transport_ready(False, now)
            track.up.add_down_track(down)
            self.feedback.add_down_track(down, now)
            delivered[mid] = (key, down)
        for mid, (_key, down) in self.sending.items():
            if delivered.get(mid, (None, None))[1] is not down:
                self._close_down_track(down, now)
        self.sending = delivered

    def _close_down_track(self, down: DownTrack, now: float) -> None:
        down.up.remove_down_track(down)
        if self.feedback is not None:
            self.feedback.remove_down_track(down, now)
        down.close()

    def drop_track(self, key: str) -> None:
        """The room unpublished ``key``: stop sending it now; the slot frees at the next offer."""
        now = trio.current_time()
        for mid, (sent_key, down) in list(self.sending.items()):
            if sent_key == key:
                self._close_down_track(down, now)
                del self.sending[mid]
        self.request_renegotiation()

    # -- ICE restart ----------------------------------------------------------------------

    def restart_offer(self) -> dict[str, Any]:
        """The seed's ``ice-restart-offer``: new server credentials in a server-made offer."""
        if self.answer is None or self.peer is None:
            raise BadRequest("ice-restart-request: no media session yet")
        self.ice_ufrag, self.ice_pwd = generate_credentials(self._rng)
        self.peer.restart_ice(self.ice_ufrag, self.ice_pwd)
        offer = create_offer_for_ice_restart(
            self.answer,
            LocalTransport(
                ice_ufrag=self.ice_ufrag,
                ice_pwd=self.ice_pwd,
                fingerprint_sha256=self.transport.certificate.fingerprint_sha256,
                setup="passive",
                candidates=self.transport.local_candidates(),
            ),
        )
        return {"sdp": offer.serialize(), "type": "offer", "peerId": self.participant.peer_id}

    def handle_restart_answer(self, sdp: str) -> None:
        """The client's answer to our ``ice-restart-offer``: its new ICE credentials."""
        try:
            description = SessionDescription.parse_untrusted(sdp)
        except ParseError as exc:
            raise BadRequest(f"answer: invalid SDP: {exc}") from None
        ufrag, pwd = _offer_ice_credentials(description)
        if self.peer is None or self.answer is None or not ufrag or not pwd:
            raise BadRequest("answer: no ICE credentials, or no media session to restart")
        fingerprint = sha256_fingerprint(self.answer.remote_fingerprints)
        assert fingerprint is not None
        self.peer.set_remote(ufrag, pwd, fingerprint)
        self._remote_ice = (ufrag, pwd)

    # -- media plane callbacks (synchronous, per packet) ----------------------------------

    def _on_rtp(self, packet: bytes, now: float) -> None:
        receiver = self.receiver
        if receiver is not None:
            receiver.on_rtp(packet, now)

    def _on_rtcp(self, data: bytes, now: float) -> None:
        try:
            packets = parse_compound_untrusted(data)
        except ParseError:
            return
        if self.receiver is not None:
            self.receiver.on_rtcp_packets(packets, now)
        if self.feedback is not None:
            self.feedback.on_rtcp_packets(packets, now)

    def _on_transport_state(self, state: str) -> None:
        logger.info("media transport state", state=state, peer_id=self.participant.peer_id)
        if state == "connected":
            now = trio.current_time()
            for _key, down in self.sending.values():
                down.set_transport_ready(True, now)
        if state == "failed":
            reason = self.peer.failure_reason if self.peer is not None else None
            category = self.room.registry.count_media_failure(reason or "")
            logger.warning("media connection failed", reason=reason, category=category)
            participant = self.participant
            link = participant.link
            code = 403 if category == "fingerprint_mismatch" else 500
            participant.send(
                "error", {"code": code, "message": f"media connection failed: {reason}"}
            )
            self.room.remove(participant, reason=f"media connection failed ({category})")
            if link is not None:
                link.close(4002, "media connection failed")

    # -- controls -------------------------------------------------------------------------

    def set_bandwidth_limit(self, bps: int | None) -> None:
        if self.feedback is not None:
            self.feedback.set_bandwidth_limit(bps, trio.current_time())

    def set_layer(self, track_id: str, rid: str) -> None:
        for key, down in self.sending.values():
            track = self.room.tracks.get(key)
            if track is not None and track.track_id == track_id:
                down.set_max_rid(rid, trio.current_time())
                return
        raise BadRequest(f"layer-switch: not receiving a track {track_id!r}")

    def set_paused(self, key: str, paused: bool) -> None:
        now = trio.current_time()
        for sent_key, down in self.sending.values():
            if sent_key == key:
                down.set_paused(paused, now)

    def close(self) -> None:
        """Unpublish everything and stop every down-track (the participant is leaving)."""
        now = trio.current_time()
        for mid in list(self.published):
            self._unpublish(mid)
        for _key, down in self.sending.values():
            self._close_down_track(down, now)
        self.sending = {}
        if self.peer is not None:
            self.peer.close()


def _offer_ice_credentials(description: SessionDescription) -> tuple[str, str]:
    ufrag, pwd = description.ice_ufrag, description.ice_pwd
    for media in description.media:
        if media.port != 0 or ufrag is None:
            ufrag = ufrag or media.ice_ufrag
            pwd = pwd or media.ice_pwd
            break
    return ufrag or "", pwd or ""


def _source_for(media: NegotiatedMedia, track_id: str, sources: Mapping[str, str]) -> str:
    source = sources.get(track_id) or (media.mid and sources.get(media.mid))
    if source in SOURCES:
        return str(source)
    return "microphone" if media.kind == "audio" else "camera"
