"""The ``workers:`` section: several ``relaybot run`` processes on one PostgreSQL database.

One process (``count: 1``, the default) behaves as relaybot always did. With more, every
worker runs the same configuration; the database decides who does what (README "Several
workers (PostgreSQL)"): a lease per chat for Telegram updates, a claim per job, the WeChat
outbox leased row by row. A worker that dies stops renewing its leases and claims; after
``lease_s`` another worker takes them over.
"""

from __future__ import annotations

import os
import re
import socket
from typing import Annotated

from pydantic import Field, PlainValidator

from core.config.fields import _fail, int_range
from core.config.sections import Section

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_LEASE_S = 1.0
MAX_LEASE_S = 600.0


def _worker_id(value: object) -> str:
    """'' (host name and process id) or a short name: letters, digits, '.', '_', '-'."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "" or _ID_RE.fullmatch(text):
            return text
    raise _fail("must be empty or 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)")


def _seconds(low: float, high: float) -> PlainValidator:
    def check(value: object) -> float:
        number = float("nan")
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                number = float(value)
            except (ValueError, OverflowError):
                pass
        if not low <= number <= high:
            raise _fail(f"must be a number of seconds from {low:g} to {high:g}")
        return number

    return PlainValidator(check)


WorkerId = Annotated[str, PlainValidator(_worker_id)]


class WorkersSettings(Section):
    """Several relaybot processes sharing one PostgreSQL database."""

    count: Annotated[int, int_range(1, 64)] = Field(
        default=1,
        description="relaybot run processes sharing the database (1..64); >1 needs PostgreSQL.",
    )
    id: WorkerId = Field(
        default="", description="This worker's name in logs and leases; empty: host and pid."
    )
    lease_s: Annotated[float, _seconds(MIN_LEASE_S, MAX_LEASE_S)] = Field(
        default=30.0,
        description="Seconds before a dead worker's chats and jobs go to another (1..600).",
    )
    poll_s: Annotated[float, _seconds(0.05, 60.0)] = Field(
        default=0.5,
        description="Seconds between two looks for work other workers left (0.05..60).",
    )

    @property
    def shared(self) -> bool:
        """More than one process works on the database: leases and claims matter."""
        return self.count > 1

    def name(self) -> str:
        """This worker's name: ``id``, or the host name and process id."""
        return self.id or f"{socket.gethostname()}-{os.getpid()}"

    def summary(self) -> list[str]:
        if not self.shared:
            return ["workers: 1 (this process alone)"]
        return [
            f"workers: {self.count}, this one {self.name()}, lease {self.lease_s:g}s,"
            f" poll {self.poll_s:g}s"
        ]


__all__ = ["WorkersSettings"]
