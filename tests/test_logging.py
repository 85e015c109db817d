import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from sfu_trio.observability.logging import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _without_timestamp(line: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in line.items() if key != "timestamp"}


def test_json_fields() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    get_logger("sfu_trio.test").info("peer joined", peer_id="p1", count=2)
    [line] = _lines(stream)
    assert _without_timestamp(line) == {
        "event": "peer joined",
        "level": "info",
        "logger": "sfu_trio.test",
        "peer_id": "p1",
        "count": 2,
    }
    assert line["timestamp"].endswith("Z")
    assert line["timestamp"][10] == "T"


def test_level_filtering() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    log = get_logger("sfu_trio.test")
    log.info("dropped")
    log.warning("kept")
    logging.getLogger("other").info("dropped too")
    assert [line["event"] for line in _lines(stream)] == ["kept"]


def test_stdlib_logging_goes_through_same_format() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    logging.getLogger("hypercorn.error").warning("listening on %s", "127.0.0.1:8080")
    [line] = _lines(stream)
    assert _without_timestamp(line) == {
        "event": "listening on 127.0.0.1:8080",
        "level": "warning",
        "logger": "hypercorn.error",
    }


def test_exception_is_rendered() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        raise ValueError("bad sdp")
    except ValueError:
        get_logger("sfu_trio.test").exception("offer failed")
    [line] = _lines(stream)
    assert line["level"] == "error"
    assert line["exception"].splitlines()[-1] == "ValueError: bad sdp"


def test_idempotent_when_called_twice() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("debug", "json", stream=first)
    configure_logging("info", "json", stream=second)
    get_logger("x").info("once")
    get_logger("x").debug("filtered by the second call")
    assert first.getvalue() == ""
    assert [line["event"] for line in _lines(second)] == ["once"]


def test_console_format() -> None:
    stream = io.StringIO()
    configure_logging("info", "console", stream=stream)
    get_logger("sfu_trio.room").info("room created", room_id="demo")
    [text] = stream.getvalue().splitlines()
    assert "room created" in text
    assert "[sfu_trio.room]" in text
    assert "room_id=demo" in text
    assert "\x1b[" not in text  # no colours when not a tty


@pytest.mark.parametrize(("level", "fmt"), [("loud", "json"), ("info", "xml")])
def test_invalid_arguments(level: str, fmt: str) -> None:
    with pytest.raises(ValueError):
        configure_logging(level, fmt, stream=io.StringIO())


def test_default_stream_follows_sys_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    get_logger("x").info("to stderr")
    captured = capsys.readouterr()
    assert json.loads(captured.err)["event"] == "to stderr"
    assert captured.out == ""


async def test_contextvars_tag_a_trio_task_and_its_children_only() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    log = get_logger("sfu_trio.peer")

    async def child() -> None:
        log.info("child line")
        logging.getLogger("stdlib.child").info("stdlib child line")

    async def peer(peer_id: str) -> None:
        structlog.contextvars.bind_contextvars(peer_id=peer_id)
        log.info("peer line")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)

    async def sibling() -> None:
        log.info("sibling line")

    structlog.contextvars.bind_contextvars(room_id="demo")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer, "p1")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(sibling)
    log.info("parent line")

    tags = {line["event"]: (line.get("room_id"), line.get("peer_id")) for line in _lines(stream)}
    assert tags == {
        "peer line": ("demo", "p1"),
        "child line": ("demo", "p1"),
        "stdlib child line": ("demo", "p1"),
        "sibling line": ("demo", None),
        "parent line": ("demo", None),
    }
