"""Telegram's rules for FakeTelegram: the error table, limits, entity parsers and flood control."""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

# -- Error table ----------------------------------------------------------------------------------
# key -> (HTTP status, description). Sources, re-check them when PTB or the Bot API changes:
#   [api]    observed on api.telegram.org, recorded in /work/shared/platforms.md §1.6
#   [botapi] tdlib/telegram-bot-api telegram-bot-api/Client.cpp (Client::fail_query_with_error
#            rewrites "Xyz" to "Bad Request: xyz", keeps UPPER_CASE server codes as they are)
#   [tdlib]  tdlib/td td/telegram/{MessageEntity,MessageContent,MessagesManager,BotCommand}.cpp
#   [approx] NOT verified against the real server; an educated guess (platforms.md §1.6)
ERRORS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Unauthorized"),  # [api] wrong token
    "not_found": (404, "Not Found"),  # [api] unknown method; local server: "...: method not found"
    "too_large": (413, "Request Entity Too Large"),  # [api] upload over 50 MB, before the Bot API
    "flood": (429, "Too Many Requests: retry after {retry_after}"),  # [botapi] always + parameters
    "blocked": (403, "Forbidden: bot was blocked by the user"),  # [botapi] USER_IS_BLOCKED
    "conflict_poll": (  # [botapi] Client::abort_long_poll
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    ),
    "conflict_set_webhook": (409, "Conflict: terminated by setWebhook request"),  # [botapi]
    "conflict_webhook": (  # [botapi] process_get_updates_query
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    ),
    "parse": (400, "Bad Request: can't parse entities: {detail}"),  # [tdlib] parse_html & co
    "parse_mode": (400, "Bad Request: unsupported parse_mode"),  # [botapi] get_formatted_text
    "raw_text_too_long": (400, "Bad Request: text is too long"),  # [botapi] > 32768 bytes raw
    "text_empty": (400, "Bad Request: message text is empty"),  # [botapi] text="" as sent
    "text_blank": (400, "Bad Request: text must be non-empty"),  # [tdlib] empty after parse+trim
    "too_long": (400, "Bad Request: message is too long"),  # [tdlib] MessageContent.cpp
    "caption_too_long": (400, "Bad Request: message caption is too long"),  # [tdlib]
    "not_modified": (  # [botapi] MESSAGE_NOT_MODIFIED
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    ),
    "edit_not_found": (400, "Bad Request: message to edit not found"),  # [botapi] check_message
    "delete_not_found": (400, "Bad Request: message to delete not found"),  # [botapi]
    "reply_not_found": (400, "Bad Request: message to be replied not found"),  # [botapi]
    "cant_edit": (400, "Bad Request: message can't be edited"),  # [tdlib] MessagesManager
    "cant_delete": (400, "Bad Request: message can't be deleted"),  # [botapi]
    "no_text_to_edit": (400, "Bad Request: there is no text in the message to edit"),  # [tdlib]
    "no_caption_to_edit": (400, "Bad Request: there is no caption in the message to edit"),
    "chat_not_found": (400, "Bad Request: chat not found"),  # [botapi]
    "no_file": (400, "Bad Request: there is no {kind} in the request"),  # [botapi]
    "wrong_file_id": (400, "Bad Request: wrong file identifier/HTTP URL specified"),  # [tdlib]
    "get_file_invalid": (  # [botapi] on_file_download
        400,
        "Bad Request: wrong file_id or the file is temporarily unavailable",
    ),
    "file_too_big": (400, "Bad Request: file is too big"),  # [botapi] do_get_file
    "photo_too_big": (400, "Bad Request: PHOTO_SAVE_FILE_INVALID"),  # [approx] photo over 10 MB
    "button_data": (400, "Bad Request: BUTTON_DATA_INVALID"),  # [api] callback_data > 64 bytes
    "text_button": (  # [botapi] get_inline_keyboard_button_type
        400,
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard",
    ),
    "markup_object": (400, "Bad Request: object expected as reply markup"),  # [botapi]
    "inline_rows": (  # [botapi]
        400,
        'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
        "must be an Array of Arrays",
    ),
    "album_empty": (400, "Bad Request: there are no messages to send"),  # [tdlib]
    "album_too_many": (400, "Bad Request: too many messages to send as an album"),  # [tdlib]
    "album_mixed": (400, "Bad Request: can't use the media of the specified type in the album"),
    "query_too_old": (  # [botapi] QUERY_ID_INVALID; also for a second answer
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    ),
    "chat_action": (400, "Bad Request: wrong parameter action in request"),  # [botapi]
    "language_code": (400, "Bad Request: invalid language code specified"),  # [tdlib] misc.cpp
    "command_empty": (400, "Bad Request: command must be non-empty"),  # [tdlib] BotCommand.cpp
    "command_long": (400, "Bad Request: command length must not exceed 32"),  # [tdlib]
    "description_empty": (400, "Bad Request: command description must be non-empty"),  # [tdlib]
    "description_long": (  # [tdlib]
        400,
        "Bad Request: command description length must not exceed 256",
    ),
    "command_invalid": (400, "Bad Request: BOT_COMMAND_INVALID"),  # [approx] not [a-z0-9_]
    "commands_too_many": (400, "Bad Request: BOT_COMMANDS_TOO_MUCH"),  # [approx] over 100
}


class ApiError(Exception):
    """A Bot API failure: becomes {"ok":false,"error_code":status,"description":...}."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after


def api_error(key: str, **fields: Any) -> ApiError:
    status, template = ERRORS[key]
    retry_after = fields.get("retry_after")
    return ApiError(status, template.format(**fields), retry_after)


# -- Limits (telegram.constants of PTB 22.8 / Bot API docs, unless noted) ----------------------
MAX_TEXT = 4096  # MessageLimit.MAX_TEXT_LENGTH; tdlib counts code points, we count UTF-16 (safer)
MAX_CAPTION = 1024  # MessageLimit.CAPTION_LENGTH
MAX_RAW_TEXT_BYTES = 1 << 15  # [botapi] Client::get_formatted_text, before parsing
MAX_CALLBACK_DATA = 64  # InlineKeyboardButtonLimit.MAX_CALLBACK_DATA, in bytes
UPLOAD_LIMIT = 50_000_000  # FileSizeLimit.FILESIZE_UPLOAD (413 above it)
PHOTO_UPLOAD_LIMIT = 10_000_000  # FileSizeLimit.PHOTOSIZE_UPLOAD
DOWNLOAD_LIMIT = 20 << 20  # [botapi] Client.h MAX_DOWNLOAD_FILE_SIZE (PTB says 20_000_000)
MAX_ALBUM = 10  # [tdlib] MAX_GROUPED_MESSAGES
MAX_COMMANDS = 100
LONG_POLL_MAX_TIMEOUT = 50  # [botapi] Client.h
CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- Entity parsing: ports of tdlib's parse_html / parse_markdown_v2 / parse_markdown --------------
# They work on UTF-8 bytes like tdlib, so error offsets are byte offsets; a byte past the end
# reads as 0 like the C string terminator.
Entities = list[dict[str, Any]]
_PRIORITY = {
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "custom_emoji": 99,
    "blockquote": 0,
    "expandable_blockquote": 0,
}
_HTML_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)
_HTML_SIMPLE = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _is_space(c: int) -> bool:  # tdlib is_space: NUL counts as space
    return c in (0x20, 0x09, 0x0D, 0x0A, 0x00, 0x0B)


def _bad(detail: str) -> ApiError:
    return api_error("parse", detail=detail)


def _entity(kind: str, offset: int, length: int, argument: str = "") -> dict[str, Any]:
    entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if kind == "text_link":
        prefix = "tg://user?id="
        if argument.startswith(prefix) and argument[len(prefix) :].isdigit():
            entity.update(
                type="text_mention",
                user={"id": int(argument[len(prefix) :]), "is_bot": False, "first_name": "User"},
            )
        else:
            entity["url"] = argument
    elif kind == "pre" and argument:
        entity["language"] = argument
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = argument
    return entity


def _sorted(entities: Entities) -> Entities:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))


class _Bytes:
    def __init__(self, text: str) -> None:
        self.raw = text.encode("utf-8", "surrogatepass")
        self.n = len(self.raw)

    def __call__(self, i: int) -> int:
        return self.raw[i] if i < self.n else 0


def _utf16_step(c: int) -> int:  # UTF-16 units added by a UTF-8 lead byte, 0 for continuations
    return 0 if (c & 0xC0) == 0x80 else (2 if c >= 0xF0 else 1)


def _decode_html_entity(at: _Bytes, pos: int) -> tuple[int, int]:
    """tdlib decode_html_entity: (code point, end) or (0, pos) when not an entity."""
    end, res = pos + 1, 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF" and at(end):
                res, end = res * 16 + int(chr(at(end)), 16), end + 1
        else:
            while ord("0") <= at(end) <= ord("9"):
                res, end = res * 10 + at(end) - ord("0"), end + 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        res = {b"lt": 60, b"gt": 62, b"amp": 38, b"quot": 34}.get(at.raw[pos + 1 : end], 0)
        if not res:
            return 0, pos
    return res, end + 1 if at(end) == ord(";") else end


def parse_html(text: str) -> tuple[str, Entities]:
    at, out, utf16 = _Bytes(text), bytearray(), 0
    entities: Entities = []
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, output position
    i = 0
    while i < at.n:
        c = at(i)
        if c == ord("&"):
            code, end = _decode_html_entity(at, i)
            if code:
                out += chr(code).encode("utf-8", "surrogatepass")
                utf16, i = utf16 + (2 if code > 0xFFFF else 1), end
                continue
        if c != ord("<"):
            utf16 += _utf16_step(c)
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != ord("/"):
            while not _is_space(at(i)) and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise _bad(f"Unclosed start tag at byte offset {begin}")
            tag = at.raw[begin + 1 : i].lower().decode("utf-8", "replace")
            if tag not in _HTML_TAGS:
                raise _bad(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) and _is_space(at(i)):
                    i += 1
                if at(i) == ord(">"):
                    break
                name_begin = i
                while not _is_space(at(i)) and chr(at(i)) not in "=>/\"'":
                    i += 1
                name = at.raw[name_begin:i].decode("utf-8", "replace")
                if not name:
                    raise _bad(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while at(i) and _is_space(at(i)):
                    i += 1
                if at(i) != ord("="):
                    if at(i) == 0:
                        raise _bad(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) and _is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise _bad(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if chr(at(i)) not in "'\"":
                    token_begin = i
                    while chr(at(i)).isascii() and (chr(at(i)).isalnum() or chr(at(i)) in ".-"):
                        i += 1
                    value = at.raw[token_begin:i].lower().decode()
                    if not _is_space(at(i)) and at(i) != ord(">"):
                        raise _bad(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote, raw_value = at(i), bytearray()
                    i += 1
                    while at(i) != quote and at(i):
                        if at(i) == ord("&"):
                            code, end = _decode_html_entity(at, i)
                            if code:
                                raw_value += chr(code).encode("utf-8", "surrogatepass")
                                i = end
                                continue
                        raw_value.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw_value.decode("utf-8", "replace")
                if at(i) == 0:
                    raise _bad(f"Unclosed start tag at byte offset {begin}")
                if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "blockquote" and name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise _bad(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            stack.append((tag, argument, utf16, len(out)))
        else:
            if not stack:
                raise _bad(f"Unexpected end tag at byte offset {begin}")
            while not _is_space(at(i)) and at(i) != ord(">"):
                i += 1
            end_tag = at.raw[begin + 2 : i].lower().decode("utf-8", "replace")
            while _is_space(at(i)) and at(i):
                i += 1
            if at(i) != ord(">"):
                raise _bad(f"Unclosed end tag at byte offset {begin}")
            tag, argument, offset, out_pos = stack[-1]
            if end_tag and end_tag != tag:
                raise _bad(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                    f'found "</{end_tag}>"'
                )
            if utf16 > offset:
                _close_html_entity(entities, tag, argument, offset, utf16 - offset, out, out_pos)
            stack.pop()
        i += 1
    if stack:
        raise _bad(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        entity.pop("_lang", None)  # tdlib keeps a code language only inside <pre>
    try:
        visible = out.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    return visible, _sorted(entities)


def _close_html_entity(
    entities: Entities, tag: str, argument: str, offset: int, length: int, out: bytearray, pos: int
) -> None:
    last = entities[-1] if entities else None
    same_range = last is not None and (last["offset"], last["length"]) == (offset, length)
    if tag in _HTML_SIMPLE:
        entities.append(_entity(_HTML_SIMPLE[tag], offset, length))
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise _bad("Invalid custom emoji identifier specified")
        entities.append(_entity("custom_emoji", offset, length, argument))
    elif tag == "a":
        url = (argument or out[pos:].decode("utf-8", "replace")).strip()
        if url:  # tdlib also normalises the link (LinkManager::get_checked_link); we keep it
            entities.append(_entity("text_link", offset, length, url))
    elif tag == "pre":
        if last is not None and same_range and last["type"] == "code" and last.get("_lang"):
            entities[-1] = _entity("pre", offset, length, last["_lang"])
        else:
            entities.append(_entity("pre", offset, length))
    elif tag == "code":
        if last is not None and same_range and last["type"] == "pre" and argument:
            entities[-1] = _entity("pre", offset, length, argument)
        else:
            entities.append({**_entity("code", offset, length), "_lang": argument})
    elif tag == "blockquote":
        entities.append(
            _entity("expandable_blockquote" if argument else "blockquote", offset, length)
        )


_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
    "expandable_blockquote": "ExpandableBlockQuote",
}
_MD2_SINGLE_END = {
    "bold": "*",
    "code": "`",
    "text_link": "]",
    "strikethrough": "~",
    "custom_emoji": "]",
}


def _reserved(ch: int) -> ApiError:
    return _bad(f"Character '{chr(ch)}' is reserved and must be escaped with the preceding '\\'")


def _md2_url(at: _Bytes, i: int) -> tuple[str, int]:
    url_begin, url = i, bytearray()
    while i < at.n and at(i) != ord(")"):
        if at(i) == ord("\\") and 0 < at(i + 1) <= 126:
            url.append(at(i + 1))
            i += 2
            continue
        url.append(at(i))
        i += 1
    if at(i) != ord(")"):
        raise _bad(f"Can't find end of a URL at byte offset {url_begin}")
    return url.decode("utf-8", "replace"), i


def parse_markdown_v2(text: str) -> tuple[str, Entities]:
    at, out, utf16 = _Bytes(text), bytearray(), 0
    entities: Entities = []
    stack: list[list[Any]] = []  # [kind, argument, utf16 offset, byte offset, output position]
    have_quote, can_quote = False, True
    i = 0
    while i < at.n:
        c = at(i)
        if c == ord("\\") and 0 < at(i + 1) <= 126:
            i += 1
            utf16 += 1
            out.append(at(i))
            if at(i) != ord("\r"):
                can_quote = at(i) == ord("\n")
            i += 1
            continue
        reserved = (
            "`"
            if stack and stack[-1][0] in ("code", "pre", "pre_code")
            else ("_*[]()~`>#+-=|{}.!\n")
        )
        if chr(c) not in reserved:
            if _utf16_step(c):
                utf16 += _utf16_step(c)
                if c != ord("\r"):
                    can_quote = False
            out.append(c)
            i += 1
            continue
        if not _md2_is_end(at, i, stack, have_quote):
            kind, argument, byte_offset = "", "", i
            ch = chr(c)
            if ch == "_":
                kind = "underline" if at(i + 1) == ord("_") else "italic"
                i += kind == "underline"
            elif ch in "*~[":
                kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}[ch]
            elif ch == "|":
                if at(i + 1) != ord("|"):
                    raise _reserved(c)
                kind, i = "spoiler", i + 1
            elif ch == "!":
                if at(i + 1) != ord("["):
                    raise _reserved(c)
                kind, i = "custom_emoji", i + 1
            elif ch == "`":
                if at(i + 1) == ord("`") and at(i + 2) == ord("`"):
                    kind, i = "pre", i + 3
                    lang_end = i
                    while not _is_space(at(lang_end)) and at(lang_end) != ord("`"):
                        lang_end += 1
                    if i != lang_end and lang_end < at.n and at(lang_end) != ord("`"):
                        kind, argument = "pre_code", at.raw[i:lang_end].decode("utf-8", "replace")
                        i = lang_end
                    if at(i) in (10, 13):
                        i += 2 if at(i + 1) in (10, 13) and at(i) != at(i + 1) else 1
                    i -= 1
                else:
                    kind = "code"
            elif ch == "\n":
                utf16 += 1
                out.append(c)
                can_quote = True
            elif ch == ">":
                if not can_quote:
                    raise _reserved(c)
                if not have_quote:
                    kind, have_quote = "blockquote", True
            else:
                raise _reserved(c)
            if kind:
                stack.append([kind, argument, utf16, byte_offset, len(out)])
            i += 1
            continue
        kind = stack[-1][0]
        if c == ord("\n") and kind != "blockquote":
            opened = stack[-1][3]
            if kind != "spoiler" or not (
                opened == i - 2 or (opened == i - 3 and out and out[-1] == ord("\r"))
            ):
                raise _bad(f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {opened}")
            stack.pop()
            kind = stack[-1][0]
            if kind != "blockquote":
                raise _bad(
                    f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {stack[-1][3]}"
                )
            kind = "expandable_blockquote"
        _, argument, offset, _, out_pos = stack[-1]
        skip = utf16 == offset
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != ord("("):
                argument = out[out_pos:].decode("utf-8", "replace")
            else:
                argument, i = _md2_url(at, i + 2)
            skip = skip or not argument.strip()
        elif kind == "custom_emoji":
            if at(i + 1) != ord("("):
                raise _bad("The entity must contain a tg://emoji or tg://time URL")
            url, i = _md2_url(at, i + 2)
            prefix = "tg://emoji?id="
            if not url.startswith(prefix) or not url[len(prefix) :].isdigit():
                raise _bad("Invalid tg://emoji or tg://time URL specified")
            argument = url[len(prefix) :]
        elif kind in ("blockquote", "expandable_blockquote"):
            have_quote, can_quote = False, True
            out.append(c)
            utf16 += 1
            skip = False
        if not skip:
            entities.append(
                _entity("pre" if kind == "pre_code" else kind, offset, utf16 - offset, argument)
            )
        stack.pop()
        i += 1
    if have_quote:
        kind = "blockquote"
        if stack[-1][0] == "spoiler" and stack[-1][3] == at.n - 2:
            stack.pop()
            kind = "expandable_blockquote"
        if stack[-1][0] == "blockquote":
            if utf16 != stack[-1][2]:
                entities.append(_entity(kind, stack[-1][2], utf16 - stack[-1][2]))
            stack.pop()
    if stack:
        kind, _, _, opened, _ = stack[-1]
        raise _bad(f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {opened}")
    return out.decode("utf-8", "replace"), _sorted(entities)


def _md2_is_end(at: _Bytes, i: int, stack: list[list[Any]], have_quote: bool) -> bool:
    if not stack:
        return False
    c, kind = at(i), stack[-1][0]
    if have_quote and c == ord("\n") and (i + 1 == at.n or at(i + 1) != ord(">")):
        return True
    if kind in _MD2_SINGLE_END:
        return chr(c) == _MD2_SINGLE_END[kind]
    if kind == "italic":
        return c == ord("_") and at(i + 1) != ord("_")
    if kind == "underline":
        return c == ord("_") and at(i + 1) == ord("_")
    if kind in ("pre", "pre_code"):
        return c == ord("`") and at(i + 1) == ord("`") and at(i + 2) == ord("`")
    if kind == "spoiler":
        return c == ord("|") and at(i + 1) == ord("|")
    return False


def parse_markdown(text: str) -> tuple[str, Entities]:
    """Legacy Markdown (tdlib parse_markdown): *bold* _italic_ `code` ```pre``` [text](url)."""
    at, out, utf16 = _Bytes(text), bytearray(), 0
    entities: Entities = []
    i = 0
    while i < at.n:
        c = at(i)
        if c == ord("\\") and chr(at(i + 1)) in "_*`[" and at(i + 1):
            out.append(at(i + 1))
            utf16, i = utf16 + 1, i + 2
            continue
        if chr(c) not in "_*`[":
            utf16 += _utf16_step(c)
            out.append(c)
            i += 1
            continue
        begin, end_char, is_pre, language = i, "]" if c == ord("[") else chr(c), False, ""
        i += 1
        if c == ord("`") and at(i) == ord("`") and at(i + 1) == ord("`"):
            i, is_pre = i + 2, True
            lang_end = i
            while not _is_space(at(lang_end)) and at(lang_end) != ord("`"):
                lang_end += 1
            if i != lang_end and lang_end < at.n and at(lang_end) != ord("`"):
                language, i = at.raw[i:lang_end].decode("utf-8", "replace"), lang_end
            if at(i) in (10, 13):
                i += 2 if at(i + 1) in (10, 13) and at(i) != at(i + 1) else 1
        offset = utf16
        while i < at.n and (
            chr(at(i)) != end_char or (is_pre and not (at(i + 1) == at(i + 2) == ord("`")))
        ):
            utf16 += _utf16_step(at(i))
            out.append(at(i))
            i += 1
        if i == at.n:
            raise _bad(f"Can't find end of the entity starting at byte offset {begin}")
        if offset != utf16:
            length = utf16 - offset
            if c == ord("["):
                url = at.raw[begin + 1 : i].decode("utf-8", "replace")
                if at(i + 1) == ord("("):
                    close = at.raw.find(b")", i + 2)
                    close = at.n if close < 0 else close
                    url, i = at.raw[i + 2 : close].decode("utf-8", "replace"), close
                if url.strip():
                    entities.append(_entity("text_link", offset, length, url))
            elif c == ord("`"):
                entities.append(_entity("pre" if is_pre else "code", offset, length, language))
            else:
                entities.append(_entity("italic" if c == ord("_") else "bold", offset, length))
        i += 3 if is_pre else 1
    return out.decode("utf-8", "replace"), _sorted(entities)


def _trim(text: str, entities: Entities) -> tuple[str, Entities]:
    """tdlib fix_formatted_text: rtrim spaces/newlines, ltrim them up to the first entity."""
    stripped = text.rstrip(" \n")
    end = utf16_len(stripped)
    kept: Entities = []
    for entity in entities:
        if entity["length"] > 0 and entity["offset"] < end:
            kept.append({**entity, "length": min(entity["length"], end - entity["offset"])})
    first = kept[0]["offset"] if kept else end
    cut = 0
    while cut < min(first, len(stripped)) and stripped[cut] in " \n":
        cut += 1
    for entity in kept:
        entity["offset"] -= cut
    return stripped[cut:], kept


def parse_text(text: str, parse_mode: str | None, entities: Any = None) -> tuple[str, Entities]:
    """The Bot API's parsing of a text or caption: raw size, parse_mode, tdlib's trimming."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
        raise api_error("raw_text_too_long")
    mode = (parse_mode or "").lower()
    if text and mode not in ("", "none"):
        parser = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}
        if mode not in parser:
            raise api_error("parse_mode")
        visible, parsed = parser[mode](text)
    else:
        visible, parsed = text, [dict(e) for e in entities or [] if isinstance(e, dict)]
    return _trim(visible, parsed)


def check_length(visible: str, *, caption: bool = False) -> None:
    """tdlib's checks on the parsed text: non-empty message text, 4096 / 1024 limits."""
    if caption:
        if utf16_len(visible) > MAX_CAPTION:
            raise api_error("caption_too_long")
    elif not visible:
        raise api_error("text_blank")
    elif utf16_len(visible) > MAX_TEXT:
        raise api_error("too_long")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Shape checks the Bot API makes itself; BUTTON_DATA_INVALID is checked by server_checks."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise api_error("markup_object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise api_error("inline_rows")
    others = (
        "callback_game",
        "pay",
        "switch_inline_query",
        "switch_inline_query_chosen_chat",
        "switch_inline_query_current_chat",
        "login_url",
        "web_app",
        "copy_text",
    )
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or "text" not in button:
            raise ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                'InlineKeyboardButton must be an Object with field "text"',
            )
        if not (
            button.get("url") or button.get("callback_data") or any(k in button for k in others)
        ):
            raise api_error("text_button")
    return markup


def check_callback_data(markup: dict[str, Any] | None) -> None:
    for row in (markup or {}).get("inline_keyboard") or []:
        for button in row:
            data = button.get("callback_data")
            if isinstance(data, str) and len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                raise api_error("button_data")


# -- Flood control ---------------------------------------------------------------------------------
@dataclass
class FloodLimits:
    """Sliding-window limits; None = unlimited. Real values: ~1/s per chat, 20/min per group,
    ~30/s overall (Bot FAQ). A refused call is told to wait ``retry_after`` seconds, or, when
    that is None, what the Bot API says: the seconds left until the call would be accepted,
    rounded up (at least 1)."""

    per_chat_per_s: float | None = None
    per_group_per_min: int | None = None
    global_per_s: int | None = None
    retry_after: int | None = None
    count_chat_actions: bool = False


_GLOBAL = "*"


def is_group_chat(chat_id: Any) -> bool:  # AIORateLimiter's rule: negative id or @username
    return (isinstance(chat_id, int) and chat_id < 0) or (
        isinstance(chat_id, str) and (chat_id.startswith("@") or chat_id.startswith("-"))
    )


def chat_window(per_s: float) -> tuple[float, int]:
    """(seconds, calls) of the per-chat window: 1/s and 2.5/s as 1 and 2 calls per second,
    0.5/s as one call per two seconds (relaybot's gate counts the same way)."""
    return (1.0, int(per_s)) if per_s >= 1 else (1.0 / per_s, 1)


class FloodControl:
    """Counts accepted calls per chat, from when they arrive; a call counts while
    ``now < arrival + window``. A refused chat (or, for the global limit, every chat) stays
    refused until its penalty ends; refused calls are not counted."""

    def __init__(self) -> None:
        self._times: dict[Any, deque[float]] = {}  # accepted calls per chat, and _GLOBAL
        self._penalty: dict[Any, float] = {}

    def remaining(self, chat_id: Any, now: float) -> float:
        until = max(self._penalty.get(chat_id, 0.0), self._penalty.get(_GLOBAL, 0.0))
        return max(0.0, until - now)

    def check(self, limits: FloodLimits, chat_id: Any, now: float, weight: int = 1) -> int | None:
        """Record ``weight`` calls to ``chat_id``; return retry_after when refused."""
        left = self.remaining(chat_id, now)
        if left > 0:
            return max(1, math.ceil(left))
        checks: list[tuple[Any, float, int]] = []
        if limits.per_chat_per_s:
            checks.append((chat_id, *chat_window(limits.per_chat_per_s)))
        if limits.per_group_per_min and is_group_chat(chat_id):
            checks.append((chat_id, 60.0, limits.per_group_per_min))
        if limits.global_per_s:
            checks.append((_GLOBAL, 1.0, limits.global_per_s))
        keep = max([60.0] + [window for _, window, _ in checks])
        for key in (chat_id, _GLOBAL):
            times = self._times.get(key)
            while times and times[0] <= now - keep:
                times.popleft()
        for key, window, allowed in checks:
            times = self._times.get(key) or deque()
            used = len(times) - bisect.bisect_right(times, now - window)
            if used + weight > allowed:
                # It fits once the oldest ``excess`` calls in the window have left it.
                excess = used + weight - allowed
                start = len(times) - used
                wait = times[start + excess - 1] + window - now if excess <= used else window
                retry = limits.retry_after or max(1, math.ceil(wait))
                self._penalty[key] = now + retry
                return retry
        for key in (chat_id, _GLOBAL):
            self._times.setdefault(key, deque()).extend([now] * weight)
        return None
