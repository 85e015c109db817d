"""ICE-lite agent (checks, nomination, consent, restart, interop) and the server candidates."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import cast

import aioice
import aioice.ice
import pytest

from sfu_trio.webrtc.candidates import (
    host_udp_candidates,
    passive_tcp_candidates,
    priority,
    server_candidates,
)
from sfu_trio.webrtc.ice_lite import (
    ICE_CHARS,
    MAX_VALIDATED_PAIRS,
    IceConsentExpired,
    IceEvent,
    IceLiteAgent,
    IcePairValidated,
    IceSelectedAddressChanged,
    generate_credentials,
)
from sfu_trio.webrtc.stun import (
    Class,
    Message,
    Method,
    check_message_integrity,
    parse_stun_untrusted,
)

DATA = Path(__file__).parent.parent / "data" / "stun"
UFRAG, PWD = "srvUfrag", "serverPassword0123456789"
NEW_UFRAG, NEW_PWD = "newUfrag", "newServerPassword98765432"
CLIENT = "cli1"
A = ("192.0.2.10", 50000)
B = ("198.51.100.7", 60000)
TID = bytes(range(12))


def load_hex(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


def check(
    *,
    username: str | None = f"{UFRAG}:{CLIENT}",
    pwd: str | None = PWD,
    use_candidate: bool = False,
    roles: tuple[str, ...] = ("ICE-CONTROLLING",),
    priority: bool = True,
    fingerprint: bool = True,
    message_class: Class = Class.REQUEST,
    method: Method = Method.BINDING,
) -> bytes:
    """A connectivity check as a full controlling agent builds it (aioice's codec)."""
    msg = Message(method, message_class, transaction_id=TID)
    if username is not None:
        msg.attributes["USERNAME"] = username
    if priority:
        msg.attributes["PRIORITY"] = 0x6E001EFF
    for role in roles:
        msg.attributes[role] = 0x1234_5678_9ABC_DEF0
    if use_candidate:
        msg.attributes["USE-CANDIDATE"] = None
    if pwd is not None:
        msg.add_message_integrity(pwd.encode())
        if not fingerprint:
            del msg.attributes["FINGERPRINT"]
    elif fingerprint:
        msg.add_fingerprint()
    return bytes(msg)


def events(agent: IceLiteAgent) -> list[IceEvent]:
    out = []
    while (event := agent.next_event()) is not None:
        out.append(event)
    return out


def response_of(data: bytes | None, pwd: str | None = PWD) -> Message:
    """Parse a response; check its transaction id and (when `pwd`) its MESSAGE-INTEGRITY."""
    assert data is not None
    msg = parse_stun_untrusted(data)
    assert msg.transaction_id == TID
    assert "FINGERPRINT" in msg.attributes
    if pwd is None:
        assert "MESSAGE-INTEGRITY" not in msg.attributes
    else:
        assert check_message_integrity(msg, data, pwd.encode())
    return msg


def connected_agent(now: float = 100.0, addr: tuple[str, int] = A) -> IceLiteAgent:
    agent = IceLiteAgent(UFRAG, PWD)
    agent.set_remote_credentials(CLIENT, "clientPassword0123456789")
    agent.handle_stun(check(use_candidate=True), addr, now)
    assert events(agent) == [IceSelectedAddressChanged(addr, "udp")]
    return agent


# --- answering checks ----------------------------------------------------------------------------


def test_valid_check_gets_success_without_nomination() -> None:
    agent = IceLiteAgent(UFRAG, PWD)
    msg = response_of(agent.handle_stun(check(), A, 1.0))
    assert msg.message_method == Method.BINDING
    assert msg.message_class == Class.RESPONSE
    assert list(msg.attributes) == ["XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"]
    assert msg.attributes["XOR-MAPPED-ADDRESS"] == A
    assert events(agent) == [IcePairValidated(A, "udp")]  # DTLS may start on it
    assert (agent.state, agent.selected_address, agent.get_timer()) == ("new", None, None)
    assert agent.answered_checks == 1
    agent.handle_stun(check(), A, 1.1)
    assert events(agent) == []  # validated once


def test_validated_pairs_are_bounded_and_end_with_nomination() -> None:
    agent = IceLiteAgent(UFRAG, PWD)
    for port in range(1000, 1000 + MAX_VALIDATED_PAIRS + 3):
        agent.handle_stun(check(), ("192.0.2.10", port), 1.0)
    assert len(events(agent)) == MAX_VALIDATED_PAIRS
    agent.handle_stun(check(use_candidate=True), A, 1.0)
    agent.handle_stun(check(), ("192.0.2.10", 5), 1.0)
    assert events(agent) == [IceSelectedAddressChanged(A, "udp")]


def test_use_candidate_selects_the_pair() -> None:
    agent = IceLiteAgent(UFRAG, PWD, consent_timeout=30.0)
    response = agent.handle_stun(check(use_candidate=True), A, 5.0, "tcp")
    assert response_of(response).message_class == Class.RESPONSE
    assert events(agent) == [IceSelectedAddressChanged(A, "tcp")]
    assert (agent.state, agent.selected_address, agent.selected_transport) == (
        "connected",
        A,
        "tcp",
    )
    assert agent.get_timer() == 35.0


@pytest.mark.parametrize(
    ("request_bytes", "code", "authenticated"),
    [
        pytest.param(
            check(pwd="wrongPassword0123456789", use_candidate=True),
            401,
            False,
            id="wrong-password",
        ),
        pytest.param(
            check(username=f"unknown:{CLIENT}", use_candidate=True),
            401,
            False,
            id="unknown-local-ufrag",
        ),
        pytest.param(
            check(username=f"{UFRAG}:other", use_candidate=True),
            401,
            False,
            id="wrong-remote-ufrag",
        ),
        pytest.param(check(username=UFRAG, use_candidate=True), 401, False, id="no-colon"),
        pytest.param(check(username=None, use_candidate=True), 400, False, id="no-username"),
        pytest.param(check(pwd=None, use_candidate=True), 400, False, id="no-integrity"),
        pytest.param(check(fingerprint=False, use_candidate=True), 400, False, id="no-fingerprint"),
        pytest.param(check(priority=False, use_candidate=True), 400, True, id="no-priority"),
        pytest.param(
            check(roles=("ICE-CONTROLLED",), use_candidate=True), 487, True, id="role-conflict"
        ),
        pytest.param(
            check(roles=("ICE-CONTROLLING", "ICE-CONTROLLED"), use_candidate=True),
            400,
            True,
            id="both-roles",
        ),
    ],
)
def test_rejected_checks(request_bytes: bytes, code: int, authenticated: bool) -> None:
    agent = IceLiteAgent(UFRAG, PWD)
    agent.set_remote_credentials(CLIENT, "clientPassword0123456789")
    msg = response_of(agent.handle_stun(request_bytes, A, 1.0), PWD if authenticated else None)
    assert msg.message_class == Class.ERROR
    assert msg.error_code == code
    assert "XOR-MAPPED-ADDRESS" not in msg.attributes
    assert events(agent) == []
    assert (agent.state, agent.selected_address, agent.rejected_checks) == ("new", None, 1)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(check(message_class=Class.INDICATION), id="binding-indication"),
        pytest.param(check(message_class=Class.RESPONSE), id="binding-response"),
        pytest.param(check(message_class=Class.ERROR), id="binding-error"),
        pytest.param(check(method=Method.ALLOCATE, use_candidate=True), id="allocate-request"),
        pytest.param(b"\x00\x01\x00\x00garbage", id="garbage"),
        pytest.param(check(use_candidate=True)[:-1], id="truncated"),
        pytest.param(check(use_candidate=True)[:-1] + b"\x00", id="bad-fingerprint"),
    ],
)
def test_silently_ignored(data: bytes) -> None:
    agent = IceLiteAgent(UFRAG, PWD)
    assert agent.handle_stun(data, A, 1.0) is None
    assert events(agent) == []
    assert agent.state == "new"


def test_remote_ufrag_unchecked_until_set() -> None:
    agent = IceLiteAgent(UFRAG, PWD)
    assert response_of(agent.handle_stun(check(username=f"{UFRAG}:any"), A, 1.0)).error_code is None
    agent.set_remote_credentials(CLIENT, "clientPassword0123456789")
    assert (
        response_of(agent.handle_stun(check(username=f"{UFRAG}:any"), A, 2.0), None).error_code
        == 401
    )
    assert response_of(agent.handle_stun(check(), A, 3.0)).error_code is None


def test_golden_rfc5769_request_is_a_role_conflict() -> None:
    agent = IceLiteAgent("evtj", "VOkJxbRl1RmTxUk/WvJxBt")
    agent.set_remote_credentials("h6vY", "remotePassword0123456789")
    response = agent.handle_stun(load_hex("rfc5769_request.hex"), A, 1.0)
    assert response is not None
    msg = parse_stun_untrusted(response)
    assert msg.transaction_id == bytes.fromhex("b7e7a701bc34d686fa87dfae")
    assert msg.attributes["ERROR-CODE"] == (487, "Role Conflict")
    assert check_message_integrity(msg, response, b"VOkJxbRl1RmTxUk/WvJxBt")


def test_golden_chromium_checks() -> None:
    agent = IceLiteAgent("SfuT", "SfuTrioCaptureIcePwd0123")
    agent.set_remote_credentials("zcH3", "chromiumPassword01234567")
    first = agent.handle_stun(load_hex("chromium_binding_request.hex"), ("127.0.0.1", 41000), 1.0)
    assert first is not None
    assert parse_stun_untrusted(first).attributes["XOR-MAPPED-ADDRESS"] == ("127.0.0.1", 41000)
    assert events(agent) == [IcePairValidated(("127.0.0.1", 41000), "udp")]
    nominating = load_hex("chromium_binding_use_candidate.hex")
    assert agent.handle_stun(nominating, ("127.0.0.1", 41000), 1.1) is not None
    assert events(agent) == [IceSelectedAddressChanged(("127.0.0.1", 41000), "udp")]


# --- nomination ----------------------------------------------------------------------------------


def test_nomination_moves_the_pair() -> None:
    agent = connected_agent(now=1.0)
    agent.handle_stun(check(), B, 2.0)  # checks on another pair do not move it
    agent.handle_stun(check(use_candidate=True), A, 3.0)  # renominating the same pair: no event
    assert events(agent) == []
    agent.handle_stun(check(use_candidate=True), B, 4.0)  # network change
    assert events(agent) == [IceSelectedAddressChanged(B, "udp")]
    agent.handle_stun(check(use_candidate=True), B, 5.0, "tcp")  # same address, other transport
    assert events(agent) == [IceSelectedAddressChanged(B, "tcp")]
    assert (agent.selected_address, agent.selected_transport) == (B, "tcp")
    assert agent.get_timer() == 35.0


def test_rejected_nomination_does_not_move_the_pair() -> None:
    agent = connected_agent(now=1.0)
    agent.handle_stun(check(pwd="wrongPassword0123456789", use_candidate=True), B, 2.0)
    agent.handle_stun(check(roles=("ICE-CONTROLLED",), use_candidate=True), B, 3.0)
    assert events(agent) == []
    assert agent.selected_address == A


# --- consent freshness ---------------------------------------------------------------------------


def test_consent_expires_exactly_at_the_timeout() -> None:
    agent = connected_agent(now=100.0)
    assert agent.get_timer() == 130.0
    agent.handle_stun(check(), A, 110.0)  # a check on the selected pair refreshes consent
    assert agent.get_timer() == 140.0
    agent.handle_stun(check(), B, 130.0)  # a check elsewhere does not
    agent.handle_stun(check(pwd="wrongPassword0123456789"), A, 131.0)  # nor an invalid one
    agent.handle_stun(check(roles=("ICE-CONTROLLED",)), A, 132.0)  # nor a role conflict
    assert agent.get_timer() == 140.0
    agent.handle_timer(139.999)
    assert (events(agent), agent.state) == ([], "connected")
    agent.handle_timer(140.0)
    assert events(agent) == [IceConsentExpired()]
    assert (agent.state, agent.get_timer()) == ("failed", None)
    agent.handle_timer(500.0)
    assert events(agent) == []
    assert agent.handle_stun(check(use_candidate=True), A, 501.0) is None
    assert events(agent) == []


def test_no_consent_timer_before_nomination() -> None:
    agent = IceLiteAgent(UFRAG, PWD, consent_timeout=5.0)
    agent.handle_stun(check(), A, 1.0)
    agent.handle_timer(1000.0)
    assert (agent.get_timer(), agent.state) == (None, "new")
    assert events(agent) == [IcePairValidated(A, "udp")]


# --- ICE restart ---------------------------------------------------------------------------------


def test_restart_keeps_the_old_pair_until_a_new_credential_check() -> None:
    agent = connected_agent(now=0.0)
    agent.restart(NEW_UFRAG, NEW_PWD)
    assert (agent.local_ufrag, agent.local_pwd) == (NEW_UFRAG, NEW_PWD)
    # The old generation still works, consent included; the new remote ufrag is not known yet.
    assert response_of(agent.handle_stun(check(), A, 10.0), PWD).error_code is None
    assert agent.get_timer() == 40.0
    new_check = check(username=f"{NEW_UFRAG}:cli2", pwd=NEW_PWD)
    assert response_of(agent.handle_stun(new_check, B, 11.0), NEW_PWD).error_code is None
    assert events(agent) == []
    assert agent.selected_address == A  # media keeps flowing until the client nominates
    # The old generation is gone after the first valid check with the new one.
    assert response_of(agent.handle_stun(check(), A, 12.0), None).error_code == 401
    assert agent.get_timer() == 40.0
    new_nomination = check(username=f"{NEW_UFRAG}:cli2", pwd=NEW_PWD, use_candidate=True)
    agent.handle_stun(new_nomination, B, 13.0)
    assert events(agent) == [IceSelectedAddressChanged(B, "udp")]
    assert agent.get_timer() == 43.0


def test_restart_with_new_remote_credentials() -> None:
    agent = connected_agent(now=0.0)
    agent.restart(NEW_UFRAG, NEW_PWD)
    agent.set_remote_credentials("cli2", "clientPassword2222222222")
    wrong_remote = check(username=f"{NEW_UFRAG}:{CLIENT}", pwd=NEW_PWD)
    assert response_of(agent.handle_stun(wrong_remote, A, 1.0), None).error_code == 401
    assert response_of(agent.handle_stun(check(), A, 2.0), PWD).error_code is None  # old gen


def test_two_restarts_keep_the_generation_in_use() -> None:
    agent = connected_agent(now=0.0)
    agent.restart(NEW_UFRAG, NEW_PWD)
    agent.restart("thirdUfrag", "thirdPassword0123456789x")
    assert response_of(agent.handle_stun(check(), A, 1.0), PWD).error_code is None
    stale = check(username=f"{NEW_UFRAG}:cli2", pwd=NEW_PWD)
    assert response_of(agent.handle_stun(stale, A, 2.0), None).error_code == 401


# --- credentials ---------------------------------------------------------------------------------


def test_generate_credentials() -> None:
    ufrag, pwd = generate_credentials(random.Random(7))
    assert (ufrag, pwd) == generate_credentials(random.Random(7))
    assert (len(ufrag), len(pwd)) == (16, 32)
    assert set(ufrag + pwd) <= set(ICE_CHARS)
    assert generate_credentials() != generate_credentials()
    IceLiteAgent(ufrag, pwd)


@pytest.mark.parametrize(
    ("ufrag", "pwd"),
    [("abc", PWD), ("ab:cd", PWD), (UFRAG, "short"), (UFRAG, "x" * 21), (UFRAG, "p" * 21 + "!")],
)
def test_bad_local_credentials_are_rejected(ufrag: str, pwd: str) -> None:
    with pytest.raises(ValueError, match="ICE"):
        IceLiteAgent(ufrag, pwd)
    with pytest.raises(ValueError, match="ICE"):
        IceLiteAgent(UFRAG, PWD).restart(ufrag, pwd)


# --- interop: aioice's full agent against the lite agent over loopback UDP ---------------------


class _LiteEndpoint(asyncio.DatagramProtocol):
    def __init__(self, agent: IceLiteAgent) -> None:
        self.agent = agent
        self.media: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data[0] < 4:
            response = self.agent.handle_stun(data, addr, self.loop.time())
            if response is not None:
                self.transport.sendto(response, addr)
        else:
            self.media.put_nowait((data, addr))


async def _aioice_against_lite(controlling: bool, remote_is_lite: bool) -> None:
    agent = IceLiteAgent(*generate_credentials(random.Random(1)))
    loop = asyncio.get_running_loop()
    transport, lite = await loop.create_datagram_endpoint(
        lambda: _LiteEndpoint(agent), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    connection = aioice.Connection(ice_controlling=controlling, use_ipv6=False)
    try:
        connection.remote_is_lite = remote_is_lite
        connection.remote_username = agent.local_ufrag
        connection.remote_password = agent.local_pwd
        agent.set_remote_credentials(connection.local_username, connection.local_password)
        await connection.gather_candidates()
        await connection.add_remote_candidate(
            aioice.Candidate("1", 1, "udp", 2130706431, "127.0.0.1", port, "host")
        )
        await connection.add_remote_candidate(None)
        await asyncio.wait_for(connection.connect(), 10)
        assert connection.ice_controlling  # switched after a 487 when it started controlled
        assert (agent.rejected_checks > 0) is not controlling
        selected = [e for e in events(agent) if not isinstance(e, IcePairValidated)]
        assert len(selected) == 1
        event = selected[0]
        assert isinstance(event, IceSelectedAddressChanged)
        assert event.transport == "udp"
        assert agent.state == "connected"
        await connection.send(b"\x80\x60media")
        data, addr = await asyncio.wait_for(lite.media.get(), 5)
        assert (data, addr) == (b"\x80\x60media", event.address)
        transport.sendto(b"\x80\x60reply", event.address)
        assert await asyncio.wait_for(connection.recv(), 5) == b"\x80\x60reply"
    finally:
        await connection.close()
        transport.close()


@pytest.mark.parametrize(
    ("controlling", "remote_is_lite"),
    [
        pytest.param(True, True, id="regular-nomination"),
        pytest.param(True, False, id="aggressive-nomination"),
        pytest.param(False, True, id="controlled-switches-after-487"),
    ],
)
def test_aioice_full_agent_connects(
    monkeypatch: pytest.MonkeyPatch, controlling: bool, remote_is_lite: bool
) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    asyncio.run(_aioice_against_lite(controlling, remote_is_lite))


# --- the server's candidates ---------------------------------------------------------------------


def test_server_candidates_sdp() -> None:
    candidates = server_candidates(["203.0.113.5", "2001:db8::5", "203.0.113.5"], 7882, 7881)
    assert [c.to_sdp().split(" ", 1)[1] for c in candidates] == [
        "1 udp 2130706431 203.0.113.5 7882 typ host",
        "1 udp 2130706175 2001:db8::5 7882 typ host",
        "1 tcp 2124414975 203.0.113.5 7881 typ host tcptype passive",
        "1 tcp 2124414719 2001:db8::5 7881 typ host tcptype passive",
    ]
    foundations = [c.foundation for c in candidates]
    assert len(set(foundations)) == 4  # type, transport and base address differ
    assert all(len(f) <= 32 and set(f) <= set(ICE_CHARS) for f in foundations)
    assert host_udp_candidates(["203.0.113.5"], 9)[0].foundation == foundations[0]
    assert passive_tcp_candidates(["203.0.113.5"], 9)[0].foundation == foundations[2]
    assert min(c.priority for c in candidates if c.transport == "udp") > max(
        c.priority for c in candidates if c.transport == "tcp"
    )
    assert [c.transport for c in server_candidates(["203.0.113.5"], 7882)] == ["udp"]


def test_candidate_priority_formula() -> None:
    assert priority(65535) == (126 << 24) + (65535 << 8) + 255 == 2130706431
    assert priority(0, 0) == 255
    with pytest.raises(ValueError, match="preference"):
        priority(65536)


def test_candidate_addresses_must_be_ip_literals() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        host_udp_candidates(["localhost"], 7882)
