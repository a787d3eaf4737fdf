"""/forget (erase one user's content) and the daily prune of rows older than
``storage.retention_days``; usage is summarised per day and user before its detail goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from core.access.quotas import day_of
from core.jobs import store as js
from core.storage.store import Store

log = logging.getLogger("relaybot.access")

DAY_S = 86400.0
_FINISHED = (js.DELIVERED, js.FAILED, js.TIMED_OUT, js.IN_DOUBT)


async def forget_user(store: Store, platform: str, user_id: str) -> None:
    """Erase what is stored about a user: their conversations' history, settings and
    pictures (private, and their own per-member conversations in groups), the button actions
    and the prompts and results of their jobs. Content-free counters stay (quotas)."""
    private = f"{platform}:u:{user_id}"
    member = f"{platform}:g:%:u:{user_id}"
    jobs = await store.query(
        "SELECT id, relay_task_id FROM jobs WHERE platform = ? AND user_id = ?",
        (platform, user_id),
    )
    async with store.transaction() as tx:
        for table in ("messages", "conversations", "conv_images"):
            await tx.execute(
                f"DELETE FROM {table} WHERE conv_key = ? OR conv_key LIKE ?", (private, member)
            )
        for job_id, task_id in jobs:
            await tx.execute(
                "DELETE FROM actions WHERE action LIKE ?", (f"/jobs resend {int(job_id)}",)
            )
            if task_id:
                found = tx.dialect.instr("action", "?")
                await tx.execute(f"DELETE FROM actions WHERE {found} > 0", (str(task_id),))
            await tx.execute("DELETE FROM job_messages WHERE job_id = ?", (int(job_id),))
        await tx.execute(
            "UPDATE jobs SET prompt = '', result = NULL, error = NULL"
            " WHERE platform = ? AND user_id = ? AND state IN (?, ?, ?, ?)",
            (platform, user_id, *_FINISHED),
        )
    log.info("forgot user %s:%s (%d jobs)", platform, user_id, len(jobs))


async def prune(store: Store, retention_days: int, tz_name: str) -> dict[str, int]:
    """Delete rows older than ``retention_days``; the ledger and the usage table are first
    summed into ``usage_daily`` per day and user. How many rows went, by table."""
    cutoff = float(store.clock() - retention_days * DAY_S)
    ledger = await store.query(
        "SELECT platform, user_id, chat, kind, model, amount, created_at FROM quota_events"
        " WHERE created_at < ?",
        (cutoff,),
    )
    usage = await store.query(
        "SELECT conv_key, model, total_tokens, created_at FROM usage WHERE created_at < ?",
        (cutoff,),
    )
    summary: dict[tuple[str, str, str, str, str, str], list[int]] = {}
    for platform, user_id, chat, kind, model, amount, at in ledger:
        key = (day_of(float(at), tz_name), str(platform), str(user_id), str(chat), str(kind))
        row = summary.setdefault((*key, str(model)), [0, 0])
        row[0] += int(amount)
        row[1] += 1
    for conv_key, model, total, at in usage:
        # the usage table knows conversations, not users: kept under the conversation key
        conv = (day_of(float(at), tz_name), "", str(conv_key), "", "usage_tokens", str(model))
        row = summary.setdefault(conv, [0, 0])
        row[0] += int(total)
        row[1] += 1
    counts: dict[str, int] = {}
    async with store.transaction() as tx:
        await tx.executemany(
            "INSERT INTO usage_daily (day, platform, user_id, chat, kind, model, amount, count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, platform, user_id, chat, kind,"
            " model) DO UPDATE SET amount = usage_daily.amount + excluded.amount,"
            " count = usage_daily.count + excluded.count",
            [(*key, amount, count) for key, (amount, count) in summary.items()],
        )
        deletes = (
            ("quota_events", "DELETE FROM quota_events WHERE created_at < ?"),
            ("usage", "DELETE FROM usage WHERE created_at < ?"),
            ("messages", "DELETE FROM messages WHERE created_at < ?"),
            ("conv_images", "DELETE FROM conv_images WHERE created_at < ?"),
            ("actions", "DELETE FROM actions WHERE created_at < ?"),
            (
                "job_messages",
                "DELETE FROM job_messages WHERE job_id IN (SELECT id FROM jobs"
                " WHERE updated_at < ? AND state IN (?, ?, ?, ?))",
            ),
            ("jobs", "DELETE FROM jobs WHERE updated_at < ? AND state IN (?, ?, ?, ?)"),
        )
        for table, sql in deletes:
            params: tuple[object, ...] = (cutoff,) + (_FINISHED if "state IN" in sql else ())
            counts[table] = await tx.execute(sql, params)
    log.info("retention: pruned rows older than %d days: %s", retention_days, counts)
    return counts


class Retention:
    """Runs ``prune`` at start and then once a day, until ``stop()``."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], tuple[int, str]],
        interval_s: float = DAY_S,
    ) -> None:
        self._store = store
        self._settings = settings  # (retention_days, quota time zone), read at each run
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        days, tz = self._settings()
        return await prune(self._store, days, tz)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the database: logged, tried again tomorrow
                log.exception("retention prune failed")
            await asyncio.sleep(self._interval_s)
