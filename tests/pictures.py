"""Real, small pictures made in memory for tests (Pillow)."""

from __future__ import annotations

import base64
import io

from PIL import Image


def picture(width: int = 64, height: int = 48, color: str = "red", fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def decode_data_uri(uri: str) -> Image.Image:
    """The picture inside a ``data:image/...;base64,`` URI."""
    head, _, body = uri.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head
    return Image.open(io.BytesIO(base64.b64decode(body)))
