"""core.media.images on pictures built in memory with Pillow: size, quality, alpha, EXIF, bombs."""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageDraw

from core.errors import UnsupportedImageError, user_text
from core.media.images import (
    PreparedImage,
    prepare_image,
    thumbnail_for_history,
    to_png,
    verified_image_type,
)
from core.media.sniff import audio_type, image_magic, video_type
from core.texts.i18n import t


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Random RGB pixels: the worst case for JPEG, so byte budgets really bite."""
    w, h = size
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(w * h * 3))


def photo(size: tuple[int, int]) -> Image.Image:
    """A smooth, photo-like picture: coarse noise blown up."""
    return noise((size[0] // 40, size[1] // 40)).resize(size, Image.Resampling.BICUBIC)


def opened(prepared: PreparedImage) -> Image.Image:
    im = Image.open(io.BytesIO(prepared.data))
    assert im.format == "JPEG" and im.mode == "RGB"
    assert im.size == (prepared.width, prepared.height)
    return im


def test_phone_photo_is_scaled_to_1568_and_fits() -> None:
    data = encode(photo((4000, 3000)), "JPEG", quality=95)
    out = prepare_image(data)
    assert (out.width, out.height) == (1568, 1176)
    assert len(out.data) <= 1_500_000
    assert out.mime == "image/jpeg"
    opened(out)


def test_history_thumbnail_is_smaller() -> None:
    out = thumbnail_for_history(encode(photo((4000, 3000)), "JPEG", quality=95))
    assert (out.width, out.height) == (768, 576)
    assert len(out.data) <= 200_000


def quantization_sum(data: bytes) -> int:
    tables = Image.open(io.BytesIO(data)).quantization  # type: ignore[attr-defined]
    return sum(sum(table) for table in tables.values())


def test_tight_budget_lowers_quality_before_size() -> None:
    im = noise((600, 400))
    q85, q40 = encode(im, "JPEG", quality=85), encode(im, "JPEG", quality=40)
    budget = (len(q85) + len(q40)) // 2
    out = prepare_image(encode(im, "PNG"), max_bytes=budget)
    assert (out.width, out.height) == (600, 400)  # size kept ...
    assert len(out.data) <= budget
    assert quantization_sum(out.data) > quantization_sum(q85)  # ... quality lowered


def test_tiny_budget_shrinks_the_picture_and_still_fits() -> None:
    im = noise((1200, 900))
    budget = len(encode(im, "JPEG", quality=40)) // 10
    out = prepare_image(encode(im, "PNG"), max_bytes=budget)
    assert len(out.data) <= budget
    assert out.width < 1200 and out.height < 900
    assert abs(out.width / out.height - 4 / 3) < 0.05
    opened(out)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_flattened_on_white(mode: str) -> None:
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(im).rectangle((16, 16, 47, 47), fill=(0, 0, 200, 255))
    if mode == "LA":
        im = im.convert("LA")
    elif mode == "P":  # palette PNG with a transparent index
        im = im.convert("RGB").quantize(colors=4)
        im.info["transparency"] = im.getpixel((0, 0))
    out = opened(prepare_image(encode(im, "PNG")))
    corner, center = out.getpixel((0, 0)), out.getpixel((32, 32))
    assert isinstance(corner, tuple) and isinstance(center, tuple)
    assert min(corner) >= 250  # white where it was transparent, not black
    assert max(center) < 210 and center != corner


def test_exif_orientation_6_is_applied() -> None:
    im = Image.new("RGB", (400, 200), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((0, 0, 49, 49), fill=(255, 0, 0))  # stored top-left
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to display"
    out = opened(prepare_image(encode(im, "JPEG", exif=exif)))
    assert (out.width, out.height) == (200, 400)
    top_right = out.getpixel((190, 10))
    top_left = out.getpixel((10, 10))
    assert isinstance(top_right, tuple) and isinstance(top_left, tuple)
    assert top_right[0] > 200 and top_right[1] < 60  # red moved to the top right
    assert min(top_left) > 200
    assert ExifTags.Base.Orientation not in out.getexif()  # not applied twice by a viewer


def test_output_carries_no_exif_or_gps() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (35.0, 40.0, 12.5),
    }
    data = encode(photo((800, 600)), "JPEG", exif=exif)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # input has GPS
    for out in (prepare_image(data).data, thumbnail_for_history(data).data, to_png(data)):
        im = Image.open(io.BytesIO(out))
        assert "exif" not in im.info
        assert not im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert len(im.getexif()) == 0
        assert b"Exif" not in out and b"PhoneCo" not in out


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 3  # type: ignore[attr-defined]
    out = opened(prepare_image(data))
    pixel = out.getpixel((20, 15))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


def test_multi_picture_phone_jpeg_gives_its_main_picture() -> None:
    frames = [Image.new("RGB", (50, 40), (255, 0, 0)), Image.new("RGB", (50, 40), (0, 0, 255))]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    pixel = opened(prepare_image(data)).getpixel((25, 20))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200 and pixel[2] < 60


def test_webp_is_read() -> None:
    out = prepare_image(encode(photo((320, 240)), "WEBP"))
    assert (out.width, out.height) == (320, 240)


def test_small_picture_is_not_upscaled() -> None:
    out = prepare_image(encode(photo((120, 80)), "PNG"))
    assert (out.width, out.height) == (120, 80)


def test_sixteen_bit_grey_keeps_its_tones() -> None:
    im = Image.new("I;16", (64, 64), 32768)  # mid grey in 16 bits
    pixel = opened(prepare_image(encode(im, "PNG"))).getpixel((32, 32))
    assert isinstance(pixel, tuple) and all(100 < c < 160 for c in pixel)


def test_data_uri() -> None:
    out = prepare_image(encode(photo((80, 80)), "PNG"))
    head, _, body = out.data_uri.partition(",")
    assert head == "data:image/jpeg;base64"
    assert base64.b64decode(body, validate=True) == out.data


def test_to_png_keeps_alpha_and_orientation() -> None:
    im = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    png = Image.open(io.BytesIO(to_png(encode(im, "PNG", exif=exif))))
    assert png.format == "PNG" and png.mode == "RGBA" and png.size == (100, 300)
    assert png.getpixel((0, 0)) == (0, 0, 0, 0)
    big = Image.open(io.BytesIO(to_png(encode(photo((4000, 3000)), "JPEG"))))
    assert big.mode == "RGB" and big.size == (2048, 1536)


def png_claiming(width: int, height: int) -> bytes:
    """A 60-byte PNG whose header claims ``width`` × ``height``: a decompression bomb's face."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = encode(photo((400, 300)), "JPEG")
    return data[: len(data) // 2]


BAD_INPUTS = {
    "empty": b"",
    "random bytes": random.Random(1).randbytes(4096),
    "png signature then garbage": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20,
    "truncated jpeg": truncated_jpeg(),
    "text file": b"hello, this is a shopping list\n- milk\n",
    "bomb 100000x100000 (Pillow's own limit)": png_claiming(100_000, 100_000),
    "bomb 10000x10000 (Pillow warns, we refuse)": png_claiming(10_000, 10_000),
    "bomb 9000x9000 (above our 60 MP)": png_claiming(9_000, 9_000),
    "bmp (not a format we take)": encode(Image.new("RGB", (10, 10)), "BMP"),
}


@pytest.mark.parametrize("data", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
@pytest.mark.parametrize("convert", [prepare_image, thumbnail_for_history, to_png])
def test_unreadable_data_is_unsupported_image(data: bytes, convert: object) -> None:
    assert callable(convert)
    with pytest.raises(UnsupportedImageError) as caught:
        convert(data)
    assert caught.value.code == "unsupported_image"
    assert user_text(caught.value, "zh") == t("error.unsupported_image", "zh")
    assert user_text(caught.value, "en") == t("error.unsupported_image", "en")
    assert "JPEG" in user_text(caught.value, "en") and "图片" in user_text(caught.value, "zh")


def test_nonsense_limits_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        prepare_image(b"whatever", max_bytes=0)


# -- what a downloaded result really is ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_verified_image_type_reads_real_pictures(fmt: str, mime: str) -> None:
    data = encode(Image.new("RGB", (40, 30), "green"), fmt)
    assert image_magic(data) == mime and verified_image_type(data) == mime


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!doctype html><html><body>Not found</body></html>",
        b'{"error": "expired"}',
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # the signature only
        encode(Image.new("RGB", (40, 30)), "PNG")[:-8],  # cut before its end
        encode(Image.new("RGB", (40, 30)), "BMP"),  # a format we do not send
    ],
)
def test_verified_image_type_refuses_what_is_not_a_sound_picture(data: bytes) -> None:
    assert verified_image_type(data) is None


@pytest.mark.parametrize(
    ("data", "audio", "video"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb", "audio/mpeg", None),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg", None),  # MPEG frame without ID3
        (b"\xff\xf1\x50\x80\x00", "audio/aac", None),  # ADTS
        (b"OggS\x00\x02", "audio/ogg", None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav", None),
        (b"fLaC\x00\x00", "audio/flac", None),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "audio/mp4", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "audio/mp4", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x01\x00", "audio/webm", "video/webm"),
        (b"<html><body>502</body></html>", None, None),
        (b"", None, None),
        (b"\x89PNG\r\n\x1a\n", None, None),
    ],
)
def test_audio_and_video_are_sniffed_by_magic_bytes(
    data: bytes, audio: str | None, video: str | None
) -> None:
    assert (audio_type(data), video_type(data)) == (audio, video)
