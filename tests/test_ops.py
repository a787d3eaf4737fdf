"""Issue 13: /healthz and /metrics over real HTTP while the bot answers through the fake
Telegram; the counters move by the right amounts; a stopped relay turns health to 503."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.app import App, build_adapters, serve
from bots.ops.metrics import PrometheusMetrics
from bots.ops.reload import ConfigReloader
from bots.platforms import SECTIONS
from core.config.settings import Settings, load_config
from core.jobs.runner import JobRunner, TaskUpdate
from core.logs import QUIET_LOGGERS, RedactingFormatter
from core.platform.outbox import Outbox
from core.storage.sqlite import SqliteStore
from tests.conftest import TEST_KEY, write_config
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import JOBS, USER, free_port, telegram_config, texts
from tests.test_jobs import DEST, Clock, FakeFamily, Sink, _returns, poll

METRICS_TOKEN = "metrics-TOKEN-secret-42"
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def http_section(port: int, *, metrics: bool = True, token: str = METRICS_TOKEN) -> str:
    return (
        "http:\n  listen: 127.0.0.1\n"
        f"  port: {port}\n  metrics: {str(metrics).lower()}\n  metrics_token: {token}\n"
    )


def config_text(tmp_path: Path, relay: FakeRelay, fake: FakeTelegram, extra: str = "") -> Path:
    return write_config(tmp_path, relay.url, JOBS + telegram_config(fake) + extra)


def loader(path: Path) -> Callable[[], Settings]:
    return lambda: load_config(path, {"RELAY_API_KEY": TEST_KEY}, sections=SECTIONS)


@asynccontextmanager
async def running(path: Path, fake: FakeTelegram) -> AsyncIterator[tuple[App, ConfigReloader]]:
    """``relaybot run`` in-process with operations routes and the config reloader. Logger
    levels a reload sets are put back afterwards (they are process-wide)."""
    names = ("", "relaybot", *QUIET_LOGGERS)
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        async with _running(path, fake) as running_app:
            yield running_app
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@asynccontextmanager
async def _running(path: Path, fake: FakeTelegram) -> AsyncIterator[tuple[App, ConfigReloader]]:
    settings = loader(path)()
    stop = asyncio.Event()
    async with App(settings) as app:
        adapters = build_adapters(app, ["telegram"])
        reloader = app.reloader(str(path), loader(path))
        serving = asyncio.create_task(
            serve(
                adapters,
                stop=stop,
                jobs=app.jobs,
                http=app.http,
                ops=app.ops_routes,
                reloader=reloader,
            )
        )
        try:
            polling = lambda: any(c.method == "getUpdates" for c in fake.calls)  # noqa: E731
            await fake.wait_for(lambda: polling() or serving.done())
            await fake.wait_for(lambda: app.jobs.poller is not None or serving.done())
            if serving.done():
                serving.result()
            yield app, reloader
        finally:
            stop.set()
            await asyncio.wait_for(serving, 30)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with exactly ``labels`` in Prometheus ``text`` (0 if none)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


async def get_metrics(client: httpx.AsyncClient, port: int) -> str:
    resp = await client.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return resp.text


async def test_health_and_metrics_follow_answers_and_the_relay(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    port = free_port()
    path = config_text(tmp_path, fake_relay, fake, http_section(port) + "reload_check_s: 0\n")
    async with running(path, fake) as (app, reloader), httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200, health.text
        assert health.json() == {
            "status": "ok",
            "parts": {
                "database": "ok",
                "relay": "ok",
                "platforms": {"telegram": "ok"},
                "job_poller": "ok",
            },
        }
        # The token protects /metrics: none, or a wrong one, is refused.
        url = f"http://127.0.0.1:{port}/metrics"
        assert (await client.get(url)).status_code == 401
        wrong = await client.get(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and METRICS_TOKEN not in wrong.text
        before = await get_metrics(client, port)

        fake_relay.enqueue(
            Stream(chunks=["One"], usage=USAGE), Stream(chunks=["Two"], usage=USAGE)
        )
        fake.send_text(USER, "first question")
        await fake.wait_for(lambda: texts(fake, USER) == ["One"])
        fake.send_text(USER, "second question")
        await fake.wait_for(lambda: texts(fake, USER) == ["One", "Two"])
        await fake.wait_for(lambda: app.engine.in_flight == 0)
        after = await get_metrics(client, port)

        def moved(name: str, **labels: str) -> float:
            return sample(after, name, **labels) - sample(before, name, **labels)

        assert moved("relaybot_messages_in_total", platform="telegram") == 2
        answers = {"platform": "telegram", "model": "gpt-test", "outcome": "ok"}
        assert moved("relaybot_answers_total", **answers) == 2
        assert moved("relaybot_answer_latency_seconds_count", phase="first_text") == 2
        assert moved("relaybot_answer_latency_seconds_count", phase="final_text") == 2
        assert moved("relaybot_tokens_total", model="gpt-test", kind="prompt") == 22
        assert moved("relaybot_tokens_total", model="gpt-test", kind="completion") == 14
        assert moved("relaybot_relay_requests_total", kind="chat", model="gpt-test") == 2
        sends = len(fake.calls_to("sendMessage", ok=True))
        calls = moved("relaybot_platform_api_calls_total", platform="telegram", outcome="ok")
        assert calls >= sends

        # The relay goes away: health says so (503) and names the part; the errors count.
        app.health.fresh_s = 0  # ask the relay on every look, not only when it went quiet
        await fake_relay.stop()
        down = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert down.status_code == 503
        assert down.json()["status"] == "down"
        assert down.json()["parts"]["relay"].startswith("unreachable")
        assert down.json()["parts"]["database"] == "ok"
        errors = await get_metrics(client, port)
        unreachable = {"kind": "models", "model": "-", "code": "relay_network"}
        assert sample(errors, "relaybot_relay_errors_total", **unreachable) >= 1

        # A relay comes back (here at a new address, given by a config reload): 200 again.
        async with FakeRelay() as relay2:
            path.write_text(path.read_text().replace(fake_relay.url, relay2.url))
            assert await reloader.check() == "applied"
            up = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert up.status_code == 200, up.text
            assert relay2.requests  # the new address was asked


async def test_no_http_server_unless_configured(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    path = config_text(tmp_path, fake_relay, fake)
    async with running(path, fake) as (app, _):
        assert not app.http.needed  # neither health nor metrics: no port opened


async def test_health_alone_serves_healthz_without_metrics(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    port = free_port()
    extra = f"http:\n  port: {port}\n  health: true\n"
    path = config_text(tmp_path, fake_relay, fake, extra)
    async with running(path, fake), httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 404


async def test_json_logs_carry_the_answer_fields_without_the_text(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    path = config_text(tmp_path, fake_relay, fake)
    formatter = RedactingFormatter([TEST_KEY], as_json=True)
    caplog.set_level(logging.INFO, logger="relaybot")
    async with running(path, fake):
        fake_relay.enqueue(Stream(chunks=["Fine answer"], usage=USAGE))
        fake.send_text(USER, "my very private question")
        await fake.wait_for(lambda: texts(fake, USER) == ["Fine answer"])
        await fake.wait_for(lambda: any(" answer " in f" {r.getMessage()}" for r in caplog.records))
    record = next(r for r in caplog.records if r.getMessage().startswith("answer "))
    entry = json.loads(formatter.format(record))
    assert entry["platform"] == "telegram" and entry["model"] == "gpt-test"
    assert entry["prompt_tokens"] == 11 and entry["completion_tokens"] == 7
    assert entry["outcome"] == "ok" and isinstance(entry["ms"], int)
    assert len(entry["conv"]) == 12 and str(USER) not in entry["conv"]
    for r in caplog.records:
        if r.levelno >= logging.INFO:
            assert "private question" not in r.getMessage()
            assert "Fine answer" not in r.getMessage()


async def test_jobs_and_deliveries_are_counted_by_family_and_state(tmp_path: Path) -> None:
    clock, sink, family, metrics = Clock(), Sink(), FakeFamily(), PrometheusMetrics()
    store = SqliteStore(tmp_path / "jobs.db", clock=clock)
    await store.open()
    try:
        outbox = Outbox()
        outbox.register("test", sink)
        jobs = JobRunner(store, outbox, clock=clock, metrics=metrics)
        jobs.add_backend(family)
        await jobs.submit("fake", "imagine", "k", DEST, "ok", _returns("t1"))
        await jobs.submit("fake", "imagine", "k", DEST, "bad", _returns("t2"))
        family.states["t1"] = TaskUpdate("done", 100, result="PNGDATA")
        family.states["t2"] = TaskUpdate("failed", error="banned")
        clock.now += 5
        await poll(jobs)
    finally:
        await store.close()

    def count(counter: object, *labels: str) -> float:
        return float(counter.labels(*labels)._value.get())  # type: ignore[attr-defined]

    assert count(metrics.jobs, "fake", "submitted") == 2
    assert count(metrics.jobs, "fake", "delivered") == 1
    assert count(metrics.jobs, "fake", "failed") == 1
    assert count(metrics.deliveries, "test", "ok") == 1


async def test_a_429_counts_as_rate_limited_and_its_flood_wait(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    path = config_text(tmp_path, fake_relay, fake)
    async with running(path, fake) as (app, _):
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        fake_relay.enqueue(Stream(chunks=["Waited"]))
        fake.send_text(USER, "hi")
        await fake.wait_for(lambda: texts(fake, USER) == ["Waited"])
        m = app.metrics
        assert m.rate_limited.labels("telegram")._value.get() == 1
        assert m.platform_calls.labels("telegram", "rate_limited")._value.get() == 1
        assert m.flood_waits.labels("telegram")._value.get() == 1
        assert m.flood_wait_seconds.labels("telegram")._value.get() == 1
