"""What the forwarding pipeline knows about one published track (set at publication time)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from sfu_trio.webrtc.negotiated import NegotiatedMedia

TrackKind = Literal["audio", "video"]
TrackSource = Literal["camera", "microphone", "screen", "screen-audio"]


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """A published track: who publishes it, on which m-line, with which codec and layers.

    ``rids`` are the simulcast layers, lowest quality first (empty for a single stream);
    ``extension_ids`` are the publisher's RTP header extension ids by URI.
    """

    track_id: str
    publisher_id: str
    kind: TrackKind
    source: TrackSource
    mid: str
    mime_type: str
    clock_rate: int
    payload_type: int
    rtx_payload_type: int | None = None
    rids: tuple[str, ...] = ()
    extension_ids: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    muted: bool = False

    @property
    def layer_count(self) -> int:
        return len(self.rids) or 1

    def with_muted(self, muted: bool) -> TrackInfo:
        return replace(self, muted=muted)

    @classmethod
    def from_negotiated(
        cls,
        media: NegotiatedMedia,
        *,
        track_id: str,
        publisher_id: str,
        source: TrackSource,
        rids: tuple[str, ...] | None = None,
    ) -> TrackInfo:
        """The track a client sends on an accepted m-line; its first codec is the one used.

        ``rids`` overrides the negotiated receive rids (they must be ordered low -> high;
        the SDP lists them in the client's order, which Chromium makes low -> high).
        """
        if not media.codecs or media.mid is None or media.kind not in ("audio", "video"):
            raise ValueError(f"m-line {media.index} carries no usable track")
        codec = media.codecs[0]
        kind: TrackKind = "audio" if media.kind == "audio" else "video"
        return cls(
            track_id=track_id,
            publisher_id=publisher_id,
            kind=kind,
            source=source,
            mid=media.mid,
            mime_type=codec.mime_type,
            clock_rate=codec.clock_rate,
            payload_type=codec.payload_type,
            rtx_payload_type=codec.rtx_payload_type,
            rids=media.receive_rids if rids is None else rids,
            extension_ids=MappingProxyType(dict(media.extensions)),
        )
