"""The WeChat bridge API v1 through real HTTP on loopback: relaybot's own start-up path (App,
build_adapters, serve) with the fake relay behind it, talked to with httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.app import App, build_adapters, serve
from bots.wechat.adapter import WeChatAdapter
from core.config.settings import Settings
from core.platform.outbox import Destination
from core.platform.types import FinalText
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, Stream
from tests.pictures import picture
from tests.telegram_harness import JOBS, free_port

TOKEN = "cow-bridge-token-0123456789"
OLD_TOKEN = "cow-bridge-old-token-987654"


def wechat_settings(tmp_path: Path, relay: FakeRelay, extra: str = "", port: int = 0) -> Settings:
    port = port or free_port()
    section = (
        f"http:\n  listen: 127.0.0.1\n  port: {port}\n"
        "wechat:\n  enabled: true\n"
        f"  token: {TOKEN}\n  token_previous: {OLD_TOKEN}\n{extra}"
    )
    return make_settings(tmp_path, relay.url, JOBS + section)


@dataclass
class Bridge:
    app: App
    adapter: WeChatAdapter
    url: str  # .../bridge/cow/v1
    client: httpx.AsyncClient

    def headers(self, token: str = TOKEN, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}

    async def post(self, body: dict[str, Any], token: str = TOKEN) -> httpx.Response:
        key = {"Idempotency-Key": str(body.get("message_id", ""))}
        return await self.client.post(
            f"{self.url}/messages", json=body, headers=self.headers(token, **key)
        )

    async def outbox(self, wait: float = 0, limit: int = 20) -> list[dict[str, Any]]:
        reply = await self.client.get(
            f"{self.url}/outbox", params={"wait": wait, "limit": limit}, headers=self.headers()
        )
        assert reply.status_code == 200, reply.text
        deliveries: list[dict[str, Any]] = reply.json()["deliveries"]
        return deliveries

    async def ack(self, *ids: str) -> int:
        reply = await self.client.post(
            f"{self.url}/outbox/ack",
            json={"delivery_ids": list(ids), "results": {i: "sent" for i in ids}},
            headers=self.headers(),
        )
        assert reply.status_code == 200, reply.text
        return int(reply.json()["acked"])


@asynccontextmanager
async def running_bridge(settings: Settings) -> AsyncIterator[Bridge]:
    """``relaybot run`` in-process with the wechat platform; the bridge answers on loopback."""
    stop = asyncio.Event()
    async with App(settings) as app:
        adapters = build_adapters(app, ["wechat"])
        serving = asyncio.create_task(serve(adapters, stop=stop, jobs=app.jobs, http=app.http))
        url = f"{settings.http.base_url()}/bridge/cow/v1"
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                bridge = Bridge(app, adapters[0], url, client)  # type: ignore[arg-type]

                async def healthy() -> bool:
                    try:
                        got = await client.get(f"{url}/health", headers=bridge.headers())
                    except httpx.TransportError:
                        return False
                    return got.status_code == 200

                await until(healthy)
                yield bridge
            finally:
                stop.set()
                await asyncio.wait_for(serving, 30)


async def until(check: Callable[[], Any], limit_s: float = 15) -> None:
    """Wait until ``check()`` (sync or async) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def message(
    text: str,
    message_id: str = "cow:weixin:1",
    *,
    sender: str = "wxid_alice",
    chat: dict[str, Any] | None = None,
    channel: str = "weixin",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message_id,
        "sent_at": int(time.time()),
        "source": {"bridge": "cow", "cow_version": "2.0.8", "channel": channel},
        "chat": chat or {"id": sender, "type": "private"},
        "sender": {"id": sender, "name": "Alice", "id_stable": True},
        "mentioned": False,
        "origin": "text",
        "text": text,
        "quote": None,
        "attachments": [],
        "capabilities": {"image": True, "video": True, "file": True, "max_text_chars": 4000},
        "conversation_ref": {"channel": channel, "receiver": sender, "isgroup": False},
    }
    body.update(extra)
    return body


def chat_requests(relay: FakeRelay) -> list[Any]:
    return [r for r in relay.requests if r.path == "/v1/chat/completions"]


async def test_a_text_message_gets_a_plain_text_answer(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Stream(chunks=["## Cats\n**Cats** purr. See [this](https://e.org/c)."]))
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        reply = await bridge.post(message("tell me about cats"))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["replies"] == [
            {"type": "text", "text": "Cats\nCats purr. See this (https://e.org/c)."}
        ]
        assert body["jobs"] == [] and body["request_id"].startswith("r_")
        turns = await bridge.app.store.recent_turns("wechat:u:weixin:wxid_alice", 10)
        assert [t.content for t in turns][0] == "tell me about cats"  # keyed channel + sender
    sent = chat_requests(fake_relay)[0].json["messages"]
    assert sent[-1]["content"] == "tell me about cats"


async def test_a_long_answer_is_split_at_the_channels_limit(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Stream(chunks=["One sentence here. " * 20]))
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        body = message("long please", capabilities={"max_text_chars": 100})
        replies = (await bridge.post(body)).json()["replies"]
    assert len(replies) >= 4 and all(len(r["text"]) <= 100 for r in replies)
    assert " ".join(r["text"] for r in replies).split() == ("One sentence here. " * 20).split()


async def test_the_same_message_id_twice_is_answered_once_with_the_same_reply(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        first, second = await asyncio.gather(
            bridge.post(message("hello there", "cow:weixin:77")),
            bridge.post(message("hello there", "cow:weixin:77")),
        )
        third = await bridge.post(message("hello there", "cow:weixin:77"))
        assert first.status_code == second.status_code == third.status_code == 200
        assert first.json() == second.json() == third.json()
        assert first.json()["replies"] == [{"type": "text", "text": "echo: hello there"}]
        assert len(chat_requests(fake_relay)) == 1
        other = await bridge.post(message("hello there", "cow:weixin:78"))
        assert other.json()["request_id"] != first.json()["request_id"]
    assert len(chat_requests(fake_relay)) == 2


async def test_a_missing_or_wrong_token_is_refused_and_touches_nothing(
    tmp_path: Path, fake_relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        url = bridge.url
        no_token = await bridge.client.post(f"{url}/messages", json=message("hi"))
        wrong = await bridge.post(message("hi"), token="cow-bridge-token-0123456780")
        poll = await bridge.client.get(f"{url}/outbox", headers={"Authorization": "Bearer nope"})
        job = await bridge.client.get(f"{url}/jobs/j_1")
        assert [r.status_code for r in (no_token, wrong, poll, job)] == [401] * 4
        assert TOKEN not in wrong.text
        rows = await bridge.app.store.query("SELECT COUNT(*) FROM wechat_messages")
        assert rows[0][0] == 0 and chat_requests(fake_relay) == []
        # the previous token still works during a rotation
        old = await bridge.post(message("hi", "cow:weixin:2"), token=OLD_TOKEN)
        assert old.status_code == 200
    assert TOKEN not in caplog.text and OLD_TOKEN not in caplog.text


async def test_bad_bodies_get_400_with_a_reason_and_oversized_ones_413(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = wechat_settings(tmp_path, fake_relay, "  max_attachment_mb: 0.001\n")
    async with running_bridge(settings) as bridge:
        headers = bridge.headers()
        url = f"{bridge.url}/messages"
        not_json = await bridge.client.post(url, content=b"{oops", headers=headers)
        assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
        no_sender = message("hi")
        del no_sender["sender"]
        bad = await bridge.post(no_sender)
        assert bad.status_code == 400 and "sender" in bad.json()["error"]
        mismatch = await bridge.client.post(
            url, json=message("hi"), headers={**headers, "Idempotency-Key": "other"}
        )
        assert mismatch.status_code == 400 and "Idempotency-Key" in mismatch.json()["error"]
        big = base64.b64encode(b"x" * 5000).decode()
        attachment = {"kind": "image", "mime": "image/jpeg", "filename": "a.jpg", "data_b64": big}
        too_big = await bridge.post(message("hi", attachments=[attachment]))
        assert too_big.status_code == 413
        bad_wait = await bridge.client.get(
            f"{bridge.url}/outbox", params={"wait": "soon"}, headers=headers
        )
        assert bad_wait.status_code == 400
    assert chat_requests(fake_relay) == []


async def collect_until(
    bridge: Bridge, done: Callable[[list[dict[str, Any]]], bool], limit: int = 40
) -> list[dict[str, Any]]:
    """Poll (and ack) the outbox until ``done(deliveries so far)``."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        got = await bridge.outbox(wait=5)
        if got:
            await bridge.ack(*[d["delivery_id"] for d in got])
            seen += got
        if done(seen):
            return seen
    raise AssertionError(f"outbox never had what was expected: {seen}")


def images_in(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for d in deliveries for p in d["parts"] if p["type"] == "image"]


async def test_midjourney_arrives_later_through_the_outbox_with_a_signed_link(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        reply = (await bridge.post(message("/img -m mj a fox in the snow"))).json()
        assert reply["jobs"][0]["job_id"] == "j_1" and reply["jobs"][0]["kind"] == "midjourney"
        assert any("queued" in p["text"] for p in reply["replies"])  # the ack comes at once
        deliveries = await collect_until(bridge, lambda seen: bool(images_in(seen)))
        grid = next(d for d in deliveries if images_in([d]))
        assert grid["job_id"] == "j_1" and grid["status"] == "succeeded"
        assert grid["chat_id"] == grid["sender_id"] == "wxid_alice"
        assert grid["conversation_ref"]["receiver"] == "wxid_alice"
        image = images_in([grid])[0]
        assert image["url"].startswith(bridge.app.settings.http.base_url() + "/bridge/cow/v1/")
        async with httpx.AsyncClient() as plain:  # a plain GET, no headers at all
            got = await plain.get(image["url"])
            assert got.status_code == 200 and got.content.startswith(b"\x89PNG")
            assert got.headers["content-type"] == "image/png"
            url = image["url"]
            altered_sig = url[:-1] + ("0" if url[-1] != "0" else "1")
            altered_exp = url.replace("exp=", "exp=9")
            altered_id = url.replace("/media/", "/media/0")
            for bad in (altered_sig, altered_exp, altered_id):
                assert (await plain.get(bad)).status_code == 403
            media_id, name = url.split("/media/")[1].split("?")[0].split("/")
            expired = bridge.adapter.signer.url(media_id, name, int(time.time()) - 1)
            assert (await plain.get(expired)).status_code == 403
            later = bridge.adapter.signer.url(media_id, name, int(time.time()) + 60)
            assert (await plain.get(later)).status_code == 200  # the same, signed and valid
        job = await bridge.client.get(f"{bridge.url}/jobs/j_1", headers=bridge.headers())
        assert job.json()["status"] == "succeeded" and images_in([job.json()])
        typed = [p["text"] for d in deliveries for p in d["parts"] if p["type"] == "text"]
        assert any("/u1" in t for t in typed)  # no buttons: their typed forms
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_an_unacked_delivery_is_offered_again_and_an_acked_one_never(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = wechat_settings(tmp_path, fake_relay, "  visibility_timeout_s: 0.5\n")
    async with running_bridge(settings) as bridge:
        await bridge.post(message("hi"))
        dest = Destination("wechat", "weixin:wxid_alice", "weixin:wxid_alice", "en")
        await bridge.app.outbox.send(dest, [FinalText("late **news**")])
        first = await bridge.outbox(wait=5)
        assert [p["text"] for p in first[0]["parts"]] == ["late news"]
        assert await bridge.outbox(wait=0) == []  # leased: hidden while the plugin works
        again = await bridge.outbox(wait=10)  # not acked: back after the visibility timeout
        assert [d["delivery_id"] for d in again] == [first[0]["delivery_id"]]
        assert await bridge.ack(first[0]["delivery_id"]) == 1
        assert await bridge.ack(first[0]["delivery_id"]) == 0
        assert await bridge.outbox(wait=1) == []


async def test_a_restart_between_the_result_and_the_poll_loses_nothing(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = wechat_settings(tmp_path, fake_relay)
    async with running_bridge(settings) as bridge:
        await bridge.post(message("/img -m mj a castle"))

        async def delivered() -> bool:
            job = await bridge.app.jobs.jobs.get(1)
            return job is not None and job.state == "delivered"

        await until(delivered)
    async with running_bridge(settings) as bridge:  # nobody polled before the restart
        deliveries = await collect_until(bridge, lambda seen: bool(images_in(seen)))
        async with httpx.AsyncClient() as plain:
            got = await plain.get(images_in(deliveries)[0]["url"])
        assert got.status_code == 200 and got.content.startswith(b"\x89PNG")
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_a_photo_then_vision_and_a_group_with_its_own_key(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    photo = base64.b64encode(picture()).decode()
    attachment = {"kind": "image", "mime": "image/png", "filename": "p.png", "data_b64": photo}
    group = {"id": "room1@chatroom", "type": "group", "title": "Test"}
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        saved = await bridge.post(
            message("", "m1", chat=group, origin="image", attachments=[attachment])
        )
        assert saved.status_code == 200 and saved.json()["replies"][0]["type"] == "text"
        asked = await bridge.post(message("/vision what is it?", "m2", chat=group))
        assert asked.json()["replies"][0]["text"].startswith("echo: what is it?")
        turns = await bridge.app.store.recent_turns(
            "wechat:g:weixin:room1@chatroom:u:weixin:wxid_alice", 10
        )
        assert turns  # per_user group mode: the group and the member
    vision = chat_requests(fake_relay)[-1].json["messages"][-1]["content"]
    assert any(part.get("type") == "image_url" for part in vision)


async def test_a_quote_and_leftover_markers_are_handled(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        text = "[引用: the sky is green]\n[图片: /tmp/cow/x.jpg]\nis that true?"
        reply = await bridge.post(message(text))
        assert reply.status_code == 200
    sent = chat_requests(fake_relay)[-1].json["messages"][-1]["content"]
    assert "the sky is green" in sent and "/tmp/cow" not in sent and "is that true?" in sent


@pytest.mark.parametrize("path", ["/health", "/jobs/j_9"])
async def test_other_routes_need_the_token(
    tmp_path: Path, fake_relay: FakeRelay, path: str
) -> None:
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        assert (await bridge.client.get(bridge.url + path)).status_code == 401
        ok = await bridge.client.get(bridge.url + path, headers=bridge.headers())
        assert ok.status_code == (200 if path == "/health" else 404)
        if path == "/health":
            assert json.loads(ok.text)["api"] == "v1"


async def test_an_answer_slower_than_answer_within_s_follows_through_the_outbox(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["slow ", "answer"], hold=release))
    settings = wechat_settings(tmp_path, fake_relay, "  answer_within_s: 0.3\n")
    async with running_bridge(settings) as bridge:
        reply = (await bridge.post(message("think hard"))).json()
        assert reply["replies"] == [
            {"type": "text", "text": "Still working on it; the answer will follow by itself."}
        ]
        assert reply["jobs"] == [
            {"job_id": reply["request_id"], "kind": "answer", "status": "running", "eta_s": None}
        ]
        release.set()
        deliveries = await collect_until(bridge, lambda seen: bool(seen))
        assert deliveries[0]["job_id"] == reply["request_id"]
        assert deliveries[0]["parts"] == [{"type": "text", "text": "slow answer"}]
        job = await bridge.client.get(
            f"{bridge.url}/jobs/{reply['request_id']}", headers=bridge.headers()
        )
        assert job.json()["status"] == "succeeded"
        again = await bridge.post(message("think hard"))  # the same message: the same reply
        assert again.json() == reply
    assert len(chat_requests(fake_relay)) == 1


async def test_an_attachment_under_the_cap_passes_whatever_the_servers_own_body_limit(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    data = base64.b64encode(bytes(range(256)) * 8000).decode()  # 2 MB, over aiohttp's 1 MB
    attachment = {"kind": "file", "mime": "application/pdf", "filename": "a.pdf", "data_b64": data}
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        reply = await bridge.post(message("", attachments=[attachment], origin="file"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["replies"][0]["type"] == "text"  # "files are not supported here"


async def test_a_group_shared_by_override_has_one_history_for_its_members(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = 'chat:\n  group_overrides:\n    "wechat:wecom_bot:room9": shared\n'
    settings = make_settings(
        tmp_path,
        fake_relay.url,
        JOBS
        + extra
        + f"http:\n  port: {free_port()}\nwechat:\n  enabled: true\n  token: {TOKEN}\n",
    )
    group = {"id": "room9", "type": "group"}
    async with running_bridge(settings) as bridge:
        for n, who in enumerate(("alice", "bob")):
            body = message(f"hi from {who}", f"g{n}", sender=who, chat=group, channel="wecom_bot")
            assert (await bridge.post(body)).status_code == 200
        turns = await bridge.app.store.recent_turns("wechat:g:wecom_bot:room9", 10)
    assert [t.content for t in turns if t.role == "user"] == ["hi from alice", "hi from bob"]


async def test_a_message_a_previous_run_began_is_not_answered_again(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with running_bridge(wechat_settings(tmp_path, fake_relay)) as bridge:
        # the process stopped between taking the message and storing its reply
        assert await bridge.adapter._bridge.claim("cow", "cow:weixin:5", "r_earlier")
        reply = await bridge.post(message("hello?", "cow:weixin:5"))
        assert reply.json() == {
            "request_id": "r_earlier",
            "replies": [],
            "jobs": [],
            "duplicate": True,
        }
    assert chat_requests(fake_relay) == []
