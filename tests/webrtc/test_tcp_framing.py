"""RFC 4571 framing for ICE-TCP."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.tcp_framing import FramingError, RfcFramer, frame


def test_frame_prefixes_length() -> None:
    assert frame(b"abc") == b"\x00\x03abc"
    assert frame(b"") == b"\x00\x00"
    assert frame(bytes(0xFFFF))[:2] == b"\xff\xff"
    assert RfcFramer.frame(b"x") == b"\x00\x01x"


def test_frame_too_long_is_local_misuse() -> None:
    with pytest.raises(ValueError, match="does not fit") as info:
        frame(bytes(0x10000))
    assert not isinstance(info.value, ParseError)


def test_feed_whole_and_split_frames() -> None:
    framer = RfcFramer()
    stream = frame(b"one") + frame(b"two!") + frame(b"3")
    assert framer.feed(stream) == [b"one", b"two!", b"3"]
    assert framer.buffered == 0
    assert framer.feed(stream[:1]) == []
    assert framer.feed(stream[1:4]) == []
    assert framer.buffered == 4
    assert framer.feed(stream[4:6]) == [b"one"]
    assert framer.buffered == 1
    assert framer.feed(stream[6:]) == [b"two!", b"3"]
    assert framer.buffered == 0


def test_empty_frames_are_skipped() -> None:
    assert RfcFramer().feed(b"\x00\x00" + frame(b"a") + b"\x00\x00") == [b"a"]


def test_absurd_length_raises_and_clears() -> None:
    framer = RfcFramer(max_frame=1500)
    assert framer.feed(frame(bytes(1500))) == [bytes(1500)]
    with pytest.raises(FramingError, match="1501 bytes exceeds 1500"):
        framer.feed(b"\x05\xdd")
    assert framer.buffered == 0


def test_buffer_is_bounded_by_one_frame() -> None:
    framer = RfcFramer(max_frame=100)
    assert framer.feed(b"\x00\x64" + bytes(99)) == []
    assert framer.buffered == 101
    with pytest.raises(ValueError, match="max_frame"):
        RfcFramer(max_frame=0x10000)


@given(
    payloads=st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
)
def test_round_trip_across_arbitrary_splits(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    framer = RfcFramer()
    out: list[bytes] = []
    for start, end in itertools.pairwise(points):
        out += framer.feed(stream[start:end])
    assert out == payloads
    assert framer.buffered == 0


@given(st.lists(st.binary(max_size=200), max_size=6))
def test_random_bytes_raise_only_framing_error(chunks: list[bytes]) -> None:
    framer = RfcFramer(max_frame=64)
    for chunk in chunks:
        try:
            frames = framer.feed(chunk)
        except FramingError:
            assert framer.buffered == 0
            return
        assert all(0 < len(f) <= 64 for f in frames)
        assert framer.buffered <= 66
