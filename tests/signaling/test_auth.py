import base64
import json

import jwt
import pytest

from sfu_trio.signaling.auth import AuthError, Grants, TokenClaims, TokenVerifier, mint_token

KEY = "APIkey1"
SECRET = "hs512-needs-64-bytes:" + "s" * 64
NOW = 1_700_000_000.0


@pytest.fixture
def verifier() -> TokenVerifier:
    return TokenVerifier(KEY, SECRET, leeway=5.0)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], payload: dict[str, object]) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    return f"{head}.{body}."


def _refusal(verifier: TokenVerifier, token: str | None, now: float = NOW) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(token, now=now)
    return info.value


def test_valid_token_round_trip(verifier: TokenVerifier) -> None:
    token = mint_token(
        KEY, SECRET, identity="alice", room="demo", name="Alice", ttl=600, now=NOW, room_admin=True
    )
    claims = verifier.verify(token, now=NOW + 1)
    assert claims == TokenClaims(
        identity="alice",
        name="Alice",
        grants=Grants(room="demo", can_publish=True, can_subscribe=True, room_admin=True),
        expires_at=NOW + 600,
    )


def test_minted_payload_layout() -> None:
    token = mint_token(KEY, SECRET, identity="bob", ttl=60, now=NOW, can_publish=False)
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert payload == {
        "iss": KEY,
        "sub": "bob",
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 60,
        "grants": {"room": None, "canPublish": False, "canSubscribe": True, "roomAdmin": False},
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_missing_grants_take_defaults(verifier: TokenVerifier) -> None:
    token = jwt.encode({"iss": KEY, "sub": "carol", "exp": NOW + 60}, SECRET, algorithm="HS256")
    claims = verifier.verify(token, now=NOW)
    assert claims.grants == Grants()
    assert claims.name is None


@pytest.mark.parametrize("token", [None, ""])
def test_missing(verifier: TokenVerifier, token: str | None) -> None:
    error = _refusal(verifier, token)
    assert (error.status, str(error), error.reason) == (401, "token missing", "missing")


def test_expired(verifier: TokenVerifier) -> None:
    token = mint_token(KEY, SECRET, identity="alice", ttl=60, now=NOW)
    assert verifier.verify(token, now=NOW + 64).identity == "alice"  # within leeway
    error = _refusal(verifier, token, now=NOW + 65)
    assert (error.status, str(error), error.reason) == (401, "token expired", "expired")


def test_not_yet_valid(verifier: TokenVerifier) -> None:
    token = mint_token(KEY, SECRET, identity="alice", ttl=60, now=NOW + 100)
    assert verifier.verify(token, now=NOW + 95).identity == "alice"  # within leeway
    error = _refusal(verifier, token, now=NOW + 94)
    assert (error.status, str(error)) == (401, "token not yet valid")


def test_wrong_signature(verifier: TokenVerifier) -> None:
    other_secret = "another-secret-also-long-enough-1234-another-secret-0123456789ab"
    token = mint_token(KEY, other_secret, identity="alice", now=NOW)
    error = _refusal(verifier, token)
    assert (error.status, str(error), error.reason) == (401, "bad signature", "bad_signature")


def test_tampered_payload_has_bad_signature(verifier: TokenVerifier) -> None:
    head, _, sig = mint_token(KEY, SECRET, identity="alice", room="a", now=NOW).split(".")
    forged = _b64(json.dumps({"iss": KEY, "sub": "alice", "exp": NOW + 60}).encode())
    error = _refusal(verifier, f"{head}.{forged}.{sig}")
    assert str(error) == "bad signature"


def test_wrong_issuer(verifier: TokenVerifier) -> None:
    token = mint_token("OtherKey", SECRET, identity="alice", now=NOW)
    error = _refusal(verifier, token)
    assert (error.status, str(error), error.reason) == (
        401,
        "token issued for another api key",
        "wrong_issuer",
    )


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "a.b", "...", "x" * 10_000, "eyJhbGciOiJIUzI1NiJ9.e30.e30"]
)
def test_garbage(verifier: TokenVerifier, garbage: str) -> None:
    error = _refusal(verifier, garbage)
    assert error.status == 401
    assert str(error).startswith("malformed token") or str(error) == "bad signature"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"iss": KEY, "exp": NOW + 60}, "malformed token: missing sub"),
        ({"iss": KEY, "sub": "a"}, "malformed token: missing exp"),
        ({"iss": KEY, "sub": "a", "exp": "soon"}, "malformed token: exp is not a number"),
        (
            {"iss": KEY, "sub": "a", "exp": NOW + 60, "name": 5},
            "malformed token: name is not a string",
        ),
        (
            {"iss": KEY, "sub": "a", "exp": NOW + 60, "grants": []},
            "malformed token: grants is not an object",
        ),
        (
            {"iss": KEY, "sub": "a", "exp": NOW + 60, "grants": {"roomAdmin": "yes"}},
            "malformed token: grants.roomAdmin is not a boolean",
        ),
        (
            {"iss": KEY, "sub": "a", "exp": NOW + 60, "grants": {"room": 7}},
            "malformed token: grants.room is not a room name",
        ),
    ],
)
def test_malformed_claims(
    verifier: TokenVerifier, payload: dict[str, object], message: str
) -> None:
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    error = _refusal(verifier, token)
    assert (error.status, str(error), error.reason) == (401, message, "malformed")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_refused(verifier: TokenVerifier, alg: str) -> None:
    token = _unsigned(
        {"alg": alg, "typ": "JWT"},
        {"iss": KEY, "sub": "mallory", "exp": NOW + 60, "grants": {"roomAdmin": True}},
    )
    error = _refusal(verifier, token)
    assert error.status == 401
    assert str(error) in {"token algorithm not allowed", "malformed token"}


def test_other_hmac_algorithm_refused(verifier: TokenVerifier) -> None:
    token = jwt.encode({"iss": KEY, "sub": "a", "exp": NOW + 60}, SECRET, algorithm="HS512")
    error = _refusal(verifier, token)
    assert (error.status, str(error)) == (401, "token algorithm not allowed")


def test_room_authorization(verifier: TokenVerifier) -> None:
    bound = verifier.verify(mint_token(KEY, SECRET, identity="a", room="demo", now=NOW), now=NOW)
    verifier.authorize_room(bound, "demo")
    with pytest.raises(AuthError) as info:
        verifier.authorize_room(bound, "other")
    assert (info.value.status, str(info.value)) == (403, "token not valid for room other")

    any_room = verifier.verify(mint_token(KEY, SECRET, identity="a", now=NOW), now=NOW)
    verifier.authorize_room(any_room, "other")


def test_admin_grant(verifier: TokenVerifier) -> None:
    admin = verifier.verify(
        mint_token(KEY, SECRET, identity="a", room_admin=True, now=NOW), now=NOW
    )
    verifier.authorize_admin(admin)
    plain = verifier.verify(mint_token(KEY, SECRET, identity="a", now=NOW), now=NOW)
    with pytest.raises(AuthError) as info:
        verifier.authorize_admin(plain)
    assert (info.value.status, str(info.value), info.value.reason) == (
        403,
        "token lacks the roomAdmin grant",
        "not_admin",
    )


def test_empty_credentials_rejected() -> None:
    with pytest.raises(ValueError):
        TokenVerifier("", SECRET)
    with pytest.raises(ValueError):
        TokenVerifier(KEY, "")
