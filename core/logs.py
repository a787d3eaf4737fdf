"""Logging for admins: one line per event, secrets replaced before anything is written."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import TextIO
from urllib.parse import quote

REDACTED = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Libraries that log request URLs (a Telegram URL holds the bot token), chatter at INFO or
# trace at DEBUG (Pillow: every PNG chunk). They log WARNING and above, whatever logging.level
# says, unless RELAYBOT_LIBRARY_LOGS=1 is set (then they follow logging.level, still redacted).
QUIET_LOGGERS = (
    "httpx", "httpcore", "aiosqlite", "telegram", "discord", "asyncio", "PIL", "tornado",
    "aiohttp", "hpack", "websockets", "asyncpg",
)
LIBRARY_LOGS_ENV = "RELAYBOT_LIBRARY_LOGS"


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then replaces every known secret."""

    def __init__(self, secrets: Iterable[str], *, as_json: bool = False) -> None:
        super().__init__(TEXT_FORMAT)
        self._as_json = as_json
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Replace ``secrets`` from now on (a config reload adds the new key to the old)."""
        # Each secret also as it looks inside a URL (a bot token's ":" becomes "%3A" in the
        # file download URLs httpx logs). Longest first, so a secret that contains another
        # is replaced whole.
        variants = {v for s in secrets if s for v in (s, quote(s, safe=""), quote(s))}
        self._secrets = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        if not self._as_json:
            return self.redact(super().format(record))
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)  # log.info(..., extra={"fields": {...}})
        if isinstance(fields, Mapping):
            entry.update({str(k): v for k, v in fields.items() if str(k) not in entry})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, ensure_ascii=False))


def setup_logging(
    level: str,
    secrets: Iterable[str],
    *,
    as_json: bool = False,
    stream: TextIO | None = None,
    catch_crashes: bool = False,
    levels: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Route every log record to ``stream`` (stderr) through the redacting formatter. With
    ``catch_crashes`` (the ``relaybot`` command), an exception nothing caught in a thread, and
    an "Exception ignored in" of the interpreter, are logged the same way (redacted) instead
    of printed raw."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets, as_json=as_json))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_levels(level, levels)
    if catch_crashes:
        threading.excepthook = _log_thread_crash
        sys.unraisablehook = _log_unraisable
    return handler


def set_levels(level: str, levels: Mapping[str, str] | None = None) -> None:
    """``level`` for everything, libraries at WARNING at least (see QUIET_LOGGERS), then
    ``levels`` by logger family (``{"httpx": "INFO", "relaybot": "DEBUG"}``), which win.
    Called at start and again by a config reload."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    libraries = os.environ.get(LIBRARY_LOGS_ENV, "") not in ("", "0")
    for name in QUIET_LOGGERS:
        quiet = root.level if libraries else max(logging.WARNING, root.level)
        logging.getLogger(name).setLevel(quiet)
    logging.getLogger("relaybot").setLevel(logging.NOTSET)
    for name, value in (levels or {}).items():
        logging.getLogger(name).setLevel(value.upper())


def _log_unraisable(args: sys.UnraisableHookArgs) -> None:
    """"Exception ignored in ..." (a failing __del__, a callback) logged, redacted."""
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    what = args.err_msg or "Exception ignored in"
    logging.getLogger("relaybot").error("%s: %r", what, args.object, exc_info=exc_info)


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("relaybot").error("thread %s crashed", name, exc_info=exc_info)
