"""RelayClient errors over real HTTP: status mapping, retries and backoff, timeouts, key secrecy."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from core.errors import (
    RelayAuthError,
    RelayBadRequestError,
    RelayError,
    RelayForbiddenError,
    RelayNetworkError,
    RelayNoChannelError,
    RelayQuotaError,
    RelayRateLimitError,
    RelayTimeoutError,
    RelayUpstreamError,
)
from core.relay.client import RelayClient
from core.relay.errors import RelayConnectError
from core.relay.types import ChatDelta, ChatEnd, ChatEvent, ChatMessage
from tests.fake_relay import FakeRelay, Json, OpenAIError, Raw, Stream

KEY = "sk-retry-test-SECRET-0123456789"
HI = [ChatMessage("user", "hi")]


class Sleeps(list[float]):
    """A recording ``sleep``: retries are instant and their delays can be asserted."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(fake_relay: FakeRelay, sleeps: Sleeps) -> AsyncIterator[RelayClient]:
    async with RelayClient(
        fake_relay.url, KEY, backoff_s=2.0, sleep=sleeps, jitter=lambda: 0.25
    ) as c:
        yield c


async def stream(client: RelayClient, model: str = "gpt-test") -> list[ChatEvent]:
    return [e async for e in client.stream_chat(model, HI)]


BUILTIN = [
    ("fake-401", RelayAuthError, 401, "无效的令牌"),
    ("fake-403-quota", RelayQuotaError, 403, "pre-consumed quota failed"),
    ("fake-403-model", RelayForbiddenError, 403, "该令牌无权访问模型 fake-403-model"),
    ("fake-503", RelayNoChannelError, 503, "无可用渠道"),
    ("fake-524", RelayTimeoutError, 524, "524: A timeout occurred"),
]


@pytest.mark.parametrize(("model", "cls", "status", "detail"), BUILTIN)
@pytest.mark.parametrize("streamed", [True, False])
async def test_builtin_errors_not_retried(
    client: RelayClient,
    fake_relay: FakeRelay,
    sleeps: Sleeps,
    model: str,
    cls: type[RelayError],
    status: int,
    detail: str,
    streamed: bool,
) -> None:
    with pytest.raises(cls) as info:
        await (stream(client, model) if streamed else client.chat(model, HI))
    assert (info.value.status, info.value.request_id) == (status, "req-1")
    assert detail in info.value.detail and "request id" not in info.value.detail
    assert len(fake_relay.requests) == 1 and sleeps == []


SCRIPTED = [
    (OpenAIError(400, "quota_not_enough", code="quota_not_enough"), RelayQuotaError),
    (OpenAIError(400, "Invalid value: 'foo'", type="invalid_request_error"), RelayBadRequestError),
    (
        Json(
            404, {"error": {"message": "Invalid URL (POST /v1/x)", "type": "invalid_request_error"}}
        ),
        RelayBadRequestError,
    ),
    (OpenAIError(500, "模型价格未配置", code="model_price_error"), RelayBadRequestError),
    (OpenAIError(501, "API not implemented", code="api_not_implemented"), RelayBadRequestError),
    (Raw(504, b"<html><title>504 Gateway Time-out</title></html>", "text/html"), RelayTimeoutError),
    (
        Json(
            400,
            b'{"code":"invalid_request","message":"bad (request id: {request_id})","data":null}',
        ),
        RelayBadRequestError,
    ),
]


@pytest.mark.parametrize(("script", "cls"), SCRIPTED)
async def test_scripted_errors_not_retried(
    client: RelayClient,
    fake_relay: FakeRelay,
    sleeps: Sleeps,
    script: Json | Raw,
    cls: type[RelayError],
) -> None:
    fake_relay.enqueue(script)
    with pytest.raises(cls) as info:
        await stream(client)
    assert info.value.request_id == "req-1" and sleeps == []


@pytest.mark.parametrize("streamed", [True, False])
async def test_429_retried_twice_then_raised(
    client: RelayClient, fake_relay: FakeRelay, sleeps: Sleeps, streamed: bool
) -> None:
    with pytest.raises(RelayRateLimitError) as info:
        await (stream(client, "fake-429") if streamed else client.chat("fake-429", HI))
    assert len(fake_relay.requests) == 3
    assert sleeps == [2.0 * 1 * 0.75, 2.0 * 2 * 0.75]
    assert info.value.request_id == "req-3"


@pytest.mark.parametrize(
    "script",
    [
        OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
        Raw(502, b"<html><title>502 Bad Gateway</title></html>", "text/html"),
        OpenAIError(503, "upstream overloaded"),
        Json(429, {"error": {"message": "当前分组上游负载已饱和，请稍后再试"}}),
    ],
)
async def test_transient_error_then_success(
    client: RelayClient, fake_relay: FakeRelay, sleeps: Sleeps, script: Json | Raw
) -> None:
    fake_relay.enqueue(script)
    events = await stream(client)
    assert "".join(e.text for e in events if isinstance(e, ChatDelta)) == "echo: hi"
    fake_relay.enqueue(script)
    assert (await client.chat("gpt-test", HI)).text == "echo: hi"
    fake_relay.enqueue(script)
    assert await client.list_models()
    assert sleeps == [1.5, 1.5, 1.5] and len(fake_relay.requests) == 6


async def test_no_retry_once_the_stream_started(
    client: RelayClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    error = {"error": {"message": "upstream died", "type": "upstream_error", "code": None}}
    fake_relay.enqueue(Stream(chunks=[error], done=False))
    with pytest.raises(RelayUpstreamError) as info:
        await stream(client)
    assert info.value.request_id == "req-1" and info.value.detail == "upstream died"
    fake_relay.enqueue(Stream(chunks=[{"error": {"message": "slow down", "code": 429}}]))
    with pytest.raises(RelayRateLimitError):
        await stream(client)
    fake_relay.enqueue(Stream(chunks=["partial", error], done=False))
    events = await stream(client)
    assert events == [ChatDelta("partial"), ChatEnd(request_id="req-3", truncated=True)]
    await stream(client, "fake-cut")
    assert sleeps == [] and len(fake_relay.requests) == 4


async def test_read_timeout_mid_stream(fake_relay: FakeRelay, sleeps: Sleeps) -> None:
    hold = asyncio.Event()
    async with RelayClient(fake_relay.url, KEY, timeout_s=0.2, sleep=sleeps) as client:
        fake_relay.enqueue(Stream(chunks=["partial", " never"], hold=hold))
        events = await stream(client)
        assert events == [ChatDelta("partial"), ChatEnd(request_id="req-1", truncated=True)]
        fake_relay.enqueue(Stream(chunks=[{"reasoning_content": "thinking..."}, "x"], hold=hold))
        with pytest.raises(RelayTimeoutError) as info:
            await stream(client)
        assert info.value.request_id == "req-2"
    hold.set()
    assert sleeps == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connect_failure_retried_then_network_error(sleeps: Sleeps) -> None:
    async with RelayClient(
        f"http://127.0.0.1:{closed_port()}/v1", KEY, sleep=sleeps, jitter=lambda: 0.5
    ) as client:
        with pytest.raises(RelayConnectError) as info:
            await stream(client)
        assert isinstance(info.value, RelayNetworkError)
        assert sleeps == [1.0, 2.0]
        with pytest.raises(RelayNetworkError):
            await client.list_models()


async def test_key_never_in_errors_or_logs(
    fake_relay: FakeRelay, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bare = KEY.removeprefix("sk-")
    fake_relay.enqueue(
        OpenAIError(401, f"Incorrect API key provided: {KEY}"),
        Json(429, {"error": {"message": f"key {bare} is rate limited"}}),
        Json(429, {"error": {"message": f"key {bare} is rate limited"}}),
        Json(429, {"error": {"message": f"key {bare} is rate limited"}}),
        Raw(502, f"<html><title>bad gateway for {KEY}</title></html>".encode(), "text/html"),
        Raw(502, KEY.encode()),
        Raw(502, KEY.encode()),
    )
    errors: list[BaseException] = []
    async with RelayClient(fake_relay.url + "/v1/", KEY, sleep=sleeps) as client:
        for call in (
            lambda: stream(client),
            lambda: client.chat("gpt-test", HI),
            lambda: client.list_models(),
        ):
            with pytest.raises(RelayError) as info:
                await call()
            errors.append(info.value)
    async with RelayClient(f"http://127.0.0.1:{closed_port()}", KEY, sleep=sleeps) as client:
        with pytest.raises(RelayNetworkError) as net:
            await client.chat("gpt-test", HI)
        errors.append(net.value)
    assert [type(e) for e in errors] == [
        RelayAuthError,
        RelayRateLimitError,
        RelayUpstreamError,
        RelayConnectError,
    ]
    assert "Incorrect API key provided" in str(errors[0])
    for exc in errors:
        assert bare not in str(exc) and bare not in repr(exc.args)
        assert bare not in getattr(exc, "detail", "")
    assert caplog.records, "retries must be logged"
    assert any(r.levelno == logging.WARNING and r.name == "relaybot.relay" for r in caplog.records)
    assert bare not in caplog.text
    assert "req-2" in caplog.text  # request ids are logged for support tickets


async def test_real_auth_check(sleeps: Sleeps) -> None:
    async with FakeRelay(api_key=KEY) as relay:
        async with RelayClient(relay.url, "sk-wrong-key-000000", sleep=sleeps) as client:
            with pytest.raises(RelayAuthError) as info:
                await client.chat("gpt-test", HI)
            assert info.value.detail == "无效的令牌" and info.value.request_id == "req-1"
        async with RelayClient(relay.url, KEY, sleep=sleeps) as client:
            assert (await client.chat("gpt-test", HI)).text == "echo: hi"
