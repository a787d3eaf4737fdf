"""FakeTelegram: a Bot API server on 127.0.0.1 for running the real python-telegram-bot against."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, web

from tests.fake_telegram_rules import (
    CHAT_ACTIONS,
    DOWNLOAD_LIMIT,
    LONG_POLL_MAX_TIMEOUT,
    MAX_ALBUM,
    MAX_COMMANDS,
    PHOTO_UPLOAD_LIMIT,
    UPLOAD_LIMIT,
    ApiError,
    FloodControl,
    FloodLimits,
    api_error,
    check_callback_data,
    check_length,
    check_reply_markup,
    parse_text,
)
from tests.fake_telegram_state import (
    Call,
    StoredFile,
    StoredMessage,
    TelegramState,
    UploadedFile,
    scope_key,
)

__all__ = ["ApiError", "Call", "FakeTelegram", "FloodLimits", "StoredMessage", "UploadedFile"]

# Parameters the Bot API reads as plain strings; PTB sends them unencoded (everything else is
# JSON: ids, numbers, booleans, objects). A file given by file_id/URL is a string too.
STRING_PARAMS = frozenset(
    "text caption parse_mode url secret_token ip_address callback_query_id inline_message_id "
    "action file_id language_code emoji business_connection_id message_effect_id performer "
    "title description short_description name photo document audio voice video animation "
    "video_note sticker thumbnail".split()
)
COUNTED = frozenset(  # calls that use the flood budget (sendChatAction: see FloodLimits)
    "sendMessage sendPhoto sendDocument sendAudio sendVoice sendVideo sendMediaGroup "
    "editMessageText editMessageCaption editMessageReplyMarkup".split()
)
FILE_DIRS = {
    "photo": "photos",
    "document": "documents",
    "audio": "music",
    "voice": "voice",
    "video": "videos",
}


def decode_param(name: str, raw: str) -> Any:
    if name in STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # e.g. chat_id="@channel"


class FakeTelegram(TelegramState):
    """The Bot API on a random loopback port; see tests/test_fake_telegram.py for its use."""

    def __init__(self, token: str = "123456:TEST-TOKEN", bot_username: str = "RelayTestBot"):
        super().__init__(token, bot_username)
        self.calls: list[Call] = []
        self.blocked_chats: set[int] = set()
        self.chat_owners: set[tuple[int, int]] = set()  # (chat, user): getChatMember "creator"
        self.flood = FloodLimits()
        self.upload_limit = UPLOAD_LIMIT
        self.photo_upload_limit = PHOTO_UPLOAD_LIMIT
        self.download_limit = DOWNLOAD_LIMIT
        self.webhook: dict[str, Any] | None = None
        # The Bot API stretches a repeated quick getUpdates (same offset, timeout < 3, within
        # 3 s) to timeout=3; real, but it slows every PTB shutdown, so it is opt-in.
        self.emulate_poll_throttle = False
        self.root_url = ""
        self._flood = FloodControl()
        self._scripted: dict[str, deque[ApiError]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._last_poll: tuple[int, float] = (-1, 0.0)
        self._handlers: dict[str, tuple[str, Callable[[Call], Awaitable[Any]]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "sendChatAction": self._send_chat_action,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendAudio": self._send_audio,
                "sendVoice": self._send_voice,
                "sendVideo": self._send_video,
                "sendMediaGroup": self._send_media_group,
                "answerCallbackQuery": self._answer_callback_query,
                "getFile": self._get_file,
                "getChatMember": self._get_chat_member,
            }.items()
        }

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=1.0,
            handler_cancellation=True,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.root_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Answer an open long poll at once, then close the server."""
        self._stopping = True
        self._wake_poller("stop")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- test helpers -------------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        """Answered calls to ``method`` (any case); ``ok`` filters on success."""
        name = self._handlers.get(method.lower(), (method, None))[0]
        return [
            c for c in self.calls if c.method == name and c.status and (ok is None or c.ok == ok)
        ]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10,  # noqa: ASYNC109 - polls a condition, not one awaitable
    ) -> None:
        """Poll ``predicate`` until true; on timeout fail with the recent calls."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"condition not met within {timeout}s\n{self.describe_calls()}"
                )
            await asyncio.sleep(0.005)

    async def wait_for_call(
        self,
        method: str,
        where: Callable[[Call], bool] | None = None,
        timeout: float = 10,  # noqa: ASYNC109 - polls a condition, not one awaitable
    ) -> Call:
        """The first answered call to ``method`` matching ``where``, waiting for it."""
        found: list[Call] = []

        def seen() -> bool:
            found[:] = [c for c in self.calls_to(method) if where is None or where(c)]
            return bool(found)

        await self.wait_for(seen, timeout)
        return found[0]

    def describe_calls(self, last: int = 25) -> str:
        """The recent calls, getUpdates collapsed to a count and the latest one."""
        start = self.calls[0].time if self.calls else 0.0

        def line(c: Call) -> str:
            params = json.dumps(c.params, ensure_ascii=False, default=str)[:160]
            extra = f" {c.description}" if c.description else ""
            files = f" files={sorted(c.files)}" if c.files else ""
            return f"  +{c.time - start:.3f}s {c.method} {c.status}{extra} {params}{files}"

        polls = [c for c in self.calls if c.method == "getUpdates"]
        rest = [c for c in self.calls if c.method != "getUpdates"][-last:]
        lines = [f"{len(self.calls)} calls, {len(polls)} of them getUpdates; the last others:"]
        lines += [line(c) for c in rest]
        if polls:
            lines += ["the last getUpdates (status 0 = still open):", line(polls[-1])]
        lines.append(f"queued updates: {[u['update_id'] for u in self.updates]}")
        return "\n".join(lines)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with this error instead."""
        queue = self._scripted.setdefault(method.lower(), deque())
        queue.extend(ApiError(status, description, retry_after) for _ in range(times))

    def penalty_remaining(self, chat_id: int) -> float:
        """Seconds until flood control lets ``chat_id`` through again (0 when free)."""
        return self._flood.remaining(chat_id, time.monotonic())

    async def deliver_webhook(self, update: dict[str, Any], url: str | None = None) -> int:
        """POST ``update`` to the setWebhook URL with its secret header; return the status.
        ``url``: post to this address instead (one worker behind the public URL, as a load
        balancer in front of several would)."""
        if self.webhook is None:
            raise AssertionError("no webhook is set (setWebhook was not called)")
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or self.webhook["url"], json=update, headers=headers) as resp,
        ):
            await resp.read()
            status = resp.status
        if 200 <= status < 300:
            self.updates = [u for u in self.updates if u["update_id"] != update.get("update_id")]
        return status

    # -- HTTP ---------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        params, uploads = await self._read_params(request)
        entry = self._handlers.get(request.match_info["method"].lower())
        call = Call(
            method=entry[0] if entry else request.match_info["method"],
            params=params,
            files={name: u.data for name, u in uploads.items()},
            uploads=uploads,
        )
        self.calls.append(call)
        try:
            if sum(len(u.data) for u in uploads.values()) > self.upload_limit:
                raise api_error("too_large")  # nginx in front of the Bot API refuses the body
            if request.match_info["token"] != self.token:
                raise api_error("unauthorized")
            if entry is None:
                raise api_error("not_found")
            scripted = self._scripted.get(call.method.lower())
            if scripted:
                raise scripted.popleft()
            result = await entry[1](call)
        except ApiError as exc:
            call.status, call.description, call.retry_after = exc.status, exc.description, None
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.retry_after is not None:
                call.retry_after = exc.retry_after
                body["parameters"] = {"retry_after": exc.retry_after}
            return web.json_response(body, status=exc.status)
        except asyncio.CancelledError:
            call.status = 499  # the client closed the connection (PTB cancels its long poll)
            raise
        call.status, call.result = 200, result
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = {k: decode_param(k, v) for k, v in request.query.items()}
        uploads: dict[str, UploadedFile] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    ctype = part.headers.get("Content-Type", "application/octet-stream")
                    data = bytes(await part.read(decode=False))
                    uploads[part.name] = UploadedFile(part.name, part.filename, ctype, data)
                else:
                    params[part.name] = decode_param(part.name, await part.text())
        elif request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        elif request.can_read_body:
            form = await request.post()
            params.update({k: decode_param(k, v) for k, v in form.items() if isinstance(v, str)})
        return params, uploads

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        call = Call(method="file", params={"file_path": path}, status=404)
        self.calls.append(call)
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            call.description = "Not Found"
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        call.status = 200
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _unknown_path(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(Call(method=request.path, params={}, status=404, description="Not Found"))
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    # -- shared checks ------------------------------------------------------------------------

    def _chat(self, call: Call) -> dict[str, Any]:
        chat_id = call.params.get("chat_id")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            found = [c for c in self.chats.values() if str(c.get("username", "")).lower() == name]
            if found:
                return found[0]
        elif isinstance(chat_id, int | str) and re.fullmatch(r"-?\d+", str(chat_id)):
            chat = self.chats.get(int(chat_id))
            if chat is not None:
                return chat
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        raise api_error("chat_not_found")

    def _gate(self, call: Call, chat: dict[str, Any], *, weight: int = 1) -> None:
        """Server-side checks of a send: flood control, then a user who blocked the bot."""
        counted = call.method in COUNTED or (
            call.method == "sendChatAction" and self.flood.count_chat_actions
        )
        if counted:
            retry_after = self._flood.check(self.flood, chat["id"], time.monotonic(), weight)
            if retry_after is not None:
                raise api_error("flood", retry_after=retry_after)
        if chat["id"] in self.blocked_chats and not call.method.startswith("edit"):
            raise api_error("blocked")

    def _reply_to(self, call: Call, chat: dict[str, Any]) -> StoredMessage | None:
        reply = call.params.get("reply_parameters")
        if not isinstance(reply, dict):
            legacy = call.params.get("reply_to_message_id")
            if legacy is None:
                return None
            reply = {
                "message_id": legacy,
                "allow_sending_without_reply": call.params.get("allow_sending_without_reply"),
            }
        chat_id = reply.get("chat_id", chat["id"])
        stored = self.message(int(chat_id), int(reply.get("message_id") or 0))
        if stored is None and not reply.get("allow_sending_without_reply"):
            raise api_error("reply_not_found")
        return stored

    def _thread(self, call: Call, chat: dict[str, Any]) -> dict[str, Any]:
        thread = call.params.get("message_thread_id")
        if thread is None:
            return {}
        return {"thread_id": int(thread), "is_topic_message": bool(chat.get("is_forum"))}

    def _edited(self, call: Call) -> StoredMessage:
        chat = self._chat(call)
        stored = self.message(chat["id"], int(call.params.get("message_id") or 0))
        if stored is None:
            raise api_error("edit_not_found")
        if not stored.from_bot:
            raise api_error("cant_edit")
        return stored

    # -- methods: bot and updates -------------------------------------------------------------

    async def _get_me(self, call: Call) -> Any:
        return self.me

    async def _get_updates(self, call: Call) -> Any:
        if self.webhook is not None:
            raise api_error("conflict_webhook")
        offset = int(call.params.get("offset") or 0)
        limit = min(max(int(call.params.get("limit") or 100), 1), 100)
        timeout = min(max(int(float(call.params.get("timeout") or 0)), 0), LONG_POLL_MAX_TIMEOUT)
        if "allowed_updates" in call.params:
            self.allowed_updates = list(call.params["allowed_updates"] or [])
        now = time.monotonic()
        if self.emulate_poll_throttle and offset == self._last_poll[0]:
            if timeout < 3 and now < self._last_poll[1] + 3:
                timeout = 3
            if now < self._last_poll[1] + 0.5:
                limit = 1
        self._last_poll = (offset, now)
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        if self.updates or timeout == 0 or self._stopping:
            return self.updates[:limit]
        self._wake_poller("conflict")  # a newer long poll ends the older one, as on Telegram
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._update_waiter = waiter
        try:
            await asyncio.wait([waiter], timeout=timeout)
        finally:
            if self._update_waiter is waiter:
                self._update_waiter = None
        reason = waiter.result() if waiter.done() else "timeout"
        if reason in ("conflict", "webhook"):
            raise api_error("conflict_poll" if reason == "conflict" else "conflict_set_webhook")
        return self.updates[:limit]

    def _wake_poller(self, reason: str) -> None:
        if self._update_waiter is not None and not self._update_waiter.done():
            self._update_waiter.set_result(reason)

    async def _set_webhook(self, call: Call) -> Any:
        url = call.params.get("url") or ""
        if not url:
            return await self._delete_webhook(call)
        if "allowed_updates" in call.params:
            self.allowed_updates = list(call.params["allowed_updates"] or [])
        if call.params.get("drop_pending_updates"):
            self.updates.clear()
        self._wake_poller("webhook")
        self.webhook = {
            "url": url,
            "secret_token": call.params.get("secret_token"),
            "allowed_updates": call.params.get("allowed_updates"),
            "max_connections": call.params.get("max_connections", 40),
            "ip_address": call.params.get("ip_address"),
        }
        return True

    async def _delete_webhook(self, call: Call) -> Any:
        if call.params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, call: Call) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.allowed_updates:
                info["allowed_updates"] = self.allowed_updates
        return info

    def _commands_key(self, call: Call) -> tuple[str, str]:
        language = call.params.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise api_error("language_code")
        return scope_key(call.params.get("scope")), language

    async def _set_my_commands(self, call: Call) -> Any:
        commands = call.params.get("commands") or []
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: expected an Array of BotCommand")
        key = self._commands_key(call)
        cleaned = []
        for command in commands:
            name = str(command.get("command", "")).strip().removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not name:
                raise api_error("command_empty")
            if len(name) > 32:
                raise api_error("command_long")
            if not description:
                raise api_error("description_empty")
            if len(description) > 256:
                raise api_error("description_long")
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise api_error("command_invalid")
            cleaned.append({"command": name, "description": description})
        if len(cleaned) > MAX_COMMANDS:
            raise api_error("commands_too_many")
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, call: Call) -> Any:
        return self.commands.get(self._commands_key(call), [])

    async def _delete_my_commands(self, call: Call) -> Any:
        self.commands.pop(self._commands_key(call), None)
        return True

    # -- methods: messages --------------------------------------------------------------------

    async def _send_message(self, call: Call) -> Any:
        text = call.params.get("text")
        if not text:
            raise api_error("text_empty")
        visible, entities = parse_text(
            str(text), call.params.get("parse_mode"), call.params.get("entities")
        )
        markup = check_reply_markup(call.params.get("reply_markup"))
        chat = self._chat(call)
        reply = self._reply_to(call, chat)
        check_length(visible)
        self._gate(call, chat)
        check_callback_data(markup)
        stored = self._new_message(
            chat,
            self.bot_user,
            text=visible,
            entities=entities,
            parse_mode=call.params.get("parse_mode"),
            source=str(text),
            reply_markup=_inline(markup),
            reply_to=reply,
            **self._thread(call, chat),
        )
        return stored.to_json()

    async def _edit_message_text(self, call: Call) -> Any:
        text = call.params.get("text")
        if not text:
            raise api_error("text_empty")
        visible, entities = parse_text(
            str(text), call.params.get("parse_mode"), call.params.get("entities")
        )
        markup = _inline(check_reply_markup(call.params.get("reply_markup")))
        stored = self._edited(call)
        if stored.text is None:
            raise api_error("no_text_to_edit")
        check_length(visible)
        self._gate(call, stored.chat)
        check_callback_data(markup)
        if (visible, entities, markup) == (stored.text, stored.entities, stored.reply_markup):
            raise api_error("not_modified")
        stored.text, stored.entities, stored.reply_markup = visible, entities, markup
        stored.parse_mode, stored.source = call.params.get("parse_mode"), str(text)
        stored.edit_date = int(time.time())
        return stored.to_json()

    async def _edit_message_caption(self, call: Call) -> Any:
        caption = str(call.params.get("caption") or "")
        visible, entities = parse_text(
            caption, call.params.get("parse_mode"), call.params.get("caption_entities")
        )
        markup = _inline(check_reply_markup(call.params.get("reply_markup")))
        stored = self._edited(call)
        if not stored.media:
            raise api_error("no_caption_to_edit")
        check_length(visible, caption=True)
        self._gate(call, stored.chat)
        check_callback_data(markup)
        old = (stored.caption or "", stored.caption_entities, stored.reply_markup)
        if (visible, entities, markup) == old:
            raise api_error("not_modified")
        stored.caption, stored.caption_entities, stored.reply_markup = visible, entities, markup
        stored.parse_mode, stored.source = call.params.get("parse_mode"), caption
        stored.edit_date = int(time.time())
        return stored.to_json()

    async def _edit_message_reply_markup(self, call: Call) -> Any:
        markup = _inline(check_reply_markup(call.params.get("reply_markup")))
        stored = self._edited(call)
        self._gate(call, stored.chat)
        check_callback_data(markup)
        if markup == stored.reply_markup:
            raise api_error("not_modified")
        stored.reply_markup = markup
        stored.edit_date = int(time.time())
        return stored.to_json()

    async def _delete_message(self, call: Call) -> Any:
        chat = self._chat(call)
        stored = self.message(chat["id"], int(call.params.get("message_id") or 0))
        if stored is None:
            raise api_error("delete_not_found")
        if not stored.from_bot and chat["type"] != "private":
            raise api_error("cant_delete")  # needs admin rights in groups
        stored.deleted = True
        return True

    async def _send_chat_action(self, call: Call) -> Any:
        chat = self._chat(call)
        if call.params.get("action") not in CHAT_ACTIONS:
            raise api_error("chat_action")
        self._gate(call, chat)
        return True

    async def _answer_callback_query(self, call: Call) -> Any:
        query = self.callback_queries.get(str(call.params.get("callback_query_id")))
        if query is None or "answer" in query:
            raise api_error("query_too_old")
        query["answer"] = {k: v for k, v in call.params.items() if k != "callback_query_id"}
        return True

    # -- methods: files and media -------------------------------------------------------------

    async def _get_chat_member(self, call: Call) -> Any:
        chat, user = int(call.params["chat_id"]), int(call.params["user_id"])
        owner = (chat, user) in self.chat_owners
        member = {"id": user, "is_bot": False, "first_name": "Member"}
        if owner:
            return {"status": "creator", "user": member, "is_anonymous": False}
        return {"status": "member", "user": member}

    async def _get_file(self, call: Call) -> Any:
        stored = self.files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise api_error("get_file_invalid")
        if stored.size > self.download_limit:
            raise api_error("file_too_big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _input_file(self, call: Call, kind: str, value: Any) -> StoredFile | UploadedFile:
        """The file a send names: an upload (part or attach://), a known file_id or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.uploads.get(value.removeprefix("attach://"))
        else:
            upload = call.uploads.get(kind) if value is None else None
        if upload is not None:
            return upload
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return UploadedFile(kind, value.rsplit("/", 1)[-1] or kind, "", b"")  # not fetched
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if value:
            raise api_error("wrong_file_id")
        raise api_error("no_file", kind=kind)

    def _media_json(
        self, kind: str, source: StoredFile | UploadedFile, params: dict[str, Any]
    ) -> Any:
        if isinstance(source, StoredFile):
            if kind == "photo":
                return self._photo_sets.get(source.file_id) or [
                    {**source.meta(), "width": 1280, "height": 960}
                ]
            stored = source
        elif kind == "photo":
            return self._photo_sizes(source.data)
        else:
            stored = self.files[
                self._store_file(
                    source.data,
                    kind=FILE_DIRS[kind],
                    file_name=source.filename if kind != "voice" else None,
                    mime=source.content_type or None,
                )
            ]
        extra: dict[str, Any] = {}
        if kind in ("audio", "voice", "video"):
            extra["duration"] = int(params.get("duration") or 0)
        if kind == "video":
            extra.update(
                width=int(params.get("width") or 1280), height=int(params.get("height") or 720)
            )
        if kind == "audio":
            extra.update({k: params[k] for k in ("performer", "title") if params.get(k)})
        return stored.meta(**extra)

    def _check_photo_size(self, kind: str, source: StoredFile | UploadedFile) -> None:
        if kind == "photo" and isinstance(source, UploadedFile):
            if len(source.data) > self.photo_upload_limit:
                raise api_error("photo_too_big")

    async def _send_media(self, call: Call, kind: str) -> Any:
        caption = str(call.params.get("caption") or "")
        visible, entities = parse_text(
            caption, call.params.get("parse_mode"), call.params.get("caption_entities")
        )
        markup = check_reply_markup(call.params.get("reply_markup"))
        source = self._input_file(call, kind, call.params.get(kind))
        chat = self._chat(call)
        reply = self._reply_to(call, chat)
        check_length(visible, caption=True)
        self._gate(call, chat)
        self._check_photo_size(kind, source)
        check_callback_data(markup)
        stored = self._new_message(
            chat,
            self.bot_user,
            caption=visible or None,
            caption_entities=entities,
            parse_mode=call.params.get("parse_mode"),
            source=caption,
            reply_markup=_inline(markup),
            reply_to=reply,
            media={kind: self._media_json(kind, source, call.params)},
            **self._thread(call, chat),
        )
        return stored.to_json()

    async def _send_photo(self, call: Call) -> Any:
        return await self._send_media(call, "photo")

    async def _send_document(self, call: Call) -> Any:
        return await self._send_media(call, "document")

    async def _send_audio(self, call: Call) -> Any:
        return await self._send_media(call, "audio")

    async def _send_voice(self, call: Call) -> Any:
        return await self._send_media(call, "voice")

    async def _send_video(self, call: Call) -> Any:
        return await self._send_media(call, "video")

    async def _send_media_group(self, call: Call) -> Any:
        media = call.params.get("media")
        if not isinstance(media, list):
            raise ApiError(400, "Bad Request: can't parse media JSON object")
        if not media:
            raise api_error("album_empty")
        if len(media) > MAX_ALBUM:
            raise api_error("album_too_many")
        kinds = {str(item.get("type")) for item in media}
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise api_error("album_mixed")
        items = []
        for item in media:
            kind = str(item.get("type"))
            visible, entities = parse_text(
                str(item.get("caption") or ""), item.get("parse_mode"), item.get("caption_entities")
            )
            items.append(
                (kind, visible, entities, item, self._input_file(call, kind, item.get("media")))
            )
        chat = self._chat(call)
        reply = self._reply_to(call, chat)
        for _, visible, _, _, _ in items:
            check_length(visible, caption=True)
        self._gate(call, chat, weight=len(items))
        for kind, _, _, _, source in items:
            self._check_photo_size(kind, source)
        group_id = str(next(self._album_ids))
        sent = []
        for kind, visible, entities, item, source in items:
            stored = self._new_message(
                chat,
                self.bot_user,
                caption=visible or None,
                caption_entities=entities,
                parse_mode=item.get("parse_mode"),
                source=item.get("caption"),
                reply_to=reply,
                media_group_id=group_id,
                media={kind: self._media_json(kind, source, item)},
                **self._thread(call, chat),
            )
            sent.append(stored.to_json())
        return sent


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of reply_markup a message keeps: only inline keyboards."""
    return markup if markup is not None and "inline_keyboard" in markup else None
