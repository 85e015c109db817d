import struct

import pytest

from sfu_trio.webrtc.srtp import (
    SrtpContext,
    SrtpError,
    SrtpKeys,
    SrtpProfile,
    split_exported_keying_material,
)


def rtp_packet(seq: int, ssrc: int = 0x11223344, payload: bytes = b"payload!" * 10) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, ssrc) + payload


def rtcp_receiver_report(ssrc: int = 0x55667788) -> bytes:
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def context_pair(profile: SrtpProfile) -> tuple[SrtpContext, SrtpContext]:
    material = bytes(range(2 * profile.key_and_salt_length))
    client = split_exported_keying_material(profile, material, is_client=True)
    server = split_exported_keying_material(profile, material, is_client=False)
    return SrtpContext(client), SrtpContext(server)


def test_keying_material_split_follows_rfc5764() -> None:
    profile = SrtpProfile.AES128_CM_SHA1_80
    material = bytes(range(60))  # client key 16 | server key 16 | client salt 14 | server salt 14
    client = split_exported_keying_material(profile, material, is_client=True)
    assert client == SrtpKeys(
        profile,
        local_key_and_salt=bytes(range(16)) + bytes(range(32, 46)),
        remote_key_and_salt=bytes(range(16, 32)) + bytes(range(46, 60)),
    )
    server = split_exported_keying_material(profile, material, is_client=False)
    assert server.local_key_and_salt == client.remote_key_and_salt
    assert server.remote_key_and_salt == client.local_key_and_salt


def test_keying_material_of_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError):
        split_exported_keying_material(SrtpProfile.AEAD_AES_128_GCM, bytes(60), is_client=True)


@pytest.mark.parametrize(
    ("profile", "rtp_overhead"),
    [(SrtpProfile.AEAD_AES_128_GCM, 16), (SrtpProfile.AES128_CM_SHA1_80, 10)],
)
def test_rtp_and_rtcp_round_trip(profile: SrtpProfile, rtp_overhead: int) -> None:
    client, server = context_pair(profile)
    for seq in (1, 2, 5, 3):  # reordering within the window is fine
        packet = rtp_packet(seq)
        protected = client.protect_rtp(packet)
        assert len(protected) == len(packet) + rtp_overhead
        assert protected[:12] == packet[:12]
        assert protected[12:] != packet[12:]
        assert server.unprotect_rtp(protected) == packet
    report = rtcp_receiver_report()
    assert client.unprotect_rtcp(server.protect_rtcp(report)) == report


@pytest.mark.parametrize("profile", list(SrtpProfile))
def test_replayed_packet_is_rejected(profile: SrtpProfile) -> None:
    client, server = context_pair(profile)
    protected = client.protect_rtp(rtp_packet(7))
    server.unprotect_rtp(protected)
    with pytest.raises(SrtpError):
        server.unprotect_rtp(protected)
    protected_rtcp = client.protect_rtcp(rtcp_receiver_report())
    server.unprotect_rtcp(protected_rtcp)
    with pytest.raises(SrtpError):
        server.unprotect_rtcp(protected_rtcp)


@pytest.mark.parametrize("profile", list(SrtpProfile))
def test_tampered_packet_is_rejected(profile: SrtpProfile) -> None:
    client, server = context_pair(profile)
    protected = bytearray(client.protect_rtp(rtp_packet(9)))
    protected[20] ^= 0x01
    with pytest.raises(SrtpError):
        server.unprotect_rtp(bytes(protected))
    # The untampered packet still decrypts: a failure does not poison the stream.
    protected[20] ^= 0x01
    assert server.unprotect_rtp(bytes(protected)) == rtp_packet(9)


@pytest.mark.parametrize("garbage", [b"", b"\x80", b"\x80\x60\x00", bytes(2000)])
def test_garbage_raises_srtp_error_only(garbage: bytes) -> None:
    _, server = context_pair(SrtpProfile.AEAD_AES_128_GCM)
    with pytest.raises(SrtpError):
        server.unprotect_rtp(garbage)
    with pytest.raises(SrtpError):
        server.unprotect_rtcp(garbage)


def test_retransmission_of_same_packet_is_allowed_on_send() -> None:
    client, server = context_pair(SrtpProfile.AES128_CM_SHA1_80)
    first = client.protect_rtp(rtp_packet(100))
    again = client.protect_rtp(rtp_packet(100))  # a NACKed packet sent again
    assert again == first
    assert server.unprotect_rtp(again) == rtp_packet(100)


def test_new_ssrcs_need_no_reconfiguration() -> None:
    client, server = context_pair(SrtpProfile.AEAD_AES_128_GCM)
    for ssrc in (1, 2, 0xFFFFFFFF):
        packet = rtp_packet(1, ssrc=ssrc)
        assert server.unprotect_rtp(client.protect_rtp(packet)) == packet


def test_wrong_key_is_rejected() -> None:
    client, _ = context_pair(SrtpProfile.AEAD_AES_128_GCM)
    profile = SrtpProfile.AEAD_AES_128_GCM
    other = SrtpContext(
        split_exported_keying_material(profile, bytes(56), is_client=False),
    )
    with pytest.raises(SrtpError):
        other.unprotect_rtp(client.protect_rtp(rtp_packet(1)))


@pytest.mark.parametrize("profile", list(SrtpProfile))
def test_protect_view_matches_protect_and_round_trips(profile: SrtpProfile) -> None:
    sender, receiver = context_pair(profile)
    twin, _ = context_pair(profile)
    for seq in range(5):
        packet = bytearray(rtp_packet(seq, payload=bytes([seq]) * 900))
        view = sender.protect_rtp_view(packet)
        assert bytes(view) == twin.protect_rtp(bytes(packet))
        assert receiver.unprotect_rtp(bytes(view)) == bytes(packet)


def test_protect_view_refuses_an_oversized_packet() -> None:
    sender, _ = context_pair(SrtpProfile.AES128_CM_SHA1_80)
    with pytest.raises(SrtpError):
        sender.protect_rtp_view(rtp_packet(1, payload=b"x" * 1400))
