"""``sfu-trio loadtest`` and ``python -m sfu_trio.loadtest`` parse into the same options."""

from __future__ import annotations

import pytest

from sfu_trio import cli
from sfu_trio.loadtest.cli import build_parser, options_from_args


def test_flags_become_options() -> None:
    argv = "--url http://192.0.2.5:8080 --rooms 2 --subscribers 50 --bitrate 800000"
    argv += " --simulcast --processes 3 --server-pid 42"
    args = build_parser().parse_args(argv.split())

    options = options_from_args(args)

    assert (options.url, options.rooms, options.publishers, options.subscribers) == (
        "http://192.0.2.5:8080",
        2,
        1,
        50,
    )
    assert (options.media.bitrate, options.media.simulcast, options.media.fps) == (
        800_000,
        True,
        30.0,
    )
    assert (options.processes, options.server_pids, options.dialect) == (3, (42,), "sfu")


def test_server_cli_hands_loadtest_over(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["loadtest", "--help"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: sfu-trio loadtest")
