"""The ``telegram:`` section of the configuration: the Telegram adapter's own settings.

It imports no python-telegram-bot: ``relaybot check-config`` validates it without loading the
adapter.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from core.config import fields as ce
from core.config.fields import (
    Bool,
    ConcurrentUpdates,
    PositiveInt,
    PositiveNumber,
    ProxyUrl,
    Secret,
    Text,
    Url,
    without_userinfo,
)
from core.config.sections import Section, TokenPlatformSection


class TelegramWebhookSettings(Section):
    """Webhook mode, for a bot behind a reverse proxy; without ``url`` the bot long-polls."""

    url: Text = Field(default="", description="Public HTTPS URL Telegram posts updates to.")
    listen: Text = Field(default="127.0.0.1", description="Address the webhook server binds.")
    port: PositiveInt = Field(default=8443, description="Port the webhook server listens on.")
    secret_token: Secret = Field(
        default="", repr=False, description="Secret Telegram sends with each update (secret)."
    )

    @model_validator(mode="after")
    def _secret_with_url(self) -> Self:
        if self.url and not self.secret_token:
            raise ce.field_error(
                "secret_token",
                "required when {section}.url is set (any 1-256 of A-Z a-z 0-9 _ -)",
            )
        if self.url and not self.url.startswith("https://"):
            raise ce.field_error("url", "must be an https:// URL (Telegram only posts to HTTPS)")
        return self


class TelegramLimits(Section):
    """Telegram's flood limits, which the bot stays inside (edits count like messages)."""

    per_chat_per_s: PositiveNumber = Field(default=1.0, description="Messages+edits/s per chat.")
    per_group_per_min: PositiveInt = Field(default=20, description="Messages+edits/min per group.")
    global_per_s: PositiveInt = Field(default=30, description="Messages+edits/s in all chats.")


class TelegramSettings(TokenPlatformSection):
    """The Telegram bot."""

    enabled: Bool = Field(default=False, description="Run the Telegram bot.")
    token: Secret = Field(default="", repr=False, description="Token from @BotFather (secret).")
    base_url: Url = Field(
        default="https://api.telegram.org/bot", description="Bot API URL (self-hosted server)."
    )
    base_file_url: Url = Field(
        default="https://api.telegram.org/file/bot", description="Bot API file download URL."
    )
    proxy: ProxyUrl = Field(default="", description="HTTP or SOCKS5 proxy URL; empty: none.")
    trigger_words: tuple[Text, ...] = Field(
        default=(), description="Words that make the bot answer in groups, besides a mention."
    )
    edit_interval_s: PositiveNumber = Field(
        default=1.0, description="Shortest time between two edits of a streaming answer."
    )
    album_wait_s: PositiveNumber = Field(
        default=1.0, description="How long to wait for the rest of an album."
    )
    max_download_mb: PositiveNumber = Field(
        default=20, description="Largest file the bot can download (Bot API: 20)."
    )
    max_upload_mb: PositiveNumber = Field(
        default=50, description="Largest file the bot can upload (Bot API: 50)."
    )
    max_concurrent_updates: ConcurrentUpdates = Field(
        default=64, description="Updates handled at once (1..256); more wait for a free slot."
    )
    webhook: TelegramWebhookSettings = Field(default_factory=TelegramWebhookSettings)
    limits: TelegramLimits = Field(default_factory=TelegramLimits)

    def workers_problems(self, count: int) -> list[tuple[str, str]]:
        if count > 1 and not self.webhook.url:
            return [
                (
                    "webhook.url",
                    f"required when workers.count is {count}: only one process can long-poll"
                    " Telegram; set the webhook (behind a load balancer, any worker takes updates)",
                )
            ]
        return []

    def summary(self) -> list[str]:
        mode = f"webhook {self.webhook.url}" if self.webhook.url else "long polling"
        lines = [f"telegram mode: {mode}"]
        if self.base_url != TelegramSettings.model_fields["base_url"].default:
            lines.append(f"telegram api: {without_userinfo(self.base_url)}")
        if self.proxy:
            lines.append(f"telegram proxy: {without_userinfo(self.proxy)}")
        if self.trigger_words:
            lines.append(f"telegram trigger words: {', '.join(self.trigger_words)}")
        return lines
