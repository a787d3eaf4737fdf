"""The ``wechat:`` section of the configuration. The adapter arrives in a later issue."""

from __future__ import annotations

from pydantic import Field

from core.config.fields import Bool
from core.config.sections import PlatformSection


class WeChatSettings(PlatformSection):
    """The WeChat bot."""

    enabled: Bool = Field(default=False, description="Run the WeChat bot.")
