"""Video payload descriptors: golden packets built by hand from the RFC layouts, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.webrtc.codecs import (
    CodecParseError,
    VideoFrameInfo,
    parse_av1_untrusted,
    parse_h264_untrusted,
    parse_vp8_untrusted,
    parse_vp9_untrusted,
    parser_for,
    rewrite_vp8_picture_id,
)
from sfu_trio.webrtc.errors import ParseError

PARSERS = [parse_vp8_untrusted, parse_vp9_untrusted, parse_h264_untrusted, parse_av1_untrusted]

# VP8 keyframe payload header (RFC 6386 §9.1): P=0, version 0, show_frame=1, then start code.
VP8_KEY = bytes.fromhex("1002009d012a")
VP8_DELTA = bytes.fromhex("310100")  # P=1: interframe


def info(
    keyframe: bool,
    frame_start: bool,
    tid: int | None = None,
    sid: int | None = None,
    pid: int | None = None,
    tl0: int | None = None,
    sync: bool = False,
) -> VideoFrameInfo:
    return VideoFrameInfo(keyframe, frame_start, tid, sid, pid, tl0, sync)


VP8_GOLDEN = {
    # X=1 S=1 PID=0 | I L T | M=1 PictureID 0x1234 | TL0PICIDX 0x56 | TID=0 Y=1 | keyframe
    "keyframe, 15-bit picture id, TL0 and TID": (
        bytes.fromhex("90e0923456") + b"\x20" + VP8_KEY,
        info(True, True, 0, None, 0x1234, 0x56, True),
    ),
    # X=1 S=1 | I | M=0 PictureID 5 | P=1
    "interframe, 7-bit picture id": (
        bytes.fromhex("908005") + VP8_DELTA,
        info(False, True, pid=5),
    ),
    # S=0: a continuation; the P bit position holds frame data and must be ignored
    "continuation packet": (bytes.fromhex("80808500") + b"\x00\x00", info(False, False, pid=0x500)),
    "bare descriptor keyframe": (b"\x10" + VP8_KEY, info(True, True, sync=True)),
    "S=1 but partition 1": (b"\x11" + VP8_KEY, info(False, False)),
    # T=1 only: TID=2, Y=0
    "temporal layer 2": (bytes.fromhex("902080") + VP8_DELTA, info(False, True, tid=2)),
    # T=1, TID=1 Y=1 on an interframe: layer sync
    "layer sync frame": (bytes.fromhex("902060") + VP8_DELTA, info(False, True, tid=1, sync=True)),
    # K=1 only: the TID/Y/KEYIDX byte is present, but TID is not meaningful
    "KEYIDX without T": (bytes.fromhex("901065") + VP8_DELTA, info(False, True)),
}


@pytest.mark.parametrize("name", list(VP8_GOLDEN))
def test_vp8_golden(name: str) -> None:
    data, expected = VP8_GOLDEN[name]
    assert parse_vp8_untrusted(data) == expected
    # the same descriptor inside a packet buffer, located by offsets, with padding after it
    packet = memoryview(b"\xaa" * 12 + data + b"\x00\x00\x02")
    assert parse_vp8_untrusted(packet, 12, 12 + len(data)) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",  # X=1, extension byte missing
        b"\x80\x80",  # I=1, PictureID missing
        b"\x80\x80\x80\x01",  # 15-bit PictureID, no payload left
        bytes.fromhex("90e0923456"),  # TID byte missing
        bytes.fromhex("90e092345620"),  # descriptor complete, no VP8 payload
        b"\x10",
    ],
)
def test_vp8_truncated(data: bytes) -> None:
    with pytest.raises(CodecParseError):
        parse_vp8_untrusted(data)


def test_vp8_rewrite_15_bit_picture_id() -> None:
    data = bytes.fromhex("90e0923456") + b"\x20" + VP8_KEY
    buf = bytearray(b"\xaa" * 12 + data)
    assert rewrite_vp8_picture_id(buf, 12, 0x7ABC, 0x1FF)
    assert bytes(buf) == b"\xaa" * 12 + bytes.fromhex("90e0fabcff") + b"\x20" + VP8_KEY
    assert parse_vp8_untrusted(buf, 12) == info(True, True, 0, None, 0x7ABC, 0xFF, True)


def test_vp8_rewrite_7_bit_picture_id_keeps_the_low_bits() -> None:
    buf = bytearray(bytes.fromhex("908005") + VP8_DELTA)
    assert rewrite_vp8_picture_id(buf, 0, 0x1234, 9)  # no TL0PICIDX field: 9 is ignored
    assert bytes(buf) == bytes.fromhex("908034") + VP8_DELTA


def test_vp8_rewrite_without_fields_changes_nothing() -> None:
    buf = bytearray(b"\x10" + VP8_KEY)
    assert not rewrite_vp8_picture_id(buf, 0, 77, 3)
    assert bytes(buf) == b"\x10" + VP8_KEY
    buf = bytearray(bytes.fromhex("908005") + VP8_DELTA)
    assert not rewrite_vp8_picture_id(buf, 0, None, None)
    assert bytes(buf) == bytes.fromhex("908005") + VP8_DELTA


def test_vp8_rewrite_malformed() -> None:
    with pytest.raises(CodecParseError):
        rewrite_vp8_picture_id(bytearray(b"\xaa\x80\x80"), 1, 1, 1)


def build_vp8(
    start: bool,
    partition: int,
    picture_id: int | None,
    long_id: bool,
    tl0: int | None,
    tid: int | None,
    sync: bool,
    keyidx: int | None,
    payload: bytes,
) -> bytes:
    """Serialise a VP8 descriptor the RFC 7741 way."""
    ext = (
        (0x80 if picture_id is not None else 0)
        | (0x40 if tl0 is not None else 0)
        | (0x20 if tid is not None else 0)
        | (0x10 if keyidx is not None else 0)
    )
    out = bytearray([(0x80 if ext else 0) | (0x10 if start else 0) | partition])
    if ext:
        out.append(ext)
    if picture_id is not None:
        out += (
            bytes([0x80 | picture_id >> 8, picture_id & 0xFF]) if long_id else bytes([picture_id])
        )
    if tl0 is not None:
        out.append(tl0)
    if tid is not None or keyidx is not None:
        out.append((tid or 0) << 6 | (0x20 if sync else 0) | (keyidx or 0))
    return bytes(out + payload)


@given(
    start=st.booleans(),
    partition=st.integers(0, 7),
    long_id=st.booleans(),
    picture_id=st.none() | st.integers(0, 0x7FFF),
    tl0=st.none() | st.integers(0, 255),
    tid=st.none() | st.integers(0, 3),
    sync=st.booleans(),
    keyidx=st.none() | st.integers(0, 31),
    payload=st.binary(min_size=1, max_size=8),
)
def test_vp8_build_parse_round_trip(
    start: bool,
    partition: int,
    long_id: bool,
    picture_id: int | None,
    tl0: int | None,
    tid: int | None,
    sync: bool,
    keyidx: int | None,
    payload: bytes,
) -> None:
    if picture_id is not None and not long_id:
        picture_id &= 0x7F
    data = build_vp8(start, partition, picture_id, long_id, tl0, tid, sync, keyidx, payload)
    parsed = parse_vp8_untrusted(data)
    frame_start = start and partition == 0
    keyframe = frame_start and not payload[0] & 1
    assert parsed == info(
        keyframe,
        frame_start,
        tid,
        None,
        picture_id,
        tl0,
        keyframe or (tid is not None and sync),
    )
    buf = bytearray(data)
    rewrite_vp8_picture_id(buf, 0, 0x2345, 0x99)
    again = parse_vp8_untrusted(buf)
    assert again.picture_id == (
        None if picture_id is None else 0x2345 & (0x7FFF if long_id else 0x7F)
    )
    assert again.tl0picidx == (None if tl0 is None else 0x99)
    assert buf[len(buf) - len(payload) :] == payload
    assert (again.keyframe, again.temporal_id) == (parsed.keyframe, parsed.temporal_id)


VP9_SS = bytes.fromhex("18" + "0280" + "01e0" + "01" + "04" + "01")  # 1 layer 640x480, 1 group

VP9_GOLDEN = {
    # I P=0 L F=0 B E V | M PictureID 0x0102 | TID0 U0 SID0 D0 | TL0PICIDX 7 | SS | payload
    "non-flexible keyframe with scalability structure": (
        bytes.fromhex("ae8102" + "00" + "07") + VP9_SS + b"\x82\x49\x83",
        info(True, True, 0, 0, 0x102, 7, True),
    ),
    # I P L F B | PictureID 0x33 | TID1 U1 SID1 D1 | P_DIFF 1 (N=1), P_DIFF 2 | payload
    "flexible interframe with two references": (
        bytes.fromhex("f833" + "33" + "0304") + b"\x86",
        info(False, True, 1, 1, 0x33, None, True),
    ),
    # P=0 but spatial layer 1: not a keyframe of the stream (it depends on layer 0)
    "flexible spatial layer 1 without inter prediction": (
        bytes.fromhex("38" + "03") + b"\x86",
        info(False, True, 0, 1),
    ),
    # no picture id, no layer indices, B=0: middle of a frame
    "middle of a frame": (bytes.fromhex("40") + b"\x00\x01", info(False, False)),
    # non-flexible, B=1, P=1, TID 2, TL0PICIDX 200
    "non-flexible temporal layer 2": (
        bytes.fromhex("68" + "40" + "c8") + b"\x00",
        info(False, True, 2, 0, None, 200),
    ),
}


@pytest.mark.parametrize("name", list(VP9_GOLDEN))
def test_vp9_golden(name: str) -> None:
    data, expected = VP9_GOLDEN[name]
    assert parse_vp9_untrusted(data) == expected
    assert parse_vp9_untrusted(bytearray(b"\x00\x00" + data), 2) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",  # I=1, picture id missing
        b"\x80\x81",  # 15-bit picture id truncated
        b"\x20",  # L=1, layer indices missing
        b"\x20\x00",  # non-flexible: TL0PICIDX missing
        bytes.fromhex("50" + "01"),  # flexible P: P_DIFF says more follow, none do
        bytes.fromhex("50" + "010101" + "01"),  # 4 references
        b"\x02",  # V=1, SS missing
        bytes.fromhex("02" + "18" + "0280"),  # SS resolution truncated
        bytes.fromhex("02" + "08" + "02" + "04"),  # SS groups truncated
    ],
)
def test_vp9_malformed(data: bytes) -> None:
    with pytest.raises(CodecParseError):
        parse_vp9_untrusted(data)


# A Chromium-style H264 keyframe: SPS, PPS and the start of the IDR slice aggregated in STAP-A.
SPS = bytes.fromhex("6742c01f8c8d40501e900f08846a")
PPS = bytes.fromhex("68ce3c80")
IDR = bytes.fromhex("6588840021")


def stap_a(*nals: bytes) -> bytes:
    return b"\x78" + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


H264_GOLDEN = {
    "STAP-A SPS PPS IDR": (stap_a(SPS, PPS, IDR), info(True, True, sync=True)),
    "STAP-A IDR first": (stap_a(IDR, b"\x06\x05"), info(True, True, sync=True)),
    "STAP-A SEI and slice": (stap_a(b"\x06\x05", b"\x41\x9a"), info(False, True)),
    # FU indicator NRI=3 type 28 | FU header S=1 type 5 | slice header first_mb_in_slice=0
    "FU-A start of IDR": (bytes.fromhex("7c85888400"), info(True, True, sync=True)),
    "FU-A middle of IDR": (bytes.fromhex("7c05aabb"), info(False, False)),
    "FU-A end of IDR": (bytes.fromhex("7c45aabb"), info(False, False)),
    "FU-A start of non-IDR slice": (bytes.fromhex("5c81e0"), info(False, True)),
    "FU-A start of a later slice": (bytes.fromhex("5c8140"), info(False, False)),
    "single SPS": (SPS, info(True, True, sync=True)),
    "single PPS": (PPS, info(False, True)),
    "single IDR slice": (IDR, info(True, True, sync=True)),
    "single slice, first_mb 0": (bytes.fromhex("419a0203"), info(False, True)),
    "single slice, first_mb 3": (bytes.fromhex("411a0203"), info(False, False)),
    "single slice without a slice header": (b"\x41", info(False, False)),
}


@pytest.mark.parametrize("name", list(H264_GOLDEN))
def test_h264_golden(name: str) -> None:
    data, expected = H264_GOLDEN[name]
    assert parse_h264_untrusted(data) == expected
    assert parse_h264_untrusted(b"\xff" + data + b"\xff", 1, 1 + len(data)) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",  # NAL unit type 0 is unspecified
        b"\x7c",  # FU-A header missing
        bytes.fromhex("7c98"),  # FU-A start carrying a STAP-A type
        b"\x78",  # empty STAP-A
        b"\x78\x00",  # STAP-A size truncated
        b"\x78\x00\x05\x67",  # STAP-A NAL unit overruns
        b"\x78\x00\x00",  # zero-length NAL unit
        b"\x78\x00\x01\x18",  # STAP-A inside STAP-A
        b"\x79\x00\x00",  # STAP-B (interleaved mode)
        b"\x7d\x80\x00",  # FU-B
        b"\x1e",  # reserved type 30
    ],
)
def test_h264_malformed(data: bytes) -> None:
    with pytest.raises(CodecParseError):
        parse_h264_untrusted(data)


AV1_GOLDEN = {
    # Z=0 Y=0 W=1 N=1 | OBU_SEQUENCE_HEADER, no extension, no size field
    "new coded video sequence": (
        bytes.fromhex("18" + "08" + "000000"),
        info(True, True, sync=True),
    ),
    # W=2 | element 1: length 2, OBU_FRAME with extension TID=2 SID=1 | element 2 (last, no length)
    "frame OBU with extension header": (
        bytes.fromhex("20" + "02" + "3448" + "3000"),
        info(False, True, 2, 1),
    ),
    # Z=1 W=1: the whole packet continues an OBU of the previous packet
    "continuation": (bytes.fromhex("90" + "aabbcc"), info(False, False)),
    # Z=1 W=2: continued element (length 1), then an OBU_TILE_GROUP with TID=1 SID=0
    "continuation then tile group": (
        bytes.fromhex("a0" + "01aa" + "2420" + "00"),
        info(False, False, 1, 0),
    ),
    # W=0: every element has a length; temporal delimiter first
    "W=0 temporal delimiter": (bytes.fromhex("00" + "0110" + "0132"), info(False, True)),
    "continuation only, W=0": (bytes.fromhex("80" + "02aabb"), info(False, False)),
}


@pytest.mark.parametrize("name", list(AV1_GOLDEN))
def test_av1_golden(name: str) -> None:
    data, expected = AV1_GOLDEN[name]
    assert parse_av1_untrusted(data) == expected
    assert parse_av1_untrusted(memoryview(b"\x00" + data), 1) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x18",  # no OBU element
        bytes.fromhex("00" + "05" + "10"),  # element length overruns
        bytes.fromhex("00" + "00"),  # zero-length element
        bytes.fromhex("10" + "88"),  # forbidden bit
        bytes.fromhex("10" + "34"),  # extension flag without the extension byte
        bytes.fromhex("00" + "80"),  # LEB128 truncated
        bytes.fromhex("00" + "ffffffffffffffff01"),  # LEB128 longer than 8 bytes
    ],
)
def test_av1_malformed(data: bytes) -> None:
    with pytest.raises(CodecParseError):
        parse_av1_untrusted(data)


def test_parser_for() -> None:
    assert parser_for("VP8") is parse_vp8_untrusted
    assert parser_for("video/vp9") is parse_vp9_untrusted
    assert parser_for("video/H264") is parse_h264_untrusted
    assert parser_for("AV1") is parse_av1_untrusted
    assert parser_for("audio/opus") is None


def test_codec_parse_error_is_a_parse_error() -> None:
    assert issubclass(CodecParseError, ParseError)


@pytest.mark.parametrize("parse", PARSERS)
@given(data=st.binary(max_size=40), cut=st.integers(0, 40))
def test_random_bytes_raise_only_codec_parse_error(parse: object, data: bytes, cut: int) -> None:
    assert callable(parse)
    for start, end in ((0, None), (min(cut, len(data)), None), (0, min(cut, len(data)))):
        try:
            result = parse(data, start, end)
        except CodecParseError:
            continue
        assert isinstance(result, VideoFrameInfo)


@given(data=st.binary(max_size=40), ids=st.tuples(st.integers(0, 0x7FFF), st.integers(0, 255)))
def test_rewrite_random_bytes_raises_only_codec_parse_error(
    data: bytes, ids: tuple[int, int]
) -> None:
    buf = bytearray(data)
    try:
        rewrite_vp8_picture_id(buf, 0, *ids)
    except CodecParseError:
        assert buf == data
