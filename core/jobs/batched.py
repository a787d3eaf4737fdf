"""What the job families with a batch status route share: Midjourney and Suno."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from core.jobs.runner import TaskUpdate
from core.jobs.store import Job
from core.media.fetcher import MediaFetcher


class RelayTask(Protocol):
    @property
    def id(self) -> str: ...


TaskT = TypeVar("TaskT", bound=RelayTask)
TaskT_co = TypeVar("TaskT_co", bound=RelayTask, covariant=True)


class BatchClient(Protocol[TaskT_co]):
    """A relay client that fetches many tasks in one call."""

    async def fetch_many(self, ids: Sequence[str]) -> Sequence[TaskT_co]: ...


ClientT = TypeVar("ClientT", bound=BatchClient[Any])


class BatchedBackend(Generic[ClientT, TaskT]):
    """A job family polled in one call for all its running jobs; a subclass sets ``family``
    and says what one relay task means for its job (``_update``) and what its result is."""

    family: str

    def __init__(
        self,
        client: ClientT,
        media: MediaFetcher,
        *,
        poll_interval_s: float,
        deadline_s: float,
    ) -> None:
        self.client = client
        self._media = media
        self.poll_interval_s = poll_interval_s
        self.deadline_s = deadline_s

    async def fetch_many(self, jobs: Sequence[Job]) -> dict[str, TaskUpdate]:
        tasks: Sequence[TaskT] = await self.client.fetch_many([j.relay_task_id or "" for j in jobs])
        return {task.id: self._update(task) for task in tasks}

    @staticmethod
    def _update(task: Any) -> TaskUpdate:
        """What the relay's ``task`` means for its job."""
        raise NotImplementedError
