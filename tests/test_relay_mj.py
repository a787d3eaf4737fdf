"""MidjourneyClient against FakeRelay over real HTTP: submits, codes, polling, buttons, describe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import App
from core.config.settings import load_config
from core.errors import (
    ConfigError,
    MjBannedPromptError,
    MjQueueFullError,
    MjRejectedError,
    MjSubmitError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayQuotaError,
    RelayRateLimitError,
    RelayUpstreamError,
    user_text,
)
from core.platform.types import ErrorReply
from core.relay.client import RelayClient
from core.relay.midjourney import MidjourneyClient, MjButton, MjTask, parse_task, split_prompts
from core.texts.i18n import t
from tests.conftest import TEST_KEY, message, write_config
from tests.fake_relay import FakeRelay, Json, OpenAIError
from tests.fake_relay_mj import MJ_DESCRIPTIONS, mj_error

KEY = "sk-mj-test-SECRET-0123456789"
PIC = "data:image/png;base64,iVBORw0KGgo="
GRID_LABELS = ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def relay(fake_relay: FakeRelay, sleeps: Sleeps) -> AsyncIterator[RelayClient]:
    async with RelayClient(fake_relay.url, KEY, max_retries=2, sleep=sleeps) as c:
        yield c


@pytest.fixture
def mj(relay: RelayClient) -> MidjourneyClient:
    return MidjourneyClient(relay)


async def poll(mj: MidjourneyClient, task_id: str, limit: int = 30) -> list[MjTask]:
    """Fetch until the task is done (the real bot waits ~5 s between these)."""
    seen = [await mj.fetch(task_id)]
    while not seen[-1].done and len(seen) < limit:
        seen.append(await mj.fetch(task_id))
    return seen


async def finished_grid(mj: MidjourneyClient, prompt: str = "a cat") -> MjTask:
    task = (await poll(mj, await mj.imagine(prompt)))[-1]
    assert task.status == "SUCCESS"
    return task


def submits(fake: FakeRelay) -> int:
    return sum(1 for r in fake.requests if "/submit/" in r.path)


# -- imagine and polling -------------------------------------------------------------------------


async def test_imagine_polls_through_every_state(
    mj: MidjourneyClient, relay: RelayClient, fake_relay: FakeRelay
) -> None:
    task_id = await mj.imagine("a lighthouse at dusk --ar 16:9")
    assert fake_relay.requests[0].path == "/mj/submit/imagine"
    assert fake_relay.requests[0].json == {"prompt": "a lighthouse at dusk --ar 16:9"}
    seen = await poll(mj, task_id)
    assert [(s.status, s.progress) for s in seen] == [
        ("", 0),
        ("SUBMITTED", 0),
        ("IN_PROGRESS", 0),
        ("IN_PROGRESS", 37),
        ("IN_PROGRESS", 76),
        ("SUCCESS", 100),
    ]
    assert fake_relay.mj_tasks[task_id].fetches == 6 and fake_relay.mj_fetches == 6
    assert seen[3].image_url and "?rand=" in seen[3].image_url  # a preview while running
    done = seen[-1]
    assert (done.id, done.action, done.prompt) == (
        task_id,
        "IMAGINE",
        "a lighthouse at dusk --ar 16:9",
    )
    assert done.done and not seen[-2].done and done.fail_reason == ""
    assert len(done.buttons) == 9 and [b.label for b in done.buttons] == GRID_LABELS
    assert done.buttons[0].custom_id.startswith("MJ::JOB::upsample::1::")
    assert done.buttons[4].emoji == "🔄" and "::reroll::" in done.buttons[4].custom_id
    assert done.description_prompts == ()
    assert done.image_url == f"{fake_relay.url}/mj/image/{task_id}"
    data, mime = await relay.download(done.image_url, max_bytes=100_000, timeout_s=5)
    assert data.startswith(b"\x89PNG") and mime == "image/png"


async def test_imagine_with_image_prompts(mj: MidjourneyClient, fake_relay: FakeRelay) -> None:
    await mj.imagine("in this style", images=[PIC, PIC])
    assert fake_relay.requests[0].json == {"prompt": "in this style", "base64Array": [PIC, PIC]}


async def test_slower_tasks_and_failures(mj: MidjourneyClient, fake_relay: FakeRelay) -> None:
    fake_relay.mj_steps_per_state = 2
    seen = await poll(mj, await mj.imagine("slow"))
    assert [s.status for s in seen] == [
        s for s in ("", "SUBMITTED", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS") for _ in (1, 2)
    ] + ["SUCCESS"]
    fake_relay.mj_steps_per_state = 1
    fake_relay.mj_script(prompt_contains="fail", fail_reason="Job action restricted")
    failed = (await poll(mj, await mj.imagine("please fail")))[-1]
    assert (failed.status, failed.fail_reason, failed.buttons) == (
        "FAILURE",
        "Job action restricted",
        (),
    )
    assert failed.done


@pytest.mark.parametrize(
    ("mode", "route"),
    [
        ("fast", "/mj-fast"),
        ("relax", "/mj-relax"),
        ("turbo", "/mj-turbo"),
        ("/mj-fast", "/mj-fast"),
        ("mj-relax", "/mj-relax"),
        ("/mj-turbo/", "/mj-turbo"),
        ("", ""),
    ],
)
async def test_mode_prefix(
    relay: RelayClient, fake_relay: FakeRelay, mode: str, route: str
) -> None:
    mj = MidjourneyClient(relay, mode_prefix=mode)
    task_id = await mj.imagine("fast one")
    await mj.fetch(task_id)
    await mj.fetch_many([task_id])
    assert [r.path for r in fake_relay.requests] == [
        f"{route}/mj/submit/imagine",
        f"{route}/mj/task/{task_id}/fetch",
        f"{route}/mj/task/list-by-condition",
    ]


def test_unknown_mode_is_refused(relay: RelayClient) -> None:
    with pytest.raises(ValueError, match="slow"):
        MidjourneyClient(relay, mode_prefix="slow")


@pytest.mark.parametrize("mode", ["fast", "relax", "turbo"])
async def test_configured_mode_reaches_the_relay_through_the_app(
    tmp_path: Path, fake_relay: FakeRelay, mode: str
) -> None:
    """The start-up path of ``relaybot run``: YAML -> load_config -> App -> engine -> relay."""
    path = write_config(tmp_path, fake_relay.url, f"jobs:\n  mj_mode: {mode}\n")
    settings = load_config(path, {"RELAY_API_KEY": TEST_KEY})
    async with App(settings) as app:
        events = [e async for e in app.engine.handle(message("/img -m mj a red fox"))]
        assert events == [] or all(not isinstance(e, ErrorReply) for e in events)
        submits = [r.path for r in fake_relay.requests if r.method == "POST"]
        assert submits == [f"/mj-{mode}/mj/submit/imagine"]


def test_config_checks_the_mode(tmp_path: Path, fake_relay: FakeRelay) -> None:
    path = write_config(tmp_path, fake_relay.url, "jobs:\n  mj_mode: quick\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"RELAY_API_KEY": TEST_KEY})
    assert 'jobs.mj_mode: must be "" or one of fast, relax, turbo' in str(info.value)


async def test_fetch_unknown_task_is_a_bad_request(mj: MidjourneyClient) -> None:
    with pytest.raises(RelayBadRequestError) as info:
        await mj.fetch("404404")
    assert (info.value.status, info.value.detail) == (400, "task_no_found")


# -- actions ------------------------------------------------------------------------------------


async def test_upscale_action_has_its_own_buttons(
    mj: MidjourneyClient, fake_relay: FakeRelay
) -> None:
    grid = await finished_grid(mj)
    u2 = grid.buttons[1]
    up_id = await mj.action(grid.id, u2.custom_id)
    assert fake_relay.requests[-1].json == {"customId": u2.custom_id, "taskId": grid.id}
    up = (await poll(mj, up_id))[-1]
    assert (up.status, up.action, up.prompt) == ("SUCCESS", "UPSCALE", "a cat")
    labels = [b.label for b in up.buttons]
    assert {"Vary (Strong)", "Vary (Subtle)", "Zoom Out 2x", "Custom Zoom"} <= set(labels)
    assert MjButton(up.buttons[5].custom_id, "Zoom Out 2x", "🔍") == up.buttons[5]
    reroll = await mj.action(grid.id, grid.buttons[4].custom_id)
    again = (await poll(mj, reroll))[-1]
    assert again.action == "REROLL" and [b.label for b in again.buttons] == GRID_LABELS


async def test_custom_zoom_waits_in_modal(mj: MidjourneyClient) -> None:
    grid = await finished_grid(mj)
    up = (await poll(mj, await mj.action(grid.id, grid.buttons[0].custom_id)))[-1]
    zoom = next(b for b in up.buttons if b.label == "Custom Zoom")
    modal_id = await mj.action(up.id, zoom.custom_id)  # code 21 is an accepted submit
    task = await mj.fetch(modal_id)
    assert (task.status, task.action, task.done) == ("MODAL", "CUSTOM_ZOOM", False)


async def test_action_before_success_is_refused_without_retry(
    mj: MidjourneyClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    task_id = await mj.imagine("not yet")
    with pytest.raises(RelayBadRequestError) as info:
        await mj.action(task_id, "MJ::JOB::upsample::1::abc")
    assert info.value.detail == "task_status_not_success"
    assert submits(fake_relay) == 2 and sleeps == []


# -- describe, blend, list ----------------------------------------------------------------------


async def test_describe_gives_four_prompts(mj: MidjourneyClient, fake_relay: FakeRelay) -> None:
    task_id = await mj.describe(PIC)
    assert fake_relay.requests[0].path == "/mj/submit/describe"
    assert fake_relay.requests[0].json == {"base64": PIC}
    seen = await poll(mj, task_id)
    assert all(s.description_prompts == () for s in seen[:-1])
    done = seen[-1]
    assert done.action == "DESCRIBE" and len(done.description_prompts) == 4
    first, *_, last = done.description_prompts
    assert first.startswith("a red fox curled up") and first.endswith("--ar 4:3")
    assert last.startswith("watercolor painting")
    assert not any("\u20e3" in p or "\n" in p for p in done.description_prompts)


async def test_blend(mj: MidjourneyClient, fake_relay: FakeRelay) -> None:
    task_id = await mj.blend([PIC, PIC, PIC], "landscape")
    assert fake_relay.requests[0].json == {"base64Array": [PIC] * 3, "dimensions": "LANDSCAPE"}
    done = (await poll(mj, task_id))[-1]
    assert (done.status, done.action, len(done.buttons)) == ("SUCCESS", "BLEND", 9)
    with pytest.raises(ValueError):
        await mj.blend([PIC])
    with pytest.raises(ValueError):
        await mj.blend([PIC, PIC], "ROUND")
    assert submits(fake_relay) == 1


async def test_fetch_many(mj: MidjourneyClient, fake_relay: FakeRelay) -> None:
    ids = [await mj.imagine(f"cat {i}") for i in range(3)]
    tasks = await mj.fetch_many([*ids, "999"])
    assert fake_relay.requests[-1].json == {"ids": [*ids, "999"]}
    assert [task.id for task in tasks] == ids and all(task.status == "" for task in tasks)
    for _ in range(5):
        tasks = await mj.fetch_many(ids)
    assert all(task.status == "SUCCESS" and len(task.buttons) == 9 for task in tasks)
    assert all(fake_relay.mj_tasks[i].fetches == 6 for i in ids)
    count = len(fake_relay.requests)
    assert await mj.fetch_many([]) == [] and len(fake_relay.requests) == count


# -- submit codes and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls", "key"),
    [
        (23, MjQueueFullError, "error.mj_queue_full"),
        (24, MjBannedPromptError, "error.mj_banned_prompt"),
        (4, MjRejectedError, "error.mj_rejected"),
        (3, MjRejectedError, "error.mj_rejected"),
        (9, MjRejectedError, "error.mj_rejected"),
        (77, MjRejectedError, "error.mj_rejected"),
    ],
)
async def test_refused_submit_codes(
    mj: MidjourneyClient,
    fake_relay: FakeRelay,
    sleeps: Sleeps,
    code: int,
    cls: type[MjSubmitError],
    key: str,
) -> None:
    fake_relay.mj_next_code = code
    with pytest.raises(cls) as info:
        await mj.imagine("a cat")
    exc = info.value
    assert (exc.mj_code, exc.status, exc.request_id) == (code, 200, "req-1")
    assert MJ_DESCRIPTIONS.get(code, "未知错误") in exc.detail
    for lang in ("zh", "en"):
        text = user_text(exc, lang)
        assert text == t(key, lang) and exc.detail not in text
    assert fake_relay.mj_tasks == {} and submits(fake_relay) == 1 and sleeps == []
    assert await mj.imagine("a cat")  # the switch is used once


async def test_http_200_with_code_24_is_a_failure(
    mj: MidjourneyClient, fake_relay: FakeRelay
) -> None:
    fake_relay.mj_next_code = 24
    with pytest.raises(MjBannedPromptError) as info:
        await mj.imagine("something nsfw")
    assert info.value.status == 200 and info.value.code == "mj_banned_prompt"
    assert info.value.detail == "code 24: 可能包含敏感词 (banned word: nsfw)"
    assert "nsfw" not in user_text(info.value, "en")


@pytest.mark.parametrize("code", [21, 22])
async def test_existing_and_queued_are_accepted(
    mj: MidjourneyClient, fake_relay: FakeRelay, code: int
) -> None:
    fake_relay.mj_next_code = code
    task_id = await mj.imagine("queued")
    assert task_id in fake_relay.mj_tasks


async def test_accepted_without_task_id_is_a_bad_response(
    mj: MidjourneyClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Json(200, {"code": 1, "description": "提交成功", "result": None}))
    with pytest.raises(RelayBadResponseError):
        await mj.imagine("x")
    fake_relay.enqueue(Json(200, {"code": "24", "description": "可能包含敏感词"}))
    with pytest.raises(MjBannedPromptError):  # a code sent as a string is still read
        await mj.imagine("x")


async def test_submit_500_is_not_retried_but_fetch_is(
    mj: MidjourneyClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    task_id = await mj.imagine("a cat")
    fake_relay.enqueue(
        OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
        OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
    )
    with pytest.raises(RelayUpstreamError):
        await mj.imagine("a dog")  # may have been charged: never sent twice
    assert submits(fake_relay) == 2 and sleeps == []
    task = await mj.fetch(task_id)  # a free GET meets the second 500 and is retried
    assert task.id == task_id and len(sleeps) == 1
    fake_relay.enqueue(mj_error("当前分组负载已饱和，请稍后再试", status=429, code=30))
    with pytest.raises(RelayRateLimitError):
        await mj.describe(PIC)
    assert submits(fake_relay) == 3 and len(sleeps) == 1


async def test_gateway_quota_and_validation_errors(
    mj: MidjourneyClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(mj_error("quota_not_enough"))
    with pytest.raises(RelayQuotaError):
        await mj.imagine("a cat")
    with pytest.raises(RelayBadRequestError) as info:
        await mj.imagine("   ")
    assert info.value.detail == "prompt_is_required"


# -- parsing ------------------------------------------------------------------------------------


def test_split_prompts_with_and_without_variation_selector() -> None:
    text = "1️⃣ one --ar 1:1\n\n2\u20e3 two\n3️⃣\n4️⃣ four"
    assert split_prompts(text) == ("one --ar 1:1", "two", "four")
    assert split_prompts("no numbers here") == ()


def test_parse_task_is_defensive() -> None:
    assert parse_task({"status": "SUCCESS"}) is None and parse_task([]) is None
    task = parse_task(
        {
            "id": 17,
            "status": "in_progress",
            "progress": "37%",
            "imageUrl": "",
            "buttons": [{"customId": "MJ::a", "label": None}, {"label": "no id"}, "junk"],
            "failReason": None,
        }
    )
    assert task == MjTask("17", "IN_PROGRESS", 37, None, "", (MjButton("MJ::a"),))
    assert parse_task({"id": "1", "status": "WEIRD", "progress": 250}) == MjTask("1", "", 100)
    plain = parse_task({"id": "1", "action": "DESCRIBE", "status": "SUCCESS", "prompt": "just one"})
    assert plain is not None and plain.description_prompts == ("just one",)
    props = parse_task({"id": "2", "action": "describe", "properties": {"finalPrompt": "1️⃣ a 2️⃣ b"}})
    assert props is not None and props.description_prompts == ("a", "b")
