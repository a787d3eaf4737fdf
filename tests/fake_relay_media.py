"""FakeRelay's image routes (generations, edits, ideogram) and the files their URLs point at."""

from __future__ import annotations

import asyncio
import base64
import itertools
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from tests.fake_relay_scripts import Json, OpenAIError, Raw, RecordedRequest

__all__ = ["NOT_IMPLEMENTED", "MediaRoutes", "png"]

NOT_IMPLEMENTED = Json(  # new-api's stub for routes it does not implement (relay-api §2.2, §6.2)
    501,
    {
        "error": {
            "message": "API not implemented",
            "type": "new_api_error",
            "code": "api_not_implemented",
        }
    },
)
IDEOGRAM_RESOLUTIONS = {
    "ASPECT_1_1": "1024x1024",
    "ASPECT_16_9": "1312x736",
    "ASPECT_9_16": "736x1312",
    "ASPECT_4_3": "1152x864",
    "ASPECT_3_4": "864x1152",
    "ASPECT_3_2": "1248x832",
    "ASPECT_2_3": "832x1248",
    "ASPECT_16_10": "1280x800",
    "ASPECT_10_16": "800x1280",
    "ASPECT_1_3": "576x1728",
    "ASPECT_3_1": "1728x576",
}


def png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A valid RGB PNG of one colour, made with zlib and struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class MediaRoutes:
    """Mixin of FakeRelay. Switches and records:

    - ``edits_supported = False``: ``/v1/images/edits`` answers new-api's 501 stub.
    - ``files``: name -> (bytes, content type) served at ``GET /files/<name>``; every generated
      image is added there (``add_file`` adds more).
    - ``GET /media/stream?size=N&declare=1``: N bytes in 64 KiB chunks (with Content-Length
      when ``declare=1``); ``media_sent`` counts what was written, ``media_done`` says whether
      all of it was. ``GET /media/slow`` sends headers, one byte, then nothing until stop.
      ``GET /media/redirect?to=URL`` answers 302 to URL.
    - Scripted answers (``enqueue``) replace the answer of any of these POST routes.
    """

    url: str
    requests: list[RecordedRequest]
    _colors: itertools.count[int]
    if TYPE_CHECKING:  # provided by FakeRelay
        _counter: itertools.count[int]
        _stopping: asyncio.Event

        async def _record(self, request: web.Request) -> tuple[str, Any]: ...
        def _scripted(self, request: web.Request) -> Any: ...
        def _auth_error(self, request: web.Request) -> Json | None: ...
        def _plain(self, rid: str, script: Json | Raw) -> web.Response: ...

    def _init_media(self) -> None:
        self.edits_supported = True
        self.files: dict[str, tuple[bytes, str]] = {}
        self.media_sent = 0
        self.media_done = False
        self._colors = itertools.count(1)

    def _add_media_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/images/generations", self._image_generations)
        app.router.add_post("/v1/images/edits", self._image_edits)
        app.router.add_post("/ideogram/generate", self._ideogram)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/media/stream", self._media_stream)
        app.router.add_get("/media/slow", self._media_slow)
        app.router.add_get("/media/redirect", self._media_redirect)

    def add_file(self, data: bytes, content_type: str = "image/png", name: str = "") -> str:
        """Serve ``data`` at ``/files/<name>``; returns its absolute URL."""
        name = name or f"file-{len(self.files) + 1}.png"
        self.files[name] = (data, content_type)
        return f"{self.url}/files/{name}"

    def _new_png(self) -> bytes:
        k = next(self._colors)
        return png(rgb=((k * 70) % 256, (k * 130) % 256, (k * 190) % 256))

    def _image_item(self, b64: bool, **extra: Any) -> dict[str, Any]:
        data = self._new_png()
        if b64:
            return {"b64_json": base64.b64encode(data).decode(), **extra}
        return {"url": self.add_file(data, name=f"img-{len(self.files) + 1}.png"), **extra}

    async def _image_generations(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is not None:
            return self._plain(rid, script)
        body = body if isinstance(body, dict) else {}
        return self._plain(rid, self._images_answer(body))

    def _images_answer(self, body: dict[str, Any]) -> Json:
        prompt, model = body.get("prompt"), str(body.get("model") or "dall-e")
        if not isinstance(prompt, str) or not prompt.strip():
            return OpenAIError(400, "prompt is required", type="invalid_request_error")
        n = body.get("n") or 1
        if not isinstance(n, int) or n < 1 or (model == "dall-e-3" and n != 1):
            return OpenAIError(
                400, "You must provide n=1 for this model.", type="invalid_request_error"
            )
        gpt_image = model.startswith("gpt-image")
        if gpt_image and "response_format" in body:  # what OpenAI says to gpt-image-1
            return OpenAIError(
                400, "Unknown parameter: 'response_format'.", type="invalid_request_error"
            )
        b64 = gpt_image or body.get("response_format") == "b64_json"
        extra = {"revised_prompt": f"A detailed picture of {prompt}"} if model == "dall-e-3" else {}
        answer: dict[str, Any] = {
            "created": int(time.time()),
            "data": [self._image_item(b64, **extra) for _ in range(n)],
        }
        if gpt_image:
            answer["usage"] = {"input_tokens": 12, "output_tokens": 1056, "total_tokens": 1068}
        return Json(200, answer)

    async def _record_form(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        form: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                form[key] = (value.filename, value.file.read(), value.content_type)
            else:
                form[key] = str(value)
        self.requests.append(
            RecordedRequest(request.method, request.path, CIMultiDict(request.headers), None, form)
        )
        return f"req-{next(self._counter)}", form

    async def _image_edits(self, request: web.Request) -> web.StreamResponse:
        rid, form = await self._record_form(request)
        script = self._auth_error(request)
        if script is None and not self.edits_supported:
            script = NOT_IMPLEMENTED
        script = script or self._scripted(request)
        if script is None:
            image = form.get("image")
            if not isinstance(image, tuple) or not image[1]:
                script = OpenAIError(400, "image is required", type="invalid_request_error")
            else:
                body = {k: v for k, v in form.items() if isinstance(v, str)}
                body["n"] = int(body.get("n") or 1)
                script = self._images_answer(body)
        return self._plain(rid, script)

    async def _ideogram(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is None:
            req = body.get("image_request") if isinstance(body, dict) else None
            req = req if isinstance(req, dict) else {}
            aspect = str(req.get("aspect_ratio") or "ASPECT_1_1")
            if not str(req.get("prompt") or "").strip():
                script = OpenAIError(400, "image_request.prompt is required", type="upstream_error")
            elif aspect not in IDEOGRAM_RESOLUTIONS:
                script = OpenAIError(400, f"Invalid aspect_ratio {aspect}", type="upstream_error")
            else:
                item = self._image_item(
                    False,
                    prompt=req["prompt"],
                    resolution=IDEOGRAM_RESOLUTIONS[aspect],
                    seed=12345,
                    is_image_safe=True,
                    style_type=req.get("style_type") or "GENERAL",
                )
                script = Json(200, {"created": "2024-09-01T12:00:00.000000+00:00", "data": [item]})
        return self._plain(rid, script)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="404 page not found")
        return web.Response(body=found[0], content_type=found[1])

    async def _media_stream(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        size = int(request.query.get("size", "0"))
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        if request.query.get("declare") == "1":
            resp.content_length = size
        self.media_sent, self.media_done = 0, False
        await resp.prepare(request)
        block = b"\x89" * 65536
        try:
            while self.media_sent < size:
                part = block[: size - self.media_sent]
                await resp.write(part)
                self.media_sent += len(part)
            await resp.write_eof()
            self.media_done = True
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up: what the size cap is for
        return resp

    async def _media_slow(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(request)
        await resp.write(b"\x89")
        await self._stopping.wait()
        return resp

    async def _media_redirect(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        raise web.HTTPFound(request.query["to"])
