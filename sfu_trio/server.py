"""The composition root: builds the server's parts from a Config and runs the nursery tree.

```
serve()
└── server nursery
    ├── RoomRegistry.run          room nursery -> Room.run -> Participant.run
    ├── hypercorn (HTTP, /ws)     one task per connection, owned by hypercorn
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
from .observability.metrics import Metrics, SnapshotSample
from .runtime.media_transport import MediaTransport
from .runtime.rooms import RoomRegistry
from .signaling.app import create_app
from .signaling.auth import TokenVerifier
from .signaling.context import ServerContext
from .signaling.origins import OriginPolicy
from .state.memory import MemoryStateBackend

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
    ]


def build_context(config: Config, media: MediaTransport | None = None) -> ServerContext:
    metrics = Metrics()
    registry = RoomRegistry(config, media=media)
    metrics.bind_live_counts(rooms=lambda: len(registry.rooms), peers=registry.peer_count)
    metrics.add_snapshot_collector(lambda: registry_samples(registry))
    verifier = None
    if config.api_key is not None and config.api_secret is not None:
        verifier = TokenVerifier(config.api_key, config.api_secret)
    return ServerContext(
        config=config,
        registry=registry,
        metrics=metrics,
        state=MemoryStateBackend(),
        instance_id=config.instance_id or f"sfu-{secrets.token_hex(4)}",
        origins=OriginPolicy(config.allowed_origins),
        verifier=verifier,
    )


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

    async with trio.open_nursery() as nursery:
        await nursery.start(media.run)
        await nursery.start(ctx.registry.run)
        binds = await nursery.start(run_http)
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


def shutdown_clients(ctx: ServerContext) -> None:
    """Stop taking joins, tell every client to reconnect elsewhere, close every room."""
    registry = ctx.registry
    registry.draining = True
    logger.info("shutting down", participants=registry.peer_count())
    for participant in list(registry.participants()):
        link = participant.link
        participant.send("server-shutdown", {"reason": "server shutting down", "reconnect": True})
        if link is not None:
            link.close(1001, "server shutting down")
    registry.close_all("server shutdown")


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
