"""The composition root: builds the server's parts from a Config and runs the nursery tree.

```
serve()
└── server nursery
    ├── RoomRegistry.run          room nursery -> Room.run -> Participant.run
    ├── hypercorn (HTTP, /ws)     one task per connection, owned by hypercorn
    ├── ClusterNode.run           with REDIS_ADDR: heartbeat, claims, records, sessions
    ├── SignalingRelay.run        with REDIS_ADDR: this node's relay channel, hosted sessions
    ├── hypercorn (metrics port)  when METRICS_ENABLED
    └── signal watcher            SIGTERM/SIGINT -> graceful shutdown
```
"""

from __future__ import annotations

import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from .config import Config
from .observability.logging import configure_logging
from .observability.media_metrics import MediaSampler
from .observability.metrics import Metrics, SnapshotSample
from .runtime.media_transport import MediaTransport
from .runtime.rooms import RoomRegistry
from .signaling.app import create_app
from .signaling.auth import TokenVerifier
from .signaling.context import ServerContext
from .signaling.origins import OriginPolicy
from .signaling.relay import SignalingRelay
from .state.backend import StateBackend
from .state.cluster import ClusterNode
from .state.memory import MemoryStateBackend
from .state.redis import RedisStateBackend

logger = structlog.get_logger("sfu_trio.server")

EXIT_FORCED = 1

ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ServerAddresses:
    """Where a started server listens (ports resolved when 0 was asked for)."""

    http_url: str
    metrics_url: str | None
    context: ServerContext


def _hypercorn_config(host: str, port: int, *, config: Config) -> HypercornConfig:
    hc = HypercornConfig()
    bind_host = f"[{host}]" if ":" in host else host
    hc.bind = [f"{bind_host}:{port}"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.graceful_timeout = config.shutdown_timeout
    # Messages over max_message_bytes get a protocol error; only far larger ones close the socket.
    hc.websocket_max_message_size = max(4 * config.max_message_bytes, 1024 * 1024)
    return hc


def metrics_app(metrics: Metrics) -> Callable[[dict[str, Any], ASGIReceive, ASGISend], Any]:
    """A bare ASGI app for the separate metrics port: /metrics and nothing else."""

    async def app(scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == "/metrics":
            body, content_type = metrics.render()
            status = 200
        else:
            body, content_type, status = b"not found\n", "text/plain", 404
        headers = [(b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def registry_samples(registry: RoomRegistry) -> list[SnapshotSample]:
    stats = registry.statistics()
    return [
        SnapshotSample("sfu_rooms_created_total", "Rooms created", "counter", stats.rooms_created),
        SnapshotSample("sfu_joins_total", "Successful joins", "counter", stats.joins),
        SnapshotSample("sfu_leaves_total", "Participants that left", "counter", stats.leaves),
        SnapshotSample("sfu_resumes_total", "Sessions resumed", "counter", stats.resumes),
        SnapshotSample(
            "sfu_dtls_fingerprint_mismatch_total",
            "Media connections refused: the DTLS certificate did not match the SDP fingerprint",
            "counter",
            registry.media_failures.get("fingerprint_mismatch", 0),
        ),
        *(
            SnapshotSample(
                "sfu_media_connection_failures_total",
                "Media connections that failed, by reason",
                "counter",
                count,
                {"reason": reason},
            )
            for reason, count in sorted(registry.media_failures.items())
        ),
    ]


def cluster_samples(ctx: ServerContext) -> list[SnapshotSample]:
    cluster, relay = ctx.cluster, ctx.relay
    stats = ctx.state.statistics()
    samples = [
        SnapshotSample(
            "sfu_state_store_errors_total",
            "Failed operations of the state store client",
            "counter",
            stats.errors,
        ),
    ]
    if cluster is not None and relay is not None:
        samples += [
            SnapshotSample(
                "sfu_cluster_registered",
                "1 while this node is registered",
                "gauge",
                int(cluster.registered),
            ),
            SnapshotSample(
                "sfu_cluster_nodes",
                "Live nodes at the last heartbeat",
                "gauge",
                len(cluster.live_nodes),
            ),
            SnapshotSample(
                "sfu_relay_frames_sent_total",
                "Relay frames published",
                "counter",
                relay.frames_sent,
            ),
            SnapshotSample(
                "sfu_relay_frames_received_total",
                "Relay frames received",
                "counter",
                relay.frames_received,
            ),
            SnapshotSample(
                "sfu_relay_bad_frames_total",
                "Relay frames dropped as malformed",
                "counter",
                relay.bad_frames,
            ),
            SnapshotSample(
                "sfu_relayed_sockets",
                "Client sockets relayed to another node",
                "gauge",
                relay.doors,
            ),
            SnapshotSample(
                "sfu_hosted_sessions",
                "Sessions run here for sockets on other nodes",
                "gauge",
                relay.hosted,
            ),
        ]
    return samples


def _state_backend(config: Config) -> StateBackend:
    if config.redis_addr is None:
        return MemoryStateBackend()
    return RedisStateBackend.from_address(
        config.redis_addr, password=config.redis_password, db=config.redis_db
    )


def build_context(config: Config, media: MediaTransport | None = None) -> ServerContext:
    metrics = Metrics()
    registry = RoomRegistry(config, media=media)
    metrics.bind_live_counts(rooms=lambda: len(registry.rooms), peers=registry.peer_count)
    metrics.add_snapshot_collector(lambda: registry_samples(registry))
    metrics.add_snapshot_collector(MediaSampler(registry))
    verifier = None
    if config.api_key is not None and config.api_secret is not None:
        verifier = TokenVerifier(config.api_key, config.api_secret)
    ctx = ServerContext(
        config=config,
        registry=registry,
        metrics=metrics,
        state=_state_backend(config),
        instance_id=config.instance_id or f"sfu-{secrets.token_hex(4)}",
        origins=OriginPolicy(config.allowed_origins),
        verifier=verifier,
    )
    if config.redis_addr is not None:
        ctx.cluster = ClusterNode(
            ctx.state,
            registry,
            node_id=ctx.instance_id,
            session_ttl=config.session_ttl,
            media_host=(media.addresses[0] if media and media.addresses else config.host),
            forwarded_bytes=lambda: _bytes_sent(media),
            count_error=metrics.state_backend_errors.inc,
        )
        ctx.relay = SignalingRelay(ctx)
        metrics.add_snapshot_collector(lambda: cluster_samples(ctx))
    return ctx


def _bytes_sent(media: MediaTransport | None) -> int:
    try:
        return 0 if media is None else media.udp.statistics.bytes_sent
    except RuntimeError:
        return 0


async def serve(
    config: Config,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[ServerAddresses] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run a server until it is asked to stop; returns the process exit code."""
    configure_logging(config.log_level, config.log_format)
    media = MediaTransport.from_config(config)
    ctx = build_context(config, media)
    structlog.contextvars.bind_contextvars(instance=ctx.instance_id)
    if ctx.verifier is None:
        logger.warning("token auth is off: set SFU_API_KEY and SFU_API_SECRET to require tokens")
    exit_code = 0
    http_stopped = trio.Event()
    stop_http = trio.Event()

    async def run_http(*, task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await hypercorn_serve(
                create_app(ctx),
                _hypercorn_config(config.host, config.port, config=config),
                shutdown_trigger=stop_http.wait,
                task_status=task_status,
            )
        finally:
            http_stopped.set()

    async with ctx.state, trio.open_nursery() as nursery:
        await nursery.start(media.run)
        await nursery.start(ctx.registry.run)
        binds = await nursery.start(run_http)
        if ctx.cluster is not None and ctx.relay is not None:
            ctx.cluster.signaling_url = binds[0]
            ctx.cluster.set_media_ports(
                media.udp.local_address[1], media.tcp.port if media.tcp else 0
            )
            await nursery.start(ctx.relay.run)
            await nursery.start(ctx.cluster.run)
        metrics_url = None
        if config.metrics_enabled and config.metrics_port != config.port:
            metrics_binds = await nursery.start(
                partial(
                    hypercorn_serve,
                    metrics_app(ctx.metrics),  # type: ignore[arg-type]
                    _hypercorn_config(config.host, config.metrics_port, config=config),
                    shutdown_trigger=stop_http.wait,
                )
            )
            metrics_url = metrics_binds[0] + "/metrics"
        if handle_signals:
            nursery.start_soon(_watch_signals, ctx, nursery.cancel_scope)
        logger.info("server started", url=binds[0], metrics=metrics_url)
        task_status.started(ServerAddresses(binds[0], metrics_url, ctx))

        await ctx.shutdown_requested.wait()
        with trio.move_on_after(config.shutdown_timeout) as drain_scope:
            await leave_cluster(ctx)
            shutdown_clients(ctx)
            stop_http.set()
            await http_stopped.wait()
        if drain_scope.cancelled_caught:
            logger.warning("shutdown timeout reached; closing what is left")
        nursery.cancel_scope.cancel()
    if ctx.forced_exit:
        exit_code = EXIT_FORCED
    logger.info("server stopped", exit_code=exit_code)
    return exit_code


async def leave_cluster(ctx: ServerContext) -> None:
    """Drain: stop being placed, give up this node's rooms, send relayed sockets elsewhere."""
    if ctx.cluster is None:
        return
    ctx.registry.draining = True
    logger.info("draining: leaving the cluster", rooms=len(ctx.registry.rooms))
    with trio.move_on_after(min(2.0, ctx.config.shutdown_timeout / 2)):
        await ctx.cluster.leave()
    if ctx.relay is not None:
        ctx.relay.shut_doors("server shutting down")


def shutdown_clients(ctx: ServerContext) -> None:
    """Stop taking joins, tell every client to reconnect elsewhere, close every room."""
    registry = ctx.registry
    registry.draining = True
    logger.info("shutting down", participants=registry.peer_count())
    for room in list(registry.rooms.values()):
        registry.evict(room, "server shutting down")


async def _watch_signals(ctx: ServerContext, root_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if not ctx.shutdown_requested.is_set():
                logger.info(
                    "signal received: graceful shutdown", signal=signal.Signals(signum).name
                )
                ctx.shutdown_requested.set()
            else:
                logger.warning("second signal: exiting at once")
                ctx.forced_exit = True
                root_scope.cancel()
                return
