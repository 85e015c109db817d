from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.media.packet_cache import PacketCache


def test_put_then_get_returns_the_packet() -> None:
    cache = PacketCache(8)
    cache.put(100, b"a")
    cache.put(101, b"b")
    assert cache.get(100) == b"a"
    assert cache.get(101) == b"b"
    assert cache.get(102) is None
    assert cache.get(99) is None


def test_slot_reuse_is_detected_by_sequence_number() -> None:
    cache = PacketCache(8)
    cache.put(3, b"old")
    cache.put(11, b"new")  # same slot as 3
    assert cache.get(3) is None
    assert cache.get(11) == b"new"


def test_capacity_rounds_up_to_power_of_two() -> None:
    assert PacketCache(500).capacity == 512
    assert PacketCache(512).capacity == 512
    assert PacketCache(1).capacity == 1
    assert PacketCache.for_duration(1.0, 300).capacity == 512


def test_wraps_around_the_16_bit_sequence() -> None:
    cache = PacketCache(16)
    for seq in (65533, 65534, 65535, 0, 1, 2):
        cache.put(seq, seq.to_bytes(2, "big"))
    for seq in (65533, 65534, 65535, 0, 1, 2):
        assert cache.get(seq) == seq.to_bytes(2, "big")


def test_packets_older_than_capacity_are_gone_even_if_slot_untouched() -> None:
    cache = PacketCache(8)
    cache.put(1, b"one")
    # 2..16 lost except 16 itself; slot of 1 (1 % 8) never rewritten
    cache.put(16, b"sixteen")
    assert cache.get(16) == b"sixteen"
    assert cache.get(1) is None
    cache.put(13, b"late")  # a late packet does not move the newest mark back
    assert cache.get(13) == b"late"
    assert cache.get(16) == b"sixteen"


def test_clear_forgets_everything() -> None:
    cache = PacketCache(4)
    cache.put(5, b"x")
    cache.clear()
    assert cache.get(5) is None


@given(
    start=st.integers(0, 0xFFFF),
    present=st.lists(st.booleans(), min_size=1, max_size=300),
)
def test_returns_what_was_put_for_the_last_capacity_packets(
    start: int, present: list[bool]
) -> None:
    cache = PacketCache(128)
    for offset, here in enumerate(present):
        if here:
            seq = (start + offset) & 0xFFFF
            cache.put(seq, offset.to_bytes(2, "big"))
    newest = max((i for i, here in enumerate(present) if here), default=None)
    for offset, here in enumerate(present):
        seq = (start + offset) & 0xFFFF
        expected = None
        if here and newest is not None and newest - offset < 128:
            expected = offset.to_bytes(2, "big")
        assert cache.get(seq) == expected
