"""Luma, Kling and Runway clients against FakeRelay over real HTTP: states, shapes, failures."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from PIL import Image

from bots.app import App
from core.errors import (
    RelayBadRequestError,
    RelayBadResponseError,
    RelayUpstreamError,
    VideoSubmitError,
    error_code,
    user_text,
)
from core.platform.types import Attachment, ErrorReply
from core.relay.client import RelayClient
from core.relay.video import KlingClient, LumaClient, RunwayClient, VideoTask, runway_ratio
from core.texts.i18n import t
from tests.conftest import collect, message
from tests.fake_relay import FakeRelay, Json, OpenAIError
from tests.fake_relay_video import MP4

KEY = "sk-video-test-SECRET-0123456789"
B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABXvMqGgAAAABJRU5E"
PIC = f"data:image/png;base64,{B64}"


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


@dataclass
class Env:
    """The fake relay, one RelayClient on it, the three video clients, what they slept."""

    fake: FakeRelay
    relay: RelayClient
    sleeps: Sleeps
    now: list[float]  # the Runway client's clock
    luma: LumaClient
    kling: KlingClient
    runway: RunwayClient


@pytest.fixture
async def v(fake_relay: FakeRelay) -> AsyncIterator[Env]:
    sleeps, now = Sleeps(), [1000.0]
    async with RelayClient(fake_relay.url, KEY, max_retries=2, sleep=sleeps) as relay:
        runway = RunwayClient(relay, clock=lambda: now[0])
        yield Env(fake_relay, relay, sleeps, now, LumaClient(relay), KlingClient(relay), runway)


async def poll(fetch: Callable[[], Awaitable[VideoTask]], limit: int = 20) -> list[VideoTask]:
    """Fetch until finished (the real poller waits ~5 s between these)."""
    seen = [await fetch()]
    while not seen[-1].finished and len(seen) < limit:
        seen.append(await fetch())
    return seen


# -- Luma --------------------------------------------------------------------------------------


async def test_luma_completed_without_url_keeps_running_then_done(v: Env) -> None:
    task_id = await v.luma.generate(
        "a fox in snow", aspect_ratio="16:9", image_url=PIC, model_name="ray-v2", duration=5
    )
    assert v.fake.requests[0].path == "/luma/generations"
    assert v.fake.requests[0].json == {
        "user_prompt": "a fox in snow",
        "expand_prompt": True,
        "aspect_ratio": "16:9",
        "image_url": PIC,
        "model_name": "ray-v2",
        "duration": "5s",
    }
    seen = await poll(lambda: v.luma.fetch(task_id))
    assert [(s.status, s.raw_state) for s in seen] == [
        ("queued", "pending"),
        ("running", "processing"),
        ("running", "completed"),  # completed, but no download_url yet
        ("done", "completed"),
    ]
    assert seen[2].video_url == "" and seen[2].progress < 100
    done = seen[-1]
    assert done.id == task_id and done.progress == 100 and done.video_url.endswith(".mp4")
    assert done.thumbnail_url.endswith(".png") and done.fail_reason == ""
    data, _ = await v.relay.download(done.video_url, max_bytes=1 << 20, timeout_s=5)
    assert data == MP4


async def test_luma_minimal_body_and_extend(v: Env) -> None:
    first = await v.luma.generate("waves")
    assert v.fake.requests[0].json == {"user_prompt": "waves", "expand_prompt": True}
    await poll(lambda: v.luma.fetch(first))
    second = await v.luma.extend(first, "the camera pulls back")
    extend = [r for r in v.fake.requests if r.method == "POST"][-1]
    assert extend.path == f"/luma/generations/{first}/extend"
    assert extend.json == {"user_prompt": "the camera pulls back", "expand_prompt": True}
    assert second != first and v.fake.video_tasks[second].parent == first
    assert (await poll(lambda: v.luma.fetch(second)))[-1].status == "done"


async def test_luma_failure_has_the_reason(v: Env) -> None:
    v.fake.video_fail(prompt_contains="gore", reason="failed moderation")
    task_id = await v.luma.generate("gore scene")
    seen = await poll(lambda: v.luma.fetch(task_id))
    assert [s.status for s in seen] == ["queued", "running", "failed"]
    assert seen[-1].fail_reason == "failed moderation" and seen[-1].video_url == ""


async def test_luma_task_wrapper_shapes(v: Env) -> None:
    v.fake.enqueue(Json(200, {"code": "success", "data": {"task_id": "lu-1"}}))
    assert await v.luma.generate("x") == "lu-1"
    video = {"url": "https://cdn/x.mp4", "download_url": "https://cdn/x-dl.mp4"}
    luma_obj = {"id": "lu-1", "state": "completed", "video": video}
    inner = {"task_id": "lu-1", "status": "SUCCESS", "progress": "100%", "data": luma_obj}
    v.fake.enqueue(Json(200, {"code": "success", "data": inner}))
    task = await v.luma.fetch("lu-1")
    assert (task.status, task.video_url) == ("done", "https://cdn/x-dl.mp4")


# -- Kling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["native", "new-api"])
async def test_kling_text2video_both_shapes(v: Env, shape: str) -> None:
    v.fake.kling_shape = shape
    task_id = await v.kling.text2video(
        "a koi pond", model_name="kling-v1-6", aspect_ratio="9:16", duration=10, mode="pro"
    )
    assert v.fake.requests[0].path == "/kling/v1/videos/text2video"
    assert v.fake.requests[0].json == {
        "model_name": "kling-v1-6",
        "prompt": "a koi pond",
        "aspect_ratio": "9:16",
        "duration": "10",
        "mode": "pro",
    }
    seen = await poll(lambda: v.kling.fetch("text2video", task_id))
    assert [s.status for s in seen] == ["queued", "running", "done"]
    assert v.fake.requests[-1].path == f"/kling/v1/videos/text2video/{task_id}"
    assert seen[1].progress == (30 if shape == "new-api" else 0)
    assert seen[-1].id == task_id and seen[-1].video_url.endswith(f"kling-{task_id}.mp4")


@pytest.mark.parametrize("shape", ["native", "new-api"])
@pytest.mark.parametrize("image", [PIC, B64])
async def test_kling_image2video_sends_raw_base64(v: Env, shape: str, image: str) -> None:
    v.fake.kling_shape = shape
    task_id = await v.kling.image2video(image, "she smiles", model_name="kling-v1", duration=5)
    body = v.fake.video_tasks[task_id].body
    assert body == {"model_name": "kling-v1", "image": B64, "prompt": "she smiles", "duration": "5"}
    assert (await poll(lambda: v.kling.fetch("image2video", task_id)))[-1].status == "done"


@pytest.mark.parametrize("shape", ["native", "new-api"])
async def test_kling_failure_and_refusal(v: Env, shape: str) -> None:
    v.fake.kling_shape = shape
    v.fake.video_fail(prompt_contains="blood", reason="内容审核未通过")
    task_id = await v.kling.text2video("blood moon", model_name="kling-v1")
    seen = await poll(lambda: v.kling.fetch("text2video", task_id))
    assert (seen[-1].status, seen[-1].fail_reason) == ("failed", "内容审核未通过")
    v.fake.video_refuse(prompt_contains="forbidden", message="prompt contains risky words")
    with pytest.raises(VideoSubmitError) as caught:
        await v.kling.text2video("forbidden words", model_name="kling-v1")
    assert "prompt contains risky words" in caught.value.detail
    assert len(v.fake.video_tasks) == 1


async def test_kling_native_code_on_fetch_is_a_failure(v: Env) -> None:
    v.fake.enqueue(Json(200, {"code": 1203, "message": "task expired", "data": None}))
    task = await v.kling.fetch("text2video", "k-1")
    assert (task.id, task.status) == ("k-1", "failed")
    assert "1203" in task.fail_reason and "task expired" in task.fail_reason
    with pytest.raises(ValueError):
        await v.kling.fetch("images", "k-1")  # type: ignore[arg-type]


# -- Runway ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["raw", "wrapped"])
async def test_runway_header_prompt_image_and_states(v: Env, shape: str) -> None:
    v.fake.runway_shape = shape
    task_id = await v.runway.image_to_video(
        PIC, "slow zoom", model="gen4_turbo", ratio="1280:720", duration=5
    )
    sent = v.fake.requests[0]
    assert sent.path == "/runwayml/v1/image_to_video"
    assert sent.headers["X-Runway-Version"] == "2024-11-06"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "promptImage": PIC,
        "model": "gen4_turbo",
        "promptText": "slow zoom",
        "ratio": "1280:720",
        "duration": 5,
    }
    assert v.fake.video_tasks[task_id].runway_version == "2024-11-06"
    seen = await poll(lambda: v.runway.fetch(task_id))
    assert [(s.status, s.progress) for s in seen] == [("queued", 0), ("running", 40), ("done", 100)]
    assert seen[-1].video_url.endswith(f"runway-{task_id}.mp4")


async def test_runway_failure_and_other_states(v: Env) -> None:
    v.fake.video_fail(prompt_contains="celebrity", reason="Input image flagged")
    task_id = await v.runway.image_to_video("https://x/a.png", "a celebrity", model="gen3a_turbo")
    assert v.fake.video_tasks[task_id].body == {
        "promptImage": "https://x/a.png",
        "model": "gen3a_turbo",
        "promptText": "a celebrity",
        "ratio": "1280:768",  # none given: the model's default (Runway requires one)
    }
    seen = await poll(lambda: v.runway.fetch(task_id))
    assert (seen[-1].status, seen[-1].fail_reason) == ("failed", "Input image flagged")
    for status, expected in [("THROTTLED", "queued"), ("CANCELLED", "failed")]:
        v.fake.enqueue(Json(200, {"id": "r-1", "status": status}))
        assert (await v.runway.fetch("r-1")).status == expected


async def test_runway_just_created_task_not_exist_is_queued(v: Env) -> None:
    v.fake.runway_not_exist_fetches = 2
    task_id = await v.runway.image_to_video(PIC, "", model="gen4_turbo")
    assert "promptText" not in v.fake.video_tasks[task_id].body
    assert v.fake.video_tasks[task_id].body["ratio"] == "1280:720"
    seen = await poll(lambda: v.runway.fetch(task_id))
    assert [s.raw_state for s in seen[:2]] == ["task_not_exist", "task_not_exist"]
    assert [s.status for s in seen] == ["queued", "queued", "queued", "running", "done"]
    with pytest.raises(RelayBadRequestError):  # never submitted here: it really does not exist
        await v.runway.fetch("no-such-task")
    v.fake.runway_not_exist_fetches = 1
    late = await v.runway.image_to_video(PIC, "", model="gen4_turbo")
    v.now[0] += 120  # long after the submit: no longer "just created"
    with pytest.raises(RelayBadRequestError):
        await v.runway.fetch(late)
    wrapped = await v.runway.image_to_video(PIC, "", model="gen4_turbo")
    v.fake.enqueue(Json(200, {"code": "task_not_exist", "message": "task_not_exist"}))
    assert (await v.runway.fetch(wrapped)).status == "queued"  # the same in a 200 answer


@pytest.mark.parametrize(
    ("model", "aspect", "size", "expected"),
    [
        ("gen3a_turbo", None, None, "1280:768"),
        ("gen4_turbo", None, None, "1280:720"),
        ("gen3a_turbo", None, (480, 640), "768:1280"),  # portrait photo
        ("gen4_turbo", None, (480, 640), "720:1280"),
        ("gen4_turbo", None, (640, 480), "1280:720"),  # landscape photo
        ("gen4_turbo", None, (500, 500), "1280:720"),  # square: the landscape default
        ("gen4_turbo", "9:16", (640, 480), "720:1280"),  # --ar wins over the photo
        ("gen4_turbo", "1:1", None, "960:960"),
        ("gen4_turbo", "4:3", None, "1104:832"),
        ("gen4_turbo", "21:9", None, "1584:672"),
        ("gen3a_turbo", "9:16", None, "768:1280"),
        ("gen3a_turbo", "16:9", (480, 640), "1280:768"),
        ("gen4_turbo", "0:9", (480, 640), "720:1280"),  # a ratio that means nothing: ignored
    ],
)
def test_runway_ratio(
    model: str, aspect: str | None, size: tuple[int, int] | None, expected: str
) -> None:
    assert runway_ratio(model, aspect, size) == expected


async def test_fake_runway_refuses_what_the_real_api_refuses(v: Env) -> None:
    """The fake is only worth testing against if it rejects what Runway rejects."""
    good = {"promptImage": PIC, "model": "gen4_turbo", "ratio": "1280:720"}
    for body, headers in [
        ({k: w for k, w in good.items() if k != "ratio"}, {"X-Runway-Version": "2024-11-06"}),
        ({**good, "ratio": "1280:768"}, {"X-Runway-Version": "2024-11-06"}),  # gen3a's ratio
        (good, {}),
        (good, {"X-Runway-Version": "2023-01-01"}),
    ]:
        with pytest.raises(RelayBadRequestError):
            await v.relay.request_json(
                "POST", "/runwayml/v1/image_to_video", body, retry=False, headers=headers
            )
    assert v.fake.video_tasks == {}


def _photo(width: int, height: int, *, rotated: bool = False) -> bytes:
    """A JPEG; ``rotated`` stores it sideways with EXIF orientation 6 (as phones do)."""
    image = Image.new("RGB", (height, width) if rotated else (width, height), "blue")
    exif = Image.Exif()
    if rotated:
        exif[0x0112] = 6  # rotate 90° on display: the stored width is the shown height
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "photo", "ratio"),
    [
        ("/video -m gen3a_turbo a storm", _photo(640, 480), "1280:768"),
        ("/video -m gen3a_turbo a storm", _photo(480, 640), "768:1280"),
        ("/video -m gen4_turbo a storm", _photo(480, 640, rotated=True), "720:1280"),
        ("/video -m gen4_turbo a storm", _photo(640, 480), "1280:720"),
        ("/video -m gen4_turbo --ar 9:16 a storm", _photo(640, 480), "720:1280"),
        ("/video -m gen4_turbo --ar 1:1 a storm", _photo(640, 480), "960:960"),
    ],
)
async def test_video_command_sends_runway_a_ratio_and_the_version(
    app: App, fake_relay: FakeRelay, text: str, photo: bytes, ratio: str
) -> None:
    msg = replace(message(text), attachments=(Attachment("image", photo, "image/jpeg"),))
    events = await collect(app, msg)
    assert not any(isinstance(e, ErrorReply) for e in events), events
    (task,) = fake_relay.video_tasks.values()
    assert task.body["ratio"] == ratio and task.body["model"] == text.split()[2]
    assert task.body["promptText"] == "a storm"
    assert task.runway_version == "2024-11-06"


# -- common --------------------------------------------------------------------------------------

Submit = Callable[[Env], Awaitable[str]]
SUBMITS: dict[str, Submit] = {
    "luma": lambda v: v.luma.generate("forbidden fruit"),
    "kling": lambda v: v.kling.image2video(B64, "forbidden fruit", model_name="kling-v1"),
    "runway": lambda v: v.runway.image_to_video(PIC, "forbidden fruit", model="gen4_turbo"),
}


@pytest.mark.parametrize("backend", list(SUBMITS))
async def test_refused_submit_is_typed_with_user_text(v: Env, backend: str) -> None:
    v.fake.video_refuse(prompt_contains="forbidden", message="prompt rejected by moderation")
    with pytest.raises(VideoSubmitError) as caught:
        await SUBMITS[backend](v)
    exc = caught.value
    assert error_code(exc) == "video_submit" and exc.status == 200 and exc.request_id
    assert "prompt rejected by moderation" in exc.detail
    assert user_text(exc, "zh") == t("error.video_rejected", "zh")
    assert user_text(exc, "en") == t("error.video_rejected", "en")
    assert "moderation" not in user_text(exc, "en")  # the relay's words stay in the log
    assert v.fake.video_tasks == {}


@pytest.mark.parametrize("backend", list(SUBMITS))
async def test_paid_submit_500_is_not_retried(v: Env, backend: str) -> None:
    v.fake.enqueue(OpenAIError(500, "请求上游地址失败", code="do_request_failed"))
    with pytest.raises(RelayUpstreamError):
        await SUBMITS[backend](v)
    assert len(v.fake.requests) == 1 and v.sleeps == []


async def test_fetch_500_is_retried(v: Env) -> None:
    task_id = await v.luma.generate("calm sea")
    v.fake.enqueue(OpenAIError(500, "请求上游地址失败", code="do_request_failed"))
    assert (await v.luma.fetch(task_id)).status == "queued"
    assert len(v.fake.requests) == 3 and len(v.sleeps) == 1


@pytest.mark.parametrize(
    "answer",
    [[], "text", {"unexpected": 1}, {"code": 0, "data": None}, {"code": "success", "data": {}}],
)
async def test_unreadable_answers_are_bad_responses(v: Env, answer: Any) -> None:
    for submit in SUBMITS.values():
        v.fake.enqueue(Json(200, answer))
        with pytest.raises(RelayBadResponseError):
            await submit(v)
    fetches: list[Callable[[], Awaitable[VideoTask]]] = [
        lambda: v.luma.fetch("t"),
        lambda: v.kling.fetch("text2video", "t"),
        lambda: v.runway.fetch("t"),
    ]
    for fetch in fetches:
        v.fake.enqueue(Json(200, answer))
        with pytest.raises(RelayBadResponseError):
            await fetch()


async def test_other_submit_shapes(v: Env) -> None:
    v.fake.enqueue(Json(200, {"code": "success", "message": "", "data": "task-77"}))
    assert await v.kling.text2video("x", model_name="kling-v1") == "task-77"
    v.fake.enqueue(Json(200, {"id": "lu-9", "state": "failed", "failure_reason": "nsfw"}))
    with pytest.raises(VideoSubmitError, match="nsfw"):  # created already failed
        await v.luma.generate("x")


async def test_extra_headers_and_the_runway_version(v: Env) -> None:
    headers = {"Authorization": "Bearer other", "X-Extra": "1"}  # cannot replace the key
    v.fake.enqueue(Json(200, {"ok": True}))
    await v.relay.request_json("GET", "/luma/generations/x", headers=headers)
    sent = v.fake.requests[-1].headers
    assert sent["Authorization"] == f"Bearer {KEY}" and sent["X-Extra"] == "1"
    body = {"promptImage": PIC, "model": "gen4_turbo"}
    with pytest.raises(RelayBadRequestError):  # the fake, like Runway, needs X-Runway-Version
        await v.relay.request_json("POST", "/runwayml/v1/image_to_video", body, retry=False)
