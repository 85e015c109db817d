"""Media through a cluster: two aiortc clients whose sockets reach two other nodes decode each
other, their media going straight to the node hosting the room."""

from __future__ import annotations

import pytest
import trio

from tests.interop.conftest import open_aiortc_peer
from tests.interop.test_aiortc_signaling import follow_renegotiation, negotiate
from tests.signaling_client import connect

from .conftest import Cluster

pytestmark = pytest.mark.cluster


def candidate_ports(sdp: str) -> set[int]:
    return {int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_aiortc_clients_through_two_doors_decode_each_other(cluster: Cluster) -> None:
    a, b, c = cluster.start("node-a", "node-b", "node-c")
    owner_ports = {int(a.env["SFU_UDP_PORT"]), int(a.env["SFU_TCP_PORT"])}
    async with (
        open_aiortc_peer() as peer_b,
        open_aiortc_peer() as peer_c,
        connect(b.url) as alice,
        connect(c.url) as bob,
    ):
        a_ack = await alice.join("media", "alice")
        a_answer = await negotiate(alice, peer_b, await peer_b.wait_for(type="offer"))
        # node-a hosts the room: its candidates, not the door's, are in the answer.
        assert candidate_ports(a_answer["sdp"]) <= owner_ports
        assert int(a.env["SFU_UDP_PORT"]) in candidate_ports(a_answer["sdp"])
        b_ack = await bob.join("media", "bob")
        b_answer = await negotiate(bob, peer_c, await peer_c.wait_for(type="offer"))
        assert {t["peerId"] for t in b_answer["tracks"]} == {a_ack["peerId"]}
        a_again = await follow_renegotiation(alice, peer_b)
        assert {t["peerId"] for t in a_again["tracks"]} == {b_ack["peerId"]}
        with trio.fail_after(20):
            for peer in (peer_b, peer_c):
                await peer.wait_decoded({"video": 5, "audio": 5})
