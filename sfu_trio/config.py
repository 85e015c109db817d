"""Server settings: one frozen object, read from environment variables and overridden by CLI flags.

This is the only module that reads the environment. Every setting is declared once in ``SETTINGS``;
``--help``, the README's configuration table and the validation messages all come from it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the server cannot run with; the message names the variable."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parse_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535, got {port}")
    return port


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be a positive integer, got {value}")
    return value


def _parse_non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _parse_positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be a positive number, got {text}")
    return value


def _parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        lowered = text.strip().lower()
        if lowered not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return lowered

    return parse


def _parse_optional_ip(text: str) -> str | None:
    if not text.strip():
        return None
    return str(ipaddress.ip_address(text.strip()))


def _parse_optional_str(text: str) -> str | None:
    return text.strip() or None


def _parse_origins(text: str) -> tuple[str, ...] | None:
    origins = tuple(part.strip() for part in text.split(",") if part.strip())
    return origins or None


def _parse_redis_addr(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith(("redis://", "rediss://")):
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port or redis://..., got {text!r}")
    _parse_port(port)
    return text


@dataclass(frozen=True)
class Setting:
    """One configurable value: its field, environment variable, parser and help text."""

    field: str
    env: str
    default: Any
    parse: Callable[[str], Any]
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


@dataclass(frozen=True)
class Config:
    """Every setting of a running server. Build it with :func:`load_config`."""

    host: str = "0.0.0.0"
    port: int = 8080
    max_rooms: int = 1000
    max_peers_per_room: int = 100
    public_ip: str | None = None
    udp_port: int = 7882
    tcp_port: int = 7881
    redis_addr: str | None = None
    redis_password: str | None = None
    redis_db: int = 0
    instance_id: str | None = None
    log_level: str = "info"
    log_format: str = "json"
    metrics_enabled: bool = True
    metrics_port: int = 9090
    shutdown_timeout: float = 10.0
    rate_limit_per_sec: float = 20.0
    rate_limit_burst: int = 40
    max_room_id_length: int = 128
    max_user_id_length: int = 128
    max_message_bytes: int = 512 * 1024
    session_ttl: float = 120.0
    empty_room_ttl: float = 60.0
    ping_interval: float = 30.0
    ping_timeout: float = 75.0
    speaker_detection_interval_ms: int = 200
    allowed_origins: tuple[str, ...] | None = None
    api_key: str | None = None
    api_secret: str | None = None
    client_dir: str | None = None

    @property
    def auth_enabled(self) -> bool:
        return self.api_key is not None and self.api_secret is not None


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "SFU_HOST", "0.0.0.0", str, "address the HTTP/WebSocket server binds"),
    Setting("port", "SFU_PORT", 8080, _parse_port, "HTTP/WebSocket port (REST, /ws, client)"),
    Setting("max_rooms", "SFU_MAX_ROOMS", 1000, _parse_positive_int, "most rooms at once"),
    Setting(
        "max_peers_per_room",
        "SFU_MAX_PEERS_PER_ROOM",
        100,
        _parse_positive_int,
        "most participants in one room",
    ),
    Setting(
        "public_ip",
        "SFU_PUBLIC_IP",
        None,
        _parse_optional_ip,
        "address advertised in ICE candidates (1:1 NAT)",
    ),
    Setting("udp_port", "SFU_UDP_PORT", 7882, _parse_port, "UDP port for all media (ICE-lite)"),
    Setting("tcp_port", "SFU_TCP_PORT", 7881, _parse_port, "TCP port for ICE-TCP media (0: off)"),
    Setting(
        "redis_addr",
        "REDIS_ADDR",
        None,
        _parse_redis_addr,
        "Redis host:port; unset = in-memory state",
    ),
    Setting("redis_password", "REDIS_PASSWORD", None, _parse_optional_str, "Redis password"),
    Setting("redis_db", "REDIS_DB", 0, _parse_non_negative_int, "Redis database number"),
    Setting(
        "instance_id",
        "INSTANCE_ID",
        None,
        _parse_optional_str,
        "this node's id (generated when unset)",
    ),
    Setting(
        "log_level",
        "LOG_LEVEL",
        "info",
        _parse_choice("debug", "info", "warning", "error"),
        "log level",
    ),
    Setting("log_format", "LOG_FORMAT", "json", _parse_choice("json", "console"), "log format"),
    Setting("metrics_enabled", "METRICS_ENABLED", True, _parse_bool, "serve Prometheus metrics"),
    Setting(
        "metrics_port",
        "METRICS_PORT",
        9090,
        _parse_port,
        "separate metrics listener (/metrics is also on the main port)",
    ),
    Setting(
        "shutdown_timeout",
        "SFU_SHUTDOWN_TIMEOUT",
        10.0,
        _parse_positive_float,
        "seconds a graceful shutdown may take",
    ),
    Setting(
        "rate_limit_per_sec",
        "SFU_RATE_LIMIT_PER_SEC",
        20.0,
        _parse_positive_float,
        "signaling messages per second per socket",
    ),
    Setting(
        "rate_limit_burst",
        "SFU_RATE_LIMIT_BURST",
        40,
        _parse_positive_int,
        "burst of signaling messages per socket",
    ),
    Setting(
        "max_room_id_length",
        "SFU_MAX_ROOM_ID_LENGTH",
        128,
        _parse_positive_int,
        "longest room name",
    ),
    Setting(
        "max_user_id_length",
        "SFU_MAX_USER_ID_LENGTH",
        128,
        _parse_positive_int,
        "longest userId",
    ),
    Setting(
        "max_message_bytes",
        "SFU_MAX_MESSAGE_BYTES",
        512 * 1024,
        _parse_positive_int,
        "largest signaling message accepted",
    ),
    Setting(
        "session_ttl",
        "SFU_SESSION_TTL_SEC",
        120.0,
        _parse_positive_float,
        "seconds a participant whose socket dropped can resume",
    ),
    Setting(
        "empty_room_ttl",
        "SFU_EMPTY_ROOM_TTL_SEC",
        60.0,
        _parse_positive_float,
        "seconds an empty room lives before it closes",
    ),
    Setting(
        "ping_interval",
        "SFU_PING_INTERVAL_SEC",
        30.0,
        _parse_positive_float,
        "seconds between server pings",
    ),
    Setting(
        "ping_timeout",
        "SFU_PING_TIMEOUT_SEC",
        75.0,
        _parse_positive_float,
        "silence after which a socket counts as dead",
    ),
    Setting(
        "speaker_detection_interval_ms",
        "SFU_SPEAKER_DETECTION_INTERVAL_MS",
        200,
        _parse_positive_int,
        "least milliseconds between dominant-speaker changes",
    ),
    Setting(
        "allowed_origins",
        "SFU_ALLOWED_ORIGINS",
        None,
        _parse_origins,
        "comma-separated origins allowed on /ws ('*' for any); unset = same origin + localhost",
    ),
    Setting("api_key", "SFU_API_KEY", None, _parse_optional_str, "API key (JWT issuer)"),
    Setting(
        "api_secret",
        "SFU_API_SECRET",
        None,
        _parse_optional_str,
        "API secret (HS256); with SFU_API_KEY it turns on token auth",
    ),
    Setting(
        "client_dir",
        "SFU_CLIENT_DIR",
        None,
        _parse_optional_str,
        "directory of the web client served at / (default: the bundled client/)",
    ),
)

_SETTINGS_BY_FIELD = {setting.field: setting for setting in SETTINGS}


def load_config(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Config:
    """Build a Config from environment variables, then command-line overrides (raw strings).

    Raises ConfigError naming the variable (or flag) whose value is invalid.
    """
    env = {} if env is None else env
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        source = setting.env
        if overrides is not None and overrides.get(setting.field) is not None:
            raw = overrides[setting.field]
            source = setting.flag
        if raw is None:
            continue
        try:
            values[setting.field] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"invalid {source}={raw!r}: {exc}") from None
    config = Config(**values)
    _check_consistency(config)
    return config


def _check_consistency(config: Config) -> None:
    if (config.api_key is None) != (config.api_secret is None):
        raise ConfigError("SFU_API_KEY and SFU_API_SECRET must be set together")
    if config.ping_timeout <= config.ping_interval:
        raise ConfigError("SFU_PING_TIMEOUT_SEC must be larger than SFU_PING_INTERVAL_SEC")


def replace(config: Config, **changes: Any) -> Config:
    """A copy of config with some fields changed (tests and embedding use this)."""
    unknown = set(changes) - set(_SETTINGS_BY_FIELD)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **changes)
