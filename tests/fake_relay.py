"""FakeRelay: a real HTTP server on 127.0.0.1 speaking the relay's chat, models, images and MJ."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.fake_relay_audio import AudioRoutes
from tests.fake_relay_media import MediaRoutes
from tests.fake_relay_mj import MjRoutes
from tests.fake_relay_scripts import (
    BUILTIN,
    REQUEST_ID,
    Cut,
    Json,
    Line,
    OpenAIError,
    Raw,
    RecordedRequest,
    Stream,
    echo,
    text_of,
)
from tests.fake_relay_suno import SunoRoutes
from tests.fake_relay_video import VideoRoutes

__all__ = ["Cut", "FakeRelay", "Json", "Line", "OpenAIError", "RecordedRequest", "Raw", "Stream"]


class FakeRelay(MediaRoutes, MjRoutes, SunoRoutes, VideoRoutes, AudioRoutes):
    """The relay on a random port. ``enqueue`` scripted answers (the next request to any route
    takes the next one); else the model name decides. Image and Midjourney switches are
    documented in tests/fake_relay_media.py and tests/fake_relay_mj.py."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key  # when set, other keys get the gateway's 401
        self.requests: list[RecordedRequest] = []
        self.models: list[str] = ["gpt-4o-mini", "gpt-4o", "deepseek-r1", "fake-think"]
        self.models_shape = "new-api"
        self._queue: deque[Any] = deque()
        self._counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.url = ""
        self._init_media()
        self._init_mj()
        self._init_suno()
        self._init_video()
        self._init_audio()

    def enqueue(self, *responses: Any) -> None:
        self._queue.extend(responses)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._add_media_routes(app)
        self._add_mj_routes(app)
        self._add_suno_routes(app)
        self._add_video_routes(app)
        self._add_audio_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handlers ----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[str, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                CIMultiDict(request.headers),
                body,
                peer=request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        return f"req-{next(self._counter)}", body

    def _scripted(self, request: web.Request) -> Any:
        """The 401 when the key is wrong, else the next enqueued answer, else None."""
        return self._auth_error(request) or (self._queue.popleft() if self._queue else None)

    def _auth_error(self, request: web.Request) -> Json | None:
        if self.api_key is None:
            return None
        got = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not got:
            return OpenAIError(401, "未提供令牌")
        return None if got == self.api_key else OpenAIError(401, "无效的令牌")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        body = body if isinstance(body, dict) else {}
        model = str(body.get("model", ""))
        script = self._auth_error(request) or (self._queue.popleft() if self._queue else None)
        if script is None:
            make = BUILTIN.get(model)
            script = make() if make else echo(body, keepalive=model == "fake-keepalive")
        if isinstance(script, Stream):
            if body.get("stream"):
                return await self._sse(request, rid, model, body, script)
            return await self._whole(request, rid, model, body, script)
        return self._plain(rid, script)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        rid, _ = await self._record(request)
        script = self._auth_error(request) or (self._queue.popleft() if self._queue else None)
        if script is not None:
            return self._plain(rid, script)
        items = [
            {
                "id": m,
                "object": "model",
                "created": 1626777600,
                "owned_by": "custom",
                "permission": None,
                "root": m,
                "parent": None,
            }
            for m in self.models
        ]
        shape = {"object": "list"} if self.models_shape == "one-api" else {"success": True}
        return self._plain(rid, Json(200, {**shape, "data": items}))

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        rid, _ = await self._record(request)
        return self._plain(
            rid,
            Json(
                404,
                {
                    "error": {
                        "message": f"Invalid URL ({request.method} {request.path})",
                        "type": "invalid_request_error",
                        "param": "",
                        "code": "",
                    }
                },
            ),
        )

    # -- responses ---------------------------------------------------------------------------

    def _plain(self, rid: str, script: Json | Raw) -> web.Response:
        headers = {"X-Oneapi-Request-Id": rid, **script.headers}
        if isinstance(script, Raw):
            return web.Response(
                status=script.status,
                headers=headers,
                body=script.body.replace(REQUEST_ID.encode(), rid.encode()),
                content_type=script.content_type.split(";")[0],
            )
        data = (
            script.body
            if isinstance(script.body, bytes)
            else json.dumps(script.body, ensure_ascii=False).encode()
        )
        return web.Response(
            status=script.status,
            headers=headers,
            content_type="application/json",
            body=data.replace(REQUEST_ID.encode(), rid.encode()),
        )

    @staticmethod
    def _chunk(rid: str, model: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{rid}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
            **extra,
        }

    def _usage(self, body: dict[str, Any], script: Stream) -> dict[str, Any]:
        reasoning = sum(
            1
            for c in script.chunks
            if isinstance(c, dict) and ("reasoning_content" in c or "reasoning" in c)
        )
        completion = len(script.chunks)
        prompt = sum(
            len(text_of(m.get("content")).split()) + 3
            for m in body.get("messages") or []
            if isinstance(m, dict)
        )
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }

    async def _sse(
        self, request: web.Request, rid: str, model: str, body: dict[str, Any], script: Stream
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-Oneapi-Request-Id": rid,
            }
        )
        await resp.prepare(request)

        async def send(payload: Any) -> None:
            if isinstance(payload, Line):
                await resp.write(f"{payload.text}\n\n".encode())
            else:
                await resp.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())

        def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return self._chunk(
                rid,
                model,
                choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            )

        await send(choice({"role": "assistant", "content": ""}))
        for i, item in enumerate(script.chunks):
            if script.keepalive:
                await send(Line(": keep-alive"))
            if isinstance(item, Line) or (
                isinstance(item, dict) and ("choices" in item or "error" in item)
            ):
                await send(item)
            else:
                await send(choice({"content": item} if isinstance(item, str) else item))
            if i == 0 and script.hold is not None:
                await self._wait(script.hold)
            if script.pace_s:
                await asyncio.sleep(script.pace_s)
        if script.finish_reason and not script.abort:
            await send(choice({}, script.finish_reason))
        options = body.get("stream_options") or {}
        if (
            script.usage
            and not script.abort
            and (isinstance(script.usage, dict) or options.get("include_usage"))
        ):
            usage = script.usage if isinstance(script.usage, dict) else self._usage(body, script)
            await send(self._chunk(rid, model, choices=[], usage=usage))
        if script.done:
            await resp.write(b"data: [DONE]\n\n")
        if script.abort and request.transport is not None:
            request.transport.close()  # flushes what was written, then drops the connection
        return resp

    async def _whole(
        self, request: web.Request, rid: str, model: str, body: dict[str, Any], script: Stream
    ) -> web.StreamResponse:
        if script.abort:  # promise a long body, send part of it, drop the connection
            resp = web.StreamResponse(
                headers={"X-Oneapi-Request-Id": rid, "Content-Type": "application/json"}
            )
            resp.content_length = 10_000
            await resp.prepare(request)
            await resp.write(b'{"id": "chatcmpl-cut", "choices": [')
            if request.transport is not None:
                request.transport.close()
            return resp
        content = "".join(
            c if isinstance(c, str) else c.get("content", "")
            for c in script.chunks
            if isinstance(c, str | dict)
        )
        reasoning = "".join(
            c.get("reasoning_content", "") for c in script.chunks if isinstance(c, dict)
        )
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning:
            message["reasoning_content"] = reasoning
        usage = script.usage if isinstance(script.usage, dict) else self._usage(body, script)
        return self._plain(
            rid,
            Json(
                200,
                {
                    "id": f"chatcmpl-{rid}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "usage": usage,
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": script.finish_reason}
                    ],
                },
            ),
        )

    async def _wait(self, event: asyncio.Event) -> None:
        """Wait for ``event``, or for ``stop()`` so a forgotten hold cannot hang the tests."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stopping.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
