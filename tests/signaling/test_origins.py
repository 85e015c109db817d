import pytest

from sfu_trio.signaling.origins import OriginPolicy, normalize_origin

DEFAULT_CASES = [
    # (origin, host, allowed)
    (None, "sfu.example.com", True),  # non-browser client
    (None, None, True),
    ("null", "sfu.example.com", True),  # page opened from a file
    ("https://sfu.example.com", "sfu.example.com", True),  # same origin, default port
    ("https://sfu.example.com", "sfu.example.com:443", True),
    ("HTTPS://SFU.Example.com:443", "sfu.example.com", True),
    ("http://sfu.example.com:8080", "sfu.example.com:8080", True),
    ("http://sfu.example.com:8080", "sfu.example.com:8081", False),  # other port
    ("https://sfu.example.com", "sfu.example.com:8080", False),
    ("http://[2001:db8::1]:8080", "[2001:db8::1]:8080", True),
    ("http://localhost:3000", "sfu.example.com", True),
    ("https://localhost", "sfu.example.com", True),
    ("http://app.localhost:5173", "sfu.example.com", True),
    ("http://127.0.0.1:5173", "sfu.example.com", True),
    ("http://127.1.2.3", "sfu.example.com", True),
    ("http://[::1]:8080", None, True),
    ("https://evil.example", "sfu.example.com", False),
    ("https://evil.example", None, False),
    ("http://localhost.evil.example", "sfu.example.com", False),
    ("http://128.0.0.1", "sfu.example.com", False),
    ("chrome-extension://abcdef", "sfu.example.com", False),
    ("file://", "sfu.example.com", False),
    ("not an origin", "sfu.example.com", False),
    ("http://host:99999", "host:99999", False),  # invalid port
    ("https://sfu.example.com/path", "sfu.example.com", False),
]


@pytest.mark.parametrize(("origin", "host", "allowed"), DEFAULT_CASES)
def test_default_policy(origin: str | None, host: str | None, allowed: bool) -> None:
    assert OriginPolicy(None).is_allowed(origin, host) is allowed


LIST = ("https://app.example.com", "http://dev.example.com:8080")
LIST_CASES = [
    (None, "sfu.example.com", True),
    ("https://app.example.com", "sfu.example.com", True),
    ("https://app.example.com:443", "sfu.example.com", True),
    ("HTTPS://APP.EXAMPLE.COM", "sfu.example.com", True),
    ("http://app.example.com", "sfu.example.com", False),  # other scheme
    ("https://app.example.com:8443", "sfu.example.com", False),
    ("http://dev.example.com:8080", "sfu.example.com", True),
    ("http://dev.example.com", "sfu.example.com", False),
    ("https://sfu.example.com", "sfu.example.com", True),  # same origin still allowed
    ("http://localhost:3000", "sfu.example.com", False),  # loopback not implied by a list
    ("null", "sfu.example.com", False),
    ("https://evil.example", "sfu.example.com", False),
]


@pytest.mark.parametrize(("origin", "host", "allowed"), LIST_CASES)
def test_allow_list(origin: str | None, host: str | None, allowed: bool) -> None:
    assert OriginPolicy(LIST).is_allowed(origin, host) is allowed


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost", "x"])
def test_star_allows_everything(origin: str) -> None:
    assert OriginPolicy(("*",)).is_allowed(origin, "sfu.example.com") is True


def test_null_can_be_listed_explicitly() -> None:
    assert OriginPolicy(("null",)).is_allowed("null", "sfu.example.com") is True


def test_invalid_list_entry_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="not an http"):
        OriginPolicy(("app.example.com",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://a.example", ("https", "a.example", 443)),
        ("http://a.example/", ("http", "a.example", 80)),
        ("http://A.example:81", ("http", "a.example", 81)),
        ("http://[::1]", ("http", "::1", 80)),
        ("ws://a.example", None),
        ("https://user@a.example", None),
        ("https://", None),
    ],
)
def test_normalize_origin(text: str, expected: tuple[str, str, int] | None) -> None:
    assert normalize_origin(text) == expected
