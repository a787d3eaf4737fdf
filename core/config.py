"""relaybot's settings: typed, frozen models read from one hand-edited YAML file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from core import config_errors as ce
from core.config_errors import (
    GroupModeChoice,
    LangChoice,
    LogFormatChoice,
    LogLevelChoice,
    Name,
    OptionalPositiveInt,
    OverrideKey,
    PositiveInt,
    PositiveNumber,
    Problem,
    QueueBound,
    Retries,
    Text,
    Url,
)
from core.config_features import JobsSettings, VisionSettings, VoiceSettings
from core.config_platforms import (
    DiscordSettings,
    TelegramSettings,
    WeChatSettings,
    _Section,
    _without_userinfo,
)
from core.errors import ConfigError

PLATFORMS = ("telegram", "discord", "wechat")
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer clearly and concisely, "
    "in the same language the user writes in."
)

# ---- the sections ----


class RelaySettings(_Section):
    """Where the OpenAI-compatible relay is, and how to call it."""

    base_url: Url = Field(description="Relay base URL, http(s); a trailing '/' is dropped.")
    api_key: Name = Field(repr=False, description="Relay API key (secret).")
    timeout_s: PositiveNumber = Field(
        default=120.0, description="Seconds to wait for an answer, or between two streamed pieces."
    )
    connect_timeout_s: PositiveNumber = Field(default=10.0, description="Seconds to connect.")
    max_retries: Retries = Field(default=2, description="Retries (0..5) of a retryable failure.")
    retry_backoff_s: PositiveNumber = Field(
        default=1.0, description="First wait before a retry; doubled each retry, with jitter."
    )


class StorageSettings(_Section):
    """Where conversations are kept."""

    path: Name = Field(default="data/relaybot.db", description="SQLite database file.")


class ModelSettings(_Section):
    """The relay model used for each feature."""

    chat: Name = Field(default="gpt-4o-mini", description="Default chat model.")
    vision: Name = Field(default="gpt-4o-mini", description="Model that reads images.")
    image: Name = Field(default="dall-e-3", description="Image model (/img).")
    song: Name = Field(default="chirp-v3-5", description="Song model (/song).")
    video: Name = Field(default="luma", description="Video model (/video).")
    transcribe: Name = Field(default="whisper-1", description="Speech-to-text model.")
    tts: Name = Field(default="tts-1", description="Text-to-speech model.")
    chat_choices: tuple[Name, ...] = Field(
        default=(), description="Models /model may pick; the default chat model always may."
    )

    @field_validator("chat_choices", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("chat_choices", mode="after")
    @classmethod
    def _dedupe(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    def chat_models(self) -> tuple[str, ...]:
        """Every model a user may pick with /model, the default chat model first."""
        return tuple(dict.fromkeys((self.chat, *self.chat_choices)))


class ChatSettings(_Section):
    """How conversations behave."""

    system_prompt: Text = Field(default=DEFAULT_SYSTEM_PROMPT, description="Default prompt.")
    history_tokens: PositiveInt = Field(default=4000, description="Token budget of the history.")
    max_answer_tokens: OptionalPositiveInt = Field(default=None, description="None: no cap.")
    group_mode: GroupModeChoice = Field(
        default="per_user", description="In groups: a conversation per member, or one shared."
    )
    group_overrides: dict[OverrideKey, GroupModeChoice] = Field(
        default_factory=dict, description="group_mode of single chats, by '<platform>:<chat_id>'."
    )
    max_history_messages: PositiveInt = Field(default=200, description="Rows kept per chat.")
    max_input_chars: PositiveInt = Field(
        default=16000, description="Longest message (text, caption, transcript) taken."
    )
    max_queued_per_conversation: QueueBound = Field(
        default=3, description="Messages that may wait while a conversation is answered (0..100)."
    )

    @field_validator("group_overrides", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value


class LoggingSettings(_Section):
    """What the bot logs, and how."""

    level: LogLevelChoice = Field(default="INFO", description="Lowest level logged, any case.")
    format: LogFormatChoice = Field(default="text", description="'text' or 'json' lines.")


class Settings(_Section):
    """The whole configuration file."""

    language: LangChoice = Field(default="zh", description="Language when a user's is unknown.")
    relay: RelaySettings = Field(description="The OpenAI-compatible relay (required).")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Storage.")
    models: ModelSettings = Field(default_factory=ModelSettings, description="Models.")
    chat: ChatSettings = Field(default_factory=ChatSettings, description="Conversations.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")
    jobs: JobsSettings = Field(default_factory=JobsSettings, description="Long jobs.")
    vision: VisionSettings = Field(default_factory=VisionSettings, description="Photos.")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, description="Voice.")
    telegram: TelegramSettings = Field(default_factory=TelegramSettings, description="Telegram.")
    discord: DiscordSettings = Field(default_factory=DiscordSettings, description="Discord.")
    wechat: WeChatSettings = Field(default_factory=WeChatSettings, description="WeChat.")

    @model_validator(mode="before")
    @classmethod
    def _empty_section_is_default(cls, data: object) -> object:
        """A section whose keys are all commented out (``telegram:``) means its defaults."""
        if isinstance(data, dict):
            return {k: {} if v is None and k in _SECTIONS else v for k, v in data.items()}
        return data

    def secrets(self) -> tuple[str, ...]:
        """Every non-empty secret value, for the log redactor."""
        found = [
            self.relay.api_key,
            self.telegram.token,
            self.telegram.webhook.secret_token,
            self.discord.token,
        ]
        urls = (
            self.relay.base_url,
            self.telegram.base_url,
            self.telegram.base_file_url,
            self.telegram.proxy,
            self.telegram.webhook.url,
        )
        for url in urls:  # a password (and its user) inside a URL: proxy, relay, webhook
            found += _url_credentials(url)
        return tuple(dict.fromkeys(s for s in found if s))

    def summary(self) -> list[str]:
        """Human lines for ``relaybot check-config``; never a secret value."""
        models, chat = self.models, self.chat
        count = len(chat.group_overrides)
        overrides = f" ({count} per-chat override{'s' * (count != 1)})" if count else ""
        lines = [
            f"relay: {_without_userinfo(self.relay.base_url)}",
            "api key: set",
            f"relay timeouts: {self.relay.timeout_s:g}s, connect {self.relay.connect_timeout_s:g}s,"
            f" retries {self.relay.max_retries}",
            f"storage: {self.storage.path}",
            f"language: {self.language}",
            *(f"model {name}: {getattr(models, name)}" for name in _MODEL_FEATURES),
            f"chat choices: {', '.join(models.chat_models())}",
            f"history tokens: {chat.history_tokens}",
            f"group mode: {chat.group_mode}{overrides}",
            f"logging: {self.logging.level}, {self.logging.format}",
            *(f"{p}: {'enabled' if getattr(self, p).enabled else 'disabled'}" for p in PLATFORMS),
        ]
        if self.telegram.enabled:
            lines += self.telegram.summary()
        secrets = self.secrets()
        for secret in secrets:  # belt and braces: a secret pasted into another value
            lines = [line.replace(secret, "***") for line in lines]
        return lines


def _url_credentials(url: str) -> list[str]:
    """The userinfo of ``url`` (``user:password``), and the password, raw and decoded."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    if "@" not in parts.netloc:
        return []
    userinfo = parts.netloc.rsplit("@", 1)[0]
    found = [userinfo, unquote(userinfo)]
    if password:
        found += [password, unquote(password)]
    # A very short value would blank out every log line; it is redacted with its user name.
    return [s for s in found if len(s) >= MIN_BARE_SECRET]


MIN_BARE_SECRET = 4
_SECTIONS = frozenset(n for n, f in Settings.model_fields.items() if n != "language")
_MODEL_FEATURES = tuple(n for n in ModelSettings.model_fields if n != "chat_choices")


# ---- loading ----

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME_DEFAULT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the YAML file at ``path``; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        hint = f"file not found: {path} (copy config.example.yaml to {path} and edit it)"
        raise ConfigError([("", hint)], str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([("", f"not UTF-8 text (byte {exc.start})")], str(path)) from None
    except OSError as exc:
        raise ConfigError([("", f"cannot read {path}: {exc.strerror or exc}")], str(path)) from None
    return parse_config(text, str(path), env)


def parse_config(
    text: str, source: str = "<config>", env: Mapping[str, str] | None = None
) -> Settings:
    """Validate the YAML ``text`` (``source`` names it in errors); ``${VAR}`` comes from ``env``."""
    try:
        data, problems = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError([("", ce.yaml_problem(exc))], source) from None
    if data is None:
        empty = "the file is empty: copy config.example.yaml and fill in the relay section"
        raise ConfigError([("", empty)], source)
    if not isinstance(data, dict):
        raise ConfigError([("", "the file must be a mapping of settings (key: value)")], source)
    unresolved: set[str] = set()
    data = _substitute(data, "", os.environ if env is None else env, problems, unresolved)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        # a value whose variable is unset is already reported; its emptiness is no news
        problems += [p for p in ce.translate(exc, Settings) if p[0] not in unresolved]
        raise ConfigError(problems, source) from None
    if problems:
        raise ConfigError(problems, source)
    return settings


def _load_yaml(text: str) -> tuple[Any, list[Problem]]:
    """The YAML document in ``text`` (None when empty), and its duplicate keys as problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        return loader.construct_document(node), ce.duplicate_keys(node)
    finally:
        loader.dispose()


def _substitute(
    value: Any, path: str, env: Mapping[str, str], problems: list[Problem], unresolved: set[str]
) -> Any:
    """``value`` with ``${VAR}``, ``${VAR:-default}`` and ``$${`` resolved in every string."""
    if isinstance(value, dict):
        return {
            str(k): _substitute(v, ce.join_path(path, str(k)), env, problems, unresolved)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute(v, f"{path}[{i}]", env, problems, unresolved) for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        inner = match.group(1)
        ref = _NAME_DEFAULT.fullmatch(inner) if inner is not None else None
        if ref is None or "${" in (ref.group(2) or ""):
            what = "unclosed '${'" if inner is None else f"'{match.group(0)}' is not valid"
            hint = "write ${NAME} or ${NAME:-default}, or $${ for a literal '${'"
            problems.append((path, f"{what}: {hint}"))
            unresolved.add(path)
            return ""
        name, default = ref.group(1), ref.group(2)
        found = env.get(name)
        if default is not None and not found:  # like the shell: unset or empty takes the default
            return default
        if found is None:
            problems.append((path, f"environment variable {name} is not set"))
            unresolved.add(path)
            return ""
        return found

    return _REFERENCE.sub(resolve, value)
