"""What only the in-memory backend has: manual-clock expiry bookkeeping, bounded relay buffers."""

from __future__ import annotations

from sfu_trio.state.memory import ExpiringMap, MemoryStateBackend

from .conftest import ManualClock
from .test_contract import node, room, session


async def test_expired_entries_of_every_kind_are_dropped() -> None:
    clock = ManualClock()
    backend = MemoryStateBackend(clock=clock)
    await backend.register_node(node("node-a"), 1.0)
    await backend.claim_room("demo", "node-a", 2.0)
    await backend.put_room(room("demo"), 3.0)
    await backend.save_session(session("s1"), 4.0)
    counts = []
    for _ in range(5):
        counts.append(backend.stored_entries())
        clock.advance(1.0)
    assert counts == [4, 3, 2, 1, 0]


def test_deadline_is_exact_to_the_millisecond() -> None:
    clock = ManualClock()
    entries = ExpiringMap[str](clock)
    entries.set("key", "value", 0.25)
    clock.advance(0.249)
    assert entries.get("key") == "value"
    clock.advance(0.001)
    assert entries.get("key") is None


def test_renewals_do_not_grow_the_deadline_heap_forever() -> None:
    clock = ManualClock()
    entries = ExpiringMap[str](clock)
    for _ in range(1000):
        entries.set("node-a", "info", 5.0)
        clock.advance(1.0)
    assert len(entries) == 1
    # stale deadlines live no longer than the ttl: at most one per renewal within 5 s
    assert entries.heap_size() <= 6


def test_renewed_entry_survives_its_old_deadline() -> None:
    clock = ManualClock()
    entries = ExpiringMap[str](clock)
    entries.set("key", "old", 1.0)
    clock.advance(0.5)
    entries.set("key", "new", 1.0)
    clock.advance(0.75)
    assert entries.get("key") == "new"
    assert list(entries.values()) == ["new"]
    assert entries.pop("key") == "new"
    assert entries.pop("key") is None


async def test_slow_subscriber_loses_messages_and_they_are_counted() -> None:
    backend = MemoryStateBackend(subscriber_buffer=2)
    async with backend.subscribe("channel") as messages:
        for index in range(5):
            await backend.publish("channel", b"%d" % index)
        assert backend.statistics().dropped_messages == 3
        assert [await anext(messages) for _ in range(2)] == [b"0", b"1"]
        await backend.publish("channel", b"5")
        assert await anext(messages) == b"5"


async def test_publishing_after_the_subscription_closed_is_harmless() -> None:
    backend = MemoryStateBackend()
    async with backend.subscribe("channel"):
        pass
    await backend.publish("channel", b"nobody listens")
    assert backend.statistics().dropped_messages == 0
