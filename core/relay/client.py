"""Async client of the relay: transport (one HTTP client, retries, typed errors) and its routes.

Chat (streamed and not) is in ``core.relay.chat``; media downloads in ``core.relay.download``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from core.errors import RelayBadResponseError, RelayError, RelayNetworkError, RelayTimeoutError
from core.metrics import NO_METRICS, Metrics
from core.relay.body import BodyLimits, read_body, read_error_body
from core.relay.chat import ChatMixin
from core.relay.download import DownloadPolicy, Resolver, fetch_media, system_resolver
from core.relay.errors import RelayConnectError, classify, is_retryable
from core.relay.wire import error_status, normalize_base_url

__all__ = ["RelayClient", "normalize_base_url"]

log = logging.getLogger("relaybot.relay")

REQUEST_ID_HEADER = "X-Oneapi-Request-Id"
# After a stream read that had to wait for the network, pause this long before reading on, so
# the next pieces arrive together and are handled in one wake-up instead of one each. Every
# wake-up of the event loop costs CPU (a lot of it on virtual machines); a model sending 50
# pieces a second would otherwise cost 50 wake-ups a second per answer. Adapters show text
# at most once a second, so nobody sees the 0.25 s.
BATCH_S = 0.25
_REDACTED = "[redacted]"


class RelayClient(ChatMixin):
    """One relay: a shared ``httpx.AsyncClient``, typed errors, bounded retries with backoff,
    and size caps on every body read (``BodyLimits``)."""

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
        limits: BodyLimits | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.metrics = metrics
        self.reconfigure(base_url, api_key, timeout_s, connect_timeout_s, max_retries, backoff_s)
        self._client = client
        self._owns_client = False
        self._sleep = sleep
        self._jitter = jitter
        self._batch_s = batch_s
        self._limits = limits or BodyLimits()  # size caps of what the relay sends

    def reconfigure(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float = 120,
        connect_timeout_s: float = 10,
        max_retries: int = 2,
        backoff_s: float = 1.0,
    ) -> None:
        """Where and how to call the relay; a reload calls it again. A request already sent
        finishes with what it started with; the next one uses the new values."""
        self.root = normalize_base_url(base_url)
        self._key = api_key
        self._secrets = tuple(
            s for s in {api_key, api_key.removeprefix("sk-")} if len(s.strip()) >= 6
        )
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._max_retries = max(0, max_retries)
        self._backoff_s = backoff_s

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

        With ``decode=False`` the first item is ``(body bytes, response headers)`` of the 2xx
        answer. Bodies are read under ``BodyLimits``: a 2xx body over ``body`` bytes raises
        ``RelayTooLargeError`` (never retried), an error body is read up to ``error`` bytes.
        """
        http, url = await self._http(), self._path_url(path)
        sent = {**(headers or {}), **self._headers()}  # extra headers never replace the key
        what = f"{method} {path}"
        attempt = 0
        while True:
            try:
                try:
                    async with http.stream(
                        method,
                        url,
                        json=body,
                        data=dict(fields) if fields is not None else None,
                        files=dict(files) if files is not None else None,
                        headers=sent,
                        timeout=self._timeout,
                    ) as resp:
                        request_id = resp.headers.get(REQUEST_ID_HEADER, "")
                        if not resp.is_success:
                            raw = await read_error_body(resp, self._limits.error)
                            raise self._classify(resp.status_code, raw, resp.headers)
                        content = await read_body(
                            resp, self._limits.body, f"answer to {what}", request_id
                        )
                        answer_headers = resp.headers
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc) from None
            except RelayError as exc:
                self.metrics.relay_request(_kind(path), _model(body), exc.code)
                await self._retry_or_raise(exc, attempt, what, retry=retry)
                attempt += 1
                continue
            self.metrics.relay_request(_kind(path), _model(body), "")
            if not decode:
                return (content, answer_headers), request_id
            try:
                data = json.loads(content)
            except ValueError:
                raise self._bad_response(
                    f"unreadable JSON from {path} ({len(content)} bytes)", request_id
                ) from None
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict | str) and err:  # an error object inside a 2xx answer
                raw = json.dumps(data).encode()
                raise self._classify(error_status(err), raw, {REQUEST_ID_HEADER: request_id})
            return data, request_id

    async def _request_json(self, method: str, route: str, body: Any = None) -> tuple[Any, str]:
        """A ``/v1/{route}`` request with the default retries."""
        return await self._send(method, f"/v1/{route}", retry=True, body=body)

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
        (content, answer_headers), request_id = await self._send(
            method, path, retry=retry, body=body, fields=fields, files=files, decode=False
        )
        content_type: str = answer_headers.get("content-type", "")
        if "json" in content_type.lower():
            try:
                data = json.loads(content)
            except ValueError:
                data = None
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict | str) and err:
                raise self._classify(error_status(err), content, {REQUEST_ID_HEADER: request_id})
        return content, content_type, request_id

    async def download(
        self,
        url: str,
        *,
        max_bytes: int,
        timeout_s: float,
        policy: DownloadPolicy | None = None,
        resolver: Resolver = system_resolver,
    ) -> tuple[bytes, str]:
        """(bytes, content type) of a result URL; a path like "/mj/image/1" is on the relay.

        Only public addresses are fetched, the relay's own origin and what ``policy`` allows
        (default: the relay only); every redirect is checked again (``core.relay.download``).
        The relay's key is sent only to the relay's own origin. Raises ``MediaRefusedError``
        for a refused address, ``MediaTooLargeError`` as soon as more than ``max_bytes``
        arrive, ``MediaDownloadError`` on any other failure.
        """
        full = self.root + url if url.startswith("/") else url
        return await fetch_media(
            full,
            policy=policy or DownloadPolicy.of(self.root),
            credentials={"Authorization": f"Bearer {self._key}"},
            max_bytes=max_bytes,
            timeout_s=timeout_s,
            redact=self._redact,
            resolver=resolver,
        )

    async def list_models(self) -> list[str]:
        """Ids of the models this key may use (``data[].id``; new-api and one-api shapes)."""
        data, request_id = await self._request_json("GET", "models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self._bad_response("model list without a data array", request_id)
        return [m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _kind(path: str) -> str:
    """The route family of ``path`` for metrics: /v1/images/... -> images, /mj/... -> mj."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "v1":
        parts = parts[1:]
    return parts[0] if parts else "-"


def _model(body: Any) -> str:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else "-"
