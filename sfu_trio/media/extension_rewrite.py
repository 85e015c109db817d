"""Header extension ids of a forwarded packet, renumbered for a subscriber once per packet.

A publisher and a subscriber may number the same extension differently; the subscriber's ids
come from its own negotiation. Extensions that only mean something on the publisher's leg are
removed: ``sdes:mid``, ``rtp-stream-id`` and ``repaired-rtp-stream-id`` name the publisher's
m-line and layers (a subscriber demultiplexes by mid first, so a foreign mid would misroute
the packet). Every down-track with the same renumbering shares one `ExtensionRewrite`, which
renumbers each packet once and hands out copies of the result.
"""

from __future__ import annotations

from collections.abc import Mapping

from sfu_trio.webrtc.rtp import ONE_BYTE_PROFILE, RtpHeader, remap_extension_ids
from sfu_trio.webrtc.rtp_extensions import MID_URI, REPAIRED_RID_URI, RID_URI, TWCC_URI

PUBLISHER_LEG_ONLY = frozenset((MID_URI, RID_URI, REPAIRED_RID_URI))


def extension_id_map(publisher: Mapping[str, int], subscriber: Mapping[str, int]) -> dict[int, int]:
    """Publisher id -> subscriber id for every extension both sides negotiated and that
    may be forwarded.

    Subscriber ids above 14 are left out: they do not fit the one-byte form browsers send.
    """
    return {
        pub_id: sub_id
        for uri, pub_id in publisher.items()
        if (sub_id := subscriber.get(uri)) is not None
        and 1 <= sub_id <= 14
        and uri not in PUBLISHER_LEG_ONLY
    }


def _value_offset(buf: bytearray, header: RtpHeader, ext_id: int, size: int) -> int:
    """Offset of the `size`-byte value of element `ext_id` in `buf`, or -1."""
    profile = header.extension_profile
    if profile is None:
        return -1
    two_byte = profile != ONE_BYTE_PROFILE
    if two_byte and profile >> 4 != 0x100:
        return -1
    pos = 16 + 4 * len(header.csrcs)
    end = header.header_length
    while pos < end:
        b = buf[pos]
        if b == 0:
            pos += 1
            continue
        if two_byte:
            if pos + 1 >= end:
                return -1
            eid, length = b, buf[pos + 1]
            pos += 2
        else:
            eid, length = b >> 4, (b & 0x0F) + 1
            if eid == 15:
                return -1
            pos += 1
        if pos + length > end:
            return -1
        if eid == ext_id:
            return pos if length == size else -1
        pos += length
    return -1


class ExtensionRewrite:
    """Copies of forwarded packets with their extension ids renumbered by ``id_map``.

    ``twcc_id`` is the subscriber's id of the transport-wide sequence element (0 when the
    publisher's packets cannot carry one to it); after `copy`, ``twcc_offset`` is where the
    copy holds that element's 2-byte value (-1: this packet has none).
    """

    __slots__ = (
        "_last_packet",
        "_template",
        "id_map",
        "identity",
        "twcc_id",
        "twcc_offset",
        "users",
    )

    def __init__(
        self, id_map: Mapping[int, int], publisher_ids: Mapping[str, int], twcc_id: int
    ) -> None:
        self.id_map = dict(id_map)
        # Nothing to renumber or remove: a plain copy is enough.
        self.identity = all(self.id_map.get(i) == i for i in publisher_ids.values())
        self.twcc_id = twcc_id
        self.twcc_offset = -1
        self.users = 0  # down-tracks sharing this rewrite; with one, no template is kept
        self._last_packet: bytes | None = None
        self._template = bytearray()

    def copy(self, packet: bytes, header: RtpHeader) -> bytearray:
        """A fresh, renumbered copy of `packet` (`header` must describe it)."""
        if self.users <= 1:
            buf = bytearray(packet)
            if not self.identity:
                remap_extension_ids(buf, header, self.id_map)
            twcc_id = self.twcc_id
            self.twcc_offset = _value_offset(buf, header, twcc_id, 2) if twcc_id else -1
            return buf
        if packet is not self._last_packet:
            template = bytearray(packet)
            if not self.identity:
                remap_extension_ids(template, header, self.id_map)
            self._template = template
            self._last_packet = packet
            twcc_id = self.twcc_id
            self.twcc_offset = _value_offset(template, header, twcc_id, 2) if twcc_id else -1
        return self._template.copy()


class ExtensionRewrites:
    """The shared `ExtensionRewrite` of each distinct renumbering, for one up-track."""

    __slots__ = ("_by_map", "_publisher_ids")

    def __init__(self, publisher_ids: Mapping[str, int]) -> None:
        self._publisher_ids = publisher_ids
        self._by_map: dict[frozenset[tuple[int, int]], ExtensionRewrite] = {}

    def for_subscriber(self, subscriber_ids: Mapping[str, int]) -> ExtensionRewrite:
        id_map = extension_id_map(self._publisher_ids, subscriber_ids)
        key = frozenset(id_map.items())
        rewrite = self._by_map.get(key)
        if rewrite is None:
            twcc = self._publisher_ids.get(TWCC_URI)
            twcc_id = id_map.get(twcc, 0) if twcc is not None else 0
            rewrite = ExtensionRewrite(id_map, self._publisher_ids, twcc_id)
            self._by_map[key] = rewrite
        rewrite.users += 1
        return rewrite

    def release(self, rewrite: ExtensionRewrite) -> None:
        """A down-track using `rewrite` is gone."""
        rewrite.users -= 1
        rewrite._last_packet = None
