"""What each command of the table in core.commands.table does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.commands.access import ACCESS_COMMANDS, AccessCommands
from core.commands.images import ImageCommands
from core.commands.media import MediaCommands
from core.commands.table import COMMANDS, Command
from core.config.settings import Settings
from core.engine.ports import ChatBackend
from core.errors import NotEnabledError, UnknownModelError
from core.platform.traits import PlatformTraits, TraitsRegistry
from core.platform.types import Button, ButtonRows, FinalText, IncomingMessage, ReplyEvent
from core.storage.store import Store
from core.texts.i18n import Lang, has_text, t

MODELS_SHOWN = 60
HELP_TOPIC_MAX = 32  # an unknown topic is echoed back at most this long
IMAGE_COMMANDS = frozenset({"img", "describe", "blend", "mj", "jobs"})
MEDIA_COMMANDS = frozenset({"song", "lyrics", "video", "tts", "voice"})
_SYSTEM_RESET_WORDS = frozenset({"reset", "default", "clear", "重置", "默认", "清除"})

Handler = Callable[[Command, IncomingMessage, str, Lang], Awaitable["str | list[ReplyEvent]"]]
MODEL_BUTTONS_PER_ROW = 2
# /help of these commands names the models their -m may pick (models.<feature>_choices).
_MODEL_FLAG_FEATURES = {"img": "image", "song": "song", "video": "video"}


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
        store: Store,
        relay: ChatBackend,
        images: ImageCommands | None = None,
        media: MediaCommands | None = None,
        traits: TraitsRegistry | None = None,
        access: AccessCommands | None = None,
    ) -> None:
        self._settings = settings
        self._access = access
        self._traits = traits or TraitsRegistry()
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

    def reconfigure(self, settings: Settings) -> None:
        """Use ``settings`` (a config reload) from the next command on."""
        self._settings = settings

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
        if command.name in ACCESS_COMMANDS and self._access is not None:
            return await self._access.run(command, msg, key, lang)
        if command.name == "help" and help_topic(command.args):
            topic = help_topic(command.args)
            detail = self._help_detail(topic, lang, self._traits.of(msg.platform))
            return [FinalText(detail, markdown=False)]
        handler = self._handlers.get(command.name)
        if handler is None or not command.spec.enabled:
            raise NotEnabledError(command=command.name)
        answer = await handler(command, msg, key, lang)
        return [FinalText(answer, markdown=False)] if isinstance(answer, str) else answer

    def allowed_model(self, stored: str | None) -> str:
        """The conversation's model, if the admin still allows it; else the default."""
        if stored and stored in self._settings.models.chat_models():
            return stored
        return self._settings.models.chat

    async def current_model(self, key: str) -> str:
        return self.allowed_model((await self._store.get_settings(key)).model)

    async def _start(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        return t("cmd.start", lang, name=msg.display_name or "👋")

    async def _help(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        traits = self._traits.of(msg.platform)
        lines = [t("cmd.help.head", lang)]
        lines += [
            f"/{s.name} — {help_text(s.help_key, lang, traits)}" for s in COMMANDS if not s.hidden
        ]
        lines.append(help_text("cmd.help.typed", lang, traits))
        lines.append(t("cmd.help.tail", lang, model=await self.current_model(key)))
        return "\n".join(lines)

    def _help_detail(self, name: str, lang: Lang, traits: PlatformTraits) -> str:
        """``/help img``: usage, flags and an example of one command."""
        key = f"helpdetail.{name}"
        if has_text(key):
            models = self._settings.models
            fields = {"default": models.image, "song": models.song, "video": models.video}
            detail = help_text(key, lang, traits, **fields)
            feature = _MODEL_FLAG_FEATURES.get(name)
            if feature is None:
                return detail
            choices = ", ".join(models.choices(feature))
            return f"{detail}\n{t('help.models_here', lang, choices=choices)}"
        typed = next((s for s in COMMANDS if s.name == name and s.typed), None)
        if typed is not None:  # /help u2: what the typed buttons are
            return help_text("cmd.help.typed", lang, traits)
        spec = next((s for s in COMMANDS if s.name == name and not s.hidden), None)
        if spec is None:
            return t("cmd.unknown", lang, command=name)
        return f"/{spec.name} — {help_text(spec.help_key, lang, traits)}"

    async def _reset(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        await self._store.clear_history(key)
        return t("cmd.reset.done", lang)

    async def _model(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> str | list[ReplyEvent]:
        choices = self._settings.models.chat_models()
        if not command.args:
            model = await self.current_model(key)
            text = t("cmd.model.current", lang, model=model, choices=", ".join(choices))
            # No typed forms on these buttons: the text itself says "/model NAME".
            buttons = [Button(("✓ " if m == model else "") + m, f"/model {m}") for m in choices]
            menu = ButtonRows.chunked(buttons, MODEL_BUTTONS_PER_ROW)
            return [FinalText(text, markdown=False), menu]
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


def help_text(key: str, lang: Lang, traits: PlatformTraits, **fields: object) -> str:
    """A help text worded for the platform: where it has no buttons (and no captions, albums
    or replies to speak of), the ``.plain`` wording when there is one."""
    if not traits.buttons and has_text(f"{key}.plain"):
        key = f"{key}.plain"
    return t(key, lang, **fields)
