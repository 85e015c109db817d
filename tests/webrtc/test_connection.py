"""PeerConnectionCore against a hand-driven controlling client (aioice STUN + our DTLS client)."""

import random
import struct

import pytest
from aioice import stun

from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.connection import PeerConnectionCore
from sfu_trio.webrtc.dtls import DtlsEndpoint, DtlsRole, DtlsState
from sfu_trio.webrtc.events import (
    ConnectionClosed,
    ConnectionFailed,
    DtlsConnected,
    Event,
    IceAddressChanged,
    IceConnected,
    IcePairValidated,
    RtcpReceived,
    RtpReceived,
)
from sfu_trio.webrtc.ice_lite import generate_credentials
from sfu_trio.webrtc.srtp import SrtpContext, SrtpProfile
from tests.webrtc.lossy_link import LossyLink

CLIENT_ADDR = ("192.0.2.10", 50000)
OTHER_ADDR = ("192.0.2.99", 40000)
CLIENT_RTP = struct.pack("!BBHII", 0x80, 111, 1, 960, 0xCAFE) + b"opus" * 10
CLIENT_RTCP = struct.pack("!BBHI", 0x80, 201, 1, 0xCAFE)  # empty receiver report


@pytest.fixture(scope="module")
def server_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture(scope="module")
def client_cert() -> Certificate:
    return Certificate.generate()


class ControllingClient:
    """What a browser does against an ICE-lite server: checks with USE-CANDIDATE, then DTLS."""

    def __init__(
        self,
        cert: Certificate,
        server_cert: Certificate,
        server_ufrag: str,
        server_pwd: str,
        dtls_role: DtlsRole,
    ) -> None:
        self.ufrag, self.pwd = generate_credentials(random.Random(7))
        self.server_ufrag, self.server_pwd = server_ufrag, server_pwd
        self.dtls = DtlsEndpoint(cert, dtls_role, server_cert.fingerprint_sha256)
        self.srtp: SrtpContext | None = None

    def binding_request(self, use_candidate: bool) -> bytes:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.server_ufrag}:{self.ufrag}"
        request.attributes["PRIORITY"] = 1853824767
        request.attributes["ICE-CONTROLLING"] = 0x1122334455667788
        if use_candidate:
            request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(self.server_pwd.encode())
        request.add_fingerprint()
        return bytes(request)

    def receive(self, data: bytes, now: float) -> None:
        self.dtls.receive_datagram_untrusted(data, now)
        if self.srtp is None and self.dtls.srtp_keys is not None:
            self.srtp = SrtpContext(self.dtls.srtp_keys)


def drain_events(core: PeerConnectionCore) -> list[Event]:
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
    return events


def exchange(
    core: PeerConnectionCore, client: ControllingClient, now: float, addr: tuple[str, int]
) -> None:
    """Shuttle DTLS datagrams between core and client until both are quiet."""
    while True:
        moved = 0
        for datagram in client.dtls.datagrams_to_send():
            core.receive_datagram(datagram, addr, now)
            moved += 1
        for datagram, destination in core.datagrams_to_send(now):
            assert destination == addr
            if datagram[0] >= 20:  # DTLS; STUN responses are checked by the tests themselves
                client.receive(datagram, now)
            moved += 1
        if not moved:
            return


def make_core(
    server_cert: Certificate,
    client_cert: Certificate,
    *,
    dtls_role: DtlsRole = "server",
    client_fingerprint: str | None = None,
) -> tuple[PeerConnectionCore, ControllingClient]:
    ufrag, pwd = generate_credentials(random.Random(1))
    client_role: DtlsRole = "client" if dtls_role == "server" else "server"
    client = ControllingClient(client_cert, server_cert, ufrag, pwd, client_role)
    core = PeerConnectionCore(
        certificate=server_cert,
        local_ufrag=ufrag,
        local_pwd=pwd,
        remote_ufrag=client.ufrag,
        remote_pwd=client.pwd,
        remote_fingerprint=client_fingerprint or client_cert.fingerprint_sha256,
        dtls_role=dtls_role,
    )
    return core, client


def connect(core: PeerConnectionCore, client: ControllingClient, now: float = 0.0) -> list[Event]:
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, now)
    client.dtls.start(now)  # as DTLS server, the client just waits for the core's ClientHello
    exchange(core, client, now, CLIENT_ADDR)
    return drain_events(core)


def test_check_is_answered_and_nomination_connects(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    core.receive_datagram(client.binding_request(use_candidate=False), CLIENT_ADDR, 0.0)
    [(response_bytes, destination)] = core.datagrams_to_send(0.0)
    assert destination == CLIENT_ADDR
    response = stun.parse_message(response_bytes)
    assert response.message_class == stun.Class.RESPONSE
    assert response.check_message_integrity(client.server_pwd.encode())
    assert response.attributes["XOR-MAPPED-ADDRESS"] == CLIENT_ADDR
    assert drain_events(core) == [IcePairValidated(CLIENT_ADDR, "udp")]
    assert (core.remote_address, core.get_timer()) == (None, None)

    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 0.5)
    assert drain_events(core) == [IceConnected(CLIENT_ADDR)]
    assert core.remote_address == CLIENT_ADDR
    assert core.remote_transport == "udp"
    assert core.get_timer() == 30.5  # consent deadline


def test_dtls_runs_on_a_validated_pair_before_nomination(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    """Chromium sends its ClientHello as soon as a check succeeds, before the check that
    nominates the pair: the handshake must not wait for a retransmission."""
    core, client = make_core(server_cert, client_cert)
    core.receive_datagram(client.binding_request(use_candidate=False), CLIENT_ADDR, 0.0)
    core.datagrams_to_send(0.0)
    client.dtls.start(0.0)
    [hello] = client.dtls.datagrams_to_send()
    core.receive_datagram(hello, OTHER_ADDR, 0.0)  # no valid check from there: dropped
    assert (core.dropped_unknown_address, core.datagrams_to_send(0.0)) == (1, [])
    core.receive_datagram(hello, CLIENT_ADDR, 0.0)
    exchange(core, client, 0.0, CLIENT_ADDR)
    assert core.dtls_state is DtlsState.CONNECTED and client.srtp is not None
    assert core.remote_address is None
    assert drain_events(core) == [
        IcePairValidated(CLIENT_ADDR, "udp"),
        DtlsConnected(SrtpProfile.AEAD_AES_128_GCM),
    ]
    assert core.send_rtp(CLIENT_RTP) is not None  # keys are ready; the runtime waits for a pair
    # Media is taken only once the pair is nominated.
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 0.1)
    assert drain_events(core) == [] and core.dropped_unknown_address == 2
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 0.2)
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 0.2)
    assert drain_events(core) == [IceConnected(CLIENT_ADDR), RtpReceived(CLIENT_RTP)]


def test_dtls_before_nomination_over_ice_tcp_answers_over_tcp(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    core.receive_datagram(client.binding_request(use_candidate=False), CLIENT_ADDR, 0.0, "tcp")
    core.datagrams_to_send(0.0)
    assert core.send_transport is None
    client.dtls.start(0.0)
    [hello] = client.dtls.datagrams_to_send()
    core.receive_datagram(hello, CLIENT_ADDR, 0.0, "udp")  # validated over TCP only
    assert core.datagrams_to_send(0.0) == []
    core.receive_datagram(hello, CLIENT_ADDR, 0.0, "tcp")
    assert [addr for _, addr in core.datagrams_to_send(0.0)] == [CLIENT_ADDR]
    assert core.send_transport == "tcp"  # a retransmission from the timer goes there too


def test_dtls_before_nomination_stays_on_validated_pairs_only(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)  # nominated at once: no pair is "validated" after that
    core.receive_datagram(client.binding_request(use_candidate=False), OTHER_ADDR, 1.0)
    assert drain_events(core) == []
    core.datagrams_to_send(1.0)
    core.receive_datagram(b"\x16\xfe\xfd" + bytes(20), OTHER_ADDR, 1.0)
    assert core.dropped_unknown_address == 1


def test_full_connection_carries_srtp_both_ways(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    events = connect(core, client)
    assert events == [IceConnected(CLIENT_ADDR), DtlsConnected(SrtpProfile.AEAD_AES_128_GCM)]
    assert core.dtls_state is DtlsState.CONNECTED
    assert client.srtp is not None

    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 1.0)
    core.receive_datagram(client.srtp.protect_rtcp(CLIENT_RTCP), CLIENT_ADDR, 1.0)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP), RtcpReceived(CLIENT_RTCP)]

    server_rtp = struct.pack("!BBHII", 0x80, 96, 77, 1234, 0xBEEF) + b"video"
    protected = core.send_rtp(server_rtp)
    assert protected is not None
    assert client.srtp.unprotect_rtp(protected) == server_rtp
    server_rtcp = struct.pack("!BBHI", 0x80, 201, 1, 0xBEEF)
    protected_rtcp = core.send_rtcp(server_rtcp)
    assert protected_rtcp is not None
    assert client.srtp.unprotect_rtcp(protected_rtcp) == server_rtcp


def test_core_as_dtls_client(server_cert: Certificate, client_cert: Certificate) -> None:
    core, client = make_core(server_cert, client_cert, dtls_role="client")
    assert core.get_timer() is None  # nothing to retransmit before ICE connects
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 0.0)
    datagrams = core.datagrams_to_send(0.0)
    assert [destination for _, destination in datagrams] == [CLIENT_ADDR, CLIENT_ADDR]
    assert datagrams[1][0][0] == 22  # the ClientHello follows the STUN response
    assert core.get_timer() == 1.0  # DTLS retransmission before the consent deadline
    client.dtls.start(0.0)
    for datagram, _ in datagrams[1:]:
        client.receive(datagram, 0.0)
    exchange(core, client, 0.0, CLIENT_ADDR)
    assert drain_events(core) == [
        IceConnected(CLIENT_ADDR),
        DtlsConnected(SrtpProfile.AEAD_AES_128_GCM),
    ]
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 1.0)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP)]


def test_packets_from_unknown_address_are_dropped(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), OTHER_ADDR, 1.0)
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 1.0, "tcp")
    assert core.next_event() is None
    assert core.dropped_unknown_address == 2
    # The same packet from the right address still arrives: nothing was consumed.
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 1.0)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP)]


def test_dtls_before_nomination_is_dropped(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    client.dtls.start(0.0)
    for datagram in client.dtls.datagrams_to_send():
        core.receive_datagram(datagram, CLIENT_ADDR, 0.0)
    assert core.dropped_unknown_address == 1
    assert core.datagrams_to_send(0.0) == []
    assert core.dtls_state is DtlsState.CONNECTING


def test_client_retransmission_after_ice_completes_the_handshake(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    client.dtls.start(0.0)
    client.dtls.datagrams_to_send()  # ClientHello sent before nomination: dropped
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 0.2)
    core.datagrams_to_send(0.2)
    client.dtls.handle_timer(1.0)
    exchange(core, client, 1.0, CLIENT_ADDR)
    assert drain_events(core) == [
        IceConnected(CLIENT_ADDR),
        DtlsConnected(SrtpProfile.AEAD_AES_128_GCM),
    ]


def test_srtp_before_keys_and_tampered_srtp_are_counted(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 0.0)
    core.receive_datagram(CLIENT_RTP, CLIENT_ADDR, 0.0)
    assert core.dropped_before_keys == 1
    assert core.send_rtp(CLIENT_RTP) is None
    client.dtls.start(0.0)
    exchange(core, client, 0.0, CLIENT_ADDR)
    drain_events(core)
    assert client.srtp is not None
    tampered = bytearray(client.srtp.protect_rtp(CLIENT_RTP))
    tampered[-1] ^= 0xFF
    core.receive_datagram(bytes(tampered), CLIENT_ADDR, 1.0)
    core.receive_datagram(b"\x80", CLIENT_ADDR, 1.0)
    core.receive_datagram(b"\xff\x00\x00", CLIENT_ADDR, 1.0)
    assert core.next_event() is None
    assert core.srtp_errors == 2
    assert core.dropped_unclassified == 1


def test_consent_expiry_fails_the_connection(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client, now=0.0)
    # A consent check at 20 s pushes the deadline to 50 s.
    core.receive_datagram(client.binding_request(use_candidate=False), CLIENT_ADDR, 20.0)
    core.datagrams_to_send(20.0)
    assert core.get_timer() == 50.0
    core.handle_timer(49.9)
    assert core.next_event() is None
    core.handle_timer(50.0)
    assert drain_events(core) == [ConnectionFailed("consent expired")]
    assert core.get_timer() is None
    assert core.send_rtp(CLIENT_RTP) is None
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 51.0)
    assert core.next_event() is None


def test_fingerprint_mismatch_fails_the_connection(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert, client_fingerprint="AB:CD")
    events = connect(core, client)
    assert events == [IceConnected(CLIENT_ADDR), ConnectionFailed("fingerprint mismatch")]
    assert core.srtp is None
    assert core.send_rtp(CLIENT_RTP) is None


def test_nomination_from_a_new_address_moves_media(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)
    core.receive_datagram(client.binding_request(use_candidate=True), OTHER_ADDR, 5.0)
    assert drain_events(core) == [IceAddressChanged(OTHER_ADDR)]
    assert core.remote_address == OTHER_ADDR
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 5.1)
    assert core.next_event() is None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), OTHER_ADDR, 5.1)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP)]


def test_ice_restart_keeps_media_and_answers_new_credentials(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)
    new_ufrag, new_pwd = generate_credentials(random.Random(99))
    client_ufrag, client_pwd = generate_credentials(random.Random(100))
    core.restart_ice(new_ufrag, new_pwd, client_ufrag, client_pwd)
    client.server_ufrag, client.server_pwd = new_ufrag, new_pwd
    client.ufrag, client.pwd = client_ufrag, client_pwd
    core.receive_datagram(client.binding_request(use_candidate=True), CLIENT_ADDR, 3.0)
    [(response, _)] = core.datagrams_to_send(3.0)
    parsed = stun.parse_message(response)
    assert parsed.message_class == stun.Class.RESPONSE
    assert parsed.check_message_integrity(new_pwd.encode())
    assert core.next_event() is None  # same address: no change, DTLS untouched
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, 3.1)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP)]


def test_close_sends_close_notify(server_cert: Certificate, client_cert: Certificate) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)
    core.close(2.0)
    assert drain_events(core) == [ConnectionClosed()]
    datagrams = core.datagrams_to_send(2.0)
    assert [destination for _, destination in datagrams] == [CLIENT_ADDR]
    client.receive(datagrams[0][0], 2.0)
    assert client.dtls.state is DtlsState.CLOSED
    assert core.get_timer() is None
    core.close(3.0)
    assert core.next_event() is None


def test_peer_close_notify_closes_the_core(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    core, client = make_core(server_cert, client_cert)
    connect(core, client)
    client.dtls.close()
    exchange(core, client, 2.0, CLIENT_ADDR)
    assert drain_events(core) == [ConnectionClosed()]
    assert core.dtls_state is DtlsState.CLOSED


@pytest.mark.parametrize("seed", range(6))
def test_connection_over_terrible_network(
    server_cert: Certificate, client_cert: Certificate, seed: int
) -> None:
    rng = random.Random(seed)
    core, client = make_core(server_cert, client_cert)
    uplink, downlink = LossyLink(rng), LossyLink(rng)
    now, next_check = 0.0, 0.0
    events: list[Event] = []
    ice_answered = False
    for _ in range(2000):
        if now >= next_check:  # a browser keeps checking every 0.5 s, then for consent
            uplink.send(client.binding_request(use_candidate=True), now)
            next_check = now + (5.0 if ice_answered else 0.5)
        for datagram in client.dtls.datagrams_to_send():
            uplink.send(datagram, now)
        for datagram, destination in core.datagrams_to_send(now):
            assert destination == CLIENT_ADDR
            downlink.send(datagram, now)
        events += drain_events(core)
        if client.srtp is not None and DtlsConnected in map(type, events):
            break
        deadlines = [core.get_timer(), client.dtls.get_timer(), next_check]
        deadlines += [uplink.next_arrival(), downlink.next_arrival()]
        now = min(t for t in deadlines if t is not None)
        for datagram in uplink.deliver(now):
            core.receive_datagram(datagram, CLIENT_ADDR, now)
        for datagram in downlink.deliver(now):
            if datagram[0] < 4:  # STUN response: the pair works, start DTLS like a browser
                ice_answered = True
                client.dtls.start(now)
            else:
                client.receive(datagram, now)
        core.handle_timer(now)
        client.dtls.handle_timer(now)
    assert events == [IceConnected(CLIENT_ADDR), DtlsConnected(SrtpProfile.AEAD_AES_128_GCM)]
    assert client.srtp is not None
    core.receive_datagram(client.srtp.protect_rtp(CLIENT_RTP), CLIENT_ADDR, now)
    assert drain_events(core) == [RtpReceived(CLIENT_RTP)]
    assert now < 30.0
