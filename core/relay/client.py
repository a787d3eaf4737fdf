"""Async client of the relay: streamed chat, chat, model list, any JSON/multipart route, media."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from core.errors import RelayBadResponseError, RelayError, RelayNetworkError, RelayTimeoutError
from core.relay.download import fetch_media, same_origin
from core.relay.errors import RelayConnectError, classify, is_retryable
from core.relay.sse import DONE, SSEParser
from core.relay.think import ThinkFilter, strip_think
from core.relay.types import ChatDelta, ChatEnd, ChatEvent, ChatMessage, ChatResult, Usage
from core.relay.wire import (
    chat_body,
    content_text,
    error_status,
    first_choice,
    normalize_base_url,
    parse_usage,
)

__all__ = ["RelayClient", "normalize_base_url"]

log = logging.getLogger("relaybot.relay")

REQUEST_ID_HEADER = "X-Oneapi-Request-Id"
# After a stream read that had to wait for the network, pause this long before reading on, so
# the next pieces arrive together and are handled in one wake-up instead of one each. Every
# wake-up of the event loop costs CPU (a lot of it on virtual machines); a model sending 50
# pieces a second would otherwise cost 50 wake-ups a second per answer. Adapters show text
# at most once a second, so nobody sees the 0.25 s.
BATCH_S = 0.25
_WAITED_S = 0.001
_REDACTED = "[redacted]"


class RelayClient:
    """One relay: a shared ``httpx.AsyncClient``, typed errors, bounded retries with backoff."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 120,
        connect_timeout_s: float = 10,
        max_retries: int = 2,
        backoff_s: float = 1.0,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        batch_s: float = BATCH_S,
    ) -> None:
        self.root = normalize_base_url(base_url)
        self._key = api_key
        self._secrets = tuple(
            s for s in {api_key, api_key.removeprefix("sk-")} if len(s.strip()) >= 6
        )
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s
        self._client = client
        self._owns_client = False
        self._sleep = sleep
        self._jitter = jitter
        self._batch_s = batch_s

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the shared HTTP client, unless one was passed in."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
            self._owns_client = True

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
            self._owns_client = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            await self.start()
        assert self._client is not None
        return self._client

    # -- helpers -----------------------------------------------------------------------------

    def _url(self, route: str) -> str:
        return f"{self.root}/v1/{route}"

    def _headers(self, *, stream: bool = False) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._key}",
            "Accept": "text/event-stream" if stream else "application/json",
        }

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def _classify(self, status: int, body: bytes, headers: Mapping[str, str]) -> RelayError:
        for secret in self._secrets:
            body = body.replace(secret.encode(), _REDACTED.encode())
        return classify(status, body, headers)

    def _transport_error(self, exc: httpx.HTTPError, request_id: str = "") -> RelayError:
        detail = self._redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if isinstance(exc, httpx.TimeoutException):
            return RelayTimeoutError(detail, request_id=request_id)
        if isinstance(exc, httpx.ConnectError):
            return RelayConnectError(detail, request_id=request_id)
        return RelayNetworkError(detail, request_id=request_id)

    def _bad_response(self, what: str, request_id: str) -> RelayBadResponseError:
        return RelayBadResponseError(self._redact(what), status=200, request_id=request_id)

    async def _retry_or_raise(
        self, exc: RelayError, attempt: int, what: str, *, retry: bool = True
    ) -> None:
        """Sleep before the next attempt when ``exc`` is retryable and attempts remain.

        With ``retry=False`` only a failure to connect is retried: that request never left, so it
        cannot have been charged. Anything else (5xx, 429, timeouts) is raised at once.
        """
        retryable = is_retryable(exc) and (retry or isinstance(exc, RelayConnectError))
        if attempt >= self._max_retries or not retryable:
            raise exc
        delay = self._backoff_s * 2**attempt * (0.5 + self._jitter())
        log.warning(
            "relay %s failed: HTTP %s, %s, request id %s; retry %d/%d in %.2fs",
            what,
            exc.status or "-",
            exc.code,
            exc.request_id or "-",
            attempt + 1,
            self._max_retries,
            delay,
        )
        await self._sleep(delay)

    def _path_url(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"relay path must start with '/': {path!r}")
        return self.root + path

    async def _send(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        body: Any = None,
        fields: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        decode: bool = True,
    ) -> tuple[Any, str]:
        """One request with retries; (decoded JSON, request id), or the typed error.

        With ``decode=False`` the first item is the 2xx ``httpx.Response`` itself.
        """
        http, url = await self._http(), self._path_url(path)
        sent = {**(headers or {}), **self._headers()}  # extra headers never replace the key
        attempt = 0
        while True:
            try:
                try:
                    resp = await http.request(
                        method,
                        url,
                        json=body,
                        data=dict(fields) if fields is not None else None,
                        files=dict(files) if files is not None else None,
                        headers=sent,
                        timeout=self._timeout,
                    )
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc) from None
                request_id = resp.headers.get(REQUEST_ID_HEADER, "")
                if not resp.is_success:
                    raise self._classify(resp.status_code, resp.content, resp.headers)
            except RelayError as exc:
                await self._retry_or_raise(exc, attempt, f"{method} {path}", retry=retry)
                attempt += 1
                continue
            if not decode:
                return resp, request_id
            try:
                data = json.loads(resp.content)
            except ValueError:
                raise self._bad_response(
                    f"unreadable JSON from {path} ({len(resp.content)} bytes)", request_id
                ) from None
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict | str) and err:  # an error object inside a 2xx answer
                raw = json.dumps(data).encode()
                raise self._classify(error_status(err), raw, {REQUEST_ID_HEADER: request_id})
            return data, request_id

    async def _request_json(self, method: str, route: str, body: Any = None) -> tuple[Any, str]:
        """A ``/v1/{route}`` request with the default retries."""
        return await self._send(method, f"/v1/{route}", retry=True, body=body)

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

    # -- public API --------------------------------------------------------------------------

    async def request_json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, str]:
        """Send ``body`` as JSON to ``path`` (from the relay root, e.g. "/mj/submit/imagine").

        Returns (decoded JSON, request id); errors are the typed ``RelayError``s. Pass
        ``retry=False`` for paid submits: then only a failed connect is retried (relay-api §15.5).
        ``headers`` are sent as well (e.g. ``X-Runway-Version``); they cannot replace the key.
        """
        return await self._send(method, path, retry=retry, body=body, headers=headers)

    async def request_multipart(
        self,
        path: str,
        fields: Mapping[str, str],
        files: Mapping[str, tuple[str, bytes, str]],
        *,
        retry: bool = True,
    ) -> tuple[Any, str]:
        """POST a multipart form (``files``: name -> (filename, bytes, content type))."""
        return await self._send("POST", path, retry=retry, fields=fields, files=files)

    async def request_bytes(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        fields: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        retry: bool = True,
    ) -> tuple[bytes, str, str]:
        """(body, content type, request id) of a route that answers bytes, e.g. speech audio.

        Sends ``body`` as JSON, or ``fields``/``files`` as a multipart form. Error statuses, and
        a JSON error object inside a 2xx answer, raise the typed ``RelayError``s as usual.
        """
        resp, request_id = await self._send(
            method, path, retry=retry, body=body, fields=fields, files=files, decode=False
        )
        content: bytes = resp.content
        content_type: str = resp.headers.get("content-type", "")
        if "json" in content_type.lower():
            try:
                data = json.loads(content)
            except ValueError:
                data = None
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict | str) and err:
                raise self._classify(error_status(err), content, {REQUEST_ID_HEADER: request_id})
        return content, content_type, request_id

    async def download(self, url: str, *, max_bytes: int, timeout_s: float) -> tuple[bytes, str]:
        """(bytes, content type) of a result URL; a path like "/mj/image/1" is on the relay.

        The relay's key is sent only to the relay's own origin. Raises ``MediaTooLargeError``
        as soon as more than ``max_bytes`` arrive, ``MediaDownloadError`` on any other failure.
        """
        http = await self._http()
        full = self.root + url if url.startswith("/") else url
        headers = {"Accept": "*/*"}
        if same_origin(full, self.root):
            headers["Authorization"] = f"Bearer {self._key}"
        return await fetch_media(
            http, full, headers, max_bytes=max_bytes, timeout_s=timeout_s, redact=self._redact
        )

    async def list_models(self) -> list[str]:
        """Ids of the models this key may use (``data[].id``; new-api and one-api shapes)."""
        data, request_id = await self._request_json("GET", "models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self._bad_response("model list without a data array", request_id)
        return [m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]

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
                        try:
                            raw = await resp.aread()
                        except httpx.HTTPError:
                            raw = b""
                        raise self._classify(resp.status_code, raw, resp.headers)
                    opened = True  # from here on: no retry, whatever happens
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
            await self._retry_or_raise(error, attempt, "POST /v1/chat/completions (stream)")
            attempt += 1

    async def _events(self, resp: httpx.Response) -> AsyncIterator[ChatEvent]:
        """Events of one opened 200 response; never raises for a stream cut after text."""
        request_id = resp.headers.get(REQUEST_ID_HEADER, "")
        if "application/json" in resp.headers.get("content-type", ""):
            # The upstream ignored stream=true and answered in one JSON document.
            try:
                data = json.loads(await resp.aread())
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
        done = got_text = False
        loop = asyncio.get_running_loop()
        lines = resp.aiter_lines()
        try:
            while True:
                started = loop.time()
                try:
                    line = await anext(lines)
                except StopAsyncIteration:
                    break
                waited = self._batch_s > 0 and loop.time() - started > _WAITED_S
                payload = parser.feed(line)
                if payload is None:
                    continue
                if payload is DONE:
                    done = True
                    break
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
        except httpx.TimeoutException as exc:
            if not got_text:
                raise self._transport_error(exc, request_id) from None
        except (httpx.TransportError, httpx.DecodingError):
            pass  # connection cut mid-body: a truncated answer
        rest = think.flush()
        if rest:
            yield ChatDelta(rest)
        if not done:
            log.warning("relay stream ended without [DONE], request id %s", request_id or "-")
        yield ChatEnd(request_id, usage, finish, truncated=not done)
