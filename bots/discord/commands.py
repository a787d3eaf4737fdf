"""Slash commands: one per command of the engine's table (plus /chat), described in zh and en
through Discord's localizations, each turned into the text the engine understands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands

from core.commands.table import COMMANDS
from core.platform.shape import cut
from core.texts.i18n import Lang, t

OnSlash = Callable[[discord.Interaction[Any], str, list[discord.Attachment]], Awaitable[None]]

DESCRIPTION_LIMIT = 100
CHOICES_LIMIT = 25
SKIPPED = frozenset({"start"})  # Telegram's greeting: Discord has no /start convention
PROMPTED = ("song", "lyrics", "tts")  # a required prompt
LOCALES: dict[Lang, tuple[discord.Locale, ...]] = {
    "zh": (discord.Locale.chinese, discord.Locale.taiwan_chinese),
    "en": (discord.Locale.american_english, discord.Locale.british_english),
}


def describe(key: str, default: Lang) -> app_commands.locale_str:
    """A description in ``default`` language, with the text ``key`` for Discord to localize."""
    return app_commands.locale_str(cut(t(key, default), DESCRIPTION_LIMIT), key=key)


class Texts(app_commands.Translator):
    """Discord's localizations of our descriptions, from core.texts (zh and en)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not key:
            return None
        for lang, locales in LOCALES.items():
            if locale in locales:
                return cut(t(key, lang), DESCRIPTION_LIMIT)
        return None


def typed(name: str, args: str | None) -> str:
    """The text a user would have typed for ``/name args``."""
    return f"/{name} {args}".rstrip() if args and args.strip() else f"/{name}"


def slash_commands(
    on_slash: OnSlash, default: Lang, model_choices: Sequence[str]
) -> list[app_commands.Command[Any, Any, None]]:
    """Every slash command; each callback hands ``on_slash`` the text and any picture."""
    commands: list[app_commands.Command[Any, Any, None]] = [
        _chat(on_slash, default), _vision(on_slash, default), _video(on_slash, default),
        _img(on_slash, default), _describe(on_slash, default), _blend(on_slash, default),
        _model(on_slash, default, model_choices),
    ]
    special = {"vision", "video", "img", "describe", "blend", "model"}
    for spec in COMMANDS:
        if spec.hidden or not spec.enabled or spec.name in SKIPPED | special:
            continue
        if spec.name in PROMPTED:
            commands.append(_prompted(on_slash, default, spec.name, spec.help_key))
        else:
            commands.append(_optional(on_slash, default, spec.name, spec.help_key))
    return commands


def _chat(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(prompt=describe("discord.opt.prompt", default))
    async def chat(interaction: discord.Interaction[Any], prompt: str) -> None:
        await on_slash(interaction, prompt, [])

    return app_commands.Command(
        name="chat", description=describe("discord.chat", default), callback=chat
    )


def _prompted(
    on_slash: OnSlash, default: Lang, name: str, key: str
) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(prompt=describe("discord.opt.prompt", default))
    async def command(interaction: discord.Interaction[Any], prompt: str) -> None:
        await on_slash(interaction, typed(name, prompt), [])

    return app_commands.Command(name=name, description=describe(key, default), callback=command)


def _optional(
    on_slash: OnSlash, default: Lang, name: str, key: str
) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(text=describe("discord.opt.text", default))
    async def command(interaction: discord.Interaction[Any], text: str | None = None) -> None:
        await on_slash(interaction, typed(name, text), [])

    return app_commands.Command(name=name, description=describe(key, default), callback=command)


def _vision(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(
        image=describe("discord.opt.image", default),
        prompt=describe("discord.opt.prompt", default),
    )
    async def vision(
        interaction: discord.Interaction[Any], image: discord.Attachment, prompt: str | None = None
    ) -> None:
        await on_slash(interaction, typed("vision", prompt), [image])

    return app_commands.Command(
        name="vision", description=describe("help.vision", default), callback=vision
    )


def _video(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(
        prompt=describe("discord.opt.prompt", default),
        image=describe("discord.opt.image", default),
    )
    async def video(
        interaction: discord.Interaction[Any], prompt: str, image: discord.Attachment | None = None
    ) -> None:
        await on_slash(interaction, typed("video", prompt), [image] if image else [])

    return app_commands.Command(
        name="video", description=describe("help.video", default), callback=video
    )


def _img(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(
        prompt=describe("discord.opt.prompt", default),
        image=describe("discord.opt.image", default),
    )
    async def img(
        interaction: discord.Interaction[Any], prompt: str, image: discord.Attachment | None = None
    ) -> None:
        await on_slash(interaction, typed("img", prompt), [image] if image else [])

    return app_commands.Command(name="img", description=describe("help.img", default), callback=img)


def _describe(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(image=describe("discord.opt.image", default))
    async def describe_(interaction: discord.Interaction[Any], image: discord.Attachment) -> None:
        await on_slash(interaction, "/describe", [image])

    return app_commands.Command(
        name="describe", description=describe("help.describe", default), callback=describe_
    )


def _blend(on_slash: OnSlash, default: Lang) -> app_commands.Command[Any, Any, None]:
    picture = describe("discord.opt.image", default)

    @app_commands.describe(
        image=picture, image2=picture, image3=picture, image4=picture, image5=picture,
        text=describe("discord.opt.text", default),
    )
    async def blend(
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        text: str | None = None,
    ) -> None:
        images = [a for a in (image, image2, image3, image4, image5) if a is not None]
        await on_slash(interaction, typed("blend", text), images)

    return app_commands.Command(
        name="blend", description=describe("help.blend", default), callback=blend
    )


def _model(
    on_slash: OnSlash, default: Lang, choices: Sequence[str]
) -> app_commands.Command[Any, Any, None]:
    @app_commands.describe(name=describe("discord.opt.model", default))
    async def model(interaction: discord.Interaction[Any], name: str | None = None) -> None:
        await on_slash(interaction, typed("model", name), [])

    if choices:  # without a name: the engine's menu, as buttons
        listed = [app_commands.Choice(name=c[:100], value=c[:100]) for c in choices]
        model = app_commands.choices(name=listed[:CHOICES_LIMIT])(model)
    return app_commands.Command(
        name="model", description=describe("help.model", default), callback=model
    )
