"""The ``wechat:`` section of the configuration: the WeChat bridge (chatgpt-on-wechat plugin).

It imports nothing of the adapter: ``relaybot check-config`` validates it on its own.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from core.config import fields as ce
from core.config.fields import Bool, PositiveInt, PositiveNumber, Secret, Text
from core.config.sections import TokenPlatformSection


class WeChatSettings(TokenPlatformSection):
    """The WeChat bot: relaybot serves the bridge API that the CoW plugin calls."""

    enabled: Bool = Field(default=False, description="Serve the WeChat bridge (CoW plugin).")
    token: Secret = Field(
        default="", repr=False, description="Bearer token the CoW plugin sends (secret)."
    )
    token_previous: Secret = Field(
        default="",
        repr=False,
        description="A second token still accepted while the plugin is switched over (secret).",
    )
    instance: Text = Field(default="cow", description="Name of this bridge's outbox.")
    max_text_chars: PositiveInt = Field(
        default=4000, description="Longest text part; longer answers are split."
    )
    max_attachment_mb: PositiveNumber = Field(
        default=10, description="Largest file a message may carry (bigger: HTTP 413)."
    )
    answer_within_s: PositiveNumber = Field(
        default=20, description="Longest wait for an answer; later parts go to the outbox."
    )
    visibility_timeout_s: PositiveNumber = Field(
        default=60, description="An unacked delivery is offered again after this."
    )
    delivery_ttl_h: PositiveNumber = Field(
        default=24, description="Hours an unacked delivery is kept and offered."
    )
    media_link_ttl_h: PositiveNumber = Field(
        default=24, description="Hours a media link works (signed, then refused)."
    )

    @model_validator(mode="after")
    def _distinct_tokens(self) -> Self:
        if self.token_previous and self.token_previous == self.token:
            raise ce.field_error("token_previous", "must differ from {section}.token")
        return self

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.token, self.token_previous) if t)
