"""RelayClient against FakeRelay over real HTTP: streaming, think/reasoning removal, models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from core.errors import RelayBadResponseError, RelayNetworkError
from core.relay.client import RelayClient, normalize_base_url
from core.relay.types import ChatDelta, ChatEnd, ChatEvent, ChatMessage, Usage
from tests.fake_relay import Cut, FakeRelay, Json, Line, Raw, Stream

KEY = "sk-client-test-0123456789abcdef"
HI = [ChatMessage("user", "hi there")]


@pytest.fixture
async def client(fake_relay: FakeRelay) -> AsyncIterator[RelayClient]:
    async def no_sleep(delay: float) -> None:
        raise AssertionError(f"unexpected retry sleep {delay}")

    async with RelayClient(fake_relay.url, KEY, sleep=no_sleep) as c:
        yield c


async def run(client: RelayClient, model: str = "gpt-test") -> tuple[str, ChatEnd]:
    events: list[ChatEvent] = [e async for e in client.stream_chat(model, HI)]
    *deltas, end = events
    assert isinstance(end, ChatEnd)
    assert all(isinstance(d, ChatDelta) and d.text for d in deltas)
    return "".join(d.text for d in deltas if isinstance(d, ChatDelta)), end


async def test_echo_stream_and_request_shape(client: RelayClient, fake_relay: FakeRelay) -> None:
    image = "data:image/jpeg;base64,AAAA"
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "look", (image,))]
    events = [e async for e in client.stream_chat("gpt-test", messages, max_tokens=64)]
    assert "".join(e.text for e in events if isinstance(e, ChatDelta)) == "echo: look"
    assert len([e for e in events if isinstance(e, ChatDelta)]) == 3
    assert events[-1] == ChatEnd(request_id="req-1", usage=events[-1].usage, finish_reason="stop")
    (req,) = fake_relay.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.json == {
        "model": "gpt-test",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                ],
            },
        ],
    }


async def test_deltas_arrive_as_they_come(client: RelayClient, fake_relay: FakeRelay) -> None:
    hold = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["first", " second", " third"], hold=hold))
    stream = aiter(client.stream_chat("gpt-test", HI))
    first = await asyncio.wait_for(anext(stream), 5)
    assert first == ChatDelta("first")  # the relay is still holding the rest back
    assert not hold.is_set()
    hold.set()
    rest = [e async for e in stream]
    assert [e.text for e in rest if isinstance(e, ChatDelta)] == [" second", " third"]
    assert isinstance(rest[-1], ChatEnd) and not rest[-1].truncated


async def test_streamed_answers_reuse_one_connection(
    client: RelayClient, fake_relay: FakeRelay
) -> None:
    # After [DONE] the client reads the end of the body, so the connection goes back to the
    # pool: no new TCP (or TLS) handshake per answer.
    fake_relay.enqueue(Stream(["one"]), Stream(["two"]), Stream(["three"]))
    assert [(await run(client))[0] for _ in range(3)] == ["one", "two", "three"]
    peers = [r.peer for r in fake_relay.requests]
    assert len(peers) == 3 and peers[0] is not None
    assert peers[1] == peers[0] and peers[2] == peers[0]


async def test_leaving_a_stream_early_closes_it(client: RelayClient, fake_relay: FakeRelay) -> None:
    hold = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["one", "two"], hold=hold))
    stream = client.stream_chat("gpt-test", HI)
    async for event in stream:
        assert event == ChatDelta("one")
        break
    await stream.aclose()  # type: ignore[attr-defined]
    hold.set()
    assert (await run(client))[0] == "echo: hi there"  # the client is still usable


async def test_reasoning_never_reaches_the_answer(client: RelayClient) -> None:
    text, end = await run(client, "fake-reasoner")
    assert text == "The answer is 42."
    assert end.usage is not None and end.usage.reasoning_tokens == 3
    result = await client.chat("fake-reasoner", HI)
    assert result.text == "The answer is 42."


async def test_think_block_split_across_chunks(client: RelayClient) -> None:
    assert (await run(client, "fake-think"))[0] == "Answer"
    assert (await client.chat("fake-think", HI)).text == "Answer"


async def test_unclosed_think_is_dropped(client: RelayClient, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(Stream(chunks=["Visible", "<think>never", " closed"]))
    text, end = await run(client)
    assert text == "Visible" and not end.truncated
    message = {
        "role": "assistant",
        "content": "<think>\nhmm\n</think>\n\nHi!",
        "reasoning_content": "x",
    }
    fake_relay.enqueue(
        Json(200, {"choices": [{"index": 0, "finish_reason": "length", "message": message}]})
    )
    result = await client.chat("gpt-test", HI)
    assert (result.text, result.finish_reason, result.usage) == ("Hi!", "length", None)


async def test_usage_recorded(client: RelayClient, fake_relay: FakeRelay) -> None:
    usage = {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "completion_tokens_details": {"reasoning_tokens": 5},
        "prompt_tokens_details": {},
    }
    fake_relay.enqueue(Stream(chunks=["a", "b"], usage=usage))
    _, end = await run(client)
    assert end.usage == Usage(11, 7, 18, 5)
    fake_relay.enqueue(Stream(chunks=["a"], usage=False))
    assert (await run(client))[1].usage is None


async def test_cut_stream_is_partial_and_truncated(
    client: RelayClient, fake_relay: FakeRelay
) -> None:
    text, end = await run(client, "fake-cut")
    assert text == "This answer is cut"
    assert end.truncated and end.request_id == "req-1"
    fake_relay.enqueue(Stream(chunks=["clean ", "eof"], done=False))  # EOF without [DONE]
    text, end = await run(client)
    assert (text, end.truncated, end.finish_reason) == ("clean eof", True, "stop")
    fake_relay.enqueue(Cut(chunks=["<think>only thoughts"]))
    assert await run(client) == ("", ChatEnd(request_id="req-3", truncated=True))


async def test_cut_non_stream_is_a_network_error(client: RelayClient) -> None:
    with pytest.raises(RelayNetworkError):
        await client.chat("fake-cut", HI)


async def test_keepalive_and_odd_lines_tolerated(
    client: RelayClient, fake_relay: FakeRelay
) -> None:
    assert (await run(client, "fake-keepalive"))[0] == "echo: hi there"
    fake_relay.enqueue(
        Stream(
            keepalive=True,
            chunks=[
                Line("event: ping"),
                Line("data: not json"),
                Line(": PING"),
                {"choices": []},
                {"choices": [{"index": 0, "delta": {"content": None, "tool_calls": None}}]},
                {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
                {"content": "ok", "brand_new_field": {"x": 1}},
                {"weird": True, "choices": "nope"},
            ],
        )
    )
    text, end = await run(client)
    assert text == "ok" and not end.truncated


async def test_stream_answered_with_plain_json(client: RelayClient, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(
        Json(
            200,
            {"choices": [{"index": 0, "message": {"content": "whole"}, "finish_reason": "stop"}]},
        )
    )
    assert await run(client) == ("whole", ChatEnd(request_id="req-1", finish_reason="stop"))


@pytest.mark.parametrize("shape", ["new-api", "one-api"])
async def test_list_models(client: RelayClient, fake_relay: FakeRelay, shape: str) -> None:
    fake_relay.models_shape = shape
    fake_relay.models = ["gpt-4o-mini", "dall-e-3", "suno_music"]
    assert await client.list_models() == ["gpt-4o-mini", "dall-e-3", "suno_music"]
    assert fake_relay.requests[-1].path == "/v1/models"
    assert fake_relay.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"choices": []}', b"[]", b""])
async def test_unreadable_200_is_bad_response(
    client: RelayClient, fake_relay: FakeRelay, body: bytes
) -> None:
    fake_relay.enqueue(Raw(200, body, "text/html"))
    with pytest.raises(RelayBadResponseError) as info:
        await client.chat("gpt-test", HI)
    assert info.value.request_id == "req-1"
    fake_relay.enqueue(Json(200, {"success": False, "message": "x"}))
    with pytest.raises(RelayBadResponseError):
        await client.list_models()


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1//", "  "])
async def test_base_url_forms(fake_relay: FakeRelay, suffix: str) -> None:
    async with RelayClient(fake_relay.url + suffix, KEY) as client:
        await client.list_models()
        await client.chat("gpt-test", HI)
        assert (await run(client))[0] == "echo: hi there"
    assert [r.path for r in fake_relay.requests] == [
        "/v1/models",
        "/v1/chat/completions",
        "/v1/chat/completions",
    ]


def test_normalize_base_url() -> None:
    assert normalize_base_url("https://relay.example.com/v1/") == "https://relay.example.com"
    assert normalize_base_url("https://relay.example.com/api/v1") == "https://relay.example.com/api"
    assert normalize_base_url("https://relay.example.com/") == "https://relay.example.com"


async def test_client_ownership(fake_relay: FakeRelay) -> None:
    async with httpx.AsyncClient() as shared:
        relay = RelayClient(fake_relay.url, KEY, client=shared)
        await relay.start()
        assert (await relay.chat("gpt-test", HI)).text == "echo: hi there"
        await relay.aclose()
        assert not shared.is_closed  # not ours to close
    own = RelayClient(fake_relay.url, KEY)
    await own.start()
    assert await own.list_models()
    await own.aclose()
    await own.aclose()  # idempotent
