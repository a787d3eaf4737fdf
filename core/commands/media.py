"""/song, /lyrics, /video, /tts and /voice."""

from __future__ import annotations

import math
import re

from core.commands.images import aspect_of, split_model_flag
from core.commands.table import Command
from core.errors import (
    BadFlagError,
    NeedsPhotoError,
    NothingToSayError,
    PromptMissingError,
    UnknownVideoModelError,
)
from core.jobs.runner import JobRunner
from core.jobs.video import KLING_I2V, KLING_T2V, LUMA, RUNWAY, VideoBackend
from core.media.images import prepare_image_async
from core.media.voice import Voice
from core.platform.outbox import Destination
from core.platform.types import Attachment, FinalText, IncomingMessage, ReplyEvent
from core.relay.suno import SunoClient
from core.relay.video import runway_ratio
from core.storage.store import Store
from core.texts.i18n import Lang, t

MAX_VIDEO_S = 30
_INSTRUMENTAL = re.compile(r"^(?:-i|--instrumental)\b\s*", re.IGNORECASE)
_DURATION = re.compile(r"(?:--duration|-d)\s+(\d+)\s*s?\b", re.IGNORECASE)
_FIELD = re.compile(r"^(title|tags|style)\s*[:：]\s*(.*)$", re.IGNORECASE)


def parse_song(args: str) -> dict[str, str | bool]:
    """``/song`` arguments: a description (inspiration mode), or ``title:``/``tags:`` lines
    followed by lyrics (custom mode); ``-i`` first makes it instrumental."""
    instrumental = bool(_INSTRUMENTAL.match(args))
    args = _INSTRUMENTAL.sub("", args, count=1).strip()
    lines = args.splitlines()
    fields: dict[str, str | bool] = {"instrumental": instrumental}
    body_start = 0
    for i, line in enumerate(lines):
        match = _FIELD.match(line.strip())
        if match is None:
            break
        key = "tags" if match[1].lower() in ("tags", "style") else "title"
        fields[key] = match[2].strip()
        body_start = i + 1
    body = "\n".join(lines[body_start:]).strip()
    if "title" in fields or "tags" in fields:
        fields["prompt"] = body  # custom mode: the rest is the lyrics
    else:
        fields["description"] = body
    return fields


class MediaCommands:
    """Music and video as jobs; speech both ways."""

    def __init__(
        self,
        *,
        song_model: str,
        video_model: str,
        suno: SunoClient,
        video: VideoBackend,
        voice: Voice,
        jobs: JobRunner,
        store: Store,
    ) -> None:
        self._mv = song_model
        self._video_model = video_model
        self._suno = suno
        self._video = video
        self._voice = voice
        self._jobs = jobs
        self._store = store

    def reconfigure(self, song_model: str, video_model: str) -> None:
        """A config reload: ``models.song`` and ``models.video`` for the next command."""
        self._mv, self._video_model = song_model, video_model

    async def run(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> list[ReplyEvent]:
        dest = Destination.of(msg, lang)
        images = [a for a in msg.attachments if a.kind == "image"]
        if command.name == "song":
            return await self._song(command.args, key, dest)
        if command.name == "lyrics":
            if not command.args:
                raise PromptMissingError(command="lyrics")
            prompt = command.args
            await self._jobs.submit(
                "suno", "lyrics", key, dest, prompt, lambda: self._suno.lyrics(prompt)
            )
            return []
        if command.name == "video":
            return await self._video_command(command.args, images, key, dest)
        if command.name == "tts":
            text = command.args or (msg.reply_to.text if msg.reply_to else "")
            if not text.strip():
                raise NothingToSayError()
            return [await self._voice.speak(text.strip(), msg.platform)]
        return await self._voice_setting(command.args, key, lang)

    async def _song(self, args: str, key: str, dest: Destination) -> list[ReplyEvent]:
        words = args.split()
        if len(words) == 4 and words[0] == "continue" and _is_position(words[3]):
            _, task_id, clip_id, at = words  # a clip's "continue" button
            original = await self._jobs.jobs.by_task("suno", task_id)
            label = original.prompt if original else clip_id
            start = float(at) if at != "-" else None
            await self._jobs.submit(
                "suno",
                "music",
                key,
                dest,
                label[:200],
                lambda: self._suno.music(
                    mv=self._mv, continue_clip_id=clip_id, continue_at=start, task_id=task_id
                ),
            )
            return []
        model, rest = split_model_flag(args, self._mv)
        if _dangling_flag(rest):
            raise BadFlagError(command="song")
        fields = parse_song(rest)
        if not (fields.get("description") or fields.get("prompt") or fields.get("tags")):
            raise PromptMissingError(command="song")
        label = str(fields.get("title") or fields.get("description") or fields.get("tags"))
        await self._jobs.submit(
            "suno",
            "music",
            key,
            dest,
            label[:200],
            lambda: self._suno.music(
                description=_opt(fields, "description"),
                prompt=_opt(fields, "prompt"),
                title=_opt(fields, "title"),
                tags=_opt(fields, "tags"),
                mv=model,
                instrumental=bool(fields["instrumental"]),
            ),
        )
        return []

    async def _video_command(
        self, args: str, images: list[Attachment], key: str, dest: Destination
    ) -> list[ReplyEvent]:
        words = args.split()
        if len(words) == 2 and words[0] == "extend":  # Luma's "extend" button
            original = await self._jobs.jobs.by_task("video", words[1])
            prompt = original.prompt if original else ""
            await self._jobs.submit(
                "video",
                LUMA,
                key,
                dest,
                prompt[:200],
                lambda: self._video.luma.extend(words[1], prompt),
            )
            return []
        model, rest = split_model_flag(args, self._video_model)
        aspect, rest = aspect_of(rest)
        duration_match = _DURATION.search(rest)
        duration = int(duration_match[1]) if duration_match else None
        prompt = _DURATION.sub("", rest).strip()
        if (duration is not None and not 1 <= duration <= MAX_VIDEO_S) or _dangling_flag(prompt):
            raise BadFlagError(command="video")
        if not prompt and not images:
            raise PromptMissingError(command="video")
        picture = await prepare_image_async(images[0].data) if images else None
        uri = picture.data_uri if picture else None
        name = model.lower()
        if name == "luma" or name.startswith("ray"):
            kind, call = (
                LUMA,
                lambda: self._video.luma.generate(
                    prompt,
                    aspect_ratio=aspect,
                    image_url=uri,
                    model_name=None if name == "luma" else model,
                    duration=f"{duration}s" if duration else None,
                ),
            )
        elif name.startswith("kling"):
            if uri is None:
                kind, call = (
                    KLING_T2V,
                    lambda: self._video.kling.text2video(
                        prompt,
                        model_name=model,
                        aspect_ratio=aspect,
                        duration=str(duration) if duration else None,
                    ),
                )
            else:
                raw = uri.split(",", 1)[1]  # Kling wants the base64 without the data: prefix
                kind, call = (
                    KLING_I2V,
                    lambda: self._video.kling.image2video(
                        raw, prompt, model_name=model, duration=str(duration) if duration else None
                    ),
                )
        elif name.startswith(("gen", "runway")):  # Runway: image to video only
            if uri is None or picture is None:
                raise NeedsPhotoError(model=model)
            # Runway requires a ratio: --ar picks the closest, else the photo's orientation
            ratio = runway_ratio(model, aspect, (picture.width, picture.height))
            kind, call = (
                RUNWAY,
                lambda: self._video.runway.image_to_video(
                    uri, prompt, model=model, ratio=ratio, duration=duration
                ),
            )
        else:
            raise UnknownVideoModelError(model=model[:64])
        await self._jobs.submit("video", kind, key, dest, prompt[:200] or model, call)
        return []

    async def _voice_setting(self, args: str, key: str, lang: Lang) -> list[ReplyEvent]:
        word = args.strip().lower()
        if word in ("on", "off", "开", "关"):
            on = word in ("on", "开")
            await self._store.set_voice_reply(key, on)
            return [
                FinalText(t("voice.reply_on" if on else "voice.reply_off", lang), markdown=False)
            ]
        state = (await self._store.get_settings(key)).voice_reply
        word = t("voice.state_on" if state else "voice.state_off", lang)
        return [FinalText(t("voice.status", lang, state=word), markdown=False)]


def _dangling_flag(text: str) -> bool:
    """A prompt that still starts with a flag: a flag without its value, or one we don't know
    ("-m" alone, "-d abc"). Sent on, it would become the prompt of a paid job."""
    first = text.split(maxsplit=1)[0] if text.split() else ""
    return first.startswith("-") and first not in ("-i", "--instrumental") and len(first) > 1


def _is_position(text: str) -> bool:
    """A continue position: seconds, or "-" for "from the end"."""
    if text == "-":
        return True
    try:
        seconds = float(text)
    except ValueError:
        return False
    return math.isfinite(seconds) and seconds >= 0


def _opt(fields: dict[str, str | bool], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value else None
