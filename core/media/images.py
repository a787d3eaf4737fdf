"""Pictures from users made safe and small for the relay: upright, RGB, no metadata, JPEG."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.errors import UnsupportedImageError

MAX_PIXELS = 60_000_000
"""Largest picture decoded (a 12 MP phone photo is far below); more is treated as a bomb."""

FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
"""Formats we decode ("JPEG" includes multi-picture MPO phone JPEGs); other plugins stay shut."""

QUALITIES = (85, 75, 65, 55, 45, 40)
MIN_SIDE = 16
_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# What Pillow raises on bad input; its own bomb warning counts too (raised under -W error).
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    ValueError,
    TypeError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An encoded picture ready to send: ``data`` in ``mime``, ``width`` × ``height`` pixels."""

    data: bytes
    mime: str
    width: int
    height: int

    @property
    def data_uri(self) -> str:
        """``data:<mime>;base64,...``, the form the relay wants in ``image_url.url``."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def prepare_image(
    data: bytes, *, max_side: int = 1568, max_bytes: int = 1_500_000
) -> PreparedImage:
    """Decode ``data`` and re-encode it as a JPEG of at most ``max_side`` px and ``max_bytes``.

    EXIF orientation is applied, animations give their first frame, transparency is flattened
    on white, nothing is upscaled and no metadata (EXIF, GPS, XMP, ICC) is carried over.
    Raises UnsupportedImageError for empty, broken, truncated, too large or unknown data.
    """
    _check_limits(max_side, max_bytes)
    return _encode_jpeg(_decode(data, max_side=max_side, keep_alpha=False), max_bytes)


def thumbnail_for_history(
    data: bytes, *, max_side: int = 768, max_bytes: int = 200_000
) -> PreparedImage:
    """A smaller ``prepare_image`` for keeping a picture in the conversation history."""
    return prepare_image(data, max_side=max_side, max_bytes=max_bytes)


def to_png(data: bytes, *, max_side: int = 2048) -> bytes:
    """Decode ``data`` into an upright PNG (alpha kept, no metadata) of at most ``max_side`` px.

    For image edit endpoints that take PNG only. Raises UnsupportedImageError like
    ``prepare_image``.
    """
    _check_limits(max_side, 1)
    im = _decode(data, max_side=max_side, keep_alpha=True)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _check_limits(max_side: int, max_bytes: int) -> None:
    if max_side < MIN_SIDE or max_bytes < 1:
        raise ValueError(f"max_side must be >= {MIN_SIDE} and max_bytes >= 1")


def _decode(data: bytes, *, max_side: int, keep_alpha: bool) -> Image.Image:
    """The first frame of ``data``, upright, fitted into ``max_side``, RGB (or RGBA)."""
    if not data:
        raise UnsupportedImageError()
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as src:
            width, height = src.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                raise UnsupportedImageError()
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers the target.
            src.draft(None, _fit(src.size, max_side))
            upright = ImageOps.exif_transpose(src)  # loads the first frame, always a copy
        return _finish(upright, max_side=max_side, keep_alpha=keep_alpha)
    except _DECODE_ERRORS as exc:
        raise UnsupportedImageError() from exc


def _finish(im: Image.Image, *, max_side: int, keep_alpha: bool) -> Image.Image:
    """Convert to RGB/RGBA, downscale, flatten alpha on white unless kept, drop metadata."""
    if im.mode == "I" or im.mode.startswith("I;16"):
        # 16-bit grey: Pillow would clip to 255 rather than scale, giving a white picture.
        im = im.convert("I").point(lambda v: v / 256)
    has_alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
    im = im.convert("RGBA" if has_alpha else "RGB")
    size = _fit(im.size, max_side)
    if size != im.size:
        im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if has_alpha and not keep_alpha:
        flat = Image.new("RGB", im.size, _WHITE)
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    im.info.clear()
    return im


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled down so its longest side is at most ``max_side``; never up."""
    width, height = size
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode_jpeg(im: Image.Image, max_bytes: int) -> PreparedImage:
    """The best JPEG within ``max_bytes``: lower the quality first, then the size."""
    side = max(im.size)
    while True:
        current = (
            im
            if side == max(im.size)
            else im.resize(_fit(im.size, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        )
        for quality in QUALITIES:
            buf = io.BytesIO()
            current.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes:
                return PreparedImage(buf.getvalue(), "image/jpeg", *current.size)
        if side <= MIN_SIDE:
            raise ValueError(f"max_bytes={max_bytes} is too small for any JPEG")
        # Bytes grow about with the pixel count; aim a little under, shrink by 10-50 %.
        factor = min(0.9, max(0.5, 0.95 * (max_bytes / buf.tell()) ** 0.5))
        side = max(MIN_SIDE, int(side * factor))


async def prepare_image_async(
    data: bytes, *, max_side: int = 1568, max_bytes: int = 1_500_000
) -> PreparedImage:
    """``prepare_image`` in a worker thread (it is CPU-bound)."""
    return await asyncio.to_thread(prepare_image, data, max_side=max_side, max_bytes=max_bytes)


async def data_uri(data: bytes, *, max_side: int = 1568, max_bytes: int = 1_500_000) -> str:
    """``prepare_image`` in a worker thread (it is CPU-bound), as a data URI."""
    prepared = await prepare_image_async(data, max_side=max_side, max_bytes=max_bytes)
    return prepared.data_uri


_IMAGE_MIMES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
_IMAGE_MIMES |= {"WEBP": "image/webp", "GIF": "image/gif"}


def verified_image_type(data: bytes) -> str | None:
    """The MIME type of ``data`` when Pillow reads it as a JPEG, PNG, WebP or GIF whose
    structure checks out (``verify``: PNG checksums, truncation...); None for anything else
    (an HTML error page, a text, a broken or too large picture). Nothing is decoded."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            width, height = im.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                return None
            kind = im.format or ""
            im.verify()
    except _DECODE_ERRORS:
        return None
    return _IMAGE_MIMES.get(kind)
