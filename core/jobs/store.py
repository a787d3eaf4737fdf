"""Durable job rows: every long relay task (Midjourney now, Suno and video next) lives here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.platform.outbox import Destination
from core.storage.sqlite import SqliteStore

# States. A job is "active" until it is delivered, failed, timed out or left in doubt.
SUBMITTING = "submitting"  # row written, submit call in flight
RUNNING = "running"  # the relay accepted it; polled until it ends
DELIVERING = "delivering"  # result known; being sent to the chat
DELIVERED = "delivered"
FAILED = "failed"
TIMED_OUT = "timed_out"
IN_DOUBT = "in_doubt"  # stopped while delivering: the user is offered a resend, never a duplicate
ACTIVE = (SUBMITTING, RUNNING, DELIVERING)

_COLUMNS = (
    "id, family, kind, conv_key, platform, chat_id, thread_id, user_id, lang, is_group, prompt,"
    " state, relay_task_id, status_message_id, progress, deadline, next_poll_at, attempts,"
    " result, error, created_at"
)


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


def _job(row: Any) -> Job:
    dest = Destination(row[4], row[5], row[7], row[8], row[6], bool(row[9]))
    return Job(
        row[0],
        row[1],
        row[2],
        row[3],
        dest,
        row[10],
        row[11],
        row[12],
        row[13],
        int(row[14]),
        float(row[15]),
        float(row[16]),
        int(row[17]),
        row[18],
        row[19],
        float(row[20]),
    )


class JobStore:
    """Job rows in the one database. State changes are single transactions."""

    def __init__(self, store: SqliteStore) -> None:
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
        now = self._store.clock()
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO jobs (family, kind, conv_key, platform, chat_id, thread_id, user_id,"
                " lang, is_group, prompt, state, deadline, next_poll_at, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    prompt,
                    SUBMITTING,
                    deadline,
                    now,
                    now,
                    now,
                ),
            )
            job_id = cursor.lastrowid
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
            (RUNNING, now),
        )
        return [_job(row) for row in rows]

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
        fields["updated_at"] = self._store.clock()
        names = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE jobs SET {names} WHERE id = ?"
        params: tuple[Any, ...] = (*fields.values(), job_id)
        if expect is not None:
            sql += " AND state = ?"
            params += (expect,)
        async with self._store.transaction() as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount == 1
