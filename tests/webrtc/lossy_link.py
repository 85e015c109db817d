"""A seeded hostile datagram link for sans-I/O tests: drops, duplicates, reorders, delays.

Time is the test's fake clock: `send(data, now)` schedules delivery at `now + delay`;
`deliver(now)` returns what has arrived by `now`, in a shuffled order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class LossyLink:
    """One direction of a link. Same seed, same losses."""

    rng: random.Random
    drop_rate: float = 0.2
    duplicate_rate: float = 0.1
    min_delay: float = 0.001
    max_delay: float = 0.150
    sent: int = 0
    dropped: int = 0
    duplicated: int = 0
    _in_flight: list[tuple[float, int, bytes]] = field(default_factory=list)
    _serial: int = 0

    def send(self, data: bytes, now: float) -> None:
        self.sent += 1
        if self.rng.random() < self.drop_rate:
            self.dropped += 1
            return
        copies = 1
        if self.rng.random() < self.duplicate_rate:
            copies = 2
            self.duplicated += 1
        for _ in range(copies):
            # Independent delays reorder datagrams.
            arrival = now + self.rng.uniform(self.min_delay, self.max_delay)
            self._serial += 1
            self._in_flight.append((arrival, self._serial, data))

    def deliver(self, now: float) -> list[bytes]:
        due = [item for item in self._in_flight if item[0] <= now]
        self._in_flight = [item for item in self._in_flight if item[0] > now]
        due.sort()
        self.rng.shuffle(due)
        return [data for _, _, data in due]

    def next_arrival(self) -> float | None:
        return min((item[0] for item in self._in_flight), default=None)

    @property
    def idle(self) -> bool:
        return not self._in_flight
