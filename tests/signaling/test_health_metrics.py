"""/health, /ready and /metrics after real traffic."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sfu_trio.server import ServerAddresses
from tests.signaling_client import connect


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


async def test_health_and_ready(server: ServerAddresses) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "ok"
        assert health["instanceId"] == server.context.instance_id
        assert health["version"]
        assert health["uptime"] >= 0
        assert (health["rooms"], health["peers"]) == (0, 0)
        assert health["stateBackend"]["kind"] == "memory"
        assert health["stateBackend"]["healthy"] is True
        ready = await http.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True

        server.context.registry.draining = True
        ready = await http.get("/ready")
        assert ready.status_code == 503
        assert (await http.get("/health")).json()["status"] == "draining"
        server.context.registry.draining = False


async def test_metrics_move_with_traffic(server: ServerAddresses) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        before = samples((await http.get("/metrics")).text)
        async with connect(server.http_url) as a, connect(server.http_url) as b:
            await a.join("m", "a")
            await b.join("m", "b")
            await a.send("teleport")
            await a.wait_for("error")
            during = samples((await http.get("/metrics")).text)
        after = samples((await http.get("/metrics")).text)

    def value(
        values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
    ) -> float:
        return values.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value(during, "sfu_active_rooms_total") == 1
    assert value(during, "sfu_active_peers_total") == 2
    for name in ("sfu_connections_total", "sfu_messages_sent_total", "sfu_messages_received_total"):
        assert value(after, name) > value(before, name), name
    for direction in ("in", "out"):
        assert value(after, "sfu_bytes_transferred_total", direction=direction) > value(
            before, "sfu_bytes_transferred_total", direction=direction
        )
    assert value(after, "sfu_signaling_errors_total", code="400") == 1
    assert value(after, "sfu_join_duration_seconds_count") == 2
    assert value(after, "sfu_joins_total") == 2
    assert value(after, "process_cpu_seconds_total") > 0
