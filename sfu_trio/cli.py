"""Command line: ``sfu-trio [serve]`` runs the server; ``sfu-trio token`` mints a dev token;
``sfu-trio loadtest`` runs the load generator (``sfu_trio.loadtest``)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

import trio

from .config import SETTINGS, Config, ConfigError, load_config

GC_YOUNG_THRESHOLD = 20_000
COMMANDS = ("serve", "token", "loadtest")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (flag overrides environment variable)")
    for setting in SETTINGS:
        default = "unset" if setting.default is None else setting.default
        group.add_argument(
            setting.flag,
            dest=setting.field,
            default=None,
            metavar=setting.env,
            help=f"{setting.help} [env {setting.env}, default {default}]",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfu-trio",
        description="sfu_trio: a WebRTC Selective Forwarding Unit on Trio.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve",
        help="run the server (the default command)",
        description="Run the server. Other commands: 'sfu-trio token --help'.",
    )
    _add_setting_flags(serve)
    token = commands.add_parser("token", help="mint an access token (development)")
    token.add_argument("--room", default=None, help="room the token is for (default: any)")
    token.add_argument("--identity", required=True, help="the userId the token holder joins as")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl", type=float, default=3600.0, help="seconds until expiry")
    token.add_argument("--admin", action="store_true", help="grant roomAdmin")
    token.add_argument("--no-publish", action="store_true", help="deny publishing")
    token.add_argument("--no-subscribe", action="store_true", help="deny subscribing")
    _add_setting_flags(token)
    commands.add_parser(
        "loadtest",
        add_help=False,
        help="synthetic participants against a server (sfu-trio loadtest --help)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in COMMANDS:
        args_list.insert(0, "serve")
    if args_list[0] == "loadtest":
        from .loadtest.cli import main as loadtest_main

        return loadtest_main(args_list[1:], prog="sfu-trio loadtest")
    args = build_parser().parse_args(args_list)
    overrides = {setting.field: getattr(args, setting.field) for setting in SETTINGS}
    try:
        config = load_config(os.environ, overrides)
    except ConfigError as exc:
        print(f"sfu-trio: {exc}", file=sys.stderr)
        return 2
    if args.command == "token":
        return _mint(args, config)
    from .server import serve

    tune_garbage_collector()
    return trio.run(serve, config)


def tune_garbage_collector() -> None:
    """Keep the cyclic GC from stalling the forwarding thread.

    Full collections scan the whole heap; with start-up objects (modules, classes, functions)
    frozen out of it and young collections made rarer, a full collection is short and rare.
    Measured with the 1->100 benchmark: p99 added latency 95 ms with the default settings,
    19 ms with these (18 ms with no GC at all); see docs/performance.md.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def _mint(args: argparse.Namespace, config: Config) -> int:
    from .signaling.auth import mint_token

    if config.api_key is None or config.api_secret is None:
        print("sfu-trio token: set SFU_API_KEY and SFU_API_SECRET (or the flags)", file=sys.stderr)
        return 2
    print(
        mint_token(
            config.api_key,
            config.api_secret,
            identity=args.identity,
            room=args.room,
            name=args.name,
            ttl=args.ttl,
            can_publish=not args.no_publish,
            can_subscribe=not args.no_subscribe,
            room_admin=args.admin,
        )
    )
    return 0
