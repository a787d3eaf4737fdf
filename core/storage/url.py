"""``storage.url``: which database relaybot uses, parsed once; never shown with its password.

sqlite:///data/relaybot.db      a file, relative to the working directory (the default)
sqlite:////var/lib/relaybot.db  an absolute path (four slashes)
postgresql://user:pass@host:5432/db   PostgreSQL (also postgres://)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
Backend = Literal["sqlite", "postgresql"]


class StorageUrlError(ValueError):
    """``storage.url`` cannot be used; the message never holds the password."""


@dataclass(frozen=True, slots=True)
class StorageUrl:
    """A parsed ``storage.url``. ``dsn`` holds the password: pass it to the driver only."""

    backend: Backend
    path: str  # the SQLite file ("" for PostgreSQL)
    dsn: str = ""  # the PostgreSQL URL as written (with its password)

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def redacted(self) -> str:
        """The URL to show: the password (and user) replaced by ``***``."""
        if not self.is_postgres:
            return SQLITE_PREFIX + self.path
        return redact_url(self.dsn)

    def __repr__(self) -> str:  # never the password, even in a traceback's locals
        return f"StorageUrl({self.redacted()!r})"


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable URL>"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def sqlite_url(path: str) -> str:
    """The URL of the SQLite file ``path`` (``storage.path``'s long form)."""
    return SQLITE_PREFIX + path


def parse_storage_url(url: str) -> StorageUrl:
    """``url`` parsed; StorageUrlError (without the password) says what is wrong."""
    url = url.strip()
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if not path or path.endswith("/") or "?" in path or "\x00" in path:
            raise StorageUrlError(
                "a SQLite URL names a file: sqlite:///data/relaybot.db (relative) or "
                "sqlite:////var/lib/relaybot/relaybot.db (absolute)"
            )
        return StorageUrl("sqlite", path)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a port that is no number
        except ValueError:
            raise StorageUrlError(
                f"{redact_url(url)} is not a valid URL (check the host and port)"
            ) from None
        if not parts.hostname or any(c.isspace() for c in url):
            raise StorageUrlError(
                f"{redact_url(url)} needs a host: postgresql://user:password@host:5432/database"
            )
        if not parts.path.strip("/"):
            raise StorageUrlError(
                f"{redact_url(url)} needs a database name: postgresql://user@host:5432/relaybot"
            )
        return StorageUrl("postgresql", "", url)
    if scheme == "sqlite":
        raise StorageUrlError("a SQLite URL starts with three slashes: sqlite:///data/relaybot.db")
    shown = redact_url(url) if "://" in url else "this value"
    raise StorageUrlError(
        f"{shown} is not a storage URL: use sqlite:///path/to/file.db or "
        "postgresql://user:password@host:5432/database"
    )


__all__ = ["StorageUrl", "StorageUrlError", "parse_storage_url", "redact_url", "sqlite_url"]
