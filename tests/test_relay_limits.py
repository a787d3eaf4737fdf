"""Size caps on what the relay sends: JSON answers, error bodies, SSE lines and whole streams.

A small aiohttp server on loopback sends bodies that never end; each test fails by hanging
(bounded by ``asyncio.timeout``) if the client reads without a cap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from core.errors import RelayTooLargeError, RelayUpstreamError, user_text
from core.relay.body import BodyLimits
from core.relay.client import RelayClient
from core.relay.sse import OverLimit, sse_lines
from core.relay.types import ChatDelta, ChatEnd, ChatEvent, ChatMessage
from tests.fake_relay import FakeRelay, Json, Raw

KEY = "sk-limits-test-0123456789abcdef"
HI = [ChatMessage("user", "hi")]
SMALL = BodyLimits(body=50_000, error=1_000, sse_line=10_000, stream=200_000)
CHUNK = b"x" * 8192

Handler = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


class EndlessRelay:
    """Answers every request with ``status`` and ``content_type``, then runs ``write``, which
    may write forever: the server stops when the client goes away. ``sent`` counts bytes."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.write: Handler = self.forever(b"x")
        self.requests = 0
        self.sent = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    def forever(self, head: bytes, body: bytes = CHUNK) -> Handler:
        async def write(request: web.Request, resp: web.StreamResponse) -> None:
            await self.send(resp, head)
            while True:
                await self.send(resp, body)

        return write

    async def send(self, resp: web.StreamResponse, data: bytes) -> None:
        await resp.write(data)
        self.sent += len(data)

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        await request.read()
        resp = web.StreamResponse(status=self.status, headers={"Content-Type": self.content_type})
        await resp.prepare(request)
        try:
            await self.write(request, resp)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client stopped reading and closed the connection
        return resp

    async def __aenter__(self) -> EndlessRelay:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def endless() -> AsyncIterator[EndlessRelay]:
    async with EndlessRelay() as server:
        yield server


@pytest.fixture
async def client(endless: EndlessRelay) -> AsyncIterator[RelayClient]:
    async with RelayClient(endless.url, KEY, max_retries=2, limits=SMALL, batch_s=0) as c:
        yield c


async def stream(client: RelayClient) -> list[ChatEvent]:
    async with asyncio.timeout(20):
        return [e async for e in client.stream_chat("gpt-test", HI)]


def chunk(text: str) -> bytes:
    payload = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(payload)}\n\n".encode()


# -- JSON answers -------------------------------------------------------------------------------


async def test_an_endless_json_answer_is_cut_at_the_cap(
    client: RelayClient, endless: EndlessRelay
) -> None:
    async with asyncio.timeout(20):
        with pytest.raises(RelayTooLargeError) as caught:
            await client.list_models()
    assert caught.value.limit == 50_000 and caught.value.code == "relay_too_large"
    assert "GET /v1/models" in caught.value.detail
    assert endless.requests == 1  # never retried: a paid answer may be behind it
    assert user_text(caught.value, "en").startswith("The AI service sent more than the bot")
    assert user_text(caught.value, "zh").startswith("AI 服务返回的内容太大")


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    fake_relay: FakeRelay,
) -> None:
    fake_relay.enqueue(Json(200, {"data": [{"id": "m" * 60_000}]}))
    async with RelayClient(fake_relay.url, KEY, limits=SMALL) as client:
        with pytest.raises(RelayTooLargeError):
            await client.list_models()
        assert await client.list_models()  # the next answer, of normal size, is read


async def test_bytes_answers_are_capped_too(fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(Raw(200, b"\x00" * 60_000, "audio/ogg"))
    async with RelayClient(fake_relay.url, KEY, limits=SMALL) as client:
        with pytest.raises(RelayTooLargeError):
            await client.request_bytes("POST", "/v1/audio/speech", {"input": "hi"})


async def test_an_endless_error_body_is_read_only_as_far_as_needed(
    client: RelayClient, endless: EndlessRelay
) -> None:
    endless.status = 500
    message = b'{"error": {"message": "upstream failed", "type": "x"' + b" " * 5000
    endless.write = endless.forever(message)
    async with asyncio.timeout(20):
        with pytest.raises(RelayUpstreamError) as caught:
            await client.request_json("POST", "/v1/images/generations", {}, retry=False)
    assert caught.value.status == 500
    assert endless.requests == 1


# -- streams ------------------------------------------------------------------------------------


async def test_an_endless_sse_line_is_a_clear_error(
    client: RelayClient, endless: EndlessRelay
) -> None:
    endless.content_type = "text/event-stream"
    endless.write = endless.forever(b'data: {"choices": [{"delta": {"content": "')
    with pytest.raises(RelayTooLargeError) as caught:
        await stream(client)
    assert caught.value.limit == 10_000 and "SSE line" in caught.value.detail
    assert endless.requests == 1


async def test_endless_keep_alives_end_at_the_stream_cap(
    client: RelayClient, endless: EndlessRelay
) -> None:
    endless.content_type = "text/event-stream"
    endless.write = endless.forever(b"", b": keep-alive\n\n" * 500)
    with pytest.raises(RelayTooLargeError) as caught:
        await stream(client)
    assert caught.value.limit == 200_000 and "SSE stream" in caught.value.detail


async def test_an_endless_answer_keeps_its_text_and_ends_as_cut_off(
    client: RelayClient, endless: EndlessRelay
) -> None:
    endless.content_type = "text/event-stream"
    endless.write = endless.forever(chunk("Hello"), chunk(" more") * 100)
    events = await stream(client)
    *deltas, end = events
    text = "".join(d.text for d in deltas if isinstance(d, ChatDelta))
    assert text.startswith("Hello more more") and len(text) < 200_000
    assert isinstance(end, ChatEnd) and end.truncated


async def test_a_huge_json_answer_to_a_stream_request_is_capped(
    client: RelayClient, endless: EndlessRelay
) -> None:
    endless.write = endless.forever(b'{"choices": [{"message": {"content": "')
    with pytest.raises(RelayTooLargeError):
        await stream(client)


async def test_normal_answers_still_pass(fake_relay: FakeRelay) -> None:
    async with RelayClient(fake_relay.url, KEY, limits=SMALL) as client:
        events = [e async for e in client.stream_chat("gpt-test", HI)]
    assert "".join(e.text for e in events if isinstance(e, ChatDelta)) == "echo: hi"


# -- the line splitter --------------------------------------------------------------------------


async def lines_of(chunks: list[bytes], **caps: int) -> list[str]:
    async def source() -> AsyncIterator[bytes]:
        for c in chunks:
            yield c

    limits: dict[str, Any] = {"max_line": 100, "max_total": 10_000, **caps}
    return [line async for line in sse_lines(source(), **limits)]


async def test_lines_split_on_every_line_end_across_chunks() -> None:
    nbsp_ls = b"\xa0" + "\u2028x\n".encode()  # the end of 你, then U+2028
    chunks = [b"data: a\r", b"\ndata: b\rdata: c\n", b"\ndata: \xe4\xbd", nbsp_ls, b"tail"]
    assert await lines_of(chunks) == [
        "data: a",
        "data: b",
        "data: c",
        "",
        "data: 你\u2028x",  # U+2028 is not a line end in SSE (raw in JSON strings is valid)
        "tail",
    ]
    assert await lines_of([b"a\r"]) == ["a"]
    assert await lines_of([]) == []


async def test_line_and_stream_caps() -> None:
    with pytest.raises(OverLimit) as caught:
        await lines_of([b"x" * 60, b"x" * 60])
    assert (caught.value.what, caught.value.limit) == ("line", 100)
    with pytest.raises(OverLimit) as caught:
        await lines_of([b"x\n" * 40] * 200)
    assert (caught.value.what, caught.value.limit) == ("stream", 10_000)
    assert len(await lines_of([b"x" * 100 + b"\n"])) == 1  # at the cap is fine
