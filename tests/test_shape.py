"""core.platform.shape: replies fitted to a platform's traits; MJ buttons' typed forms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bots.console.adapter import CONSOLE_TRAITS
from bots.telegram.traits import telegram_traits
from core.jobs import store as js
from core.jobs.midjourney import typed_form
from core.jobs.runner import JobRunner, TaskUpdate
from core.platform.outbox import Outbox
from core.platform.shape import cut, shape
from core.platform.traits import PLAIN, TraitsRegistry
from core.platform.types import (
    AudioReply,
    Button,
    ButtonRows,
    FinalText,
    ImageReply,
    Notice,
    TextDelta,
    VideoReply,
)
from core.storage.sqlite import SqliteStore
from tests.fake_relay_mj import grid_buttons, upscale_buttons
from tests.test_jobs import DEST, Clock, FakeFamily, Sink, _returns

TELEGRAM = telegram_traits(50)


def grid() -> ButtonRows:
    buttons = [
        Button(b["label"] or b["emoji"], f"/mj 1 {b['customId']}", typed=typed_form(b["customId"]))
        for b in grid_buttons("h")
    ]
    return ButtonRows.chunked(buttons, 5)


def test_telegram_traits_are_its_numbers() -> None:
    assert TELEGRAM.buttons and TELEGRAM.edits and TELEGRAM.voice_format == "ogg_opus"
    assert (TELEGRAM.max_text, TELEGRAM.max_caption) == (4096, 1024)
    assert TELEGRAM.markdown == "telegram_html" and TELEGRAM.max_upload_bytes == 50_000_000
    assert not CONSOLE_TRAITS.buttons and not CONSOLE_TRAITS.edits
    assert CONSOLE_TRAITS.voice_format is None and CONSOLE_TRAITS.markdown == "plain"


def test_an_unknown_platform_gets_plain_traits() -> None:
    registry = TraitsRegistry()
    registry.register("telegram", TELEGRAM)
    assert registry.of("telegram") is TELEGRAM
    assert registry.of("wechat") == PLAIN and not PLAIN.buttons and not PLAIN.edits


def test_with_edits_and_buttons_everything_passes_unchanged() -> None:
    events = [TextDelta("a"), TextDelta("b"), FinalText("ab"), grid(), Notice("n")]
    assert shape(events, TELEGRAM, "en") == events


def test_without_edits_only_the_complete_answer_is_left() -> None:
    events = [TextDelta("Stream"), TextDelta("ing"), FinalText("Streaming"), Notice("cut")]
    assert shape(events, CONSOLE_TRAITS, "en") == [FinalText("Streaming"), Notice("cut")]


def test_without_buttons_one_short_line_of_typed_forms_in_each_language() -> None:
    line = "/u1 /u2 /u3 /u4 /reroll · /v1 /v2 /v3 /v4"
    assert shape([grid()], CONSOLE_TRAITS, "en") == [FinalText(f"Type: {line}", markdown=False)]
    assert shape([grid()], CONSOLE_TRAITS, "zh") == [FinalText(f"输入：{line}", markdown=False)]
    # Buttons without a typed form are left out; a menu of none leaves nothing.
    menu = ButtonRows(((Button("gpt-4o", "/model gpt-4o"),),))
    assert shape([menu], CONSOLE_TRAITS, "en") == []


def test_captions_are_cut_to_the_platforms_longest() -> None:
    long = "x" * 5000
    image, video = ImageReply(b"png", caption=long), VideoReply(url="u", caption=long)
    tg_image, tg_video = shape([image, video], TELEGRAM, "en")
    assert isinstance(tg_image, ImageReply) and isinstance(tg_video, VideoReply)
    assert len(tg_image.caption) == len(tg_video.caption) == 1024
    assert tg_image.caption.endswith("…")
    small = replace(CONSOLE_TRAITS, max_caption=10)
    (plain,) = shape([image], small, "en")
    assert isinstance(plain, ImageReply) and plain.caption == "x" * 9 + "…"
    short = ImageReply(b"png", caption="short")
    assert shape([short], small, "en") == [short]
    assert cut("abc", 3) == "abc"


def test_a_voice_message_is_an_audio_file_where_there_are_none() -> None:
    voice = AudioReply(b"mp3", "audio/mpeg", voice=True)
    assert shape([voice], TELEGRAM, "en") == [voice]
    assert shape([voice], CONSOLE_TRAITS, "en") == [replace(voice, voice=False)]


def test_buttons_are_chunked_in_one_place() -> None:
    buttons = [Button(str(i), str(i)) for i in range(7)]
    rows = ButtonRows.chunked(buttons, 3).rows
    assert [len(r) for r in rows] == [3, 3, 1] and rows[2][0].label == "6"


def test_every_offered_midjourney_button_has_a_typed_form() -> None:
    forms = {b["customId"].split("::")[2]: typed_form(b["customId"]) for b in grid_buttons("h")}
    assert forms["upsample"] == "/u4" and forms["variation"] == "/v4"
    assert forms["reroll"] == "/reroll"
    offered = {
        b["label"] or b["emoji"]: typed_form(b["customId"])
        for b in upscale_buttons("h")
        if "CustomZoom" not in b["customId"] and "Inpaint" not in b["customId"]
    }
    assert offered == {
        "Upscale (Subtle)": "/upscale subtle",
        "Upscale (Creative)": "/upscale creative",
        "Vary (Strong)": "/vary strong",
        "Vary (Subtle)": "/vary subtle",
        "Zoom Out 2x": "/zoom 2",
        "Zoom Out 1.5x": "/zoom 1.5",
        "⬅️": "/pan left",
        "➡️": "/pan right",
        "⬆️": "/pan up",
        "⬇️": "/pan down",
        "❤️": "",  # a bookmark: nothing to type, nothing worth typing
    }
    assert typed_form("MJ::JOB::upsample_v5_4x::1::h::SOLO") == "/upscale 4x"
    assert typed_form("MJ::JOB::upsample::1::h") == "/u1"


async def test_job_messages_are_shaped_for_a_platform_without_buttons_or_edits(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "jobs.db", clock=clock)
    await store.open()
    try:
        sink, family, registry = Sink(), FakeFamily(), TraitsRegistry()
        registry.register("test", CONSOLE_TRAITS)

        def runner() -> JobRunner:
            outbox = Outbox()
            outbox.register("test", sink)
            jobs = JobRunner(store, outbox, clock=clock, traits=registry)
            jobs.add_backend(family)
            return jobs

        jobs = runner()
        job = await jobs.submit("fake", "imagine", "k", DEST, "a bird", _returns("task-1"))
        family.states["task-1"] = TaskUpdate("running", 40)
        clock.now += 10
        await jobs.poll_once()
        assert sink.edits == []  # no edits there: progress is not shown
        # The process died while sending the result; the next one offers a resend, typed.
        await jobs.jobs.update(job.id, state=js.DELIVERING, result="BIRD")
        clock.now += 1
        again = runner()
        await again.start()
        await again.stop()
        texts = [e.text for e in sink.sent if isinstance(e, FinalText)]
        assert not any(isinstance(e, ButtonRows) for e in sink.sent)
        assert texts[-2].endswith("If you did not get it, type /resend.")
        assert texts[-1] == f"Type: /resend {job.id}"
    finally:
        await store.close()


def test_a_file_over_the_upload_limit_goes_as_its_link_or_a_note() -> None:
    small = replace(CONSOLE_TRAITS, max_upload_bytes=1_000_000)
    clip = VideoReply(b"v" * 2_000_000, "https://cdn.test/clip.mp4", "video/mp4", "a clip")
    assert shape([clip], small, "en") == [replace(clip, data=None)]
    picture = ImageReply(b"p" * 3_000_000, "image/png", "big")
    assert shape([picture], small, "en") == [
        FinalText("The result is too large to send here (3.0 MB; the limit is 1 MB).", False)
    ]
    fits = ImageReply(b"p" * 1000, "image/png")
    assert shape([fits], small, "zh") == [fits]
