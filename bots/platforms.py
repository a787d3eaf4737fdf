"""The platforms this build knows: each one's settings section and its adapter class.

Importing this module loads no platform library: the settings models are plain pydantic, and
an adapter is named as ``"module:Class"`` and imported only when its platform is enabled.
A new platform adds a folder under ``bots/`` and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.discord.settings import DiscordSettings
from bots.telegram.settings import TelegramSettings
from bots.wechat.settings import WeChatSettings
from core.config.sections import PlatformSection


@dataclass(frozen=True, slots=True)
class Platform:
    """One platform: its section of the YAML file and, if this build has one, its adapter."""

    name: str
    settings: type[PlatformSection]
    adapter: str | None = None  # "module:Class"; None: the section validates, no adapter yet


PLATFORMS: tuple[Platform, ...] = (
    Platform("telegram", TelegramSettings, "bots.telegram.adapter:TelegramAdapter"),
    Platform("discord", DiscordSettings, "bots.discord.adapter:DiscordAdapter"),
    Platform("wechat", WeChatSettings, "bots.wechat.adapter:WeChatAdapter"),
)

# What ``load_config(sections=...)`` takes: the section of each platform, by YAML key.
SECTIONS: dict[str, type[PlatformSection]] = {p.name: p.settings for p in PLATFORMS}
# Platform name -> "module:Class" of its adapter.
ADAPTERS: dict[str, str] = {p.name: p.adapter for p in PLATFORMS if p.adapter}
