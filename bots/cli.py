"""The ``relaybot`` command: run, chat, check-config, health, migrate, export, import.

Every way it can end is one exit status and, when it failed, one redacted line on stderr
that names what to fix (README "Exit statuses"):

    0    stopped normally (also: a reader closed the pipe, ``relaybot check-config | head``)
    1    an unexpected error, a bug: the redacted traceback is in the log above the line
    2    the configuration, a credential or the command line (argparse): invalid config, no
         or an unsupported platform, the placeholder relay URL, a token a platform rejected,
         an unusable storage.path, an unreachable storage.url at start-up, a non-empty
         export/import target without --replace
    3    something relaybot needs is unavailable now: a platform cannot be reached, the
         database is locked by another process or its disk is full, the webhook port is taken
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from bots import storage_cli
from bots.app import App, build_adapters, enabled_platforms, preflight, serve
from bots.console.adapter import PLATFORM, ConsoleChat
from bots.platforms import SECTIONS
from core.config.settings import Settings, load_config
from core.errors import (
    ConfigError,
    CredentialsError,
    StartupError,
    StorageError,
    StorageUnavailableError,
)
from core.logs import RedactingFormatter, setup_logging
from core.storage.url import StorageUrlError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
CONFIG_ENV = "RELAYBOT_CONFIG"  # the config file when -c is not given (containers)
HEALTH_TIMEOUT_S = 10.0
JOBS_WAIT_S = 900.0  # piped `relaybot chat`: how long EOF waits for the jobs it started

log = logging.getLogger("relaybot")


def version() -> str:
    try:
        return metadata.version("relaybot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaybot", description="A chat bot for Telegram, Discord and WeChat on an API relay."
    )
    parser.add_argument("--version", action="version", version=f"relaybot {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = f"the YAML configuration file (default: ${CONFIG_ENV} or config.yaml)"
    default_config = os.environ.get(CONFIG_ENV) or "config.yaml"

    run = sub.add_parser("run", help="start every enabled platform adapter")
    run.add_argument("-c", "--config", default=default_config, help=config_help)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("-c", "--config", default=default_config, help=config_help)
    chat.add_argument("--user", help="the user name to chat as (default: your login name)")
    chat.add_argument("-v", "--verbose", action="store_true", help="show info logs on stderr")

    check = sub.add_parser("check-config", help="validate the configuration and what `run` needs")
    check.add_argument("-c", "--config", default=default_config, help=config_help)

    health = sub.add_parser(
        "health", help="ask the running bot's /healthz (exit 0 healthy, 1 not; for HEALTHCHECK)"
    )
    health.add_argument("-c", "--config", default=default_config, help=config_help)

    migrate = sub.add_parser("migrate", help="apply pending schema migrations to storage.url")
    migrate.add_argument("-c", "--config", default=default_config, help=config_help)
    replace_help = (
        "delete the rows the target already has (without it a non-empty target is refused)"
    )
    export = sub.add_parser(
        "export", help="copy the database of storage.url into another one (SQLite <-> PostgreSQL)"
    )
    export.add_argument("-c", "--config", default=default_config, help=config_help)
    export.add_argument(
        "--to", required=True, metavar="URL", help="sqlite:///file.db or postgresql://..."
    )
    export.add_argument("--replace", action="store_true", help=replace_help)
    imp = sub.add_parser(
        "import", help="copy another database into the one of storage.url (SQLite <-> PostgreSQL)"
    )
    imp.add_argument("-c", "--config", default=default_config, help=config_help)
    imp.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="sqlite:///file.db or postgresql://...",
    )
    imp.add_argument("--replace", action="store_true", help=replace_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command's exit status. Run as a program (``argv`` None), crashes in threads are
    logged redacted too, and a failed start that left a thread running still ends the
    process: the status is returned through ``os._exit``."""
    args = _parser().parse_args(argv)
    try:
        status = _main(args, program=argv is None)
        sys.stdout.flush()
    except BrokenPipeError:  # `relaybot check-config | head -2`: the reader had enough
        _discard_stdout()
        return EXIT_OK
    if status != EXIT_OK and argv is None and _leftover_threads():
        sys.stderr.flush()
        os._exit(status)  # pragma: no cover - a safety net for a bug elsewhere
    return status


def _main(args: argparse.Namespace, *, program: bool) -> int:
    try:
        settings = load_config(args.config, sections=SECTIONS)
    except ConfigError as exc:
        _say(str(exc))
        return EXIT_CONFIG
    if args.command == "check-config":
        return _check_config(settings, args.config)
    if args.command == "health":
        return _health(settings)
    other = getattr(args, "to", None) or getattr(args, "source", None) or ""
    secrets = (*settings.secrets(), *storage_cli.storage_secrets(other))
    redact = RedactingFormatter(secrets).redact
    if args.command in STORAGE_COMMANDS:
        setup_logging("WARNING", secrets, as_json=settings.logging.format == "json")
        return _storage_command(args, settings, redact)
    as_json = settings.logging.format == "json"
    level = settings.logging.level
    if args.command == "chat" and not args.verbose:
        level = "WARNING"
    setup_logging(
        level,
        settings.secrets(),
        as_json=as_json,
        catch_crashes=program,
        levels=settings.logging.levels if args.command == "run" else None,
    )
    try:
        if args.command == "run" and not enabled_platforms(settings):
            _say(
                f"no platform is enabled in {args.config}.\n"
                "  Enable one by setting, for example, telegram.enabled: true and telegram.token "
                "(or discord.enabled / wechat.enabled).\n"
                f"  To chat in this terminal without a platform: relaybot chat -c {args.config}"
            )
            return EXIT_CONFIG
        problems = preflight(settings, platforms=args.command == "run")
        if problems:
            _say(redact(_problems_text(args.config, problems)))
            return EXIT_CONFIG
        if args.command == "chat":
            return asyncio.run(_chat(settings, args.user))
        return asyncio.run(_run(settings, args.config))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except Exception as exc:
        status, text = _failure(exc)
        if status == EXIT_FAILED:  # a bug: the traceback, redacted, for the report
            log.error("relaybot stopped by an unexpected error", exc_info=exc)
        _say(redact(text))
        return status


STORAGE_COMMANDS = ("migrate", "export", "import")


def _storage_command(
    args: argparse.Namespace, settings: Settings, redact: Callable[[str], str]
) -> int:
    """``migrate``, ``export`` or ``import``; what was done on stdout, or one line on stderr."""
    try:
        if args.command == "migrate":
            print(asyncio.run(storage_cli.migrate(settings)))
            return EXIT_OK
        other = args.to if args.command == "export" else args.source
        lines = asyncio.run(
            storage_cli.copy(
                settings, other, to_other=args.command == "export", replace=args.replace
            )
        )
        print("\n".join(lines))
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except StorageUrlError as exc:
        option = "--to" if args.command == "export" else "--from"
        _say(redact(f"{option}: {exc}"))
        return EXIT_CONFIG
    except Exception as exc:
        status, text = _failure(exc)
        if status == EXIT_FAILED:
            log.error("relaybot %s stopped by an unexpected error", args.command, exc_info=exc)
        _say(redact(text))
        return status


def _failure(exc: BaseException) -> tuple[int, str]:
    """The exit status of a fatal error and the line that says what to fix."""
    if isinstance(exc, ConfigError | CredentialsError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, StorageUnavailableError):
        return EXIT_UNAVAILABLE, str(exc)
    if isinstance(exc, StorageError):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, StartupError):
        return EXIT_UNAVAILABLE, str(exc)
    detail = " ".join(str(exc).split())[:300]
    return EXIT_FAILED, (
        f"stopped by an unexpected error ({type(exc).__name__}: {detail}); "
        "the log above has the details, please report it"
    )


def _check_config(settings: Settings, config_path: str) -> int:
    problems = preflight(settings)
    storage_lines, storage_problems = storage_cli.check_lines(settings)
    problems += [("storage.url", problem) for problem in storage_problems]
    state = "is valid" if not problems else "is valid, but `relaybot run` would refuse it"
    print(f"configuration {config_path} {state}")
    for line in (*settings.summary(), *storage_lines):
        print(f"  {line}")
    if problems:
        redact = RedactingFormatter(settings.secrets()).redact
        sys.stdout.flush()
        _say(redact(_problems_text(config_path, problems)))
        return EXIT_CONFIG
    return EXIT_OK


def _problems_text(config_path: str, problems: list[tuple[str, str]]) -> str:
    lines = [f"{path}: {what}" for path, what in problems]
    return f"cannot start with {config_path}:\n  " + "\n  ".join(lines)


def _say(text: str) -> None:
    print(f"relaybot: {text}", file=sys.stderr, flush=True)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _leftover_threads() -> list[str]:
    main_thread = threading.main_thread()
    return [
        t.name
        for t in threading.enumerate()
        if t is not main_thread and not t.daemon and t.is_alive()
    ]


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
    """Until SIGTERM/SIGINT; then answers in flight get ``shutdown_grace_s`` to finish (jobs
    stay in the database for the next start) and the status is 0."""
    async with App(settings) as app:
        reloader = app.reloader(config_path, lambda: load_config(config_path, sections=SECTIONS))
        await serve(
            build_adapters(app, enabled_platforms(settings)),
            jobs=app.jobs,
            http=app.http,
            ops=app.ops_routes,
            reloader=reloader,
        )
    return EXIT_OK


def _health(settings: Settings) -> int:
    """GET /healthz of the bot running with this config (on this machine, as a container's
    HEALTHCHECK does): 0 when it answers 200. When the config starts no HTTP server
    (http.health and http.metrics false), there is nothing to ask: 0, with a note."""
    config = settings.http
    if not (config.health or config.metrics):
        print("relaybot: no HTTP server is configured (set http.health: true to check the bot)")
        return EXIT_OK
    host = "127.0.0.1" if config.listen in ("0.0.0.0", "", "::") else config.listen
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{config.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as resp:  # noqa: S310
            print(resp.read().decode("utf-8", "replace"))
            return EXIT_OK
    except urllib.error.HTTPError as exc:  # 503: a part is down; the body says which
        print(exc.read().decode("utf-8", "replace"))
    except OSError as exc:
        _say(f"cannot reach {url}: {exc}")
    return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
