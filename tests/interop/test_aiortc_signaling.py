"""aiortc as a client of the whole server: signaling, ICE-lite, DTLS-SRTP and forwarding."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import trio

from sfu_trio.server import ServerAddresses
from tests.interop.conftest import AiortcPeer
from tests.signaling_client import SignalingClient, connect

pytestmark = pytest.mark.interop


async def negotiate(
    client: SignalingClient, peer: AiortcPeer, offer: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Relay an aiortc offer through the server and its answer back; the answer's data."""
    await client.send(
        "offer", {"sdp": offer["sdp"], "type": "offer", "tracks": offer["tracks"], **extra}
    )
    answer = await client.wait_for("answer")
    await peer.send({"type": "answer", "sdp": answer["sdp"]})
    return answer


async def follow_renegotiation(
    client: SignalingClient, peer: AiortcPeer, **extra: Any
) -> dict[str, Any]:
    """Answer the next ``renegotiate`` the way the seed page does: enough free slots, re-offer."""
    request = await client.wait_for("renegotiate", seconds=10)
    free = max(math.ceil(request["trackCount"] / 2), 1)
    await peer.send({"type": "offer", "recv": {"audio": free, "video": free}})
    offer = await peer.wait_for(type="offer")
    return await negotiate(client, peer, offer, **extra)


async def test_echo_session_returns_aiortc_media(
    server: ServerAddresses, aiortc_peer: AiortcPeer
) -> None:
    async with connect(server.http_url) as client:
        ack = await client.join("echo-test", "aiortc")
        offer = await aiortc_peer.wait_for(type="offer")
        first = await negotiate(client, aiortc_peer, offer, echo=True)
        assert first["peerId"] == ack["peerId"]
        with trio.fail_after(10):
            await aiortc_peer.wait_for(type="state", connection="connected")
        answer = await follow_renegotiation(client, aiortc_peer, echo=True)
        kinds = sorted(track["kind"] for track in answer["tracks"])
        assert kinds == ["audio", "video"]
        assert {track["peerId"] for track in answer["tracks"]} == {ack["peerId"]}
        with trio.fail_after(15):
            await aiortc_peer.wait_decoded({"video": 5, "audio": 5})
        (participant,) = server.context.registry.get("echo-test").participants.values()
        assert participant.media is not None
        sent = [down.packets_sent for _, down in participant.media.sending.values()]
        assert len(sent) == 2 and min(sent) > 0


async def test_two_aiortc_peers_receive_each_other(
    server: ServerAddresses, aiortc_factory: Callable[..., Any]
) -> None:
    async with (
        aiortc_factory() as peer_a,
        aiortc_factory() as peer_b,
        connect(server.http_url) as alice,
        connect(server.http_url) as bob,
    ):
        a_ack = await alice.join("pair", "alice")
        await negotiate(alice, peer_a, await peer_a.wait_for(type="offer"))
        b_ack = await bob.join("pair", "bob")
        # aiortc's sendrecv m-lines are receive slots too: Alice's tracks are placed on them
        # in Bob's first answer, with no extra round trip.
        b_answer = await negotiate(bob, peer_b, await peer_b.wait_for(type="offer"))
        assert {t["peerId"] for t in b_answer["tracks"]} == {a_ack["peerId"]}
        assert sorted(t["kind"] for t in b_answer["tracks"]) == ["audio", "video"]
        # Bob published: Alice is asked to re-offer and then receives Bob.
        a_answer = await follow_renegotiation(alice, peer_a)
        assert {t["peerId"] for t in a_answer["tracks"]} == {b_ack["peerId"]}
        with trio.fail_after(15):
            for peer in (peer_a, peer_b):
                await peer.wait_decoded({"video": 5, "audio": 5})


async def test_a_certificate_that_does_not_match_the_fingerprint_is_refused(
    server: ServerAddresses, aiortc_peer: AiortcPeer
) -> None:
    forged = ":".join(["AB"] * 32)
    async with connect(server.http_url) as client:
        await client.join("forged", "mallory")
        offer = await aiortc_peer.wait_for(type="offer")
        sdp = re.sub(r"a=fingerprint:sha-256 \S+", f"a=fingerprint:sha-256 {forged}", offer["sdp"])
        assert forged in sdp
        await negotiate(client, aiortc_peer, {**offer, "sdp": sdp})
        error = await client.wait_for("error", seconds=15)
        assert error["code"] == 403
        assert "fingerprint mismatch" in error["message"]
        assert await client.wait_closed() == 4002
    assert server.context.registry.media_failures == {"fingerprint_mismatch": 1}
    text = server.context.metrics.render()[0].decode()
    assert "sfu_dtls_fingerprint_mismatch_total 1.0" in text
