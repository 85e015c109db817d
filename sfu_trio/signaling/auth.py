"""Access tokens: HS256 JWTs signed with the server's API secret.

Token layout (all claims in the JWT payload)::

    iss     the API key (identifies which secret signed the token)     required
    sub     the identity, i.e. the userId the holder may join as         required
    name    display name                                                 optional
    exp     expiry, seconds since the epoch                              required
    nbf     not valid before, seconds since the epoch                    optional
    iat     issued at, seconds since the epoch                           optional
    grants  {"room": str | null,    null = any room                      optional
             "canPublish": bool, "canSubscribe": bool, "roomAdmin": bool}

Missing grant fields take the defaults of `Grants` (any room, publish and subscribe, no admin).
Only HS256 is accepted; `alg: none` and every other algorithm are refused.

Failures raise `AuthError` with an HTTP status (401 for a bad token, 403 for a valid token that
does not allow the action), a human-readable message and a short `reason` for metrics labels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import jwt

__all__ = ["AuthError", "Grants", "TokenClaims", "TokenVerifier", "mint_token"]

_ALGORITHM = "HS256"
_MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True, slots=True)
class Grants:
    """What a token allows; `room=None` means any room."""

    room: str | None = None
    can_publish: bool = True
    can_subscribe: bool = True
    room_admin: bool = False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified content of a token."""

    identity: str
    name: str | None
    grants: Grants
    expires_at: float


class AuthError(Exception):
    """A token was refused: `status` is 401 (bad token) or 403 (not allowed)."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    def __str__(self) -> str:
        return self.message


def _unauthorized(message: str, reason: str) -> AuthError:
    return AuthError(401, message, reason)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_grants(raw: object) -> Grants:
    if raw is None:
        return Grants()
    if not isinstance(raw, dict):
        raise _unauthorized("malformed token: grants is not an object", "malformed")
    room = raw.get("room")
    if room is not None and (not isinstance(room, str) or not room):
        raise _unauthorized("malformed token: grants.room is not a room name", "malformed")
    flags: dict[str, bool] = {}
    for key, default in (("canPublish", True), ("canSubscribe", True), ("roomAdmin", False)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise _unauthorized(f"malformed token: grants.{key} is not a boolean", "malformed")
        flags[key] = value
    return Grants(
        room=room,
        can_publish=flags["canPublish"],
        can_subscribe=flags["canSubscribe"],
        room_admin=flags["roomAdmin"],
    )


class TokenVerifier:
    """Verifies tokens signed with one API key/secret pair."""

    def __init__(self, api_key: str, api_secret: str, *, leeway: float = 5.0) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret must be non-empty")
        self._api_key = api_key
        self._api_secret = api_secret
        self._leeway = leeway

    def verify(self, token: str | None, *, now: float | None = None) -> TokenClaims:
        """Check signature, issuer and validity period; raise `AuthError` (401) if any fails."""
        if not token:
            raise _unauthorized("token missing", "missing")
        if len(token) > _MAX_TOKEN_CHARS:
            raise _unauthorized("malformed token: too large", "malformed")
        payload = self._decode(token)
        when = time.time() if now is None else now

        identity = payload.get("sub")
        if not isinstance(identity, str) or not identity:
            raise _unauthorized("malformed token: sub is not an identity", "malformed")
        name = payload.get("name")
        if name is not None and not isinstance(name, str):
            raise _unauthorized("malformed token: name is not a string", "malformed")
        for claim in ("exp", "nbf", "iat"):
            if claim in payload and not _is_number(payload[claim]):
                raise _unauthorized(f"malformed token: {claim} is not a number", "malformed")
        expires_at = float(payload["exp"])
        if when >= expires_at + self._leeway:
            raise _unauthorized("token expired", "expired")
        not_before = payload.get("nbf", payload.get("iat"))
        if not_before is not None and when + self._leeway < not_before:
            raise _unauthorized("token not yet valid", "not_yet_valid")
        return TokenClaims(
            identity=identity,
            name=name,
            grants=_parse_grants(payload.get("grants")),
            expires_at=expires_at,
        )

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            # Time claims are checked by `verify` against its own `now`.
            payload: dict[str, Any] = jwt.decode(
                token,
                self._api_secret,
                algorithms=[_ALGORITHM],
                issuer=self._api_key,
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "sub"],
                },
            )
        except jwt.InvalidSignatureError:
            raise _unauthorized("bad signature", "bad_signature") from None
        except jwt.InvalidAlgorithmError:
            raise _unauthorized("token algorithm not allowed", "bad_algorithm") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("token issued for another api key", "wrong_issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _unauthorized(f"malformed token: missing {exc.claim}", "malformed") from None
        except jwt.InvalidTokenError:
            raise _unauthorized("malformed token", "malformed") from None
        return payload

    def authorize_room(self, claims: TokenClaims, room: str) -> None:
        """Raise `AuthError` (403) unless the token allows joining `room`."""
        if claims.grants.room is not None and claims.grants.room != room:
            raise AuthError(403, f"token not valid for room {room}", "wrong_room")

    def authorize_admin(self, claims: TokenClaims) -> None:
        """Raise `AuthError` (403) unless the token carries the room-admin grant."""
        if not claims.grants.room_admin:
            raise AuthError(403, "token lacks the roomAdmin grant", "not_admin")


def mint_token(
    api_key: str,
    api_secret: str,
    *,
    identity: str,
    room: str | None = None,
    name: str | None = None,
    ttl: float = 3600.0,
    can_publish: bool = True,
    can_subscribe: bool = True,
    room_admin: bool = False,
    now: float | None = None,
) -> str:
    """Sign a token for `identity` valid from `now` for `ttl` seconds."""
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        "iss": api_key,
        "sub": identity,
        "iat": math.floor(issued),
        "nbf": math.floor(issued),
        "exp": math.floor(issued + ttl),
        "grants": {
            "room": room,
            "canPublish": can_publish,
            "canSubscribe": can_subscribe,
            "roomAdmin": room_admin,
        },
    }
    if name is not None:
        payload["name"] = name
    return jwt.encode(payload, api_secret, algorithm=_ALGORITHM)
