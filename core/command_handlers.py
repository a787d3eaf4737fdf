"""What each command of the table in core.commands does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.commands import COMMANDS, Command
from core.config import Settings
from core.errors import NotEnabledError, UnknownModelError
from core.i18n import Lang, has_text, t
from core.img_commands import ImageCommands
from core.media_commands import MediaCommands
from core.ports import ChatBackend
from core.store import SqliteStore
from core.types import Button, ButtonRows, FinalText, IncomingMessage, ReplyEvent

MODELS_SHOWN = 60
HELP_TOPIC_MAX = 32  # an unknown topic is echoed back at most this long
IMAGE_COMMANDS = frozenset({"img", "describe", "blend", "mj", "jobs"})
MEDIA_COMMANDS = frozenset({"song", "lyrics", "video", "tts", "voice"})
_SYSTEM_RESET_WORDS = frozenset({"reset", "default", "clear", "重置", "默认", "清除"})

Handler = Callable[[Command, IncomingMessage, str, Lang], Awaitable["str | list[ReplyEvent]"]]
MODEL_BUTTONS_PER_ROW = 2


def help_topic(args: str) -> str:
    """The command ``/help`` is asked about: ``/help /img@Bot more`` -> "img"; "" when the
    arguments name nothing (``/help /``, ``/help ／``), which shows the whole list."""
    words = args.split()
    name = words[0].lstrip("/／").split("@", 1)[0].lower() if words else ""
    return name[:HELP_TOPIC_MAX] + ("…" if len(name) > HELP_TOPIC_MAX else "")


class CommandHandlers:
    """Runs a parsed command and returns its answer; errors are raised typed, not worded."""

    def __init__(
        self,
        settings: Settings,
        store: SqliteStore,
        relay: ChatBackend,
        images: ImageCommands | None = None,
        media: MediaCommands | None = None,
    ) -> None:
        self._settings = settings
        self._images = images
        self._media = media
        self._store = store
        self._relay = relay
        self._handlers: dict[str, Handler] = {
            "start": self._start,
            "help": self._help,
            "reset": self._reset,
            "model": self._model,
            "models": self._models,
            "system": self._system,
        }

    async def run(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> list[ReplyEvent]:
        """The reply events of ``command``: a text written by the bot, maybe with buttons."""
        if command.spec is None:
            return [FinalText(t("cmd.unknown", lang, command=command.name), markdown=False)]
        if command.name in IMAGE_COMMANDS and self._images is not None:
            return await self._images.run(command, msg, key, lang)
        if command.name in MEDIA_COMMANDS and self._media is not None:
            return await self._media.run(command, msg, key, lang)
        if command.name == "help" and help_topic(command.args):
            return [FinalText(self._help_detail(help_topic(command.args), lang), markdown=False)]
        handler = self._handlers.get(command.name)
        if handler is None or not command.spec.enabled:
            raise NotEnabledError(command=command.name)
        answer = await handler(command, msg, key, lang)
        return [FinalText(answer, markdown=False)] if isinstance(answer, str) else answer

    def model_choices(self) -> list[str]:
        """Models users may pick: the default chat model first, then the allow-list."""
        default = self._settings.models.chat
        return [default, *(m for m in self._settings.models.chat_choices if m != default)]

    def allowed_model(self, stored: str | None) -> str:
        """The conversation's model, if the admin still allows it; else the default."""
        if stored and stored in self.model_choices():
            return stored
        return self._settings.models.chat

    async def current_model(self, key: str) -> str:
        return self.allowed_model((await self._store.get_settings(key)).model)

    async def _start(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        return t("cmd.start", lang, name=msg.display_name or "👋")

    async def _help(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        lines = [t("cmd.help.head", lang)]
        lines += [f"/{s.name} — {t(s.help_key, lang)}" for s in COMMANDS if not s.hidden]
        lines.append(t("cmd.help.tail", lang, model=await self.current_model(key)))
        return "\n".join(lines)

    def _help_detail(self, name: str, lang: Lang) -> str:
        """``/help img``: usage, flags and an example of one command."""
        key = f"helpdetail.{name}"
        if has_text(key):
            models = self._settings.models
            return t(key, lang, default=models.image, song=models.song, video=models.video)
        spec = next((s for s in COMMANDS if s.name == name and not s.hidden), None)
        if spec is None:
            return t("cmd.unknown", lang, command=name)
        return f"/{spec.name} — {t(spec.help_key, lang)}"

    async def _reset(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        await self._store.clear_history(key)
        return t("cmd.reset.done", lang)

    async def _model(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> str | list[ReplyEvent]:
        choices = self.model_choices()
        if not command.args:
            model = await self.current_model(key)
            text = t("cmd.model.current", lang, model=model, choices=", ".join(choices))
            buttons = [Button(("✓ " if m == model else "") + m, f"/model {m}") for m in choices]
            rows = tuple(
                tuple(buttons[i : i + MODEL_BUTTONS_PER_ROW])
                for i in range(0, len(buttons), MODEL_BUTTONS_PER_ROW)
            )
            return [FinalText(text, markdown=False), ButtonRows(rows)]
        wanted = command.args.split()[0]
        match = next((m for m in choices if m.lower() == wanted.lower()), None)
        if match is None:
            raise UnknownModelError(name=wanted[:64], choices=", ".join(choices))
        await self._store.set_model(key, None if match == self._settings.models.chat else match)
        return t("cmd.model.set", lang, model=match)

    async def _models(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        models = sorted(set(await self._relay.list_models()))
        if not models:
            return t("cmd.models.none", lang)
        shown = "\n".join(f"• {m}" for m in models[:MODELS_SHOWN])
        if len(models) > MODELS_SHOWN:
            shown += "\n" + t("cmd.models.more", lang, count=len(models) - MODELS_SHOWN)
        return t("cmd.models.list", lang, count=len(models), models=shown)

    async def _system(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        if not command.args:
            current = (await self._store.get_settings(key)).system_prompt
            if current is None:
                current = self._settings.chat.system_prompt
            return t("cmd.system.current", lang, prompt=current or t("cmd.system.none", lang))
        if command.args.lower() in _SYSTEM_RESET_WORDS:
            await self._store.set_system_prompt(key, None)
            return t("cmd.system.reset", lang)
        await self._store.set_system_prompt(key, command.args)
        return t("cmd.system.set", lang)
