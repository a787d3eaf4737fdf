"""SunoClient against FakeRelay over real HTTP: submit bodies, polling, clips, lyrics, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.errors import (
    FeatureUnavailableError,
    RelayBadRequestError,
    RelayQuotaError,
    RelayRateLimitError,
    SunoSubmitError,
    user_text,
)
from core.relay.client import RelayClient
from core.relay.suno import SunoClient, SunoTask, parse_task
from core.texts.i18n import t
from tests.fake_relay import FakeRelay, Json, OpenAIError
from tests.fake_relay_suno import DURATIONS, suno_error

KEY = "sk-suno-test-SECRET-0123456789"
MB = 1 << 20


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
async def relay(fake_relay: FakeRelay) -> AsyncIterator[RelayClient]:
    async with RelayClient(fake_relay.url, KEY, max_retries=2, sleep=Sleeps()) as c:
        yield c


@pytest.fixture
def suno(relay: RelayClient) -> SunoClient:
    return SunoClient(relay)


async def poll(suno: SunoClient, task_id: str, limit: int = 30) -> list[SunoTask]:
    """Fetch until the task is done (the real bot waits 5–10 s between these)."""
    seen = [await suno.fetch(task_id)]
    while not seen[-1].done and len(seen) < limit:
        seen.append(await suno.fetch(task_id))
    return seen


def submits(fake: FakeRelay) -> list[str]:
    return [r.path for r in fake.requests if r.path.startswith("/suno/submit/")]


# -- submit bodies (relay-api §11.2) --------------------------------------------------------------


async def test_inspiration_mode_sends_gpt_description_prompt(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    task_id = await suno.music(description="a calm lo-fi song about rain", mv="chirp-v4")
    request = fake_relay.requests[0]
    assert (request.method, request.path) == ("POST", "/suno/submit/music")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.json == {
        "gpt_description_prompt": "a calm lo-fi song about rain",
        "mv": "chirp-v4",
        "make_instrumental": False,
    }
    assert fake_relay.suno_tasks[task_id].body == request.json


async def test_custom_mode_sends_prompt_title_tags(suno: SunoClient, fake_relay: FakeRelay) -> None:
    lyrics = "[Verse]\nNeon rain on the window\n[Chorus]\nWe run, we run"
    task_id = await suno.music(
        prompt=lyrics, title="Neon Rain", tags="synthwave, male vocals", mv="chirp-v3-5"
    )
    assert fake_relay.suno_tasks[task_id].body == {
        "prompt": lyrics,
        "title": "Neon Rain",
        "tags": "synthwave, male vocals",
        "mv": "chirp-v3-5",
        "make_instrumental": False,
    }
    task = (await poll(suno, task_id))[-1]
    assert {(c.title, c.tags, c.lyrics) for c in task.clips} == {
        ("Neon Rain", "synthwave, male vocals", lyrics)
    }


async def test_instrumental_with_tags_only(suno: SunoClient, fake_relay: FakeRelay) -> None:
    task_id = await suno.music(tags="ambient piano", mv="chirp-v4", instrumental=True)
    assert fake_relay.suno_tasks[task_id].body == {
        "tags": "ambient piano",
        "mv": "chirp-v4",
        "make_instrumental": True,
    }
    task = (await poll(suno, task_id))[-1]
    assert task.status == "SUCCESS" and all(c.lyrics == "" for c in task.clips)


async def test_continue_sends_clip_position_and_task_id(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    first = await suno.music(description="a sea shanty", mv="chirp-v4")
    done = (await poll(suno, first))[-1]
    clip = done.clips[0]
    next_id = await suno.music(
        prompt="[Verse]\nAnd the tide came in",
        mv="chirp-v4",
        continue_clip_id=clip.id,
        continue_at=clip.duration,
        task_id=first,
    )
    assert fake_relay.suno_tasks[next_id].body == {
        "prompt": "[Verse]\nAnd the tide came in",
        "mv": "chirp-v4",
        "make_instrumental": False,
        "continue_clip_id": clip.id,
        "task_id": first,
        "continue_at": DURATIONS[0],
    }
    # The job runner's "continue" button sends no lyrics: the body has no prompt at all.
    bare = await suno.music(
        mv="chirp-v4", continue_clip_id=clip.id, continue_at=60.0, task_id=first
    )
    assert fake_relay.suno_tasks[bare].body == {
        "mv": "chirp-v4",
        "make_instrumental": False,
        "continue_clip_id": clip.id,
        "task_id": first,
        "continue_at": 60.0,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"continue_clip_id": "clip-1", "continue_at": 30.0},  # task_id is required (§11.2)
        {"continue_clip_id": "clip-1", "task_id": " "},
        {},  # nothing to make a song from
        {"description": "  ", "prompt": ""},
        {"description": "a song", "prompt": "[Verse] la"},  # two modes at once
        {"description": "a song", "tags": "pop"},
        {"description": "a song", "continue_clip_id": "c", "task_id": "t"},
        {"prompt": "la", "continue_at": 10.0},  # continue_at without a clip
        {"prompt": "la", "task_id": "t"},
    ],
)
async def test_invalid_music_arguments_raise_before_any_request(
    suno: SunoClient, fake_relay: FakeRelay, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        await suno.music(mv="chirp-v4", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await suno.lyrics("   ")
    assert fake_relay.requests == []


# -- polling ------------------------------------------------------------------------------------


async def test_music_task_goes_through_every_state(
    suno: SunoClient, relay: RelayClient, fake_relay: FakeRelay
) -> None:
    task_id = await suno.music(description="a birthday song for Mia", mv="chirp-v4")
    seen = await poll(suno, task_id)
    assert [s.status for s in seen] == ["NOT_START", "SUBMITTED", "IN_PROGRESS", "SUCCESS"]
    assert [s.progress for s in seen] == [0, 0, 30, 100]
    assert all(s.id == task_id and s.action == "MUSIC" for s in seen)
    assert seen[0].clips == () and not seen[0].done and seen[-1].done
    assert {c.status for c in seen[1].clips} == {"submitted"}
    streaming = seen[2].clips
    assert [c.status for c in streaming] == ["streaming", "streaming"]
    assert all(c.audio_url and c.duration is None for c in streaming)

    done = seen[-1]
    assert len(done.clips) == 2 and len({c.id for c in done.clips}) == 2
    assert fake_relay.suno_fetches == 4
    for clip, duration in zip(done.clips, DURATIONS, strict=True):
        assert clip.status == "complete" and clip.error == ""
        assert clip.title == "Song of a birthday song"
        assert clip.tags and "birthday song for Mia" in clip.lyrics
        assert clip.duration == duration
        audio, audio_type = await relay.download(clip.audio_url, max_bytes=MB, timeout_s=5)
        assert audio.startswith(b"ID3") and audio_type == "audio/mpeg"
        image, image_type = await relay.download(clip.image_url, max_bytes=MB, timeout_s=5)
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and image_type == "image/png"
        assert clip.video_url.endswith(".mp4")


async def test_steps_per_state_slow_the_task_down(suno: SunoClient, fake_relay: FakeRelay) -> None:
    fake_relay.suno_steps_per_state = 2
    seen = await poll(suno, await suno.music(description="a march", mv="chirp-v4"))
    twice = [status for status in ("NOT_START", "SUBMITTED", "IN_PROGRESS") for _ in range(2)]
    assert [s.status for s in seen] == [*twice, "SUCCESS"]


async def test_lyrics_task(suno: SunoClient, fake_relay: FakeRelay) -> None:
    task_id = await suno.lyrics("a robot falling in love")
    assert submits(fake_relay) == ["/suno/submit/lyrics"]
    assert fake_relay.suno_tasks[task_id].body == {"prompt": "a robot falling in love"}
    seen = await poll(suno, task_id)
    assert [s.status for s in seen] == ["NOT_START", "SUCCESS"]
    done = seen[-1]
    assert done.action == "LYRICS" and done.clips == () and done.progress == 100
    assert done.lyrics_title == "A Robot Falling In Love"
    assert done.lyrics_text.startswith("[Verse]\na robot falling in love")


async def test_fetch_many_asks_for_all_ids_in_one_request(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    song = await suno.music(description="a lullaby", mv="chirp-v4")
    words = await suno.lyrics("autumn leaves")
    before = len(fake_relay.requests)
    tasks = await suno.fetch_many([song, words, "no-such-task"])
    assert len(fake_relay.requests) == before + 1
    request = fake_relay.requests[-1]
    assert (request.method, request.path) == ("POST", "/suno/fetch")
    assert request.json == {"ids": [song, words, "no-such-task"]}
    assert {(t.id, t.action, t.status) for t in tasks} == {
        (song, "MUSIC", "NOT_START"),
        (words, "LYRICS", "NOT_START"),
    }
    later = {t.id: t for t in await suno.fetch_many([song, words])}
    assert later[song].status == "SUBMITTED" and later[words].status == "SUCCESS"
    assert await suno.fetch_many([]) == []
    assert len(fake_relay.requests) == before + 2


async def test_a_clip_error_fails_the_task_before_the_gateway_does(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    fake_relay.suno_fail(prompt_contains="forbidden", message="Lyrics contain restricted words")
    task_id = await suno.music(prompt="a forbidden verse", title="X", mv="chirp-v4")
    seen = await poll(suno, task_id)
    assert [s.status for s in seen] == ["NOT_START", "SUBMITTED", "IN_PROGRESS", "FAILURE"]
    raw = fake_relay.suno_tasks[task_id].view(fake_relay.url, 1)
    assert raw["status"] == "FAILURE"  # the gateway caught up only on the next fetch
    failed = seen[-1]
    assert failed.fail_reason == "Lyrics contain restricted words" and failed.done
    assert [c.status for c in failed.clips] == ["error", "complete"]
    assert failed.clips[0].error == "Lyrics contain restricted words"
    assert (await suno.fetch(task_id)).status == "FAILURE"


async def test_complete_clips_mean_success_while_the_task_status_lags(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    clip = {"id": "c1", "status": "complete", "audio_url": "https://cdn1.suno.ai/c1.mp3"}
    lagging = {"task_id": "t1", "action": "MUSIC", "status": "IN_PROGRESS", "progress": "80%"}
    fake_relay.enqueue(Json(200, {"code": "success", "data": {**lagging, "data": [clip, clip]}}))
    task = await suno.fetch("t1")
    assert (task.status, task.progress, task.done) == ("SUCCESS", 100, True)
    assert task.clips[0].audio_url == "https://cdn1.suno.ai/c1.mp3"


def test_parse_task_is_defensive() -> None:
    assert parse_task(None) is None and parse_task({"status": "SUCCESS"}) is None
    odd = parse_task({"id": "t", "status": "processing", "progress": 45, "data": None})
    assert odd == SunoTask("t", "IN_PROGRESS", 45, "", "MUSIC")
    assert parse_task({"task_id": "t", "status": "whatever"}).status == ""  # type: ignore[union-attr]
    failed = parse_task({"task_id": "t", "status": "FAILURE", "fail_reason": "上游任务超时"})
    assert failed is not None and failed.fail_reason == "上游任务超时" and failed.done
    unknown = parse_task({"task_id": "t", "status": "UNKNOWN", "data": []})
    assert unknown is not None and unknown.done
    words = parse_task({"task_id": "t", "status": "", "data": [{"text": "la", "title": "T"}]})
    assert words is not None and (words.action, words.lyrics_text) == ("LYRICS", "la")
    clip = {"id": "c", "status": "error", "metadata": {"error_type": "moderation"}}
    bad = parse_task({"task_id": "t", "status": "SUBMITTED", "data": [clip, "junk"]})
    assert bad is not None and (bad.status, bad.fail_reason) == ("FAILURE", "moderation")


# -- errors -------------------------------------------------------------------------------------


async def test_a_refusal_in_a_200_is_a_typed_submit_error(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Json(200, {"code": "prompt_invalid", "message": "bad words", "data": None}))
    with pytest.raises(SunoSubmitError) as caught:
        await suno.music(description="x", mv="chirp-v4")
    err = caught.value
    assert (err.suno_code, err.status) == ("prompt_invalid", 200)
    assert "bad words" in err.detail and err.request_id.startswith("req-")
    assert user_text(err, "zh") == t("error.suno_rejected", "zh")
    assert user_text(err, "en") == t("error.suno_rejected", "en")
    assert "Suno" in user_text(err, "en") and "bad words" not in user_text(err, "en")


@pytest.mark.parametrize(
    "answer",
    [
        suno_error("invalid_request", "task id is empty", 400),  # gateway validation
        suno_error("generate_failed", "Unable to generate: prompt flagged", 500),  # upstream
    ],
)
async def test_error_bodies_are_typed_submit_errors_and_not_retried(
    suno: SunoClient, fake_relay: FakeRelay, answer: Json
) -> None:
    fake_relay.enqueue(answer)
    with pytest.raises(SunoSubmitError) as caught:
        await suno.lyrics("words")
    assert caught.value.status == answer.status
    assert caught.value.detail == answer.body["message"]
    assert len(submits(fake_relay)) == 1
    assert user_text(caught.value, "zh").startswith("Suno 没有接受")


async def test_gateway_quota_and_rate_limit_keep_their_types(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(suno_error("quota_not_enough", "quota_not_enough", 403))
    with pytest.raises(RelayQuotaError):
        await suno.music(description="x", mv="chirp-v4")
    fake_relay.enqueue(OpenAIError(429, "当前分组上游负载已饱和，请稍后再试"))
    with pytest.raises(RelayRateLimitError):
        await suno.music(description="x", mv="chirp-v4")
    assert len(submits(fake_relay)) == 2  # paid submits are never repeated


async def test_a_relay_without_suno_is_feature_unavailable(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(OpenAIError(404, "Invalid URL (POST /suno/submit/music)"))
    with pytest.raises(FeatureUnavailableError) as caught:
        await suno.music(description="x", mv="chirp-v4")
    assert caught.value.fields == {"feature": "Suno"}


async def test_gateway_validation_of_continue(suno: SunoClient, fake_relay: FakeRelay) -> None:
    with pytest.raises(SunoSubmitError) as caught:
        await suno.music(mv="chirp-v4", continue_clip_id="c", task_id="not-a-task")
    assert caught.value.status == 400 and caught.value.detail == "task_origin_not_exist"


async def test_fetch_of_an_unknown_task(suno: SunoClient) -> None:
    with pytest.raises(RelayBadRequestError) as caught:
        await suno.fetch("nope")
    assert caught.value.detail == "task_not_exist"


async def test_fetch_is_retried_after_a_5xx(
    suno: SunoClient, fake_relay: FakeRelay
) -> None:
    task_id = await suno.music(description="x", mv="chirp-v4")
    fake_relay.enqueue(suno_error("fetch_failed", "busy", 502))
    assert (await suno.fetch(task_id)).status == "NOT_START"
    fetches = [r for r in fake_relay.requests if r.path.startswith("/suno/fetch/")]
    assert len(fetches) == 2
