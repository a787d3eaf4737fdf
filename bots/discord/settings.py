"""The ``discord:`` section of the configuration. The adapter arrives in a later issue."""

from __future__ import annotations

from pydantic import Field

from core.config.fields import Bool, Secret
from core.config.sections import TokenPlatformSection


class DiscordSettings(TokenPlatformSection):
    """The Discord bot."""

    enabled: Bool = Field(default=False, description="Run the Discord bot.")
    token: Secret = Field(default="", repr=False, description="Bot token (secret).")
