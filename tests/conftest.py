"""Shared fixtures: a fake relay on loopback, settings pointing at it, a running App."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import App
from bots.platforms import SECTIONS
from core.config.settings import Settings, parse_config
from core.jobs.store import Job
from core.platform.outbox import Destination
from core.platform.traits import PlatformTraits
from core.platform.types import IncomingMessage, ReplyEvent
from tests.fake_relay import FakeRelay

TEST_KEY = "sk-test-SECRET-relay-key-0123456789"
# The "test" platform of engine tests has everything: buttons, edits (answers stream), voice.
TEST_TRAITS = PlatformTraits(
    buttons=True,
    edits=True,
    max_text=4096,
    max_caption=1024,
    markdown="plain",
    voice_format="ogg_opus",
    max_upload_bytes=50_000_000,
)


def write_config(tmp_path: Path, relay_url: str, extra: str = "", storage: str = "") -> Path:
    """A config file for tests: the fake relay, a database under ``tmp_path`` (or the
    ``storage`` section's lines, e.g. ``"  url: postgresql://..."``), fast retries."""
    storage = storage or f"  path: {tmp_path / 'data' / 'bot.db'}"
    text = f"""
language: en
relay:
  base_url: {relay_url}
  api_key: ${{RELAY_API_KEY}}
  timeout_s: 10
  retry_backoff_s: 0.001
storage:
{storage}
models:
  chat: gpt-test
  chat_choices: [gpt-test, fake-think, fake-reasoner, fake-cut, fake-keepalive]
  # -m is allow-listed (issue 12): the models the tests name, plus "foo" for bad-model tests.
  image_choices: [dall-e-3, dall-e-2, gpt-image-1, mj, ideogram, flux-pro-ultra]
  video_choices: [luma, kling-v1, gen3a_turbo, gen4_turbo, foo]
{extra}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def make_settings(
    tmp_path: Path, relay_url: str, extra: str = "", storage: str = ""
) -> Settings:
    path = write_config(tmp_path, relay_url, extra, storage)
    text = path.read_text(encoding="utf-8")
    return parse_config(text, str(path), {"RELAY_API_KEY": TEST_KEY}, sections=SECTIONS)


@pytest.fixture
async def fake_relay() -> AsyncIterator[FakeRelay]:
    async with FakeRelay() as relay:
        yield relay


@pytest.fixture
def settings(tmp_path: Path, fake_relay: FakeRelay) -> Settings:
    return make_settings(tmp_path, fake_relay.url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    app = App(settings)
    app.traits.register("test", TEST_TRAITS)
    await app.start()
    try:
        yield app
    finally:
        await app.stop(drain_timeout=5)


def message(
    text: str,
    *,
    user: str = "u1",
    chat: str | None = None,
    chat_type: str = "private",
    language: str | None = "en",
    platform: str = "test",
    thread: str | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        platform=platform,
        chat_id=chat or user,
        chat_type=chat_type,  # type: ignore[arg-type]
        user_id=user,
        display_name=user.upper(),
        language=language,
        text=text,
        thread_id=thread,
    )


async def collect(app: App, msg: IncomingMessage) -> list[ReplyEvent]:
    return [event async for event in app.engine.handle(msg)]


def finished_job(family: str, kind: str, result: dict[str, object], prompt: str = "a cat") -> Job:
    """A job row whose task finished with ``result``, as a backend's ``result_events`` reads it."""
    return Job(
        id=7,
        family=family,
        kind=kind,
        conv_key="k",
        dest=Destination("test", "c", "u", "en"),
        prompt=prompt,
        state="delivering",
        relay_task_id="t1",
        status_message_id=None,
        progress=100,
        deadline=9e9,
        next_poll_at=0.0,
        attempts=0,
        result=json.dumps(result),
        error=None,
        created_at=0.0,
    )
