"""Which worker polls and delivers each job, when several share the database.

A worker claims due jobs with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two workers never claim
the same job, and neither waits for the other) and keeps each claim while it lives (its
heartbeat renews them). A worker that dies renews nothing: after ``workers.lease_s`` its
running jobs are claimed by another worker, which polls and delivers them; a job it was
submitting or delivering is never redone (the submit may be paid for, the result may have
arrived): it fails with a note, or waits in doubt for its user's resend, as after a restart.
Expiry is judged by the database server's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.jobs import store as js
from core.jobs.store import _COLUMNS, _OWNER, Job, _job
from core.storage.store import Store
from core.workers.sql import write


class JobClaims:
    """Claims of one holder (``core.workers.leases.holder_name``) on the ``jobs`` table."""

    def __init__(self, store: Store, holder: str, lease_s: float) -> None:
        self._store = store
        self.holder = holder
        self.lease_s = float(lease_s)

    def _now(self) -> str:
        return self._store.dialect.now()

    async def claim_due(self, now: float, owners: Sequence[str], limit: int = 100) -> list[Job]:
        """Running jobs due at ``now`` whose adapter runs here (``owners``) and that no other
        live worker holds: claimed for this worker, and returned."""
        if not owners:
            return []
        marks = ", ".join("?" * len(owners))
        db_now = self._now()
        async with self._store.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT {_COLUMNS} FROM jobs WHERE state = ? AND next_poll_at <= ?"
                f" AND {_OWNER} IN ({marks}) AND (claimed_by IS NULL OR claimed_by = ?"
                f" OR claimed_until < {db_now}) ORDER BY id LIMIT ?"
                + tx.dialect.skip_locked(),
                (js.RUNNING, float(now), *owners, self.holder, limit),
            )
            jobs = [_job(row) for row in rows]
            if jobs:
                ids = ", ".join("?" * len(jobs))
                await tx.execute(
                    f"UPDATE jobs SET claimed_by = ?, claimed_until = {db_now} + ?"
                    f" WHERE id IN ({ids})",
                    (self.holder, self.lease_s, *[job.id for job in jobs]),
                )
        return jobs

    async def move(self, job_id: int, *, expect: str, state: str) -> bool:
        """``expect`` -> ``state`` and claimed by this worker, in one statement (a resend)."""
        changed = await write(
            self._store,
            f"UPDATE jobs SET state = ?, claimed_by = ?, claimed_until = {self._now()} + ?,"
            " updated_at = ? WHERE id = ? AND state = ?",
            (state, self.holder, self.lease_s, float(self._store.clock()), job_id, expect),
        )
        return changed == 1

    async def claim(self, job_id: int) -> bool:
        """Claim one job (a job this worker just created)."""
        changed = await write(
            self._store,
            f"UPDATE jobs SET claimed_by = ?, claimed_until = {self._now()} + ? WHERE id = ?",
            (self.holder, self.lease_s, job_id),
        )
        return changed == 1

    async def renew(self) -> int:
        """The heartbeat: every active job of this worker stays claimed for ``lease_s``."""
        marks = ", ".join("?" * len(js.ACTIVE))
        return await write(
            self._store,
            f"UPDATE jobs SET claimed_until = {self._now()} + ? WHERE claimed_by = ?"
            f" AND state IN ({marks})",
            (self.lease_s, self.holder, *js.ACTIVE),
        )

    async def orphans(self, owners: Sequence[str]) -> list[Job]:
        """Jobs a dead worker was submitting or delivering (its claim expired; a row never
        claimed counts once it is ``lease_s`` old): claimed for this worker, and returned
        for it to settle (never to redo)."""
        if not owners:
            return []
        marks = ", ".join("?" * len(owners))
        db_now = self._now()
        stale = float(self._store.clock()) - self.lease_s
        async with self._store.transaction() as tx:
            rows = await tx.fetch(
                f"SELECT {_COLUMNS} FROM jobs WHERE state IN (?, ?) AND {_OWNER} IN ({marks})"
                f" AND ((claimed_by IS NULL AND updated_at < ?) OR (claimed_by <> ?"
                f" AND claimed_until < {db_now})) ORDER BY id LIMIT 100"
                + tx.dialect.skip_locked(),
                (js.SUBMITTING, js.DELIVERING, *owners, stale, self.holder),
            )
            jobs = [_job(row) for row in rows]
            if jobs:
                ids = ", ".join("?" * len(jobs))
                await tx.execute(
                    f"UPDATE jobs SET claimed_by = ?, claimed_until = {db_now} + ?"
                    f" WHERE id IN ({ids})",
                    (self.holder, self.lease_s, *[job.id for job in jobs]),
                )
        return jobs

    async def release_running(self) -> int:
        """At a clean stop: running jobs are free for the other workers at once."""
        return await write(
            self._store,
            "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?"
            " AND state = ?",
            (self.holder, js.RUNNING),
        )

    async def holders(self) -> dict[int, str | None]:
        """job id -> the holder of its claim (for tests and operators)."""
        rows = await self._store.query("SELECT id, claimed_by FROM jobs ORDER BY id")
        return {int(r[0]): r[1] for r in rows}


__all__ = ["JobClaims"]
