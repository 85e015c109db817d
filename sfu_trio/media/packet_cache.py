"""A fixed-size cache of recently received RTP packets, used to answer NACKs."""

from __future__ import annotations

import math

SEQ_MOD = 0x10000
SEQ_MASK = 0xFFFF


class PacketCache:
    """Ring of the last ``capacity`` RTP packets of one source stream, keyed by sequence number.

    Slots are indexed by ``seq % capacity`` and remember the sequence number they hold, so a
    lookup is O(1) and a stale slot is never mistaken for the requested packet. ``capacity``
    is rounded up to a power of two so the slot index stays consistent across the 16-bit
    wrap. Packets more than ``capacity`` behind the newest one are treated as gone.
    """

    __slots__ = ("_capacity", "_latest", "_mask", "_packets", "_seqs")

    def __init__(self, capacity: int = 512) -> None:
        if not 1 <= capacity <= SEQ_MOD:
            raise ValueError(f"capacity must be in 1..{SEQ_MOD}, got {capacity}")
        capacity = 1 << (capacity - 1).bit_length()
        self._capacity = capacity
        self._mask = capacity - 1
        self._seqs: list[int] = [-1] * capacity
        self._packets: list[bytes | None] = [None] * capacity
        self._latest = -1

    @classmethod
    def for_duration(cls, seconds: float, packets_per_second: float) -> PacketCache:
        """A cache holding about ``seconds`` of a stream sending ``packets_per_second``."""
        wanted = max(1, math.ceil(seconds * packets_per_second))
        return cls(min(wanted, SEQ_MOD))

    @property
    def capacity(self) -> int:
        return self._capacity

    def put(self, seq: int, packet: bytes) -> None:
        """Store ``packet`` (the whole unprotected RTP packet) under sequence number ``seq``."""
        slot = seq & self._mask
        self._seqs[slot] = seq
        self._packets[slot] = packet
        latest = self._latest
        if latest < 0 or 0 < ((seq - latest) & SEQ_MASK) < 0x8000:
            self._latest = seq

    def get(self, seq: int) -> bytes | None:
        """The packet stored under ``seq``, or None when it was never stored or has aged out."""
        slot = seq & self._mask
        if self._seqs[slot] != seq:
            return None
        if ((self._latest - seq) & SEQ_MASK) >= self._capacity:
            return None
        return self._packets[slot]

    def clear(self) -> None:
        """Forget every packet (e.g. when the publisher restarts its stream)."""
        self._seqs = [-1] * self._capacity
        self._packets = [None] * self._capacity
        self._latest = -1
