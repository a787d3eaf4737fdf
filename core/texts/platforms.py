"""Texts only a platform adapter shows: Discord's slash command and option descriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.texts.i18n import Lang

PLATFORM_TEXTS: dict[str, dict[Lang, str]] = {
    "discord.chat": {"zh": "和机器人聊天", "en": "chat with the bot"},
    "discord.opt.prompt": {"zh": "你想要什么", "en": "what you want"},
    "discord.opt.text": {
        "zh": "命令后面的内容（可选）",
        "en": "what follows the command (optional)",
    },
    "discord.opt.image": {"zh": "一张图片", "en": "a picture"},
    "discord.opt.model": {"zh": "要使用的模型", "en": "the model to use"},
    "discord.thread": {"zh": "对话", "en": "Chat"},
}
