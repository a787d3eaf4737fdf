"""Settings sections of the platforms: Telegram, Discord, WeChat."""

from __future__ import annotations

from typing import ClassVar, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from core import config_errors as ce
from core.config_errors import (
    Bool,
    ConcurrentUpdates,
    PositiveInt,
    PositiveNumber,
    Secret,
    Text,
    Url,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


class _NeedsTokenWhenEnabled(_Section):
    section: ClassVar[str]
    enabled: bool
    token: str

    @model_validator(mode="after")
    def _token_when_enabled(self) -> Self:
        if self.enabled and not self.token:
            raise ce.required_when_enabled(self.section, "token")
        return self


class TelegramWebhookSettings(_Section):
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
            raise PydanticCustomError(
                ce.OWN_FIELD_ERROR,
                "required when telegram.webhook.url is set (any 1-256 of A-Z a-z 0-9 _ -)",
                {"field": "secret_token"},
            )
        if self.url and not self.url.startswith("https://"):
            raise PydanticCustomError(
                ce.OWN_FIELD_ERROR,
                "must be an https:// URL (Telegram only posts to HTTPS)",
                {"field": "url"},
            )
        return self


class TelegramLimits(_Section):
    """Telegram's flood limits, which the bot stays inside (edits count like messages)."""

    per_chat_per_s: PositiveNumber = Field(default=1.0, description="Messages+edits/s per chat.")
    per_group_per_min: PositiveInt = Field(default=20, description="Messages+edits/min per group.")
    global_per_s: PositiveInt = Field(default=30, description="Messages+edits/s in all chats.")


class TelegramSettings(_NeedsTokenWhenEnabled):
    """The Telegram bot."""

    section: ClassVar[str] = "telegram"
    enabled: Bool = Field(default=False, description="Run the Telegram bot.")
    token: Secret = Field(default="", repr=False, description="Token from @BotFather (secret).")
    base_url: Url = Field(
        default="https://api.telegram.org/bot", description="Bot API URL (self-hosted server)."
    )
    base_file_url: Url = Field(
        default="https://api.telegram.org/file/bot", description="Bot API file download URL."
    )
    proxy: Text = Field(default="", description="HTTP or SOCKS5 proxy URL; empty: none.")
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

    @model_validator(mode="after")
    def _proxy_scheme(self) -> Self:
        if not self.proxy:
            return self
        try:
            parts = urlsplit(self.proxy)
            usable = bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:  # a port that is not a number, a broken [IPv6] address
            parts, usable = urlsplit(""), False
        if parts.scheme and parts.scheme not in ("http", "https", "socks5", "socks5h"):
            what = "must be an http://, https:// or socks5:// URL"
        elif not usable:
            what = "must be a URL with a host and, if any, a numeric port (socks5://host:1080)"
        else:
            return self
        raise PydanticCustomError(ce.OWN_FIELD_ERROR, what, {"field": "proxy"})

    def summary(self) -> list[str]:
        mode = f"webhook {self.webhook.url}" if self.webhook.url else "long polling"
        lines = [f"telegram mode: {mode}"]
        if self.base_url != TelegramSettings.model_fields["base_url"].default:
            lines.append(f"telegram api: {_without_userinfo(self.base_url)}")
        if self.proxy:
            lines.append(f"telegram proxy: {_without_userinfo(self.proxy)}")
        if self.trigger_words:
            lines.append(f"telegram trigger words: {', '.join(self.trigger_words)}")
        return lines


class DiscordSettings(_NeedsTokenWhenEnabled):
    """The Discord bot."""

    section: ClassVar[str] = "discord"
    enabled: Bool = Field(default=False, description="Run the Discord bot.")
    token: Secret = Field(default="", repr=False, description="Bot token (secret).")


class WeChatSettings(_Section):
    """The WeChat bot."""

    enabled: Bool = Field(default=False, description="Run the WeChat bot.")
