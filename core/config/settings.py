"""relaybot's settings: typed, frozen models read from one hand-edited YAML file.

The core owns the shared sections below. Each platform adapter declares its own section (a
``PlatformSection`` in its folder under ``bots/``); ``load_config(..., sections={name: Model})``
adds them to the file's model, so their keys are validated, reported with their key paths and
their secrets redacted like the core's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from core.config import fields as ce
from core.config.access import AccessSettings, QuotaSettings
from core.config.features import JobsSettings, VisionSettings, VoiceSettings
from core.config.fields import (
    Bool,
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
    RequiredSecret,
    Retries,
    Secret,
    StorageUrlText,
    Text,
    Url,
    without_userinfo,
)
from core.config.sections import PlatformSection, Section, secret_values
from core.config.workers import WorkersSettings
from core.errors import ConfigError
from core.storage.url import StorageUrl, StorageUrlError, parse_storage_url

S = TypeVar("S", bound=BaseModel)
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer clearly and concisely, "
    "in the same language the user writes in."
)

# ---- the sections ----


class RelaySettings(Section):
    """Where the OpenAI-compatible relay is, and how to call it."""

    base_url: Url = Field(description="Relay base URL, http(s); a trailing '/' is dropped.")
    api_key: RequiredSecret = Field(repr=False, description="Relay API key (secret).")
    timeout_s: PositiveNumber = Field(
        default=120.0, description="Seconds to wait for an answer, or between two streamed pieces."
    )
    connect_timeout_s: PositiveNumber = Field(default=10.0, description="Seconds to connect.")
    max_retries: Retries = Field(default=2, description="Retries (0..5) of a retryable failure.")
    retry_backoff_s: PositiveNumber = Field(
        default=1.0, description="First wait before a retry; doubled each retry, with jitter."
    )


class StorageSettings(Section):
    """Where conversations are kept: a SQLite file (default) or a PostgreSQL database."""

    url: StorageUrlText = Field(
        default="",
        repr=False,
        description="sqlite:///data/relaybot.db or postgresql://user:password@host:5432/db "
        "(its password is a secret); empty: the SQLite file storage.path.",
    )
    path: Name = Field(
        default="data/relaybot.db", description="SQLite database file (short for storage.url)."
    )
    pool_size: Annotated[int, ce.int_range(1, 100)] = Field(
        default=10, description="PostgreSQL connections each process keeps open (1..100)."
    )
    retention_days: PositiveInt = Field(
        default=90, description="Days history, pictures, buttons and finished jobs are kept."
    )

    @model_validator(mode="before")
    @classmethod
    def _path_from_url(cls, data: object) -> object:
        """A SQLite ``url`` without ``path``: ``path`` is the file the URL names."""
        if isinstance(data, dict) and isinstance(data.get("url"), str) and "path" not in data:
            try:
                parsed = parse_storage_url(data["url"])
            except StorageUrlError:
                return data  # reported by the field's own check
            if not parsed.is_postgres:
                return {**data, "path": parsed.path}
        return data

    @model_validator(mode="after")
    def _one_database(self) -> StorageSettings:
        """Two different SQLite files is an error. With a PostgreSQL ``url``, ``path`` names
        no database (it only places local files: ``relaybot chat``'s media), so the example
        config (``path`` set, ``url`` from $RELAYBOT_DB_URL) can switch to PostgreSQL."""
        if self.url and "path" in self.model_fields_set:
            parsed = parse_storage_url(self.url)
            if not parsed.is_postgres and parsed.path != self.path:
                raise ce.field_error(
                    "url",
                    "{section}.url and {section}.path name different databases; keep one "
                    "(storage.path is the short form of storage.url: sqlite:///PATH)",
                )
        return self

    def database(self) -> StorageUrl:
        """The database to use: ``url``, or the SQLite file ``path``."""
        return parse_storage_url(self.url) if self.url else StorageUrl("sqlite", self.path)

    def describe(self) -> str:
        """For summaries and logs: the SQLite path, or the PostgreSQL URL without password."""
        found = self.database()
        return f"{found.redacted()} (pool {self.pool_size})" if found.is_postgres else found.path


class ModelSettings(Section):
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
    image_choices: tuple[Name, ...] = Field(
        default=(), description="Models /img -m may pick; the default always may."
    )
    song_choices: tuple[Name, ...] = Field(
        default=(), description="Models /song -m may pick; the default always may."
    )
    video_choices: tuple[Name, ...] = Field(
        default=(), description="Models /video -m may pick; the default always may."
    )

    @field_validator(
        "chat_choices", "image_choices", "song_choices", "video_choices", mode="before"
    )
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("chat_choices", "image_choices", "song_choices", "video_choices", mode="after")
    @classmethod
    def _dedupe(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    def chat_models(self) -> tuple[str, ...]:
        """Every model a user may pick with /model, the default chat model first."""
        return tuple(dict.fromkeys((self.chat, *self.chat_choices)))

    def choices(self, feature: str) -> tuple[str, ...]:
        """The models ``-m`` may pick for ``image``, ``song`` or ``video``, the default first.
        Like ``/model``: with no list configured only the default may be named."""
        default = getattr(self, feature)
        listed: tuple[str, ...] = getattr(self, f"{feature}_choices")
        return tuple(dict.fromkeys((default, *listed)))


class ChatSettings(Section):
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


class LoggingSettings(Section):
    """What the bot logs, and how."""

    level: LogLevelChoice = Field(default="INFO", description="Lowest level logged, any case.")
    format: LogFormatChoice = Field(default="text", description="'text' or 'json' lines.")
    levels: dict[Name, LogLevelChoice] = Field(
        default_factory=dict,
        description="Level by logger family (relaybot, telegram, discord, httpx...); {} = none.",
    )

    @field_validator("levels", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value


class HttpSettings(Section):
    """relaybot's one HTTP server (the WeChat bridge, health and metrics mount on it). It
    starts only when something needs it."""

    listen: Text = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: PositiveInt = Field(default=8080, description="Port the HTTP server listens on.")
    public_url: Text = Field(
        default="",
        description="Base URL others reach this server at (media links); default from listen/port.",
    )
    metrics_token: Secret = Field(
        default="", repr=False, description="Bearer token /metrics asks for (secret); empty: none."
    )
    health: Bool = Field(
        default=False, description="Start the server for GET /healthz (served whenever it runs)."
    )
    metrics: Bool = Field(default=False, description="Serve Prometheus GET /metrics.")

    def base_url(self) -> str:
        """``public_url`` without its trailing '/', or one built from ``listen`` and ``port``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "", "::") else self.listen
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


class Settings(Section):
    """The whole configuration file: the core's sections. The sections of the platforms are
    added by ``settings_model``; read one with ``section(name, Model)``."""

    language: LangChoice = Field(default="zh", description="Language when a user's is unknown.")
    relay: RelaySettings = Field(description="The OpenAI-compatible relay (required).")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Storage.")
    models: ModelSettings = Field(default_factory=ModelSettings, description="Models.")
    chat: ChatSettings = Field(default_factory=ChatSettings, description="Conversations.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP server.")
    jobs: JobsSettings = Field(default_factory=JobsSettings, description="Long jobs.")
    vision: VisionSettings = Field(default_factory=VisionSettings, description="Photos.")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, description="Voice.")
    access: AccessSettings = Field(default_factory=AccessSettings, description="Who may.")
    quotas: QuotaSettings = Field(default_factory=QuotaSettings, description="How much.")
    workers: WorkersSettings = Field(
        default_factory=WorkersSettings, description="Several processes on one database."
    )
    shutdown_grace_s: PositiveNumber = Field(
        default=30.0, description="Seconds SIGTERM waits for answers in flight to finish."
    )
    reload_check_s: Annotated[int, ce.int_range(0, 3600)] = Field(
        default=2, description="Seconds between looks at the config file (0..3600); 0: SIGHUP only."
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_section_is_default(cls, data: object) -> object:
        """A section whose keys are all commented out (``telegram:``) means its defaults."""
        if isinstance(data, dict):
            sections = _section_names(cls)
            return {k: {} if v is None and k in sections else v for k, v in data.items()}
        return data

    def section(self, name: str, model: type[S]) -> S:
        """The section ``name``, typed: ``settings.section("telegram", TelegramSettings)``.
        LookupError when the file's model was built without it (a wiring mistake)."""
        value = getattr(self, name, None) if name in type(self).model_fields else None
        if not isinstance(value, model):
            raise LookupError(
                f"the settings have no {name!r} section of type {model.__name__}; "
                "pass it to load_config(sections=...)"
            )
        return value

    def platforms(self) -> dict[str, PlatformSection]:
        """The platforms' sections by name, in the order they were given."""
        found = {name: getattr(self, name) for name in type(self).model_fields}
        return {n: v for n, v in found.items() if isinstance(v, PlatformSection)}

    def secrets(self) -> tuple[str, ...]:
        """Every non-empty secret value, for the log redactor: each ``Secret`` field and each
        password inside a URL field, of every section (the platforms' too)."""
        return tuple(secret_values(self))

    def access_summary(self) -> list[str]:
        """``check-config`` lines of the access and quotas sections (issue 12)."""
        access, quotas = self.access, self.quotas

        def listed(ids: tuple[str, ...], empty: str) -> str:
            return ", ".join(ids) if ids else empty

        def limits(section: BaseModel) -> str:
            set_ = [f"{k} {v}" for k, v in section.model_dump().items() if v]
            return ", ".join(set_) or "unlimited"

        return [
            f"admins: {listed(access.admins, 'none')}",
            f"allowed users: {listed(access.allowed_users, 'everyone')}",
            f"allowed chats: {listed(access.allowed_chats, 'all')}",
            f"blocked users: {listed(access.blocked_users, 'none')}",
            f"quotas per user a day: {limits(quotas.per_user_daily)} ({quotas.timezone})",
            f"quotas per group a day: {limits(quotas.per_chat_daily)}",
            f"messages per user a minute: {limits(quotas.per_user_per_minute)}",
            f"retention: {self.storage.retention_days} days",
        ]

    def summary(self) -> list[str]:
        """Human lines for ``relaybot check-config``; never a secret value."""
        models, chat = self.models, self.chat
        count = len(chat.group_overrides)
        overrides = f" ({count} per-chat override{'s' * (count != 1)})" if count else ""
        lines = [
            f"relay: {without_userinfo(self.relay.base_url)}",
            "api key: set",
            f"relay timeouts: {self.relay.timeout_s:g}s, connect {self.relay.connect_timeout_s:g}s,"
            f" retries {self.relay.max_retries}",
            f"storage: {self.storage.describe()}",
            f"language: {self.language}",
            *(f"model {name}: {getattr(models, name)}" for name in _MODEL_FEATURES),
            f"chat choices: {', '.join(models.chat_models())}",
            f"history tokens: {chat.history_tokens}",
            f"group mode: {chat.group_mode}{overrides}",
            f"logging: {self.logging.level}, {self.logging.format}",
            *self.workers.summary(),
            *self.access_summary(),
        ]
        platforms = self.platforms()
        lines += [f"{n}: {'enabled' if p.enabled else 'disabled'}" for n, p in platforms.items()]
        for platform in platforms.values():
            if platform.enabled:
                lines += platform.summary()
        secrets = self.secrets()
        for secret in secrets:  # belt and braces: a secret pasted into another value
            lines = [line.replace(secret, "***") for line in lines]
        return lines


_MODEL_FEATURES = tuple(n for n in ModelSettings.model_fields if not n.endswith("_choices"))


def _section_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    )


Sections = Mapping[str, type[Section]]
_MODELS: dict[tuple[tuple[str, type[Section]], ...], type[Settings]] = {}


def settings_model(sections: Sections | None = None) -> type[Settings]:
    """The model of the whole file: the core's sections plus ``sections`` (name -> model,
    each a ``Section``, usually a ``PlatformSection``), each defaulting to its defaults."""
    items = tuple((sections or {}).items())
    if not items:
        return Settings
    if items not in _MODELS:
        fields: dict[str, Any] = {}
        for name, model in items:
            if name in Settings.model_fields:
                raise ValueError(f"section {name!r} belongs to the core")
            if not (isinstance(model, type) and issubclass(model, Section)):
                raise TypeError(f"section {name!r} must be a Section model, not {model!r}")
            description = (model.__doc__ or name).strip().splitlines()[0]
            fields[name] = (model, Field(default_factory=model, description=description))
        _MODELS[items] = create_model(
            "Settings", __base__=Settings, __module__=__name__, **fields
        )
    return _MODELS[items]


# ---- loading ----

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME_DEFAULT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, *, sections: Sections | None = None
) -> Settings:
    """Read and validate the YAML file at ``path``; raise ConfigError listing every problem.
    ``sections`` are the platforms' sections (name -> model) the file may have."""
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
    return parse_config(text, str(path), env, sections=sections)


def parse_config(
    text: str,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    *,
    sections: Sections | None = None,
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
    model = settings_model(sections)
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        # a value whose variable is unset is already reported; its emptiness is no news
        problems += [p for p in ce.translate(exc, model) if p[0] not in unresolved]
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
