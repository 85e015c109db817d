"""The Quart-Trio application: REST, /ws signaling, /health, /metrics and the web client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Response, send_from_directory
from quart_trio import QuartTrio

from .close_codes import install_hypercorn_close_codes, record_close_codes
from .context import ServerContext
from .health import create_health_blueprint
from .rest import create_rest_blueprint
from .ws import serve_socket

BUNDLED_CLIENT = Path(__file__).resolve().parent.parent.parent / "client"


def create_app(ctx: ServerContext) -> QuartTrio:
    """Build the app for one server; everything it needs comes from ``ctx``."""
    app = QuartTrio("sfu_trio", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    install_hypercorn_close_codes()
    app.asgi_app = record_close_codes(app.asgi_app)  # type: ignore[method-assign,assignment,arg-type]
    app.register_blueprint(create_rest_blueprint(ctx))
    app.register_blueprint(create_health_blueprint(ctx))
    client_dir = Path(ctx.config.client_dir) if ctx.config.client_dir else BUNDLED_CLIENT

    @app.websocket("/ws")
    async def ws() -> Any:
        return await serve_socket(ctx)

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = ctx.metrics.render()
        return Response(body, content_type=content_type)

    @app.get("/")
    async def index() -> Response:
        return await send_from_directory(client_dir, "index.html")

    @app.get("/<path:path>")
    async def client_file(path: str) -> Response:
        response = await send_from_directory(client_dir, path)
        if path.endswith(".js"):
            response.mimetype = "text/javascript"
        return response

    return app
