"""Finished jobs a person can act on by typing (/u2, /continue): the messages each result went
out as, so a reply to one finds its job, and the conversation's latest results."""

from __future__ import annotations

from collections.abc import Sequence

from core.jobs import store as js
from core.jobs.store import Job, JobStore
from core.storage.store import Store

RECENT_RESULTS = 20  # how far back "the latest result that offers /u2" looks


class JobResults:
    """The ``job_messages`` table, and lookups of delivered jobs for typed buttons."""

    def __init__(self, store: Store, jobs: JobStore) -> None:
        self._store = store
        self._jobs = jobs

    async def record(self, job: Job, message_ids: Sequence[str]) -> None:
        """Remember that ``job``'s result went out as ``message_ids`` (in its chat)."""
        if not message_ids:
            return
        dest = job.dest
        sql = self._store.dialect.upsert(
            "job_messages", ("job_id", "platform", "chat_id", "message_id"),
            key=("platform", "chat_id", "message_id"),
        )
        async with self._store.transaction() as tx:
            await tx.executemany(
                sql,
                [(job.id, dest.platform, dest.chat_id, mid) for mid in message_ids],
            )

    async def of_message(self, platform: str, chat_id: str, message_id: str) -> Job | None:
        """The job whose result (or status line: "✅ #3 done") is the message ``message_id``
        of that chat, if any."""
        rows = await self._store.query(
            "SELECT job_id FROM job_messages WHERE platform = ? AND chat_id = ? AND message_id = ?"
            " UNION ALL SELECT id FROM jobs WHERE platform = ? AND chat_id = ?"
            " AND status_message_id = ? LIMIT 1",
            (platform, chat_id, message_id) * 2,
        )
        return await self._jobs.get(int(rows[0][0])) if rows else None

    async def latest(self, conv_key: str, limit: int = RECENT_RESULTS) -> list[Job]:
        """The conversation's finished jobs with a result, newest first."""
        rows = await self._store.query(
            "SELECT id FROM jobs WHERE conv_key = ? AND state IN (?, ?) AND result IS NOT NULL"
            " ORDER BY id DESC LIMIT ?",
            (conv_key, js.DELIVERED, js.IN_DOUBT, limit),
        )
        found = [await self._jobs.get(int(row[0])) for row in rows]
        return [job for job in found if job is not None]
