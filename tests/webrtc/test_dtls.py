import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfu_trio.webrtc.certs import Certificate
from sfu_trio.webrtc.dtls import (
    DtlsEndpoint,
    DtlsState,
    pack_records,
    split_records_untrusted,
)
from sfu_trio.webrtc.srtp import SrtpContext, SrtpProfile
from tests.webrtc.lossy_link import LossyLink

CERTIFICATES = [Certificate.generate()]  # hypothesis tests cannot use function-scoped fixtures
RTP = bytes([0x80, 96, 0, 1, 0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF]) + b"media" * 20


@pytest.fixture(scope="module")
def server_cert() -> Certificate:
    return Certificate.generate()


@pytest.fixture(scope="module")
def client_cert() -> Certificate:
    return Certificate.generate()


def make_pair(
    server_cert: Certificate, client_cert: Certificate
) -> tuple[DtlsEndpoint, DtlsEndpoint]:
    server = DtlsEndpoint(server_cert, "server", client_cert.fingerprint_sha256)
    client = DtlsEndpoint(client_cert, "client", server_cert.fingerprint_sha256)
    return server, client


def state(endpoint: DtlsEndpoint) -> DtlsState:
    """The state, read through a call so mypy does not narrow it across handshake steps."""
    return endpoint.state


def shuttle(a: DtlsEndpoint, b: DtlsEndpoint, now: float) -> int:
    """Deliver everything pending both ways until quiet; return the number of datagrams."""
    count = 0
    while True:
        moved = 0
        for src, dst in ((a, b), (b, a)):
            for datagram in src.datagrams_to_send():
                dst.receive_datagram_untrusted(datagram, now)
                moved += 1
        count += moved
        if not moved:
            return count


def assert_keys_match(server: DtlsEndpoint, client: DtlsEndpoint) -> None:
    assert server.srtp_keys is not None and client.srtp_keys is not None
    server_srtp, client_srtp = SrtpContext(server.srtp_keys), SrtpContext(client.srtp_keys)
    assert server_srtp.unprotect_rtp(client_srtp.protect_rtp(RTP)) == RTP
    assert client_srtp.unprotect_rtp(server_srtp.protect_rtp(RTP)) == RTP


def test_handshake_completes_with_gcm_and_matching_keys(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server, client = make_pair(server_cert, client_cert)
    assert server.get_timer() is None
    client.start(0.0)
    assert state(client) is DtlsState.CONNECTING
    assert client.get_timer() == 1.0
    shuttle(client, server, 0.1)
    assert state(server) is DtlsState.CONNECTED
    assert state(client) is DtlsState.CONNECTED
    assert server.srtp_profile is client.srtp_profile is SrtpProfile.AEAD_AES_128_GCM
    assert server.get_timer() is None and client.get_timer() is None
    assert_keys_match(server, client)


@pytest.mark.parametrize(
    ("server_profiles", "client_profiles", "expected"),
    [
        (list(SrtpProfile), [SrtpProfile.AES128_CM_SHA1_80], SrtpProfile.AES128_CM_SHA1_80),
        ([SrtpProfile.AES128_CM_SHA1_80], list(SrtpProfile), SrtpProfile.AES128_CM_SHA1_80),
        (list(SrtpProfile), list(reversed(SrtpProfile)), SrtpProfile.AEAD_AES_128_GCM),
    ],
)
def test_srtp_profile_negotiation(
    server_cert: Certificate,
    client_cert: Certificate,
    server_profiles: list[SrtpProfile],
    client_profiles: list[SrtpProfile],
    expected: SrtpProfile,
) -> None:
    server = DtlsEndpoint(
        server_cert, "server", client_cert.fingerprint_sha256, srtp_profiles=server_profiles
    )
    client = DtlsEndpoint(
        client_cert, "client", server_cert.fingerprint_sha256, srtp_profiles=client_profiles
    )
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert server.srtp_profile is client.srtp_profile is expected
    assert_keys_match(server, client)


def test_client_rejects_server_with_wrong_fingerprint(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server = DtlsEndpoint(server_cert, "server", client_cert.fingerprint_sha256)
    client = DtlsEndpoint(client_cert, "client", client_cert.fingerprint_sha256)
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(client) is DtlsState.FAILED
    assert client.failure_reason == "fingerprint mismatch"
    assert client.srtp_keys is None and client.srtp_profile is None
    assert client.get_timer() is None


def test_server_rejects_client_with_wrong_fingerprint(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server = DtlsEndpoint(server_cert, "server", server_cert.fingerprint_sha256)
    client = DtlsEndpoint(client_cert, "client", server_cert.fingerprint_sha256)
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(server) is DtlsState.FAILED
    assert server.failure_reason == "fingerprint mismatch"
    assert server.srtp_keys is None


def test_unknown_remote_fingerprint_fails_closed(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server = DtlsEndpoint(server_cert, "server", None)
    client = DtlsEndpoint(client_cert, "client", server_cert.fingerprint_sha256)
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(server) is DtlsState.FAILED
    assert server.failure_reason == "fingerprint mismatch"


def test_fingerprint_comparison_ignores_case(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server = DtlsEndpoint(server_cert, "server", client_cert.fingerprint_sha256.lower())
    client = DtlsEndpoint(client_cert, "client", server_cert.fingerprint_sha256)
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(server) is DtlsState.CONNECTED


def test_lost_client_hello_is_retransmitted_on_the_fake_clock(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server, client = make_pair(server_cert, client_cert)
    client.start(10.0)
    first_flight = client.datagrams_to_send()  # lost
    assert len(first_flight) == 1
    client.handle_timer(10.999)
    assert client.datagrams_to_send() == []
    client.handle_timer(11.0)
    # OpenSSL's real-clock timer has not expired: our copy goes out verbatim.
    assert client.datagrams_to_send() == first_flight
    assert client.get_timer() == 13.0  # doubled
    client.handle_timer(13.0)
    assert client.get_timer() == 17.0
    shuttle(client, server, 13.0)
    assert state(server) is DtlsState.CONNECTED and client.state is DtlsState.CONNECTED


def test_lost_final_flight_is_resent_when_client_retransmits_finished(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server, client = make_pair(server_cert, client_cert)
    client.start(0.0)
    for datagram in client.datagrams_to_send():
        server.receive_datagram_untrusted(datagram, 0.0)
    for datagram in server.datagrams_to_send():
        client.receive_datagram_untrusted(datagram, 0.0)
    for datagram in client.datagrams_to_send():
        server.receive_datagram_untrusted(datagram, 0.0)
    assert state(server) is DtlsState.CONNECTED
    server.datagrams_to_send()  # the final flight (ChangeCipherSpec, Finished) is lost
    assert state(client) is DtlsState.CONNECTING
    client.handle_timer(1.0)
    shuttle(client, server, 1.0)
    assert state(client) is DtlsState.CONNECTED
    assert_keys_match(server, client)


def test_duplicate_final_flight_at_client_causes_no_ping_pong(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    server, client = make_pair(server_cert, client_cert)
    client.start(0.0)
    shuttle(client, server, 0.0)
    final_flight = server._flight
    for datagram in final_flight:
        client.receive_datagram_untrusted(datagram, 0.1)
    assert client.datagrams_to_send() == []
    assert state(client) is DtlsState.CONNECTED


def handshake_over_lossy_link(
    server_cert: Certificate, client_cert: Certificate, seed: int, client_first: bool
) -> tuple[float, int, int]:
    """Run a handshake over a 20% loss link on the fake clock; return (end time, drops, dups)."""
    rng = random.Random(seed)
    server, client = make_pair(server_cert, client_cert)
    links = {
        id(client): (LossyLink(rng, drop_rate=0.2, duplicate_rate=0.1), server),
        id(server): (LossyLink(rng, drop_rate=0.2, duplicate_rate=0.1), client),
    }
    now = 0.0
    client.start(now)
    endpoints = [client, server] if client_first else [server, client]
    for _ in range(1000):
        for endpoint in endpoints:
            link, _peer = links[id(endpoint)]
            for datagram in endpoint.datagrams_to_send():
                link.send(datagram, now)
        both_connected = state(server) is state(client) is DtlsState.CONNECTED
        if both_connected and all(link.idle for link, _ in links.values()):
            break
        deadlines = [endpoint.get_timer() for endpoint in endpoints]
        deadlines += [link.next_arrival() for link, _ in links.values()]
        now = min(t for t in deadlines if t is not None)
        for link, peer in links.values():
            for datagram in link.deliver(now):
                peer.receive_datagram_untrusted(datagram, now)
        for endpoint in endpoints:
            endpoint.handle_timer(now)
    assert state(server) is DtlsState.CONNECTED
    assert state(client) is DtlsState.CONNECTED
    assert_keys_match(server, client)
    dropped = sum(link.dropped for link, _ in links.values())
    duplicated = sum(link.duplicated for link, _ in links.values())
    return now, dropped, duplicated


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("client_first", [True, False])
def test_handshake_over_terrible_network(
    server_cert: Certificate, client_cert: Certificate, seed: int, client_first: bool
) -> None:
    now, _, _ = handshake_over_lossy_link(server_cert, client_cert, seed, client_first)
    assert now < 60.0


def test_terrible_network_really_drops_and_duplicates(
    server_cert: Certificate, client_cert: Certificate
) -> None:
    results = [handshake_over_lossy_link(server_cert, client_cert, s, True) for s in range(12)]
    assert sum(dropped for _, dropped, _ in results) >= 12
    assert sum(duplicated for _, _, duplicated in results) >= 3
    assert max(now for now, _, _ in results) > 1.0  # some handshakes needed a retransmission


def test_client_gives_up_after_repeated_timeouts(client_cert: Certificate) -> None:
    client = DtlsEndpoint(client_cert, "client", "00")
    client.start(0.0)
    sends = 0
    while (deadline := client.get_timer()) is not None:
        sends += len(client.datagrams_to_send())
        client.handle_timer(deadline)
    assert state(client) is DtlsState.FAILED
    assert client.failure_reason == "handshake timeout"
    assert sends == 8  # the first flight and 7 retransmissions


def test_close_notify_closes_the_peer(server_cert: Certificate, client_cert: Certificate) -> None:
    server, client = make_pair(server_cert, client_cert)
    client.start(0.0)
    shuttle(client, server, 0.0)
    client.close()
    assert state(client) is DtlsState.CLOSED
    shuttle(client, server, 1.0)
    assert state(server) is DtlsState.CLOSED


@pytest.mark.parametrize(
    "datagram",
    [b"", b"\x16\xfe\xfd", b"\x16\xfe\xfd" + bytes(8) + b"\x00\x05abc", b"\x17" * 40],
)
def test_malformed_datagrams_are_counted_and_dropped(
    server_cert: Certificate, client_cert: Certificate, datagram: bytes
) -> None:
    server, client = make_pair(server_cert, client_cert)
    server.receive_datagram_untrusted(datagram, 0.0)
    assert server.dropped_datagrams == 1
    assert state(server) is DtlsState.NEW
    client.start(0.0)
    shuttle(client, server, 0.0)
    assert state(server) is DtlsState.CONNECTED


def test_record_framing_and_packing() -> None:
    record_a = b"\x16\xfe\xfd" + bytes(8) + b"\x00\x03abc"
    record_b = b"\x14\xfe\xfd" + bytes(8) + b"\x00\x01\x01"
    assert split_records_untrusted(record_a + record_b) == [(22, 0, 16), (20, 16, 14)]
    assert split_records_untrusted(record_a[:-1]) is None
    assert pack_records(record_a + record_b, mtu=30) == [record_a + record_b]
    assert pack_records(record_a + record_b, mtu=29) == [record_a, record_b]


@given(st.binary(max_size=200))
def test_record_framing_of_random_bytes_tiles_or_refuses(data: bytes) -> None:
    framing = split_records_untrusted(data)
    if framing is None:
        return
    position = 0
    for content_type, offset, total in framing:
        assert offset == position
        assert content_type == data[offset]
        assert total == 13 + int.from_bytes(data[offset + 11 : offset + 13], "big")
        position += total
    assert position == len(data)


@settings(max_examples=50, deadline=None)
@given(garbage=st.lists(st.binary(min_size=1, max_size=300), max_size=5))
def test_garbage_never_raises_and_never_breaks_a_handshake(garbage: list[bytes]) -> None:
    certificate = CERTIFICATES[0]
    server = DtlsEndpoint(certificate, "server", certificate.fingerprint_sha256)
    client = DtlsEndpoint(certificate, "client", certificate.fingerprint_sha256)
    for data in garbage:
        server.receive_datagram_untrusted(data, 0.0)
    client.start(0.0)
    for datagram in client.datagrams_to_send():
        server.receive_datagram_untrusted(datagram, 0.0)
    for data in garbage:
        server.receive_datagram_untrusted(data, 0.0)
        client.receive_datagram_untrusted(data, 0.0)
    if state(server) is DtlsState.FAILED or state(client) is DtlsState.FAILED:
        # Garbage that frames as records may carry a fatal alert; failing is allowed,
        # raising is not.
        return
    shuttle(client, server, 0.0)
    for data in garbage:
        server.receive_datagram_untrusted(data, 1.0)
    assert state(client) is DtlsState.CONNECTED
