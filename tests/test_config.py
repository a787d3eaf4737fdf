"""Tests of core.config.settings: loading, ${VAR} substitution, every problem worded for admins, and
the platforms' sections added from outside core/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, Field, ValidationError

from bots.platforms import SECTIONS
from bots.telegram.settings import TelegramSettings
from core.config.fields import Name, PositiveInt, ProxyUrl, Secret, Url
from core.config.sections import Section, TokenPlatformSection
from core.config.settings import RelaySettings, Settings, parse_config, settings_model
from core.config.settings import load_config as core_load_config
from core.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"
RELAY = "relay:\n  base_url: https://relay.test/v1\n  api_key: sk-relay-secret\n"


def load_config(path: str | Path, env: dict[str, str]) -> Settings:
    """As ``relaybot`` loads a file: with the sections of the platforms in bots/."""
    return core_load_config(path, env, sections=SECTIONS)


def problems(text: str, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The problems ``parse_config`` reports for ``text``; fails when it reports none."""
    with pytest.raises(ConfigError) as caught:
        parse(text, env)
    return caught.value.problems


def parse(text: str, env: dict[str, str] | None = None) -> Settings:
    return parse_config(text, "test.yaml", env or {}, sections=SECTIONS)


# ---- the example file ----


def test_example_loads_when_the_api_key_is_set() -> None:
    settings = load_config(EXAMPLE, {"RELAY_API_KEY": "sk-example"})
    assert settings.relay.api_key == "sk-example"
    assert settings.relay.base_url == "https://api.example.com"
    telegram = settings.section("telegram", TelegramSettings)
    assert telegram.token == "" and not telegram.enabled
    assert settings.secrets() == ("sk-example",)


def test_example_documents_the_real_defaults() -> None:
    settings = load_config(EXAMPLE, {"RELAY_API_KEY": "sk-example"})
    relay = RelaySettings(base_url="https://api.example.com", api_key="sk-example")
    assert settings == settings_model(SECTIONS)(relay=relay)


def _assert_same_keys(raw: dict[str, object], model: type[BaseModel], path: str) -> None:
    assert set(raw) == set(model.model_fields), path or "top level"
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            section = raw[name]
            assert isinstance(section, dict), f"{path}{name}"
            _assert_same_keys(section, field.annotation, f"{path}{name}.")


def test_example_has_every_key_and_nothing_else() -> None:
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    _assert_same_keys(raw, settings_model(SECTIONS), "")


def test_example_fails_without_the_api_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, {})
    assert caught.value.problems == [
        ("relay.api_key", "environment variable RELAY_API_KEY is not set")
    ]
    assert "relay.api_key: environment variable RELAY_API_KEY is not set" in str(caught.value)
    assert str(EXAMPLE) in str(caught.value)


def test_example_takes_the_base_url_and_tokens_from_the_environment() -> None:
    env = {
        "RELAY_API_KEY": "k",
        "RELAY_BASE_URL": "http://127.0.0.1:3000/v1/",
        "TELEGRAM_TOKEN": "123:tg",
    }
    settings = load_config(EXAMPLE, env)
    assert settings.relay.base_url == "http://127.0.0.1:3000/v1"
    assert settings.section("telegram", TelegramSettings).token == "123:tg"


# ---- ${VAR} substitution ----


def test_variable_is_substituted_inside_a_string() -> None:
    text = "relay:\n  base_url: https://${HOST}/v1\n  api_key: ${KEY}\n"
    settings = parse(text, {"HOST": "relay.test", "KEY": "sk-1"})
    assert settings.relay.base_url == "https://relay.test/v1"
    assert settings.relay.api_key == "sk-1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "fallback"), ({"KEY": ""}, "fallback"), ({"KEY": "from-env"}, "from-env")],
)
def test_default_is_used_when_the_variable_is_unset_or_empty(
    env: dict[str, str], expected: str
) -> None:
    text = "relay:\n  base_url: http://r\n  api_key: ${KEY:-fallback}\n"
    assert parse(text, env).relay.api_key == expected


def test_double_dollar_escapes_to_a_literal_reference() -> None:
    text = RELAY + "chat:\n  system_prompt: 'write $${HOME} literally, ${WHO}'\n"
    settings = parse(text, {"HOME": "/root", "WHO": "bot"})
    assert settings.chat.system_prompt == "write ${HOME} literally, bot"


def test_substituted_value_is_not_expanded_again() -> None:
    text = "relay:\n  base_url: http://r\n  api_key: ${KEY}\n"
    assert parse(text, {"KEY": "a${OTHER}b", "OTHER": "x"}).relay.api_key == "a${OTHER}b"


def test_unset_variable_without_default_is_a_problem_at_its_path() -> None:
    text = RELAY + "models:\n  chat_choices: [gpt-4o, '${EXTRA_MODEL}']\n"
    assert problems(text) == [
        ("models.chat_choices[1]", "environment variable EXTRA_MODEL is not set")
    ]


def test_malformed_references_are_problems() -> None:
    text = RELAY + "chat:\n  system_prompt: 'hi ${NAME'\nstorage:\n  path: '${9BAD}'\n"
    found = dict(problems(text))
    assert found["chat.system_prompt"].startswith("unclosed '${'")
    assert found["storage.path"].startswith("'${9BAD}' is not valid")


def test_environment_strings_are_coerced_to_numbers_and_booleans() -> None:
    text = (
        "relay:\n  base_url: http://r\n  api_key: k\n"
        "  timeout_s: ${TIMEOUT}\n  max_retries: ${RETRIES}\n"
        "chat:\n  history_tokens: ${TOKENS}\n  max_answer_tokens: ${MAX:-}\n"
        "telegram:\n  enabled: ${TG_ON}\n  token: ${TG}\n"
    )
    env = {"TIMEOUT": "2.5", "RETRIES": "0", "TOKENS": "8080", "TG_ON": "true", "TG": "1:x"}
    settings = parse(text, env)
    assert settings.relay.timeout_s == 2.5
    assert settings.relay.max_retries == 0
    assert settings.chat.history_tokens == 8080 and isinstance(settings.chat.history_tokens, int)
    assert settings.chat.max_answer_tokens is None
    assert settings.telegram.enabled is True
    assert parse(text, {**env, "TG_ON": "False"}).telegram.enabled is False


def test_environment_string_that_is_not_a_number_is_reported() -> None:
    text = RELAY + "chat:\n  history_tokens: ${TOKENS}\n"
    assert problems(text, {"TOKENS": "lots"}) == [
        ("chat.history_tokens", "must be a positive integer")
    ]


# ---- each problem, worded exactly ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RELAY + "telegram:\n  enabled: true\n",
            "telegram.token: required when telegram.enabled is true",
        ),
        (
            RELAY + "discord:\n  enabled: true\n  token: '  '\n",
            "discord.token: required when discord.enabled is true",
        ),
        (RELAY + "chat:\n  history_tokens: 0\n", "chat.history_tokens: must be a positive integer"),
        (
            RELAY + "chat:\n  history_tokens: -5\n",
            "chat.history_tokens: must be a positive integer",
        ),
        (
            RELAY + "chat:\n  history_tokens: 1.5\n",
            "chat.history_tokens: must be a positive integer",
        ),
        (
            RELAY + "chat:\n  history_tokens: true\n",
            "chat.history_tokens: must be a positive integer",
        ),
        (
            RELAY + "chat:\n  history_tokens: many\n",
            "chat.history_tokens: must be a positive integer",
        ),
        (
            RELAY + "chat:\n  histroy_tokens: 10\n",
            "chat.histroy_tokens: unknown key (did you mean 'history_tokens'?)",
        ),
        (RELAY + "relya: {}\n", "relya: unknown key (did you mean 'relay'?)"),
        (RELAY + "chat:\n  zzz: 1\n", "chat.zzz: unknown key"),
        ("relay:\n  base_url: http://r\n", "relay.api_key: required"),
        ("language: en\n", "relay: required"),
        (RELAY + "telegram:\n  enabled: maybe\n", "telegram.enabled: must be true or false"),
        (RELAY + "telegram:\n  enabled: 1\n", "telegram.enabled: must be true or false"),
        (RELAY + "language: fr\n", "language: must be one of zh, en"),
        ("relay: https://relay.test\n", "relay: must be a mapping"),
        (RELAY + "chat: [1, 2]\n", "chat: must be a mapping"),
        (
            RELAY + "models:\n  chat_choices: [a, b, 7]\n",
            "models.chat_choices[2]: must be a string",
        ),
        (RELAY + "models:\n  chat_choices: [a, '']\n", "models.chat_choices[1]: must not be empty"),
        (RELAY + "models:\n  chat_choices: gpt-4o\n", "models.chat_choices: must be a list"),
    ],
)
def test_problem_is_worded_exactly(text: str, expected: str) -> None:
    assert [f"{path}: {what}" for path, what in problems(text)] == [expected]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("base_url", "ftp://relay.test", "must be an http:// or https:// URL"),
        ("base_url", "relay.test", "must be an http:// or https:// URL"),
        ("api_key", "''", "must not be empty"),
        ("timeout_s", "0", "must be a positive number"),
        ("connect_timeout_s", ".nan", "must be a positive number"),
        ("connect_timeout_s", ".inf", "must be a positive number"),
        ("base_url", "http://relay.test:port/v1", "must be an http:// or https:// URL"),
        ("max_retries", "6", "must be an integer from 0 to 5"),
        ("max_retries", "-1", "must be an integer from 0 to 5"),
    ],
)
def test_relay_value_problems(key: str, value: str, expected: str) -> None:
    fields = {"base_url": "http://r", "api_key": "k", key: value}
    text = "relay:\n" + "".join(f"  {k}: {v}\n" for k, v in fields.items())
    assert problems(text) == [(f"relay.{key}", expected)]


def test_other_choice_and_mapping_problems() -> None:
    text = RELAY + (
        "logging:\n  level: loud\n  format: xml\n"
        "chat:\n  group_mode: everyone\n  max_answer_tokens: 0\n"
        "  group_overrides:\n    'telegram:-100': all\n    nochat: shared\n"
    )
    assert problems(text) == [
        ("chat.max_answer_tokens", "must be a positive integer or null"),
        ("chat.group_mode", "must be one of per_user, shared"),
        ("chat.group_overrides.telegram:-100", "must be one of per_user, shared"),
        (
            "chat.group_overrides.nochat",
            "must look like '<platform>:<chat_id>', e.g. 'telegram:-1001234567890'",
        ),
        ("logging.level", "must be one of DEBUG, INFO, WARNING, ERROR"),
        ("logging.format", "must be one of text, json"),
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "language: fr\n"
        "relay:\n  base_url: http://r\n  api_key: ${KEY}\n  timeout_s: -1\n"
        "chat:\n  histroy_tokens: 10\n"
        "telegram:\n  enabled: true\n"
    )
    assert problems(text) == [
        ("relay.api_key", "environment variable KEY is not set"),
        ("language", "must be one of zh, en"),
        ("relay.timeout_s", "must be a positive number"),
        ("chat.histroy_tokens", "unknown key (did you mean 'history_tokens'?)"),
        ("telegram.token", "required when telegram.enabled is true"),
    ]


def test_duplicate_key_is_a_problem() -> None:
    text = RELAY + "chat:\n  history_tokens: 10\n  history_tokens: 20\n"
    assert problems(text) == [
        ("chat.history_tokens", "duplicate key (first on line 5, again on line 6)")
    ]


# ---- files and YAML ----


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("relay:\n  base_url: http://r\n  api_key: 'unclosed\nlanguage: en\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    [(where, what)] = caught.value.problems
    assert where == ""
    assert what.startswith("line 5, column 1: found unexpected end of stream")
    assert "line 3, column 12" in what  # where the unclosed quote starts


def test_tab_indentation_gets_a_hint() -> None:
    [(_, what)] = problems("relay:\n\tbase_url: http://r\n")
    assert what.startswith("line 2, column 1: ")
    assert "spaces, not tabs" in what


def test_missing_file_names_the_path_and_the_example(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    message = str(caught.value)
    assert str(path) in message
    assert "copy config.example.yaml" in message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_file_is_reported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    [(where, what)] = caught.value.problems
    assert where == "" and "the file is empty" in what


def test_top_level_list_is_reported() -> None:
    assert problems("- relay\n") == [("", "the file must be a mapping of settings (key: value)")]


def test_str_path_and_utf8_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("\ufeff" + RELAY + "chat:\n  system_prompt: 你好\n", "utf-8")
    assert load_config(str(path), {}).chat.system_prompt == "你好"


# ---- values ----


def test_defaults_and_normalization() -> None:
    text = (
        "relay:\n  base_url: https://relay.test/v1/\n  api_key: ' sk-1 \n'\n"
        "logging:\n  level: debug\n"
        "telegram:\n"  # every key commented out: the section's defaults
        "models:\n  chat: gpt-4o\n  chat_choices: [gpt-4o-mini, gpt-4o, gpt-4o-mini]\n"
    )
    settings = parse(text)
    assert settings.relay.base_url == "https://relay.test/v1"
    assert settings.relay.api_key == "sk-1"
    assert settings.logging.level == "DEBUG"
    assert settings.telegram.enabled is False
    assert settings.language == "zh"
    assert settings.chat.history_tokens == 4000
    assert settings.chat.max_history_messages == 200
    assert settings.storage.path == "data/relaybot.db"
    assert settings.models.chat_choices == ("gpt-4o-mini", "gpt-4o")
    assert settings.models.chat_models() == ("gpt-4o", "gpt-4o-mini")


def test_settings_are_frozen() -> None:
    settings = parse(RELAY)
    with pytest.raises(ValidationError):
        settings.language = "en"


# ---- secrets and summary ----

SECRETS_TEXT = (
    "relay:\n  base_url: https://relay.test/v1\n  api_key: ${KEY}\n"
    "telegram:\n  enabled: true\n  token: ${TG}\n"
    "discord:\n  token: ''\n"
    "wechat:\n  enabled: true\n  token: ${WX}\n"
)
SECRETS_ENV = {"KEY": "sk-relay-secret", "TG": "123456:tg-secret", "WX": "wx-bridge-secret"}


def test_secrets_lists_every_non_empty_secret() -> None:
    settings = parse(SECRETS_TEXT, SECRETS_ENV)
    assert settings.secrets() == ("sk-relay-secret", "123456:tg-secret", "wx-bridge-secret")
    with_discord = SECRETS_TEXT.replace("discord:\n  token: ''", "discord:\n  token: dc-secret")
    discord_too = parse(with_discord, SECRETS_ENV)
    assert discord_too.secrets() == (
        "sk-relay-secret", "123456:tg-secret", "dc-secret", "wx-bridge-secret"
    )


def test_summary_describes_the_config_without_secrets() -> None:
    settings = parse(SECRETS_TEXT, SECRETS_ENV)
    lines = settings.summary()
    text = "\n".join(lines)
    for secret in settings.secrets():
        assert secret not in text
    assert "relay: https://relay.test/v1" in lines
    assert "api key: set" in lines
    assert "storage: data/relaybot.db" in lines
    assert "language: zh" in lines
    assert "model chat: gpt-4o-mini" in lines
    assert "model image: dall-e-3" in lines
    assert "chat choices: gpt-4o-mini" in lines
    assert "history tokens: 4000" in lines
    assert "group mode: per_user" in lines
    assert ["telegram: enabled", "discord: disabled", "wechat: enabled"] == lines[-4:-1]
    assert lines[-1] == "telegram mode: long polling"


def test_summary_and_repr_hide_a_secret_in_the_url() -> None:
    text = "relay:\n  base_url: https://user:pw-secret@relay.test\n  api_key: sk-relay-secret\n"
    settings = parse(text)
    assert "pw-secret" not in "\n".join(settings.summary())
    assert "sk-relay-secret" not in repr(settings)


def test_summary_masks_a_secret_pasted_into_another_value() -> None:
    text = (
        "relay:\n  base_url: https://relay.test/?key=sk-relay-secret\n  api_key: sk-relay-secret\n"
    )
    lines = parse(text).summary()
    assert "sk-relay-secret" not in "\n".join(lines)
    assert "relay: https://relay.test/?key=***" in lines


# ---- the telegram section ----

RELAY = "relay:\n  base_url: https://relay.test\n  api_key: sk-x\n"


def test_telegram_webhook_needs_https_and_a_secret() -> None:
    text = RELAY + "telegram:\n  webhook:\n    url: http://bot.example/hook\n"
    assert problems(text) == [
        ("telegram.webhook.secret_token",
         "required when telegram.webhook.url is set (any 1-256 of A-Z a-z 0-9 _ -)"),
    ]
    text = RELAY + "telegram:\n  webhook:\n    url: http://bot.example/hook\n    secret_token: s\n"
    assert problems(text) == [
        ("telegram.webhook.url", "must be an https:// URL (Telegram only posts to HTTPS)")
    ]


def test_telegram_proxy_scheme_limits_and_secrets() -> None:
    assert problems(RELAY + "telegram:\n  proxy: ftp://p:21\n") == [
        ("telegram.proxy", "must be an http://, https:// or socks5:// URL")
    ]
    assert problems(RELAY + "telegram:\n  limits:\n    per_group_per_min: 0\n") == [
        ("telegram.limits.per_group_per_min", "must be a positive integer")
    ]
    text = RELAY + (
        "telegram:\n  enabled: true\n  token: 1:tok-secret\n  proxy: socks5://u:pw@127.0.0.1:1080\n"
        "  webhook:\n    url: https://bot.example/hook\n    secret_token: hook-secret\n"
    )
    settings = parse(text)
    assert "hook-secret" in settings.secrets() and "1:tok-secret" in settings.secrets()
    summary = "\n".join(settings.summary())
    assert "telegram mode: webhook https://bot.example/hook" in summary
    assert "telegram proxy: socks5://***@127.0.0.1:1080" in summary
    assert "pw" not in summary and "hook-secret" not in summary


# ---- a platform's section, declared outside core/ ----


class _PagerLink(Section):
    """A sub-section of the test platform."""

    url: Url = Field(default="https://pager.test", description="Where to page.")
    retries: PositiveInt = Field(default=3, description="How often.")


class PagerSettings(TokenPlatformSection):
    """A platform the tests invent: core/ has never heard of it."""

    room: Name = Field(default="lobby", description="Room to sit in.")
    signing_key: Secret = Field(default="", repr=False, description="Signs requests (secret).")
    proxy: ProxyUrl = Field(default="", description="Proxy; empty: none.")
    link: _PagerLink = Field(default_factory=_PagerLink)

    def summary(self) -> list[str]:
        return [f"pager room: {self.room}"]


PAGER = {**SECTIONS, "pager": PagerSettings}


def test_a_platform_section_from_outside_core_is_validated_with_key_paths() -> None:
    text = RELAY + (
        "pager:\n  enabled: true\n  room: ''\n  romo: x\n  proxy: ftp://p\n"
        "  link:\n    retries: 0\n    ulr: https://x\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.yaml", {}, sections=PAGER)
    assert caught.value.problems == [
        ("pager.room", "must not be empty"),
        ("pager.proxy", "must be an http://, https:// or socks5:// URL"),
        ("pager.link.retries", "must be a positive integer"),
        ("pager.link.ulr", "unknown key (did you mean 'url'?)"),
        ("pager.romo", "unknown key (did you mean 'room'?)"),
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(RELAY + "pager:\n  enabled: true\n", "t", {}, sections=PAGER)
    assert caught.value.problems == [("pager.token", "required when pager.enabled is true")]


def test_without_its_section_a_platform_key_is_unknown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(RELAY + "pager:\n  enabled: true\n", "t", {}, sections=SECTIONS)
    assert caught.value.problems == [("pager", "unknown key")]


def test_a_platform_section_is_read_typed_and_its_secrets_redacted() -> None:
    text = RELAY + (
        "pager:\n  enabled: true\n  token: pg-token-secret\n  signing_key: pg-sign-secret\n"
        "  proxy: http://me:pg%2Fproxy-pw@127.0.0.1:3128\n"
        "  link:\n    url: https://bot:pg-link-pw@pager.test\n"
        "telegram:\n"
    )
    settings = parse_config(text, "test.yaml", {}, sections=PAGER)
    pager = settings.section("pager", PagerSettings)
    assert (pager.enabled, pager.room, pager.link.retries) == (True, "lobby", 3)
    assert list(settings.platforms()) == ["telegram", "discord", "wechat", "pager"]
    assert settings.platforms()["pager"] is pager
    assert settings.secrets() == (
        "sk-x",
        "pg-token-secret",
        "pg-sign-secret",
        "me:pg%2Fproxy-pw",
        "me:pg/proxy-pw",
        "pg%2Fproxy-pw",
        "pg/proxy-pw",
        "bot:pg-link-pw",
        "pg-link-pw",
    )
    summary = "\n".join(settings.summary())
    assert "pager: enabled" in summary and "pager room: lobby" in summary
    assert "secret" not in summary and "-pw" not in summary
    assert "secret" not in repr(settings)
    with pytest.raises(LookupError):
        settings.section("pager", TelegramSettings)
    with pytest.raises(LookupError):
        parse(RELAY).section("pager", PagerSettings)


def test_a_platform_cannot_take_a_core_section() -> None:
    with pytest.raises(ValueError, match="belongs to the core"):
        settings_model({"relay": PagerSettings})
    assert settings_model(PAGER) is settings_model(dict(PAGER))  # built once
    assert settings_model() is Settings
