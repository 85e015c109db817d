"""RTP header/packet codec, in-place rewriters and header extension value codecs."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.rtp import (
    ONE_BYTE_PROFILE,
    RtpHeader,
    RtpPacket,
    RtpParseError,
    remap_extension_ids,
    rewrite_header,
    set_extension_value,
)
from sfu_trio.webrtc.rtp_extensions import (
    PlayoutDelay,
    VideoOrientation,
    abs_send_time_from_seconds,
    abs_send_time_to_seconds,
    encode_abs_send_time,
    encode_audio_level,
    encode_playout_delay,
    encode_sdes,
    encode_twcc_sequence,
    encode_video_orientation,
    parse_abs_send_time_untrusted,
    parse_audio_level_untrusted,
    parse_playout_delay_untrusted,
    parse_sdes_untrusted,
    parse_twcc_sequence_untrusted,
    parse_video_orientation_untrusted,
)

DATA = Path(__file__).parent.parent / "data" / "rtp"


def load_hex(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


# --- golden packets ---------------------------------------------------------------------------


def test_golden_one_byte_extensions() -> None:
    data = load_hex("one_byte_extensions.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.version, h.padding, h.marker, h.payload_type) == (2, False, True, 96)
    assert (h.sequence_number, h.timestamp, h.ssrc) == (0x1A2B, 0x00BC614E, 0x5EE0C9E5)
    assert h.csrcs == ()
    assert h.extension_profile == ONE_BYTE_PROFILE
    assert (h.header_length, h.payload_length, h.padding_length) == (28, 8, 0)
    assert h.extension(2) == b"\x1f\x23\x45"
    assert h.extension(3) == b"\x01\x02"
    assert h.extension(4) == b"0"
    assert h.extension(5) is None
    assert h.extensions() == {2: b"\x1f\x23\x45", 3: b"\x01\x02", 4: b"0"}
    assert h.payload == bytes.fromhex("10a2b3c4d5e6f708")
    packet = RtpPacket.parse_untrusted(data)
    assert packet.extensions == {2: b"\x1f\x23\x45", 3: b"\x01\x02", 4: b"0"}
    assert bytes(packet) == data


def test_golden_two_byte_extensions_with_padding_between() -> None:
    data = load_hex("two_byte_extensions.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.marker, h.payload_type, h.sequence_number, h.timestamp, h.ssrc) == (
        False,
        111,
        65535,
        0xFFFFFFFF,
        1,
    )
    assert h.extension_profile == 0x1003
    assert (h.header_length, h.payload_length) == (28, 4)
    assert h.extension(1) == b""
    assert h.extension(20) == b"hi!"
    assert h.extension(255) == b"\x7f"
    assert h.extensions() == {1: b"", 20: b"hi!", 255: b"\x7f"}
    packet = RtpPacket.parse_untrusted(data)
    assert packet.payload == bytes.fromhex("00aabbcc")
    # canonical re-serialisation drops the padding between elements
    canonical = bytes(packet)
    assert canonical[16:28] == bytes.fromhex("0100 1403 686921 ff017f 0000")
    assert RtpPacket.parse_untrusted(canonical) == packet


def test_golden_csrc_padding() -> None:
    data = load_hex("csrc_padding.hex")
    h = RtpHeader.parse_untrusted(data)
    assert h.csrcs == (0xAAAAAAAA, 0xBBBBBBBB)
    assert (h.padding, h.padding_length, h.payload_length, h.header_length) == (True, 4, 4, 20)
    assert (h.payload_type, h.sequence_number, h.timestamp, h.ssrc) == (0, 1, 160, 0x11223344)
    assert h.extension_profile is None and h.extension(1) is None and h.extensions() == {}
    assert h.payload == bytes.fromhex("deadbeef")
    assert bytes(RtpPacket.parse_untrusted(data)) == data


def test_golden_audio_level_padding_between() -> None:
    data = load_hex("audio_level_padding_between.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.marker, h.payload_type, h.sequence_number, h.timestamp) == (True, 111, 4660, 48000)
    assert parse_audio_level_untrusted(h.extension(1) or b"") == (True, 42)
    assert parse_twcc_sequence_untrusted(h.extension(3) or b"") == 0x0A0B
    assert h.payload == b"\xfc\xff"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80" * 11, "too short"),
        (b"\x40" + bytes(11), "version 1"),
        (b"\x81" + bytes(11), "CSRC list overruns"),
        (b"\x90" + bytes(11), "extension header overruns"),
        (b"\x90" + bytes(11) + b"\xbe\xde\x00\x01", "extension block overruns"),
        (b"\xa0" + bytes(11), "padding length 0"),
        (b"\xa0" + bytes(10) + b"\x02", "padding length 2"),
    ],
)
def test_malformed_headers(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError, match=message):
        RtpHeader.parse_untrusted(data)


def test_malformed_extension_element_found_lazily() -> None:
    data = bytes.fromhex("90000001 00000000 00000001 bede0001 13aabb00")  # id 1 says 4 bytes
    h = RtpHeader.parse_untrusted(data)
    with pytest.raises(RtpParseError, match="overruns"):
        h.extension(2)
    with pytest.raises(RtpParseError, match="overruns"):
        h.extensions()


def test_one_byte_id_15_stops_processing() -> None:
    data = bytes.fromhex("90000001 00000000 00000001 bede0001 10aaf011")
    h = RtpHeader.parse_untrusted(data)
    assert h.extensions() == {1: b"\xaa"}
    assert h.extension(1) == b"\xaa"
    assert h.extension(15) is None


def test_unknown_extension_profile_kept_raw() -> None:
    data = bytes.fromhex("90000001 00000000 00000001 abcd0001 01020304 ff")
    packet = RtpPacket.parse_untrusted(data)
    assert packet.extension_profile == 0xABCD
    assert packet.extensions == {}
    assert packet.extension_data == bytes.fromhex("01020304")
    assert bytes(packet) == data


# --- property tests ---------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFFFFFF)
one_byte_exts = st.dictionaries(st.integers(1, 14), st.binary(min_size=1, max_size=16), max_size=6)
two_byte_exts = st.dictionaries(st.integers(1, 255), st.binary(max_size=40), max_size=6)


@st.composite
def rtp_packets(draw: st.DrawFn) -> RtpPacket:
    form = draw(st.sampled_from(["none", "one", "two"]))
    if form == "none":
        exts: dict[int, bytes] = {}
        profile = None
    elif form == "one":
        exts, profile = draw(one_byte_exts), ONE_BYTE_PROFILE
    else:
        exts, profile = draw(two_byte_exts), 0x1000 | draw(st.integers(0, 15))
    return RtpPacket(
        payload_type=draw(st.integers(0, 127)),
        sequence_number=draw(st.integers(0, 0xFFFF)),
        timestamp=draw(u32),
        ssrc=draw(u32),
        marker=draw(st.booleans()),
        csrcs=tuple(draw(st.lists(u32, max_size=15))),
        extensions=exts,
        extension_profile=profile,
        payload=draw(st.binary(max_size=64)),
        padding_length=draw(st.integers(0, 255)),
    )


@given(rtp_packets())
def test_packet_round_trip(packet: RtpPacket) -> None:
    data = packet.serialize()
    assert RtpPacket.parse_untrusted(data) == packet
    h = RtpHeader.parse_untrusted(data)
    assert h.payload_length == len(packet.payload)
    assert h.header_length + h.payload_length + h.padding_length == len(data)
    for eid, value in packet.extensions.items():
        assert h.extension(eid) == value


@given(st.binary(max_size=80))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        h = RtpHeader.parse_untrusted(data)
        h.extensions()
        h.extension(3)
        RtpPacket.parse_untrusted(data)
    except ParseError:
        pass


@given(rtp_packets(), st.data())
def test_truncated_and_mutated_raise_only_parse_error(
    packet: RtpPacket, data: st.DataObject
) -> None:
    raw = bytearray(packet.serialize())
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    if raw:
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParseError):
        RtpPacket.parse_untrusted(bytes(raw))


@given(rtp_packets(), st.integers(0, 127), st.integers(0, 0xFFFF), u32, u32)
def test_rewrite_header(packet: RtpPacket, pt: int, seq: int, ts: int, ssrc: int) -> None:
    buf = bytearray(packet.serialize())
    rewrite_header(buf, pt, seq, ts, ssrc)
    after = RtpPacket.parse_untrusted(buf)
    assert (after.payload_type, after.sequence_number, after.timestamp, after.ssrc) == (
        pt,
        seq,
        ts,
        ssrc,
    )
    assert after.marker == packet.marker
    assert after.csrcs == packet.csrcs
    assert after.extensions == packet.extensions
    assert after.payload == packet.payload
    assert after.padding_length == packet.padding_length


@given(rtp_packets(), st.data())
def test_remap_extension_ids(packet: RtpPacket, data: st.DataObject) -> None:
    buf = bytearray(packet.serialize())
    one_byte = packet.extension_profile == ONE_BYTE_PROFILE
    top = 14 if one_byte else 255
    ids = list(packet.extensions)
    targets = data.draw(st.permutations(range(1, top + 1)))[: len(ids)]
    id_map = {old: new for old, new in zip(ids, targets, strict=True) if data.draw(st.booleans())}
    remap_extension_ids(buf, RtpHeader.parse_untrusted(buf), id_map)
    after = RtpPacket.parse_untrusted(buf)
    assert len(buf) == len(packet.serialize())
    assert after.extensions == {id_map[i]: v for i, v in packet.extensions.items() if i in id_map}
    assert after.payload == packet.payload
    assert after.sequence_number == packet.sequence_number


def test_remap_rejects_id_the_form_cannot_carry() -> None:
    buf = bytearray(load_hex("one_byte_extensions.hex"))
    with pytest.raises(ValueError, match="one-byte"):
        remap_extension_ids(buf, RtpHeader.parse_untrusted(buf), {2: 15, 3: 3, 4: 4})


def test_set_extension_value_in_place() -> None:
    buf = bytearray(load_hex("one_byte_extensions.hex"))
    h = RtpHeader.parse_untrusted(buf)
    assert set_extension_value(buf, h, 3, encode_twcc_sequence(0xBEEF))
    assert set_extension_value(buf, h, 2, encode_abs_send_time(0x123456))
    assert not set_extension_value(buf, h, 9, b"\x00")
    with pytest.raises(ValueError, match="holds 2 bytes"):
        set_extension_value(buf, h, 3, b"\x00")
    after = RtpHeader.parse_untrusted(buf)
    assert after.extensions() == {2: b"\x12\x34\x56", 3: b"\xbe\xef", 4: b"0"}
    assert after.payload == bytes.fromhex("10a2b3c4d5e6f708")
    no_ext = bytearray(load_hex("csrc_padding.hex"))
    assert not set_extension_value(no_ext, RtpHeader.parse_untrusted(no_ext), 1, b"\x00")


def test_serialize_picks_two_byte_form_when_needed() -> None:
    packet = RtpPacket(
        payload_type=96, sequence_number=1, timestamp=2, ssrc=3, extensions={20: b"x"}
    )
    assert RtpHeader.parse_untrusted(packet.serialize()).extension_profile == 0x1000
    packet.extensions = {1: b"x"}
    assert RtpHeader.parse_untrusted(packet.serialize()).extension_profile == ONE_BYTE_PROFILE
    packet.extension_profile = ONE_BYTE_PROFILE
    packet.extensions = {1: b""}
    with pytest.raises(ValueError, match="one-byte"):
        packet.serialize()


# --- extension value codecs -------------------------------------------------------------------


def test_extension_codecs_exact_bytes() -> None:
    assert encode_sdes("video0") == b"video0"
    assert parse_sdes_untrusted(b"hi\x00") == "hi"
    assert abs_send_time_from_seconds(1.5) == 0x060000
    assert abs_send_time_from_seconds(64.25) == 0x010000  # wraps every 64 s
    assert abs_send_time_to_seconds(0x060000) == 1.5
    assert parse_abs_send_time_untrusted(b"\x06\x00\x00") == 0x060000
    assert encode_audio_level(True, 42) == b"\xaa"
    assert encode_video_orientation(VideoOrientation(True, False, 270)) == b"\x0b"
    assert parse_video_orientation_untrusted(b"\x06") == VideoOrientation(False, True, 180)
    assert encode_playout_delay(PlayoutDelay(1, 4095)) == b"\x00\x1f\xff"
    assert parse_playout_delay_untrusted(b"\x00\x1f\xff") == PlayoutDelay(1, 4095)


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (parse_sdes_untrusted, b""),
        (parse_sdes_untrusted, b"a b"),
        (parse_sdes_untrusted, b"\xff"),
        (parse_abs_send_time_untrusted, b"\x00\x00"),
        (parse_twcc_sequence_untrusted, b"\x00"),
        (parse_audio_level_untrusted, b""),
        (parse_video_orientation_untrusted, b""),
        (parse_playout_delay_untrusted, b"\x00\x00\x00\x00"),
    ],
)
def test_extension_codecs_reject(parse: object, data: bytes) -> None:
    assert callable(parse)
    with pytest.raises(RtpParseError):
        parse(data)


@given(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16),
    st.integers(0, 0xFFFFFF),
    st.integers(0, 0xFFFF),
    st.booleans(),
    st.integers(0, 127),
    st.builds(VideoOrientation, st.booleans(), st.booleans(), st.sampled_from([0, 90, 180, 270])),
    st.builds(PlayoutDelay, st.integers(0, 4095), st.integers(0, 4095)),
)
def test_extension_codec_round_trips(
    sdes: str,
    ast: int,
    seq: int,
    voice: bool,
    level: int,
    orientation: VideoOrientation,
    delay: PlayoutDelay,
) -> None:
    assert parse_sdes_untrusted(encode_sdes(sdes)) == sdes
    assert parse_abs_send_time_untrusted(encode_abs_send_time(ast)) == ast
    assert abs_send_time_from_seconds(abs_send_time_to_seconds(ast)) == ast
    assert parse_twcc_sequence_untrusted(encode_twcc_sequence(seq)) == seq
    assert parse_audio_level_untrusted(encode_audio_level(voice, level)) == (voice, level)
    assert parse_video_orientation_untrusted(encode_video_orientation(orientation)) == orientation
    assert parse_playout_delay_untrusted(encode_playout_delay(delay)) == delay


@given(st.binary(max_size=8))
def test_extension_parsers_raise_only_parse_error(data: bytes) -> None:
    for parse in (
        parse_sdes_untrusted,
        parse_abs_send_time_untrusted,
        parse_twcc_sequence_untrusted,
        parse_audio_level_untrusted,
        parse_video_orientation_untrusted,
        parse_playout_delay_untrusted,
    ):
        with contextlib.suppress(ParseError):
            parse(data)


# --- Chromium captures ------------------------------------------------------------------------


def test_chromium_vp8_with_mid() -> None:
    data = load_hex("chromium_vp8_mid.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.marker, h.payload_type, h.sequence_number, h.timestamp, h.ssrc) == (
        False,
        96,
        30577,
        3609469461,
        0x17B77F6B,
    )
    assert (h.header_length, h.payload_length, h.padding_length) == (28, 806, 0)
    assert h.extension_profile == ONE_BYTE_PROFILE
    assert h.extensions() == {2: b"\xcb~\xeb", 3: b"\x00\x02", 4: b"1"}
    assert parse_sdes_untrusted(h.extension(4) or b"") == "1"
    assert parse_twcc_sequence_untrusted(h.extension(3) or b"") == 2
    assert bytes(RtpPacket.parse_untrusted(data)) == data


def test_chromium_opus_with_audio_level() -> None:
    data = load_hex("chromium_opus_mid_audio_level.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.marker, h.payload_type, h.sequence_number, h.timestamp, h.ssrc) == (
        True,
        111,
        19644,
        2977822757,
        0x8E5BB16F,
    )
    assert (h.header_length, h.payload_length, h.padding_length) == (20, 32, 0)
    assert h.extensions() == {4: b"0", 1: b"\xff"}
    assert parse_audio_level_untrusted(h.extension(1) or b"") == (True, 127)
    assert bytes(RtpPacket.parse_untrusted(data)) == data


def test_chromium_rtx_padding_probe() -> None:
    data = load_hex("chromium_rtx_padding_probe.hex")
    h = RtpHeader.parse_untrusted(data)
    assert (h.payload_type, h.sequence_number, h.timestamp, h.ssrc) == (97, 27123, 0, 0xCAC82D8)
    assert (h.padding, h.header_length, h.payload_length, h.padding_length) == (True, 28, 0, 255)
    assert h.extensions() == {4: b"1", 3: b"\x00\x01", 2: b"\xcb|\xb4"}
    packet = RtpPacket.parse_untrusted(data)
    assert packet.payload == b""
    assert bytes(packet) == data
