"""Errors the runtime reports to a client: each carries the protocol's error code."""

from __future__ import annotations


class SignalingError(Exception):
    """A request that cannot be served; ``code`` is the HTTP-like status sent in ``error``."""

    code = 400

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(SignalingError):
    code = 400


class Unauthorized(SignalingError):
    code = 401


class Forbidden(SignalingError):
    code = 403


class NotFound(SignalingError):
    code = 404


class Conflict(SignalingError):
    code = 409


class RoomFull(SignalingError):
    code = 403


class Unavailable(SignalingError):
    """The server is draining or at its room capacity."""

    code = 503
