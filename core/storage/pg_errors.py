"""asyncpg's failures as relaybot's StorageErrors: which mean "not now" (connection lost,
read-only, busy), which mean "fix the config" (login, missing database); texts name the key
the URL came from and never its password."""

from __future__ import annotations

import asyncpg

from core.config.fields import url_credentials
from core.errors import StorageError, StorageUnavailableError
from core.storage.url import StorageUrl

# SQLSTATE classes that say "not now": connection (08), resources (53), operator
# intervention (57: shutdown, cancelled), transaction rollback (40: serialization, deadlock),
# lock not available (55P03), read-only transaction (25006: a standby, or read-only mode).
_UNAVAILABLE_CLASSES = ("08", "53", "57", "40")
_UNAVAILABLE_STATES = frozenset({"55P03", "25006"})


def scrub(text: str, url: StorageUrl) -> str:
    for secret in sorted(url_credentials(url.dsn), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def pg_error(
    what: str, exc: BaseException, url: StorageUrl, key: str = "storage.url"
) -> StorageError:
    """``exc`` (asyncpg, OS or timeout) as a StorageError naming ``key`` (the config key or the
    command-line option the URL came from) and the URL without its password."""
    where = f"{key}={url.redacted()}"
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        detail = scrub(f"{type(exc).__name__}: {exc}", url)
        if state.startswith(_UNAVAILABLE_CLASSES) or state in _UNAVAILABLE_STATES:
            hint = (
                "the database is read-only (a standby, or default_transaction_read_only)"
                if state == "25006"
                else "the PostgreSQL server is busy, restarting or unreachable"
            )
            return StorageUnavailableError(f"{what} ({detail}) on {where}; {hint}")
        if state in ("28P01", "28000"):
            return StorageError(f"{what}: the server refused the login ({detail}); check {where}")
        if state == "3D000":
            return StorageError(f"{what}: the database does not exist ({detail}); check {where}")
        return StorageError(f"{what} ({detail}) on {where}")
    if isinstance(exc, TimeoutError):
        detail = "no answer in time"
    else:
        detail = scrub(f"{type(exc).__name__}: {exc}", url)
    return StorageUnavailableError(
        f"{what} ({detail}) on {where}; is the PostgreSQL server running and reachable?"
    )


DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection the server cut, caught mid-state
    OSError,
    TimeoutError,
)
_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})  # admin/crash shutdown, cannot connect now


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection is gone (not that the statement was wrong)."""
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "")) in _GONE_STATES
    return isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError)


__all__ = ["DRIVER_ERRORS", "connection_lost", "pg_error", "scrub"]
