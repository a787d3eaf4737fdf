"""Config problems found and worded: value checks, pydantic and YAML errors as (path, message)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from core.storage.url import StorageUrlError, parse_storage_url
from core.texts.i18n import LANGS, Lang

Problem = tuple[str, str]
GroupMode = Literal["per_user", "shared"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]

# Error type of the checks below: their message is already ours.
OWN_ERROR = "relaybot"
# Same, for a model-level check about one field; ``ctx["field"]`` names that field.
OWN_FIELD_ERROR = "relaybot_field"

# pydantic's error types that can still reach us (every scalar goes through a check below).
_MESSAGES: dict[str, str] = {
    "missing": "required",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "iterable_type": "must be a list",
}


@dataclass(frozen=True, slots=True)
class Mark:
    """A marker in a field's annotation that the secret collector looks for."""

    name: str


# The field's value is a secret (``Secret`` fields, in any section, at any depth).
SECRET = Mark("secret")
# The field is a URL whose password (``scheme://user:password@host``) is a secret.
URL_CREDENTIALS = Mark("url credentials")

# ---- value checks: each accepts YAML values and env strings ("8080", "true") ----

_BOOLS = {"true": True, "yes": True, "on": True, "1": True}
_BOOLS |= {"false": False, "no": False, "off": False, "0": False}


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError(OWN_ERROR, message)


def _bool(value: object) -> bool:
    if isinstance(value, str):
        value = _BOOLS.get(value.strip().lower(), value)
    if isinstance(value, bool):
        return value
    raise _fail("must be true or false")


def _as_int(value: object) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive_int(value: object) -> int:
    number = _as_int(value)
    if number is None or number <= 0:
        raise _fail("must be a positive integer")
    return number


def _optional_positive_int(value: object) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null")):
        return None
    number = _as_int(value)
    if number is None or number <= 0:
        raise _fail("must be a positive integer or null")
    return number


def _retries(value: object) -> int:
    number = _as_int(value)
    if number is None or not 0 <= number <= 5:
        raise _fail("must be an integer from 0 to 5")
    return number


def int_range(low: int, high: int) -> PlainValidator:
    """A check for an integer from ``low`` to ``high``, both included."""

    def check(value: object) -> int:
        number = _as_int(value)
        if number is None or not low <= number <= high:
            raise _fail(f"must be an integer from {low} to {high}")
        return number

    return PlainValidator(check)


def _positive_number(value: object) -> float:
    number = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            pass
    if not (math.isfinite(number) and number > 0):
        raise _fail("must be a positive number")
    return number


def _text(value: object) -> str:
    """Any string; an empty YAML value is ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _fail("must be a string")


def _name(value: object) -> str:
    """A non-empty string, surrounding blanks removed."""
    if not isinstance(value, str):
        raise _fail("must be a string")
    if not value.strip():
        raise _fail("must not be empty")
    return value.strip()


def _secret(value: object) -> str:
    """An optional secret: may be empty; surrounding blanks (a pasted newline) removed."""
    return _text(value).strip()


def _one_of(choices: tuple[str, ...], fold: Callable[[str], str]) -> PlainValidator:
    message = "must be one of " + ", ".join(choices)

    def check(value: object) -> str:
        if isinstance(value, str) and fold(value.strip()) in choices:
            return fold(value.strip())
        raise _fail(message)

    return PlainValidator(check)


def _url(value: object) -> str:
    if isinstance(value, str):
        url = value.strip().rstrip("/")
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a port that is no number
        except ValueError:  # a bad port or bracketed host
            ok = False
        if ok and not any(c.isspace() for c in url):
            return url
    raise _fail("must be an http:// or https:// URL")


def _storage_url(value: object) -> str:
    """``storage.url``: empty (``storage.path`` decides), ``sqlite:///...`` or
    ``postgresql://...``; the message of a bad one never holds its password."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail("must be a string")
    if not value.strip():
        return ""
    try:
        return parse_storage_url(value).dsn or value.strip()
    except StorageUrlError as exc:
        raise _fail(str(exc)) from None


def _proxy_url(value: object) -> str:
    """An optional proxy URL: http, https or socks5, with a host; empty means none."""
    url = _text(value).strip()
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # a broken [IPv6] address
        raise _fail("must be an http://, https:// or socks5:// URL") from None
    if parts.scheme not in ("http", "https", "socks5", "socks5h"):
        raise _fail("must be an http://, https:// or socks5:// URL")
    try:
        usable = bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is not a number
        usable = False
    if not usable:
        raise _fail("must be a URL with a host and, if any, a numeric port (socks5://host:1080)")
    return url


def _override_key(value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]*:\S+", value):
        return value
    raise _fail("must look like '<platform>:<chat_id>', e.g. 'telegram:-1001234567890'")


Bool = Annotated[bool, PlainValidator(_bool)]
PositiveInt = Annotated[int, PlainValidator(_positive_int)]
OptionalPositiveInt = Annotated[int | None, PlainValidator(_optional_positive_int)]
Retries = Annotated[int, PlainValidator(_retries)]
QueueBound = Annotated[int, int_range(0, 100)]
ConcurrentUpdates = Annotated[int, int_range(1, 256)]
PositiveNumber = Annotated[float, PlainValidator(_positive_number)]
Text = Annotated[str, PlainValidator(_text)]
Name = Annotated[str, PlainValidator(_name)]
Secret = Annotated[str, PlainValidator(_secret), SECRET]
RequiredSecret = Annotated[str, PlainValidator(_name), SECRET]
Url = Annotated[str, PlainValidator(_url), URL_CREDENTIALS]
ProxyUrl = Annotated[str, PlainValidator(_proxy_url), URL_CREDENTIALS]
StorageUrlText = Annotated[str, PlainValidator(_storage_url), URL_CREDENTIALS]
OverrideKey = Annotated[str, PlainValidator(_override_key)]
LangChoice = Annotated[Lang, _one_of(LANGS, str.lower)]
GroupModeChoice = Annotated[GroupMode, _one_of(("per_user", "shared"), str.lower)]
LogLevelChoice = Annotated[LogLevel, _one_of(("DEBUG", "INFO", "WARNING", "ERROR"), str.upper)]
LogFormatChoice = Annotated[LogFormat, _one_of(("text", "json"), str.lower)]


def field_error(field: str, message: str) -> PydanticCustomError:
    """The error of a model-level check about one ``field`` of the section. ``{section}`` in
    ``message`` becomes the section's key path (``telegram.webhook``) when it is reported."""
    return PydanticCustomError(OWN_FIELD_ERROR, message, {"field": field})


def required_when_enabled(field: str) -> PydanticCustomError:
    """The error of a model-level check: ``field`` is needed because the section is enabled."""
    return field_error(field, "required when {section}.enabled is true")


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (for summaries and logs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def url_credentials(url: str) -> list[str]:
    """The userinfo inside ``url`` (``user:password``) and its password, as written and
    percent-decoded. A very short value alone would blank out every log line, so it is
    redacted only as part of its userinfo."""
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
    return [s for s in dict.fromkeys(found) if len(s) >= MIN_BARE_SECRET]


MIN_BARE_SECRET = 4


# ---- translation ----


def join_path(path: str, key: str) -> str:
    """``path.key``, or ``key`` at the top level."""
    return f"{path}.{key}" if path else key


def format_loc(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a path: ``(models, chat_choices, 2)`` → ``models.chat_choices[2]``.

    Dict keys are dotted like section keys; pydantic's ``"[key]"`` marker is dropped.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":  # pydantic's marker for "the key itself was invalid"
            path = join_path(path, part)
    return path


def unknown_key(key: str, valid: list[str]) -> str:
    """The message for an unknown ``key``, suggesting the closest of ``valid`` when one is close."""
    close = difflib.get_close_matches(key, valid, n=1)
    return f"unknown key (did you mean '{close[0]}'?)" if close else "unknown key"


def _keys_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The valid keys of the section at ``loc`` (empty when ``loc`` is not a section)."""
    model: Any = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def translate(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Every error of ``exc`` (raised validating ``root``) as a problem, in our own words."""
    problems: list[Problem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == OWN_ERROR:
            message = error["msg"]
        elif kind == OWN_FIELD_ERROR:
            message = error["msg"].replace("{section}", format_loc(loc))
            loc += (str(error.get("ctx", {}).get("field", "")),)
        elif kind == "extra_forbidden":
            message = unknown_key(str(loc[-1]), _keys_at(root, loc[:-1]))
        else:
            message = _MESSAGES.get(kind, "invalid value")
        problem = (format_loc(loc), message)
        if problem not in problems:
            problems.append(problem)
    return problems


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML syntax error as one line: ``line N, column M: <what is wrong>``."""
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or exc)
    if mark is None:
        return f"not valid YAML: {problem}"
    text = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        text += f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    if "'\\t'" in problem:
        text += " (indent with spaces, not tabs)"
    return text


def duplicate_keys(node: Any, path: str = "", seen: set[int] | None = None) -> list[Problem]:
    """Keys given twice in one mapping of the YAML ``node`` (PyYAML silently keeps the last)."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias to a node already walked
        return []
    seen.add(id(node))
    problems: list[Problem] = []
    children: list[tuple[str, Any]] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, child in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            line = key.start_mark.line + 1
            if name in first_line and name != "<<":
                where = f"first on line {first_line[name]}, again on line {line}"
                problems.append((join_path(path, name), f"duplicate key ({where})"))
            first_line.setdefault(name, line)
            children.append((join_path(path, name), child))
    elif isinstance(node, yaml.SequenceNode):
        children = [(f"{path}[{i}]", child) for i, child in enumerate(node.value)]
    for child_path, child in children:
        problems += duplicate_keys(child, child_path, seen)
    return problems
