"""Keep the WebSocket close code the client sent, which Quart-Trio does not pass on.

A client that closes its socket cleanly (1000, or 1001 when a tab closes or navigates away) has
left; one whose connection just dropped (1006, or silence) may come back and resume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

CLOSE_CODE_KEY = "sfu_trio.close_code"
CLEAN_CLOSE_CODES = frozenset({1000, 1001})

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


def record_close_codes(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so a WebSocket scope carries the client's close code once it closes."""

    async def wrapped(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await app(scope, receive, send)
            return

        async def receive_and_record() -> dict[str, Any]:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                scope[CLOSE_CODE_KEY] = event.get("code", 1005)
            return event

        await app(scope, receive_and_record, send)

    return wrapped


def closed_cleanly(scope: Mapping[str, Any]) -> bool:
    return scope.get(CLOSE_CODE_KEY) in CLEAN_CLOSE_CODES


def install_hypercorn_close_codes() -> None:
    """Make Hypercorn report the client's own close code in ``websocket.disconnect``.

    Hypercorn 0.18 reports 1006 for every close the client starts, so a closed tab (1001) and a
    dropped network look the same. Its WebSocket stream class is swapped, once per process, for a
    subclass that keeps the code of the client's Close frame. ``test_a_clean_close_is_leaving``
    fails if a Hypercorn upgrade breaks this.
    """
    from hypercorn.protocol import h2, h11
    from hypercorn.protocol.events import Event, StreamClosed
    from hypercorn.protocol.ws_stream import WSStream
    from wsproto.events import CloseConnection

    if getattr(h11.WSStream, "keeps_client_close_code", False):  # type: ignore[attr-defined]
        return

    class WSStreamKeepingCloseCode(WSStream):
        keeps_client_close_code = True
        client_close_code: int | None = None

        async def _handle_events(self) -> None:
            connection = self.connection
            if not getattr(connection, "sfu_close_code_watched", False):
                events = connection.events

                def watched() -> Any:
                    for event in events():
                        if isinstance(event, CloseConnection):
                            self.client_close_code = event.code
                        yield event

                connection.events = watched  # type: ignore[method-assign]
                connection.sfu_close_code_watched = True  # type: ignore[attr-defined]
            await super()._handle_events()

        async def handle(self, event: Event) -> None:
            code = self.client_close_code
            if isinstance(event, StreamClosed) and code is not None and not self.closed:
                self.closed = True
                if self.app_put is not None:
                    await self.app_put({"type": "websocket.disconnect", "code": code})
                return
            await super().handle(event)

    h11.WSStream = WSStreamKeepingCloseCode  # type: ignore[attr-defined]
    h2.WSStream = WSStreamKeepingCloseCode  # type: ignore[attr-defined]
