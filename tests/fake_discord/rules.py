"""Discord's limits and error answers, table-driven, each with its source.

Sources: shared/platforms.md §2.4-2.6 (checked against discord.py 2.7.1); the JSON error
codes as discord-api-docs topics/opcodes-and-status-codes names them (cross-checked with the
RESTJSONErrorCodes enums of discord-api-types and Discord.Net); the rest of discord-api-docs
(resources/message, interactions/*) as summarised there. Codes are exact; message texts and the
nested ``_errors`` follow the documented format, their wording is approximate (APPROX)."""

from __future__ import annotations

import re
from typing import Any

# Lengths count code points, as Python's len() (discord-api-docs#1315: "Our API uses Python 3").
MAX_CONTENT = 2000  # message content, characters
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000  # all embed texts of one message together
MAX_FILES = 10  # files per message
UPLOAD_LIMIT = 10 * 1024 * 1024  # per file, bots, unboosted guild (since 2025-01-16)
REQUEST_LIMIT = 25 * 1024 * 1024  # a whole request
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
MAX_GLOBAL_COMMANDS = 100
MAX_COMMAND_OPTIONS = 25
MAX_CHOICES = 25
MAX_COMMAND_DESCRIPTION = 100
INTERACTION_RESPONSE_S = 3.0  # the callback must come within 3 s
INTERACTION_TOKEN_S = 15 * 60  # follow-ups and @original edits for 15 minutes
MiB = 1024 * 1024
PREMIUM_UPLOAD_LIMITS = {0: UPLOAD_LIMIT, 1: UPLOAD_LIMIT, 2: 50 * MiB, 3: 100 * MiB}

# Locales Discord accepts in *_localizations (discord-api-docs reference "Locales").
LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg "
    "ru uk hi th zh-CN ja zh-TW ko".split()
)
COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")

# Permission bits (discord-api-docs topics/permissions) the fake can deny in a channel.
PERMISSIONS = {
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_application_commands": 1 << 31,
    "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
}
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ALL_PERMISSIONS = (1 << 50) - 1 & ~ADMINISTRATOR
_MANAGING = ("manage_messages", "manage_threads", "mention_everyone")
# @everyone in a new server (approximately Discord's defaults): read, write, attach, threads.
EVERYONE_PERMISSIONS = (
    sum(v for k, v in PERMISSIONS.items() if k not in _MANAGING) | (1 << 6) | (1 << 0)
)  # + add reactions, create invite
# The bot's own managed role, as invited with the permissions the adapter needs.
BOT_PERMISSIONS = sum(PERMISSIONS.values())


class DiscordError(Exception):
    """An error answer: HTTP status and Discord's JSON body ``{"code", "message"[, "errors"]}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


def unknown_channel() -> DiscordError:
    return DiscordError(404, 10003, "Unknown Channel")


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def unknown_webhook() -> DiscordError:
    return DiscordError(404, 10015, "Unknown Webhook")


def unknown_interaction() -> DiscordError:
    return DiscordError(404, 10062, "Unknown interaction")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")  # APPROX: expired token answer


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def cannot_edit_others() -> DiscordError:
    return DiscordError(403, 50005, "Cannot edit a message authored by another user")


def empty_message() -> DiscordError:
    return DiscordError(400, 50006, "Cannot send an empty message")


def too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


def thread_exists() -> DiscordError:
    return DiscordError(400, 160004, "A thread has already been created for this message")


def invalid_form(path: str, code: str, message: str) -> DiscordError:
    """400 50035 with one nested error at ``path`` ("content", "components.0.components.1")."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        errors = {part: errors}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def max_length(path: str, limit: int) -> DiscordError:
    return invalid_form(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def check_message(body: dict[str, Any], *, files: int, edit: bool = False) -> None:
    """What Discord refuses in a message create/edit body (content, embeds, components)."""
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        raise invalid_form("content", "STRING_TYPE_CONVERT", "Could not interpret value as string.")
    if content is not None and len(content) > MAX_CONTENT:
        raise max_length("content", MAX_CONTENT)
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise max_length("embeds", MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            text = str(embed.get(key) or "")
            if len(text) > limit:
                raise max_length(f"embeds.{i}.{key}", limit)
            total += len(text)
        for fld in embed.get("fields") or []:
            total += len(str(fld.get("name") or "")) + len(str(fld.get("value") or ""))
        total += len(str((embed.get("footer") or {}).get("text") or ""))
        total += len(str((embed.get("author") or {}).get("name") or ""))
    if total > MAX_EMBED_TOTAL:
        # APPROX: Discord reports this on "embeds" with code BASE_TYPE_MAX_LENGTH
        raise max_length("embeds", MAX_EMBED_TOTAL)
    check_components(body.get("components") or [])
    if files > MAX_FILES:
        raise max_length("files", MAX_FILES)
    if not edit and not (
        content
        or embeds
        or files
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise empty_message()


def check_components(rows: list[dict[str, Any]]) -> None:
    if len(rows) > MAX_ACTION_ROWS:
        raise max_length("components", MAX_ACTION_ROWS)
    seen: set[str] = set()
    for r, row in enumerate(rows):
        children = row.get("components") or []
        if len(children) > MAX_ROW_COMPONENTS:
            raise max_length(f"components.{r}.components", MAX_ROW_COMPONENTS)
        for c, comp in enumerate(children):
            where = f"components.{r}.components.{c}"
            custom_id = comp.get("custom_id")
            if custom_id is not None:
                if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                    raise max_length(f"{where}.custom_id", MAX_CUSTOM_ID)
                if custom_id in seen:
                    raise invalid_form(
                        f"{where}.custom_id",
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen.add(custom_id)
            label = comp.get("label")
            if label is not None and len(label) > MAX_BUTTON_LABEL:
                raise max_length(f"{where}.label", MAX_BUTTON_LABEL)


def check_commands(commands: list[dict[str, Any]], *, is_global: bool) -> None:
    """A bulk overwrite body (APPROX error paths)."""
    if is_global and len(commands) > MAX_GLOBAL_COMMANDS:
        raise max_length("", MAX_GLOBAL_COMMANDS)
    for i, cmd in enumerate(commands):
        _check_command(cmd, str(i))


def _check_command(cmd: dict[str, Any], where: str) -> None:
    name = str(cmd.get("name") or "")
    kind = int(cmd.get("type", 1) or 1)
    if kind == 1 and (not COMMAND_NAME.match(name) or name != name.lower()):
        raise invalid_form(f"{where}.name", "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
    description = str(cmd.get("description") or "")
    if kind == 1 and not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
        raise max_length(f"{where}.description", MAX_COMMAND_DESCRIPTION)
    for key in ("name_localizations", "description_localizations"):
        for locale, text in (cmd.get(key) or {}).items():
            if locale not in LOCALES:
                raise invalid_form(
                    f"{where}.{key}.{locale}", "LOCALE_INVALID", f"Invalid locale {locale}"
                )
            if key == "description_localizations" and len(text) > MAX_COMMAND_DESCRIPTION:
                raise max_length(f"{where}.{key}.{locale}", MAX_COMMAND_DESCRIPTION)
    options = cmd.get("options") or []
    if len(options) > MAX_COMMAND_OPTIONS:
        raise max_length(f"{where}.options", MAX_COMMAND_OPTIONS)
    for j, opt in enumerate(options):
        if len(opt.get("choices") or []) > MAX_CHOICES:
            raise max_length(f"{where}.options.{j}.choices", MAX_CHOICES)
        _check_command({**opt, "type": 1}, f"{where}.options.{j}")
