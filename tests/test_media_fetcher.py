"""A result that cannot be sent as a file becomes its link, or says it is gone: one helper,
used by the image commands and the Midjourney, Suno and video families."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.jobs.midjourney import MjBackend
from core.jobs.suno import SunoBackend
from core.jobs.video import LUMA, VideoBackend
from core.media.fetcher import MediaFetcher, MediaLimits
from core.platform.types import AudioReply, FinalText, ImageReply, VideoReply
from core.relay.client import RelayClient
from core.relay.midjourney import MidjourneyClient
from core.relay.suno import SunoClient
from core.relay.video import KlingClient, LumaClient, RunwayClient
from tests.conftest import finished_job
from tests.fake_relay import FakeRelay
from tests.pictures import picture

LINK_EN = "The result could not be uploaded here; open it with this link: "
GONE_EN = "The job finished, but its result could not be fetched from the AI service."


@pytest.fixture
async def relay(fake_relay: FakeRelay) -> AsyncIterator[RelayClient]:
    client = RelayClient(fake_relay.url, "sk-x")
    await client.start()
    yield client
    await client.aclose()


async def test_a_file_comes_a_too_large_one_is_a_link_no_url_is_gone(
    fake_relay: FakeRelay, relay: RelayClient
) -> None:
    media = MediaFetcher(relay, MediaLimits(max_bytes=1000, timeout_s=5))
    png = picture(8, 8, fmt="PNG")
    small = fake_relay.add_file(png, "image/png")
    large = fake_relay.add_file(b"x" * 5000, "image/png")
    assert await media.fetch_or_link(small, "en", "image") == (png, "image/png")
    assert await media.fetch_or_link(large, "en") == FinalText(LINK_EN + large, markdown=False)
    gone = await media.fetch_or_link("", "en")
    assert isinstance(gone, FinalText) and gone.text.startswith(GONE_EN)
    assert media.instead("file:///etc/passwd", "zh").text.startswith("任务完成了")


async def test_every_family_falls_back_the_same_way(
    fake_relay: FakeRelay, relay: RelayClient
) -> None:
    media = MediaFetcher(relay, MediaLimits(max_bytes=1000, timeout_s=5))
    large = fake_relay.add_file(b"x" * 5000, "audio/mpeg")
    link = FinalText(LINK_EN + large, markdown=False)
    timing = {"poll_interval_s": 5.0, "deadline_s": 60.0}

    mj = MjBackend(MidjourneyClient(relay), media, **timing)
    events = await mj.result_events(
        finished_job("mj", "imagine", {"task_id": "t1", "image_url": large})
    )
    assert events == [link]

    suno = SunoBackend(SunoClient(relay), media, **timing)
    clip = {"id": "c1", "title": "Song", "audio": large, "image": large}
    events = await suno.result_events(
        finished_job("suno", "music", {"task_id": "t1", "clips": [clip]})
    )
    assert link in events  # the audio as a link; a cover that cannot come is left out
    assert not any(isinstance(e, AudioReply | ImageReply) for e in events)

    video = VideoBackend(
        luma=LumaClient(relay),
        kling=KlingClient(relay),
        runway=RunwayClient(relay),
        media=media,
        **timing,
    )
    events = await video.result_events(
        finished_job("video", LUMA, {"task_id": "t1", "video": large})
    )
    assert events[0] == VideoReply(None, large, "video/mp4", "#7 a cat")  # the adapter links it
    events = await video.result_events(finished_job("video", LUMA, {"task_id": "t1", "video": ""}))
    assert isinstance(events[0], FinalText) and events[0].text.startswith(GONE_EN)
