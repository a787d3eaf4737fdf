"""/img, /describe, /blend, /jobs and Midjourney button presses."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from core.commands.table import Command
from core.errors import (
    BadFlagError,
    BlendCountError,
    DescribeImageMissingError,
    NoPhotoPromptError,
    NotEnabledError,
    PromptMissingError,
)
from core.jobs.midjourney import button_label
from core.jobs.runner import JobRunner
from core.media.fetcher import MediaFetcher
from core.media.images import data_uri, to_png
from core.platform.outbox import Destination
from core.platform.types import Attachment, FinalText, ImageReply, IncomingMessage, ReplyEvent
from core.relay.images import IDEOGRAM_ASPECTS, GeneratedImage, ImagesClient
from core.relay.images import ideogram_aspect as ideogram_name
from core.relay.midjourney import MidjourneyClient
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.engine")

MJ_NAMES = frozenset({"midjourney", "mj"})
_MODEL_FLAG = re.compile(r"^(?:-m|--model)[\s=]+(\S+)\s*(.*)$", re.DOTALL)
_AR = re.compile(r"--ar\s+(\d+)\s*:\s*(\d+)")
_DALLE3_SIZES = {
    "1:1": "1024x1024",
    "16:9": "1792x1024",
    "9:16": "1024x1792",
    "3:2": "1792x1024",
    "2:3": "1024x1792",
    "4:3": "1792x1024",
    "3:4": "1024x1792",
}


def split_model_flag(args: str, default: str) -> tuple[str, str]:
    """``-m flux-pro a cat`` -> ("flux-pro", "a cat"); no flag -> (default, args)."""
    match = _MODEL_FLAG.match(args.strip())
    if match:
        return match[1], match[2].strip()
    return default, args.strip()


def aspect_of(prompt: str) -> tuple[str | None, str]:
    """The ``--ar W:H`` of a prompt and the prompt without it (for non-MJ backends)."""
    match = _AR.search(prompt)
    if match is None:
        return None, prompt
    return f"{match[1]}:{match[2]}", (prompt[: match.start()] + prompt[match.end() :]).strip()


class ImageCommands:
    """Pictures: generated at once (OpenAI images format, ideogram) or as Midjourney jobs."""

    def __init__(
        self,
        *,
        default_model: str,
        images: ImagesClient,
        mj: MidjourneyClient,
        jobs: JobRunner,
        media: MediaFetcher,
    ) -> None:
        self._default = default_model
        self._images = images
        self._mj = mj
        self._jobs = jobs
        self._media = media

    def reconfigure(self, default_model: str) -> None:
        """A config reload: ``models.image`` for the next /img."""
        self._default = default_model

    async def run(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> list[ReplyEvent]:
        dest = Destination.of(msg, lang)
        images = [a for a in msg.attachments if a.kind == "image"]
        if command.name == "img":
            return await self._img(command.args, images, key, dest)
        if command.name == "describe":
            return await self._describe(images, key, dest)
        if command.name == "blend":
            return await self._blend(images, key, dest)
        if command.name == "mj":
            return await self._action(command.args, key, dest)
        if command.name == "jobs":
            return await self._jobs_command(command.args, dest)
        raise NotEnabledError(command=command.name)

    # --- /img ------------------------------------------------------------------------------

    async def _img(
        self, args: str, images: Sequence[Attachment], key: str, dest: Destination
    ) -> list[ReplyEvent]:
        model, prompt = split_model_flag(args, self._default)
        if prompt.startswith("-") and not _AR.match(prompt):  # "-m" alone, "--ar x", "-x"
            raise BadFlagError(command="img")
        if not aspect_of(prompt)[1]:  # nothing to draw once the flags are taken out
            raise PromptMissingError(command="img")
        if model.lower() in MJ_NAMES:
            uris = [await data_uri(a.data) for a in images]
            await self._jobs.submit(
                "mj", "imagine", key, dest, prompt, lambda: self._mj.imagine(prompt, images=uris)
            )
            return []
        aspect, plain_prompt = aspect_of(prompt)
        if model.lower() == "ideogram":
            if images:
                raise NoPhotoPromptError(model="ideogram")
            if aspect and not _ideogram_offers(aspect):
                aspect = None  # a ratio ideogram does not offer: its default
            results = await self._images.ideogram(plain_prompt, aspect_ratio=aspect)
        elif images:
            png = await asyncio.to_thread(to_png, images[0].data)
            results = await self._images.edit(model, plain_prompt, png, "image/png")
        else:
            size = _DALLE3_SIZES.get(aspect or "") if model.startswith("dall-e-3") else None
            results = await self._images.generate(model, plain_prompt, size=size)
        log.info("image generated key=%s model=%s count=%d", key, model, len(results))
        return [await self._image_event(r, plain_prompt, dest.lang) for r in results[:4]]

    async def _image_event(self, image: GeneratedImage, prompt: str, lang: Lang) -> ReplyEvent:
        caption = image.revised_prompt or prompt  # cut to the platform's longest when sent
        if image.data is not None:
            return ImageReply(image.data, _sniff(image.data), caption)
        url = image.url or ""
        fetched = await self._media.fetch_or_link(url, lang, "image")
        if isinstance(fetched, FinalText):
            return fetched
        data, mime = fetched
        return ImageReply(data, mime, caption)  # mime: read from the bytes, a real picture

    # --- Midjourney jobs -------------------------------------------------------------------

    async def _describe(
        self, images: Sequence[Attachment], key: str, dest: Destination
    ) -> list[ReplyEvent]:
        if not images:
            raise DescribeImageMissingError()
        uri = await data_uri(images[0].data)
        await self._jobs.submit(
            "mj", "describe", key, dest, "describe", lambda: self._mj.describe(uri)
        )
        return []

    async def _blend(
        self, images: Sequence[Attachment], key: str, dest: Destination
    ) -> list[ReplyEvent]:
        if not 2 <= len(images) <= 5:
            raise BlendCountError(count=str(len(images)))
        uris = [await data_uri(a.data) for a in images]
        await self._jobs.submit(
            "mj", "blend", key, dest, f"blend {len(uris)}", lambda: self._mj.blend(uris)
        )
        return []

    async def _action(self, args: str, key: str, dest: Destination) -> list[ReplyEvent]:
        task_id, _, custom_id = args.partition(" ")
        if not task_id or not custom_id:
            raise PromptMissingError(command="mj")
        label = button_label(custom_id.strip())
        await self._jobs.submit(
            "mj", "action", key, dest, label, lambda: self._mj.action(task_id, custom_id.strip())
        )
        return []

    async def _jobs_command(self, args: str, dest: Destination) -> list[ReplyEvent]:
        words = args.split()
        if len(words) == 2 and words[0] == "resend" and words[1].isdigit():
            if await self._jobs.resend(int(words[1]), dest.user_id):
                return []
            return [FinalText(t("jobs.not_found", dest.lang, id=words[1]), markdown=False)]
        return await self._jobs.listing(dest)


def _ideogram_offers(aspect: str) -> bool:
    try:
        return ideogram_name(aspect) in IDEOGRAM_ASPECTS
    except ValueError:
        return False


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"
