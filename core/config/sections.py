"""What every settings section is built on, the base of a platform's section, and the secret
collector that finds every ``Secret`` (and every password inside a URL) in any section."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import fields as ce
from core.config.fields import Bool, Secret


class Section(BaseModel):
    """A section of the YAML file: unknown keys are problems, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformSection(Section):
    """The section of one platform adapter (``telegram:``, ``discord:``...).

    Each adapter declares its own subclass in its folder under ``bots/``; the runner hands
    them to ``load_config(sections=...)``, so a new platform adds its settings without
    editing ``core/``. ``enabled`` says whether ``relaybot run`` starts the adapter.
    """

    enabled: Bool = Field(default=False, description="Run this platform's adapter.")

    def summary(self) -> list[str]:
        """Lines ``relaybot check-config`` shows when the platform is enabled; no secret."""
        return []

    def workers_problems(self, count: int) -> list[tuple[str, str]]:
        """Why ``count`` processes (``workers.count``) cannot run this platform together, as
        (key path inside this section, problem); checked when the platform is enabled."""
        return []


class TokenPlatformSection(PlatformSection):
    """A platform section whose ``token`` is required when the platform is enabled."""

    token: Secret = Field(default="", repr=False, description="The bot's token (secret).")

    @model_validator(mode="after")
    def _token_when_enabled(self) -> Self:
        if self.enabled and not self.token:
            raise ce.required_when_enabled("token")
        return self


def secret_values(model: BaseModel) -> list[str]:
    """Every non-empty secret in ``model`` and the sections inside it, in field order: the
    value of each field typed ``Secret`` (or ``RequiredSecret``), and the password of each
    field typed ``Url`` or ``ProxyUrl``."""
    found: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if ce.SECRET in field.metadata and isinstance(value, str):
            found.append(value)
        elif ce.URL_CREDENTIALS in field.metadata and isinstance(value, str):
            found += ce.url_credentials(value)
        for item in _models_in(value):
            found += secret_values(item)
    return [s for s in dict.fromkeys(found) if s]


def _models_in(value: object) -> list[BaseModel]:
    if isinstance(value, BaseModel):
        return [value]
    if isinstance(value, tuple | list):
        return [v for v in value if isinstance(v, BaseModel)]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, BaseModel)]
    return []
