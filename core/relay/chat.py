"""Chat on the relay: streamed answers (SSE), one-shot answers, and reading both shapes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from core.errors import RelayBadResponseError, RelayError, RelayTooLargeError
from core.metrics import Metrics
from core.relay.body import BodyLimits, read_body, read_error_body
from core.relay.errors import REQUEST_ID_HEADER
from core.relay.sse import DONE, OverLimit, SSEParser, sse_lines
from core.relay.think import ThinkFilter, strip_think
from core.relay.types import ChatDelta, ChatEnd, ChatEvent, ChatMessage, ChatResult, Usage
from core.relay.wire import chat_body, content_text, error_status, first_choice, parse_usage

__all__ = ["ChatMixin"]

log = logging.getLogger("relaybot.relay")

# A stream read slower than this had to wait for the network; the client then pauses for its
# ``batch_s`` (see ``client.BATCH_S``) before reading on.
_WAITED_S = 0.001
# After ``[DONE]`` the rest of the body (normally only the end of the chunked encoding) is read
# for at most this long, so the connection goes back to the pool instead of being closed: a new
# connection per answer costs a TCP (and on a real relay a TLS) handshake.
_DRAIN_S = 0.1


class ChatMixin:
    """``chat`` and ``stream_chat`` of ``RelayClient``, on top of its transport."""

    if TYPE_CHECKING:  # provided by RelayClient (core/relay/client.py)
        _timeout: httpx.Timeout
        _batch_s: float
        _limits: BodyLimits
        metrics: Metrics

        async def _http(self) -> httpx.AsyncClient: ...
        def _url(self, route: str) -> str: ...
        def _headers(self, *, stream: bool = False) -> dict[str, str]: ...
        def _classify(self, status: int, body: bytes, headers: Mapping[str, str]) -> RelayError: ...
        def _transport_error(self, exc: httpx.HTTPError, request_id: str = "") -> RelayError: ...
        def _bad_response(self, what: str, request_id: str) -> RelayBadResponseError: ...
        async def _retry_or_raise(
            self, exc: RelayError, attempt: int, what: str, *, retry: bool = True
        ) -> None: ...
        async def _request_json(
            self, method: str, route: str, body: Any = None
        ) -> tuple[Any, str]: ...

    def _result(self, data: Any, request_id: str) -> ChatResult:
        if isinstance(data, dict) and data.get("error"):
            status, raw = error_status(data["error"]), json.dumps(data).encode()
            raise self._classify(status, raw, {REQUEST_ID_HEADER: request_id})
        choice = first_choice(data) if isinstance(data, dict) else None
        message = choice.get("message") if choice else None
        if not isinstance(message, dict):
            raise self._bad_response("chat answer without choices[0].message", request_id)
        finish = choice.get("finish_reason") if choice else None
        return ChatResult(
            text=strip_think(content_text(message.get("content"))),
            request_id=request_id,
            usage=parse_usage(data.get("usage")),
            finish_reason=finish if isinstance(finish, str) else None,
        )

    async def chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> ChatResult:
        """One non-streamed answer, think blocks and reasoning removed."""
        body = chat_body(model, messages, max_tokens, stream=False)
        data, request_id = await self._request_json("POST", "chat/completions", body)
        return self._result(data, request_id)

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        """Answer text as it arrives (``ChatDelta``s), then exactly one ``ChatEnd``."""
        http = await self._http()
        body = chat_body(model, messages, max_tokens, stream=True)
        attempt = 0
        while True:
            opened = False
            try:
                async with http.stream(
                    "POST",
                    self._url("chat/completions"),
                    json=body,
                    headers=self._headers(stream=True),
                    timeout=self._timeout,
                ) as resp:
                    if not resp.is_success:
                        raw = await read_error_body(resp, self._limits.error)
                        raise self._classify(resp.status_code, raw, resp.headers)
                    opened = True  # from here on: no retry, whatever happens
                    self.metrics.relay_request("chat", model, "")
                    async for event in self._events(resp):
                        yield event
                    return
            except httpx.HTTPError as exc:  # failed to connect or to send the request
                if opened:
                    raise self._transport_error(exc) from None
                error: RelayError = self._transport_error(exc)
            except RelayError as exc:
                if opened:
                    raise
                error = exc
            self.metrics.relay_request("chat", model, error.code)
            await self._retry_or_raise(error, attempt, "POST /v1/chat/completions (stream)")
            attempt += 1

    async def _events(self, resp: httpx.Response) -> AsyncIterator[ChatEvent]:
        """Events of one opened 200 response; never raises for a stream cut after text."""
        request_id = resp.headers.get(REQUEST_ID_HEADER, "")
        if "application/json" in resp.headers.get("content-type", ""):
            # The upstream ignored stream=true and answered in one JSON document.
            what = "JSON answer to a stream request"
            try:
                data = json.loads(await read_body(resp, self._limits.body, what, request_id))
            except (ValueError, httpx.HTTPError):
                what = "unreadable JSON answer to a stream request"
                raise self._bad_response(what, request_id) from None
            result = self._result(data, request_id)
            if result.text:
                yield ChatDelta(result.text)
            yield ChatEnd(request_id, result.usage, result.finish_reason, truncated=False)
            return
        parser, think = SSEParser(), ThinkFilter()
        usage: Usage | None = None
        finish: str | None = None
        done = got_text = parsed = False
        loop = asyncio.get_running_loop()
        limits = self._limits
        lines = sse_lines(resp.aiter_bytes(), max_line=limits.sse_line, max_total=limits.stream)
        try:
            while True:
                started = loop.time()
                try:
                    line = await anext(lines)
                except StopAsyncIteration:
                    break
                except OverLimit as exc:
                    if not got_text:
                        what = f"SSE {exc.what}"
                        raise RelayTooLargeError(what, exc.limit, request_id=request_id) from None
                    # Keep what was said; the answer ends there as cut off (and is closed).
                    log.warning(
                        "relay stream %s over %d, cut there; request id %s",
                        exc.what, exc.limit, request_id or "-",
                    )
                    break
                waited = self._batch_s > 0 and loop.time() - started > _WAITED_S
                payload = parser.feed(line)
                if payload is None:
                    continue
                if payload is DONE:
                    done = True
                    break
                parsed = True
                err = payload.get("error")
                if err:
                    if not got_text:
                        raise self._classify(
                            error_status(err), json.dumps(payload).encode(), resp.headers
                        )
                    log.warning("relay stream error after text, request id %s", request_id or "-")
                    break
                usage = parse_usage(payload.get("usage")) or usage
                choice = first_choice(payload)
                if choice is None:
                    continue
                if isinstance(choice.get("finish_reason"), str):
                    finish = choice["finish_reason"]
                delta = choice.get("delta")
                if not isinstance(delta, dict):
                    continue
                text = think.feed(content_text(delta.get("content")))
                if text:
                    got_text = True
                    yield ChatDelta(text)
                if waited:
                    await asyncio.sleep(self._batch_s)
            if done:
                await _drain(lines)
        except httpx.TimeoutException as exc:
            if not got_text:
                raise self._transport_error(exc, request_id) from None
        except (httpx.TransportError, httpx.DecodingError):
            pass  # connection cut mid-body: a truncated answer
        finally:
            await lines.aclose()
        rest = think.flush()
        if rest:
            yield ChatDelta(rest)
        if not done and not parsed:
            # Nothing usable arrived (an HTML page with status 200, a connection closed at
            # once): that is a failed call, not a "cut off" answer with nothing above it.
            raise self._bad_response("stream ended before any answer", request_id)
        if not done:
            log.warning("relay stream ended without [DONE], request id %s", request_id or "-")
        yield ChatEnd(request_id, usage, finish, truncated=not done)


async def _drain(lines: AsyncIterator[str]) -> None:
    """Read (and ignore) what follows ``[DONE]``, bounded by ``_DRAIN_S`` and the stream's cap."""
    try:
        async with asyncio.timeout(_DRAIN_S):
            async for _ in lines:
                pass
    except (TimeoutError, OverLimit, httpx.HTTPError):
        pass  # the connection is closed instead of reused, as without draining
