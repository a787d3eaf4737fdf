"""Synchronous image generation on the relay: DALL·E-format generations and edits, ideogram."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import FeatureUnavailableError, RelayBadRequestError, RelayBadResponseError
from core.relay.client import RelayClient

__all__ = ["IDEOGRAM_ASPECTS", "GeneratedImage", "ImagesClient", "ideogram_aspect"]

IDEOGRAM_ASPECTS = frozenset(
    f"ASPECT_{r}"
    for r in ("1_1", "16_9", "9_16", "4_3", "3_4", "3_2", "2_3", "16_10", "10_16", "1_3", "3_1")
)
_RATIO_RE = re.compile(r"^\s*(\d+)\s*[:x×_/]\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One result: a URL to download (expires: ~1 h OpenAI, ~24 h ideogram) or the bytes."""

    url: str | None
    data: bytes | None
    revised_prompt: str = ""


def ideogram_aspect(value: str) -> str:
    """Map "16:9" (or "16x9", "ASPECT_16_9") to "ASPECT_16_9"; ValueError for other ratios."""
    text = value.strip().upper()
    found = _RATIO_RE.match(text.removeprefix("ASPECT_"))
    aspect = f"ASPECT_{int(found.group(1))}_{int(found.group(2))}" if found else text
    if aspect not in IDEOGRAM_ASPECTS:
        raise ValueError(f"ideogram has no aspect ratio {value!r}")
    return aspect


def _images(data: Any, request_id: str, *, prompt_key: str) -> list[GeneratedImage]:
    """``data[]`` items with ``url`` or ``b64_json``; RelayBadResponseError when none is usable."""
    items = data.get("data") if isinstance(data, dict) else None
    out: list[GeneratedImage] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        revised = item.get(prompt_key)
        revised = revised if isinstance(revised, str) else ""
        b64, url = item.get("b64_json"), item.get("url")
        if isinstance(b64, str) and b64:
            try:
                raw = base64.b64decode(b64.split(",", 1)[-1], validate=False)
            except (binascii.Error, ValueError):
                raise RelayBadResponseError(
                    "image b64_json is not base64", status=200, request_id=request_id
                ) from None
            out.append(GeneratedImage(None, raw, revised))
        elif isinstance(url, str) and url.strip():
            out.append(GeneratedImage(url.strip(), None, revised))
    if not out:
        raise RelayBadResponseError(
            "image answer without data[].url or data[].b64_json", status=200, request_id=request_id
        )
    return out


class ImagesClient:
    """Image routes of one relay. Every call is paid, so none is retried after it was sent."""

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        size: str | None = None,
        n: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> list[GeneratedImage]:
        """``POST /v1/images/generations`` (dall-e-3, gpt-image-*, flux, recraft, SD ...).

        ``extra`` adds or overrides body fields (``quality``, ``style``, ``aspect_ratio`` ...).
        """
        body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n}
        if size:
            body["size"] = size
        if not model.lower().startswith("gpt-image"):  # gpt-image-* always answers b64_json
            body["response_format"] = "url"
        body.update(extra or {})
        data, rid = await self._relay.request_json(
            "POST", "/v1/images/generations", body, retry=False
        )
        return _images(data, rid, prompt_key="revised_prompt")

    async def edit(self, model: str, prompt: str, image: bytes, mime: str) -> list[GeneratedImage]:
        """``POST /v1/images/edits`` (multipart); FeatureUnavailableError where not implemented."""
        ext = mime.rsplit("/", 1)[-1].split(";")[0].strip() or "png"
        fields = {"model": model, "prompt": prompt, "n": "1"}
        if not model.lower().startswith("gpt-image"):
            fields["response_format"] = "url"
        try:
            data, rid = await self._relay.request_multipart(
                "/v1/images/edits", fields, {"image": (f"image.{ext}", image, mime)}, retry=False
            )
        except RelayBadRequestError as exc:
            if exc.status in (404, 501):
                raise FeatureUnavailableError(feature="image edits") from exc
            raise
        return _images(data, rid, prompt_key="revised_prompt")

    async def ideogram(
        self, prompt: str, *, aspect_ratio: str | None = None, model: str | None = None
    ) -> list[GeneratedImage]:
        """``POST /ideogram/generate``; ``aspect_ratio`` like "16:9", ``model`` like "V_2"."""
        request: dict[str, Any] = {"prompt": prompt}
        if aspect_ratio:
            request["aspect_ratio"] = ideogram_aspect(aspect_ratio)
        if model:
            request["model"] = model
        data, rid = await self._relay.request_json(
            "POST", "/ideogram/generate", {"image_request": request}, retry=False
        )
        return _images(data, rid, prompt_key="prompt")
