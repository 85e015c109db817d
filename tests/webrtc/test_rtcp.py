"""RTCP compound codec: golden packets, round trips, TWCC chunk choice and fuzzing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfu_trio.webrtc.errors import ParseError
from sfu_trio.webrtc.rtcp import (
    SDES_CNAME,
    DlrrBlock,
    DlrrItem,
    ExtendedReport,
    FullIntraRequest,
    GenericNack,
    Goodbye,
    PictureLossIndication,
    ReceiverEstimatedMaxBitrate,
    ReceiverReferenceTime,
    ReceiverReport,
    ReportBlock,
    RtcpPacket,
    RtcpParseError,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TransportCcFeedback,
    UnknownRtcpPacket,
    UnknownXrBlock,
    ntp_from_unix,
    ntp_to_compact,
    parse_compound_untrusted,
    rtt_from_report_block,
    serialize_compound,
)

DATA = Path(__file__).parent.parent / "data" / "rtcp"


def load_hex(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


# --- golden packets ---------------------------------------------------------------------------


def test_golden_sr_sdes() -> None:
    data = load_hex("sr_sdes.hex")
    assert parse_compound_untrusted(data) == [
        SenderReport(
            ssrc=0x5EE0C9E5,
            ntp_timestamp=0xE8E1D6A2_51EB851E,
            rtp_timestamp=0x00BC614E,
            packet_count=1000,
            octet_count=1_200_000,
            reports=(ReportBlock(0xCAFE0001, 25, -3, 0x0001002A, 17, 0xD6A251EB, 0x00010000),),
        ),
        SourceDescription((SdesChunk(0x5EE0C9E5, ((SDES_CNAME, b"f0zMJk/SsZvXq1Mc"),)),)),
    ]
    packets = parse_compound_untrusted(data)
    assert serialize_compound(packets) == data
    sdes = packets[1]
    assert isinstance(sdes, SourceDescription)
    assert sdes.chunks[0].cname == "f0zMJk/SsZvXq1Mc"


def test_golden_rr_remb() -> None:
    data = load_hex("rr_remb.hex")
    packets = parse_compound_untrusted(data)
    assert packets == [
        ReceiverReport(ssrc=1),
        ReceiverEstimatedMaxBitrate(
            sender_ssrc=1, bitrate=1_000_000, ssrcs=(0x11111111, 0x22222222)
        ),
    ]
    assert serialize_compound(packets) == data


def test_golden_nack_pli_fir() -> None:
    data = load_hex("nack_pli_fir.hex")
    packets = parse_compound_untrusted(data)
    assert packets == [
        ReceiverReport(ssrc=1),
        GenericNack(1, 0x5EE0C9E5, (100, 101, 103, 65535, 0)),
        PictureLossIndication(1, 0x5EE0C9E5),
        FullIntraRequest(1, ((0x5EE0C9E5, 7),), 0),
    ]
    assert serialize_compound(packets) == data


def test_golden_bye_xr_app() -> None:
    data = load_hex("bye_xr_app.hex")
    packets = parse_compound_untrusted(data)
    assert packets == [
        Goodbye((0x11111111, 0x22222222), "bye"),
        ExtendedReport(
            0x33333333,
            (
                ReceiverReferenceTime(0x0102030405060708),
                DlrrBlock((DlrrItem(0x11111111, 0x00AA00BB, 0x100),)),
                UnknownXrBlock(7, 9, bytes.fromhex("deadbeef")),
            ),
        ),
        UnknownRtcpPacket(204, 3, bytes.fromhex("00000001 74657374 01020304")),
    ]
    assert serialize_compound(packets) == data


TWCC_GOLDEN = [
    (
        "twcc_wireshark_chrome.hex",
        TransportCcFeedback(1, 0xDD586EB6, 1, 6197520, 0, (28, 12, 44, 56, 0, 4, 0, 8, 24)),
        True,
    ),
    (
        "twcc_pion_example1.hex",
        TransportCcFeedback(0xFA17FA17, 0x43032FA0, 153, 4057090, 23, (148,)),
        True,
    ),
    (
        "twcc_pion_example4.hex",
        TransportCcFeedback(0xFA17FA17, 0x193DD8BB, 4, 1074030, 1, (76, 36, 36, 16, 12, 12, 16)),
        True,
    ),
]


def test_golden_twcc_with_bad_padding_is_rejected() -> None:
    with pytest.raises(RtcpParseError, match="padding length 0"):
        parse_compound_untrusted(load_hex("twcc_pion_example3.hex"))


@pytest.mark.parametrize(("name", "expected", "canonical"), TWCC_GOLDEN)
def test_golden_twcc(name: str, expected: TransportCcFeedback, canonical: bool) -> None:
    data = load_hex(name)
    assert parse_compound_untrusted(data) == [expected]
    if canonical:
        assert expected.serialize() == data
    else:
        assert parse_compound_untrusted(expected.serialize()) == [expected]


# --- TWCC chunk choice ----------------------------------------------------------------------


def twcc_chunks(deltas: tuple[int | None, ...]) -> list[int]:
    data = TransportCcFeedback(1, 2, 0, 0, 0, deltas).serialize()
    received = [d for d in deltas if d is not None]
    delta_bytes = sum(1 if 0 <= d <= 255 else 2 for d in received)
    pad = data[-1] if data[0] & 0x20 else 0
    chunk_bytes = data[20 : len(data) - pad - delta_bytes]
    return [int.from_bytes(chunk_bytes[i : i + 2], "big") for i in range(0, len(chunk_bytes), 2)]


@pytest.mark.parametrize(
    ("deltas", "chunks"),
    [
        ((1,), [0x2001]),
        ((None,) * 300 + (1,), [0x012C, 0x2001]),  # run of 300 lost, run of 1 small
        ((1,) * 9000, [0x3FFF, 0x2000 | (9000 - 8191)]),  # runs are capped at 8191
        ((300, 300), [0x4002]),
        ((1, None) * 7, [0xAAAA]),  # one-bit vector 10101010101010
        ((1, None, 1), [0xC000 | 0b01_00_01 << 8]),  # final short mix: two-bit vector
        ((300, 1, 1, 1, 1, 1, 1, 1), [0xE000 | 0b01_01_01_01_01_01, 0x2001]),
        ((1,) * 20 + (None,), [0x2014, 0x0001]),
        ((None, 1, 1, 1, 1, 1, 1, 1, 1, 1), [0x8000 | 0b0_111111111_0000]),
    ],
)
def test_twcc_chunk_choice(deltas: tuple[int | None, ...], chunks: list[int]) -> None:
    assert twcc_chunks(deltas) == chunks
    packet = TransportCcFeedback(1, 2, 0, 0, 0, deltas)
    assert parse_compound_untrusted(packet.serialize()) == [packet]


def test_twcc_rejects_reserved_symbol_and_truncated_deltas() -> None:
    head = bytes.fromhex("00000001 00000002 00000001 00000000")
    reserved = bytes.fromhex("8fcd0005") + head + bytes.fromhex("6001 0000")
    with pytest.raises(RtcpParseError, match="reserved status symbol"):
        parse_compound_untrusted(reserved)
    truncated = bytes.fromhex("8fcd0005") + head + bytes.fromhex("4001 0000")[:3] + b"\x00"
    assert parse_compound_untrusted(truncated)[0] == TransportCcFeedback(1, 2, 0, 0, 0, (0,))
    no_delta = bytes.fromhex("afcd0005") + head + bytes.fromhex("4001 0002")
    with pytest.raises(RtcpParseError, match="receive deltas truncated"):
        parse_compound_untrusted(no_delta)


# --- compound errors and helpers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\xc9\x00", "too short"),
        (bytes.fromhex("40c90001 00000001"), "version 1"),
        (bytes.fromhex("80c90002 00000001"), "overruns"),
        (bytes.fromhex("80c90001 00000001 80"), "trailing bytes"),
        (bytes.fromhex("a0c90001 00000000"), "padding length 0"),
        (bytes.fromhex("a0c90001 00000009"), "padding length 9"),
        (bytes.fromhex("81c90001 00000001"), "report blocks truncated"),
        (bytes.fromhex("81ca0002 00000001 01050000"), "SDES item truncated"),
        (bytes.fromhex("81ca0001 00000001"), "not terminated"),
        (bytes.fromhex("82cb0001 00000001"), "SSRC list truncated"),
        (bytes.fromhex("81cb0002 00000001 05616263"), "BYE reason truncated"),
        (bytes.fromhex("80cf0002 00000001 04000002"), "XR block truncated"),
        (bytes.fromhex("81cd0001 00000001"), "feedback packet too short"),
        (bytes.fromhex("84ce0003 00000001 00000000 00000001"), "FIR FCI"),
        (bytes.fromhex("8fce0004 00000001 00000000 52454d42 01000000"), "REMB SSRC list"),
    ],
)
def test_malformed_compound(data: bytes, message: str) -> None:
    with pytest.raises(RtcpParseError, match=message):
        parse_compound_untrusted(data)


def test_ntp_helpers_and_rtt() -> None:
    ntp = ntp_from_unix(1_700_000_000.5)
    assert ntp == (1_700_000_000 + 2_208_988_800) << 32 | 0x80000000
    assert ntp_to_compact(0x0102030405060708) == 0x03040506
    lsr = ntp_to_compact(ntp)
    # answered after 0.25 s of holding, received 0.3 s after the SR was sent -> 50 ms RTT
    now = (lsr + int(0.3 * 65536)) & 0xFFFFFFFF
    assert rtt_from_report_block(now, lsr, int(0.25 * 65536)) == pytest.approx(0.05, abs=1e-4)
    assert rtt_from_report_block(now, 0, 0) is None
    assert rtt_from_report_block(5, 10, 0) == 0.0
    assert rtt_from_report_block(0x10, 0xFFFFFFF0, 0x10) == 0x10 / 65536  # wraps


def test_nack_builder_compresses_and_skips_duplicates() -> None:
    nack = GenericNack(1, 2, (10, 10, 11, 26, 27, 65535, 3))
    data = nack.serialize()
    assert data[12:] == bytes.fromhex("000a 8001 001b 0000 ffff 0008")
    assert parse_compound_untrusted(data) == [GenericNack(1, 2, (10, 11, 26, 27, 65535, 3))]


# --- round trips and fuzzing ----------------------------------------------------------------

u32 = st.integers(0, 0xFFFFFFFF)
u8 = st.integers(0, 255)


def tuples(
    elements: st.SearchStrategy[object], max_size: int
) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(elements, max_size=max_size).map(tuple)


report_blocks = st.builds(
    ReportBlock, u32, u8, st.integers(-(1 << 23), (1 << 23) - 1), u32, u32, u32, u32
)
words = st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4))


@st.composite
def nacks(draw: st.DrawFn) -> GenericNack:
    start = draw(st.integers(0, 0xFFFF))
    offsets = sorted(draw(st.sets(st.integers(0, 3000), max_size=60)))
    return GenericNack(draw(u32), draw(u32), tuple((start + o) & 0xFFFF for o in offsets))


twcc_delta = st.one_of(
    st.none(), st.integers(0, 255), st.integers(-0x8000, 0x7FFF), st.just(None), st.just(1)
)
twcc = st.builds(
    TransportCcFeedback,
    u32,
    u32,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFF),
    u8,
    st.one_of(
        st.lists(twcc_delta, min_size=1, max_size=300),
        st.lists(st.sampled_from([None, 4]), min_size=1, max_size=300),
    ).map(tuple),
)
sdes = st.builds(
    SourceDescription,
    tuples(
        st.builds(
            SdesChunk, u32, tuples(st.tuples(st.integers(1, 255), st.binary(max_size=20)), 4)
        ),
        4,
    ),
)
packets: st.SearchStrategy[RtcpPacket] = st.one_of(
    st.builds(
        SenderReport,
        u32,
        st.integers(0, (1 << 64) - 1),
        u32,
        u32,
        u32,
        tuples(report_blocks, 31),
        words,
    ),
    st.builds(ReceiverReport, u32, tuples(report_blocks, 31), words),
    sdes,
    st.builds(
        Goodbye, tuples(u32, 31), st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)
    ),
    st.builds(
        ExtendedReport,
        u32,
        tuples(
            st.one_of(
                st.builds(ReceiverReferenceTime, st.integers(0, (1 << 64) - 1)),
                st.builds(DlrrBlock, tuples(st.builds(DlrrItem, u32, u32, u32), 4)),
                st.builds(UnknownXrBlock, st.integers(6, 255), u8, words),
            ),
            4,
        ),
    ),
    st.builds(PictureLossIndication, u32, u32),
    st.builds(FullIntraRequest, u32, tuples(st.tuples(u32, u8), 4), u32),
    nacks(),
    st.builds(
        ReceiverEstimatedMaxBitrate,
        u32,
        st.tuples(st.integers(0, 0x3FFFF), st.integers(0, 63)).map(lambda t: t[0] << t[1]),
        tuples(u32, 20),
    ),
    twcc,
    st.builds(UnknownRtcpPacket, st.sampled_from([192, 195, 204, 210]), st.integers(0, 31), words),
)


@given(st.lists(packets, min_size=1, max_size=4))
def test_compound_round_trip(compound: list[RtcpPacket]) -> None:
    data = serialize_compound(compound)
    assert parse_compound_untrusted(data) == compound
    assert serialize_compound(parse_compound_untrusted(data)) == data


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_compound_untrusted(data)


KNOWN_TYPES = [
    (1, 200),
    (1, 201),
    (2, 202),
    (2, 203),
    (0, 207),
    (1, 205),
    (15, 205),
    (1, 206),
    (4, 206),
    (15, 206),
]


@given(st.binary(max_size=60), st.sampled_from([b"", bytes(8), bytes(8) + b"REMB"]))
def test_random_bodies_of_known_types_raise_only_parse_error(tail: bytes, prefix: bytes) -> None:
    body = prefix + tail
    body += bytes(-len(body) % 4)
    for count, packet_type in KNOWN_TYPES:
        header = bytes([0x80 | count, packet_type]) + (len(body) // 4).to_bytes(2, "big")
        with contextlib.suppress(ParseError):
            parse_compound_untrusted(header + bytes(4) + body)


@given(st.lists(packets, min_size=1, max_size=3), st.data())
def test_truncated_and_mutated_raise_only_parse_error(
    compound: list[RtcpPacket], data: st.DataObject
) -> None:
    raw = bytearray(serialize_compound(compound))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    if raw:
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(u8)
    with contextlib.suppress(ParseError):
        parse_compound_untrusted(bytes(raw))


def test_chromium_sr_sdes() -> None:
    data = load_hex("chromium_sr_sdes.hex")
    packets = parse_compound_untrusted(data)
    assert packets == [
        SenderReport(
            ssrc=397901675,
            ntp_timestamp=17199177103449276003,
            rtp_timestamp=3609510051,
            packet_count=28,
            octet_count=14282,
        ),
        SourceDescription((SdesChunk(397901675, ((SDES_CNAME, b"BTNdl4p5lLaVceta"),)),)),
    ]
    assert serialize_compound(packets) == data


def test_chromium_rr() -> None:
    data = load_hex("chromium_rr.hex")
    assert parse_compound_untrusted(data) == [ReceiverReport(397901675)]
    assert serialize_compound([ReceiverReport(397901675)]) == data
