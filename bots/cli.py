"""The ``relaybot`` command: run, chat, check-config."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path

from bots.app import App, build_adapters, describe_missing, enabled_platforms, serve
from bots.console.adapter import PLATFORM, ConsoleChat
from bots.platforms import SECTIONS
from core.config.settings import Settings, load_config
from core.errors import ConfigError, StorageError
from core.logs import setup_logging

EXIT_OK = 0
EXIT_CONFIG = 2
JOBS_WAIT_S = 900.0  # piped `relaybot chat`: how long EOF waits for the jobs it started


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaybot", description="A chat bot for Telegram, Discord and WeChat on an API relay."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = "the YAML configuration file (default: config.yaml)"

    run = sub.add_parser("run", help="start every enabled platform adapter")
    run.add_argument("-c", "--config", default="config.yaml", help=config_help)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("-c", "--config", default="config.yaml", help=config_help)
    chat.add_argument("--user", help="the user name to chat as (default: your login name)")
    chat.add_argument("-v", "--verbose", action="store_true", help="show info logs on stderr")

    check = sub.add_parser(
        "check-config", help="validate the configuration and show what is enabled"
    )
    check.add_argument("-c", "--config", default="config.yaml", help=config_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_config(args.config, sections=SECTIONS)
    except ConfigError as exc:
        print(f"relaybot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(f"configuration {args.config} is valid")
        for line in settings.summary():
            print(f"  {line}")
        return EXIT_OK
    if args.command == "chat":
        level = settings.logging.level if args.verbose else "WARNING"
        setup_logging(level, settings.secrets(), as_json=settings.logging.format == "json")
        return _run_async(_chat(settings, args.user))
    setup_logging(
        settings.logging.level, settings.secrets(), as_json=settings.logging.format == "json"
    )
    return _run_async(_run(settings, args.config))


def _run_async(coro: Coroutine[None, None, int]) -> int:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except StorageError as exc:  # start-up problems the admin must fix; no traceback
        print(f"relaybot: {exc}", file=sys.stderr)
        return EXIT_CONFIG


async def _chat(settings: Settings, user: str | None) -> int:
    media = Path(settings.storage.path).parent / "media"
    async with App(settings) as app:
        chat = ConsoleChat(app.engine, sys.stdin, sys.stdout, user=user, media_dir=media)
        app.outbox.register(PLATFORM, chat)
        app.traits.register(PLATFORM, chat.traits)
        await app.jobs.start()  # job results for the console print as they come
        status = await chat.run()
        if not chat.interactive:  # a script waits for the jobs it started (bounded)
            await app.jobs.wait_until_done(PLATFORM, chat.user, JOBS_WAIT_S)
        return status


async def _run(settings: Settings, config_path: str) -> int:
    names = enabled_platforms(settings)
    if not names:
        print(
            f"relaybot: no platform is enabled in {config_path}.\n"
            "  Enable one by setting, for example, telegram.enabled: true and telegram.token "
            "(or discord.enabled / wechat.enabled).\n"
            f"  To chat in this terminal without a platform: relaybot chat -c {config_path}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    missing = describe_missing(names)
    if missing:
        print(
            f"relaybot: the {', '.join(missing)} adapter is not part of this version yet; "
            f"disable it in {config_path} ({missing[0]}.enabled: false).\n"
            f"  To chat in this terminal: relaybot chat -c {config_path}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    async with App(settings) as app:
        await serve(build_adapters(app, names), jobs=app.jobs)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
