"""ImagesClient and RelayClient.download against FakeRelay over real HTTP (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from multidict import CIMultiDict

from core.errors import (
    FeatureUnavailableError,
    MediaDownloadError,
    MediaTooLargeError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayQuotaError,
    RelayUpstreamError,
    user_text,
)
from core.relay.client import RelayClient
from core.relay.download import DownloadPolicy
from core.relay.errors import RelayConnectError
from core.relay.images import GeneratedImage, ImagesClient, ideogram_aspect
from core.texts.i18n import t
from tests.fake_relay import FakeRelay, Json, OpenAIError
from tests.fake_relay_media import png

KEY = "sk-images-test-SECRET-0123456789"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Sleeps(list[float]):
    """A recording ``sleep``: a retry shows up here instead of waiting."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def relay(fake_relay: FakeRelay, sleeps: Sleeps) -> AsyncIterator[RelayClient]:
    async with RelayClient(fake_relay.url, KEY, max_retries=2, sleep=sleeps) as c:
        yield c


@pytest.fixture
def images(relay: RelayClient) -> ImagesClient:
    return ImagesClient(relay)


class Foreign:
    """A second tiny server standing in for a CDN on another origin; records request headers."""

    def __init__(self) -> None:
        self.headers: list[CIMultiDict[str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _serve(self, request: web.Request) -> web.Response:
        self.headers.append(CIMultiDict(request.headers))
        return web.Response(body=png(), content_type="image/png")

    async def __aenter__(self) -> Foreign:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def posts(fake: FakeRelay, path: str) -> int:
    return sum(1 for r in fake.requests if (r.method, r.path) == ("POST", path))


# -- generations ---------------------------------------------------------------------------------


async def test_url_result_request_shape_and_download(
    images: ImagesClient, relay: RelayClient, fake_relay: FakeRelay
) -> None:
    (image,) = await images.generate("dall-e-3", "a lighthouse", size="1024x1024")
    assert image.data is None and image.url and image.url.startswith(f"{fake_relay.url}/files/")
    assert image.revised_prompt == "A detailed picture of a lighthouse"
    req = fake_relay.requests[0]
    assert req.path == "/v1/images/generations"
    assert req.json == {
        "model": "dall-e-3",
        "prompt": "a lighthouse",
        "n": 1,
        "size": "1024x1024",
        "response_format": "url",
    }
    data, mime = await relay.download(image.url, max_bytes=10_000, timeout_s=5)
    assert data.startswith(PNG_MAGIC) and mime == "image/png"
    assert fake_relay.requests[-1].headers["Authorization"] == f"Bearer {KEY}"  # same origin


async def test_gpt_image_gets_bytes_and_no_response_format(
    images: ImagesClient, fake_relay: FakeRelay
) -> None:
    result = await images.generate("gpt-image-1", "two cats", n=2, extra={"quality": "high"})
    assert len(result) == 2
    assert all(r.url is None and r.data and r.data.startswith(PNG_MAGIC) for r in result)
    assert result[0].data != result[1].data
    assert fake_relay.requests[0].json == {
        "model": "gpt-image-1",
        "prompt": "two cats",
        "n": 2,
        "quality": "high",
    }


async def test_both_shapes_in_one_answer_and_junk_items(
    images: ImagesClient, fake_relay: FakeRelay
) -> None:
    raw = base64.b64encode(png()).decode()
    items = [{"url": "https://cdn.example/x.png"}, {"b64_json": raw}, "junk", {"url": ""}]
    fake_relay.enqueue(Json(200, {"created": 1, "data": items}))
    result = await images.generate("flux-schnell", "x")
    assert result == [
        GeneratedImage("https://cdn.example/x.png", None),
        GeneratedImage(None, png()),
    ]


@pytest.mark.parametrize("body", [{"created": 1, "data": []}, {"created": 1}, [1, 2]])
async def test_empty_data_is_a_bad_response(
    images: ImagesClient, fake_relay: FakeRelay, body: object
) -> None:
    fake_relay.enqueue(Json(200, body))
    with pytest.raises(RelayBadResponseError) as info:
        await images.generate("dall-e-3", "x")
    assert info.value.request_id == "req-1"


async def test_quota_error_is_typed(images: ImagesClient, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(OpenAIError(403, "user quota is not enough", code="insufficient_user_quota"))
    with pytest.raises(RelayQuotaError):
        await images.generate("dall-e-3", "x")


async def test_paid_generation_is_not_retried_after_a_5xx(
    images: ImagesClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    fake_relay.enqueue(
        OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
        OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
    )
    with pytest.raises(RelayUpstreamError):
        await images.generate("dall-e-3", "x")
    assert posts(fake_relay, "/v1/images/generations") == 1 and sleeps == []


async def test_error_inside_a_200_answer_is_raised_not_retried(
    images: ImagesClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    fake_relay.enqueue(Json(200, {"error": {"message": "bad gateway", "code": 502}}))
    with pytest.raises(RelayUpstreamError) as info:
        await images.generate("dall-e-3", "x")
    assert (info.value.status, info.value.detail) == (502, "bad gateway")
    assert len(fake_relay.requests) == 1 and sleeps == []


async def test_free_requests_still_retry_but_paid_only_retry_a_refused_connect(
    relay: RelayClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    fake_relay.enqueue(OpenAIError(500, "请求上游地址失败", code="do_request_failed"))
    data, _ = await relay.request_json("GET", "/v1/models")
    assert data["success"] is True and len(sleeps) == 1
    with socket.socket() as sock:  # a port nobody listens on: the request never leaves
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone_sleeps = Sleeps()
    async with RelayClient(f"http://127.0.0.1:{port}", KEY, sleep=gone_sleeps) as gone:
        with pytest.raises(RelayConnectError):
            await gone.request_json("POST", "/v1/images/generations", {}, retry=False)
    assert len(gone_sleeps) == 2


async def test_path_must_be_absolute(relay: RelayClient) -> None:
    with pytest.raises(ValueError):
        await relay.request_json("GET", "v1/models")


# -- edits ---------------------------------------------------------------------------------------


async def test_edit_sends_multipart(images: ImagesClient, fake_relay: FakeRelay) -> None:
    picture = png(2, 2)
    (image,) = await images.edit("dall-e-2", "add a hat", picture, "image/png")
    assert image.url and image.url.startswith(fake_relay.url)
    (req,) = fake_relay.requests
    assert req.path == "/v1/images/edits" and req.json is None and req.form is not None
    assert req.form["image"] == ("image.png", picture, "image/png")
    assert (req.form["prompt"], req.form["model"]) == ("add a hat", "dall-e-2")
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.headers["Content-Type"].startswith("multipart/form-data")


async def test_edit_gpt_image_returns_bytes(images: ImagesClient, fake_relay: FakeRelay) -> None:
    (image,) = await images.edit("gpt-image-1", "add a hat", png(), "image/png")
    assert image.data and image.data.startswith(PNG_MAGIC)
    assert fake_relay.requests[0].form and "response_format" not in fake_relay.requests[0].form


async def test_edits_501_is_feature_unavailable(
    images: ImagesClient, fake_relay: FakeRelay, sleeps: Sleeps
) -> None:
    fake_relay.edits_supported = False
    with pytest.raises(FeatureUnavailableError) as info:
        await images.edit("dall-e-2", "x", png(), "image/png")
    assert info.value.fields == {"feature": "image edits"}
    cause = info.value.__cause__
    assert isinstance(cause, RelayBadRequestError) and cause.status == 501
    assert user_text(info.value, "en") == t(
        "error.feature_unavailable", "en", feature="image edits"
    )
    assert "image edits" in user_text(info.value, "zh")
    assert len(fake_relay.requests) == 1 and sleeps == []


async def test_edits_404_is_feature_unavailable(
    images: ImagesClient, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(
        Json(404, {"error": {"message": "Invalid URL (POST /v1/images/edits)", "code": ""}})
    )
    with pytest.raises(FeatureUnavailableError):
        await images.edit("dall-e-2", "x", png(), "image/png")


async def test_edits_other_errors_pass_through(images: ImagesClient, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(OpenAIError(400, "image is not a PNG", type="invalid_request_error"))
    with pytest.raises(RelayBadRequestError) as info:
        await images.edit("dall-e-2", "x", b"GIF89a", "image/gif")
    assert info.value.status == 400
    assert fake_relay.requests[0].form and fake_relay.requests[0].form["image"][0] == "image.gif"


# -- ideogram ------------------------------------------------------------------------------------


async def test_ideogram_body_and_result(images: ImagesClient, fake_relay: FakeRelay) -> None:
    (image,) = await images.ideogram("a neon sign", aspect_ratio="16:9", model="V_2")
    assert fake_relay.requests[0].path == "/ideogram/generate"
    assert fake_relay.requests[0].json == {
        "image_request": {"prompt": "a neon sign", "aspect_ratio": "ASPECT_16_9", "model": "V_2"}
    }
    assert image.url and image.revised_prompt == "a neon sign"


async def test_ideogram_without_options(images: ImagesClient, fake_relay: FakeRelay) -> None:
    await images.ideogram("plain")
    assert fake_relay.requests[0].json == {"image_request": {"prompt": "plain"}}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("16:9", "ASPECT_16_9"),
        (" 9:16 ", "ASPECT_9_16"),
        ("1x1", "ASPECT_1_1"),
        ("16:10", "ASPECT_16_10"),
        ("ASPECT_3_2", "ASPECT_3_2"),
        ("aspect_4_3", "ASPECT_4_3"),
    ],
)
def test_ideogram_aspect(given: str, expected: str) -> None:
    assert ideogram_aspect(given) == expected


@pytest.mark.parametrize("bad", ["5:4", "wide", "", "16:9:1"])
def test_ideogram_aspect_rejects_unknown(bad: str) -> None:
    with pytest.raises(ValueError):
        ideogram_aspect(bad)


# -- download ------------------------------------------------------------------------------------


async def test_download_cap_stops_an_endless_body(
    relay: RelayClient, fake_relay: FakeRelay
) -> None:
    size = 300_000_000  # far more than socket buffers hold: the server must notice the hang-up
    with pytest.raises(MediaTooLargeError) as info:
        await relay.download(f"/media/stream?size={size}", max_bytes=200_000, timeout_s=10)
    assert info.value.limit == 200_000
    assert not fake_relay.media_done and fake_relay.media_sent < size


async def test_download_cap_trusts_a_declared_length(
    relay: RelayClient, fake_relay: FakeRelay
) -> None:
    with pytest.raises(MediaTooLargeError) as info:
        await relay.download(
            f"{fake_relay.url}/media/stream?size=50000000&declare=1", max_bytes=1000, timeout_s=5
        )
    assert "declares 50000000 bytes" in info.value.detail
    assert not fake_relay.media_done


async def test_download_within_the_cap(relay: RelayClient, fake_relay: FakeRelay) -> None:
    data, mime = await relay.download("/media/stream?size=70000", max_bytes=70_000, timeout_s=5)
    assert (len(data), mime) == (70_000, "image/png")


async def test_download_timeout_and_http_errors(relay: RelayClient, fake_relay: FakeRelay) -> None:
    started = time.monotonic()
    with pytest.raises(MediaDownloadError) as info:
        await relay.download("/media/slow", max_bytes=1000, timeout_s=0.3)
    assert time.monotonic() - started < 3 and "0.3s" in info.value.detail
    with pytest.raises(MediaDownloadError) as info:
        await relay.download("/files/missing.png", max_bytes=1000, timeout_s=5)
    assert info.value.status == 404
    with pytest.raises(MediaDownloadError):
        await relay.download("ftp://example.com/x.png", max_bytes=1000, timeout_s=5)


async def test_download_errors_have_user_texts() -> None:
    for exc, key in (
        (MediaTooLargeError(10), "error.media_too_large"),
        (MediaDownloadError("x", status=404), "error.media_download"),
    ):
        assert user_text(exc, "zh") == t(key, "zh") and user_text(exc, "en") == t(key, "en")


async def test_foreign_host_gets_no_authorization(
    relay: RelayClient, fake_relay: FakeRelay
) -> None:
    async with Foreign() as cdn:
        # "cdn.test" stands for a CDN: the admin allows the name, the resolver seam points it
        # at the loopback server, and the request goes to that checked address by name
        policy = DownloadPolicy.of(relay.root, ["cdn.test"])
        port = cdn.url.rsplit(":", 1)[1]

        async def resolve(host: str, _port: int) -> list[str]:
            assert host == "cdn.test"
            return ["127.0.0.1"]

        data, mime = await relay.download(
            f"http://cdn.test:{port}/img.png?sig=abc",
            max_bytes=10_000,
            timeout_s=5,
            policy=policy,
            resolver=resolve,
        )
        assert data == png() and mime == "image/png"
        hop = f"{fake_relay.url}/media/redirect?to=http://cdn.test:{port}/moved.png"
        await relay.download(  # relay -> CDN redirect
            hop, max_bytes=10_000, timeout_s=5, policy=policy, resolver=resolve
        )
    assert len(cdn.headers) == 2
    assert all("Authorization" not in h for h in cdn.headers)
    assert [h["Host"] for h in cdn.headers] == [f"cdn.test:{port}"] * 2
    assert fake_relay.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


async def test_concurrent_downloads_share_the_client(
    relay: RelayClient, fake_relay: FakeRelay
) -> None:
    urls = [fake_relay.add_file(png(3, 3, (i, i, i)), name=f"c{i}.png") for i in range(5)]
    results = await asyncio.gather(
        *(relay.download(u, max_bytes=10_000, timeout_s=5) for u in urls)
    )
    assert [d for d, _ in results] == [png(3, 3, (i, i, i)) for i in range(5)]
