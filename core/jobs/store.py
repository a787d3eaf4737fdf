"""Durable job rows: every long relay task (Midjourney, Suno, video) lives here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.platform.outbox import Destination
from core.storage.store import Store

# States. A job is "active" until it is delivered, failed, timed out or left in doubt.
SUBMITTING = "submitting"  # row written, submit call in flight
RUNNING = "running"  # the relay accepted it; polled until it ends
DELIVERING = "delivering"  # result known; being sent to the chat
DELIVERED = "delivered"
FAILED = "failed"
TIMED_OUT = "timed_out"
IN_DOUBT = "in_doubt"  # stopped while delivering: the user is offered a resend, never a duplicate
ACTIVE = (SUBMITTING, RUNNING, DELIVERING)

_NAMES = (
    "id, family, kind, conv_key, platform, chat_id, thread_id, user_id, lang, is_group, adapter,"
    " prompt, state, relay_task_id, status_message_id, progress, deadline, next_poll_at,"
    " attempts, result, error, created_at"
).split(", ")
_COLUMNS = ", ".join(_NAMES)
# The adapter that owns a job's conversation: its own name, or the platform's (NULL).
_OWNER = "COALESCE(adapter, platform)"


@dataclass(frozen=True, slots=True)
class Job:
    """One long task and everything needed to finish it after a restart."""

    id: int
    family: str
    kind: str
    conv_key: str
    dest: Destination
    prompt: str
    state: str
    relay_task_id: str | None
    status_message_id: str | None
    progress: int
    deadline: float
    next_poll_at: float
    attempts: int
    result: str | None
    error: str | None
    created_at: float


def _job(values: Sequence[Any]) -> Job:
    """A row selected as ``SELECT {_COLUMNS}``, mapped by column name."""
    row = dict(zip(_NAMES, values, strict=True))
    dest = Destination(
        platform=row["platform"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        lang=row["lang"],
        thread_id=row["thread_id"],
        group=bool(row["is_group"]),
        adapter=row["adapter"] or "",
    )
    return Job(
        id=row["id"],
        family=row["family"],
        kind=row["kind"],
        conv_key=row["conv_key"],
        dest=dest,
        prompt=row["prompt"],
        state=row["state"],
        relay_task_id=row["relay_task_id"],
        status_message_id=row["status_message_id"],
        progress=int(row["progress"]),
        deadline=float(row["deadline"]),
        next_poll_at=float(row["next_poll_at"]),
        attempts=int(row["attempts"]),
        result=row["result"],
        error=row["error"],
        created_at=float(row["created_at"]),
    )


class JobStore:
    """Job rows in the one database. State changes are single transactions."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        family: str,
        kind: str,
        conv_key: str,
        dest: Destination,
        prompt: str,
        deadline: float,
    ) -> Job:
        now = float(self._store.clock())
        async with self._store.transaction() as tx:
            job_id = await tx.fetchval(
                "INSERT INTO jobs (family, kind, conv_key, platform, chat_id, thread_id, user_id,"
                " lang, is_group, adapter, prompt, state, deadline, next_poll_at, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (
                    family,
                    kind,
                    conv_key,
                    dest.platform,
                    dest.chat_id,
                    dest.thread_id,
                    dest.user_id,
                    dest.lang,
                    int(dest.group),
                    dest.adapter or None,
                    prompt,
                    SUBMITTING,
                    float(deadline),
                    now,
                    now,
                    now,
                ),
            )
        job = await self.get(int(job_id or 0))
        assert job is not None
        return job

    async def get(self, job_id: int) -> Job | None:
        rows = await self._store.query(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    async def by_task(self, family: str, relay_task_id: str) -> Job | None:
        """The job of a relay task (to act on a finished job: continue, extend)."""
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE family = ? AND relay_task_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (family, relay_task_id),
        )
        return _job(rows[0]) if rows else None

    async def active(self) -> list[Job]:
        marks = ", ".join("?" * len(ACTIVE))
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY id", ACTIVE
        )
        return [_job(row) for row in rows]

    async def due(self, now: float) -> list[Job]:
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE state = ? AND next_poll_at <= ? ORDER BY id",
            (RUNNING, float(now)),
        )
        return [_job(row) for row in rows]

    async def next_poll_times(self) -> dict[str, float]:
        """When the earliest running job of each adapter is next due, by adapter name."""
        rows = await self._store.query(
            f"SELECT {_OWNER}, MIN(next_poll_at) FROM jobs WHERE state = ? GROUP BY {_OWNER}",
            (RUNNING,),
        )
        return {str(owner): float(at) for owner, at in rows}

    async def running_for(self, platform: str, user_id: str) -> list[Job]:
        marks = ", ".join("?" * len(ACTIVE))
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE platform = ? AND user_id = ? AND state IN"
            f" ({marks}) ORDER BY id",
            (platform, user_id, *ACTIVE),
        )
        return [_job(row) for row in rows]

    async def in_doubt_for(self, platform: str, user_id: str) -> list[Job]:
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM jobs WHERE platform = ? AND user_id = ? AND state = ?"
            " ORDER BY id",
            (platform, user_id, IN_DOUBT),
        )
        return [_job(row) for row in rows]

    async def update(self, job_id: int, *, expect: str | None = None, **fields: Any) -> bool:
        """Set ``fields``; with ``expect``, only if the job is still in that state (so two
        paths can never both move a job on). Returns whether the row changed."""
        fields["updated_at"] = float(self._store.clock())
        names = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE jobs SET {names} WHERE id = ?"
        params: tuple[Any, ...] = (*fields.values(), job_id)
        if expect is not None:
            sql += " AND state = ?"
            params += (expect,)
        async with self._store.transaction() as tx:
            return await tx.execute(sql, params) == 1
