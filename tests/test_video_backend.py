"""The video job family maps answers to the ids jobs stored, and isolates a failing task."""

from __future__ import annotations

from typing import Any

from core.errors import RelayBadRequestError
from core.jobs.store import Job
from core.jobs.video import LUMA, VideoBackend
from core.media.fetcher import MediaFetcher, MediaLimits
from core.platform.outbox import Destination
from core.relay.client import RelayClient
from core.relay.video import VideoTask


class Luma:
    """A stand-in Luma client whose answers carry the backend's own ids (as new-api's
    wrapper does), and that fails for one task."""

    async def fetch(self, task_id: str) -> VideoTask:
        if task_id == "broken":
            raise RelayBadRequestError("task_not_exist", status=400)
        return VideoTask(id="luma-uuid-1", status="done", video_url="https://x/v.mp4")


def job(job_id: int, task_id: str) -> Job:
    dest = Destination("test", "c", "u", "en")
    return Job(
        job_id,
        "video",
        LUMA,
        "k",
        dest,
        "a boat",
        "running",
        task_id,
        None,
        0,
        9e9,
        0.0,
        0,
        None,
        None,
        0.0,
    )


async def test_answers_are_keyed_by_the_stored_task_id_and_errors_stay_per_task() -> None:
    relay = RelayClient("http://127.0.0.1:9", "sk-x")
    backend: Any = VideoBackend(
        luma=Luma(),
        kling=None,
        runway=None,  # type: ignore[arg-type]
        media=MediaFetcher(relay, MediaLimits()),
        poll_interval_s=5,
        deadline_s=60,
    )
    updates = await backend.fetch_many([job(1, "task_abc"), job(2, "broken")])
    assert updates["task_abc"].state == "done"
    assert '"task_id": "task_abc"' in updates["task_abc"].result  # extend uses our id
    assert updates["broken"].state == "error"
