"""WeChat adapter: the Bridge API v1 that the chatgpt-on-wechat (CoW) plugin calls.

The plugin POSTs each WeChat message to ``/bridge/cow/v1/messages`` and gets typed reply parts
back (answered within ``wechat.answer_within_s``). Whatever comes later (job progress and
results, an answer that took longer) is written to the outbox table, which the plugin
long-polls (``GET /outbox``) and acks; media are links to ``/bridge/cow/v1/media/…``, signed
and expiring. See ../shared/wechat-cow.md §5 and README "WeChat (chatgpt-on-wechat)".
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.http.server import Route
from bots.wechat.links import MEDIA_PATH, LinkSigner
from bots.wechat.plain import split_text, to_plain
from bots.wechat.settings import WeChatSettings
from bots.wechat.store import BridgeStore
from bots.wechat.wire import BadRequest, TooLarge, WireMessage, parse_message
from core.config.settings import Settings
from core.engine.engine import Engine
from core.errors import StorageError
from core.jobs import store as js
from core.jobs.runner import SENDING_FOR_JOB
from core.jobs.store import JobStore
from core.platform.outbox import Destination, NothingSent, Outbox
from core.platform.traits import PlatformTraits
from core.platform.types import (
    Attachment,
    AudioReply,
    ErrorReply,
    FinalText,
    ImageReply,
    IncomingMessage,
    Notice,
    ReplyContext,
    ReplyEvent,
    VideoReply,
)
from core.texts.i18n import Lang, pick_lang

log = logging.getLogger("relaybot.wechat")

PLATFORM = "wechat"
BASE = "/bridge/cow/v1"
MB = 1_000_000
MAX_WAIT_S = 60.0  # the longest long poll
PURGE_EVERY_S = 3600.0
STOP_WAIT_S = 10.0
JSON_SLACK = 256 * 1024  # room for the JSON around the attachments
STILL_WORKING = {
    "zh": "还在处理中，完成后会自动发给你。",
    "en": "Still working on it; the answer will follow by itself.",
}
JOB_STATUS = {
    js.SUBMITTING: "queued",
    js.RUNNING: "running",
    js.DELIVERING: "succeeded",
    js.DELIVERED: "succeeded",
    js.FAILED: "failed",
    js.TIMED_OUT: "failed",
    js.IN_DOUBT: "failed",
}
KINDS = {"mj": "midjourney", "suno": "song"}  # job family -> the kind the plugin sees
ETA_S = {"mj": 60, "suno": 120, "video": 180}  # a rough guess of a job's time, for the plugin
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9.\-]+")

Part = dict[str, Any]


def wechat_traits(config: WeChatSettings) -> PlatformTraits:
    """No buttons (typed forms instead), no edits (an answer arrives once), plain text,
    no voice messages (spoken replies are audio files); files go out as links."""
    return PlatformTraits(
        buttons=False,
        edits=False,
        max_text=config.max_text_chars,
        max_caption=config.max_text_chars,
        markdown="plain",
        voice_format=None,
        max_upload_bytes=200 * MB,
    )


@dataclass
class _Collector:
    """The parts of one POST /messages while it is answered in time; once ``deferred``,
    what still comes goes to the outbox instead (as the request's own delivery)."""

    dest: Destination
    request_id: str
    max_chars: int
    parts: list[Part] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    deferred: bool = False

    def mine(self, dest: Destination) -> bool:
        return dest.chat_id == self.dest.chat_id and dest.user_id == self.dest.user_id


_COLLECTING: ContextVar[_Collector | None] = ContextVar("wechat_collecting", default=None)


def _raw(prefixed: str) -> str:
    """``weixin:wxid_alice`` -> ``wxid_alice`` (ids carry their channel in relaybot)."""
    return prefixed.split(":", 1)[1] if ":" in prefixed else prefixed


def _extension(mime: str) -> str:
    special = {"image/jpeg": ".jpg", "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "video/mp4": ".mp4"}
    return special.get(mime) or mimetypes.guess_extension(mime) or ".bin"


def _filename(stem: str, mime: str) -> str:
    stem = _SAFE_NAME_RE.sub("_", stem).strip("._-")[:60] or "file"
    return stem + _extension(mime)


class WeChatAdapter:
    """Serves the bridge on the shared HTTP server and is the outbox sink of ``wechat``."""

    name = PLATFORM

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        outbox: Outbox | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._config = settings.section(PLATFORM, WeChatSettings)
        self.traits = wechat_traits(self._config)
        self._engine = engine
        self._outbox = outbox
        self._clock = clock
        self._bridge = BridgeStore(engine.store)
        self._jobs = JobStore(engine.store)
        self._tokens = [t.encode() for t in self._config.tokens]
        self._lang: Lang = pick_lang(None, settings.language)
        self._signer: LinkSigner | None = None
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._new_delivery = asyncio.Event()
        self._stopping = asyncio.Event()
        self._purger: asyncio.Task[None] | None = None
        cap = int(self._config.max_attachment_mb * MB)
        self._max_attachment = cap
        self._max_body = cap * 4 // 3 * 2 + JSON_SLACK  # a few attachments may add up

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def signer(self) -> LinkSigner:
        if self._signer is None:
            raise RuntimeError("the WeChat adapter is not started")
        return self._signer

    async def start(self) -> None:
        key = await self._bridge.signing_key()
        self._signer = LinkSigner(key, self._settings.http.base_url())
        self._stopping.clear()
        if self._outbox is not None:
            self._outbox.register(PLATFORM, self)
        self._purger = asyncio.create_task(self._purge_loop(), name="wechat-purge")
        http = self._settings.http
        if not http.public_url and http.listen not in ("127.0.0.1", "localhost", "::1"):
            log.warning(
                "http.public_url is not set: media links point at %s, which CoW on another "
                "machine or container cannot reach; set http.public_url",
                http.base_url(),
            )
        log.info(
            "wechat bridge started at %s%s (outbox %s)",
            self._settings.http.base_url(),
            BASE,
            self._config.instance,
        )

    async def stop(self) -> None:
        self._stopping.set()  # long polls return now
        self._new_delivery.set()
        if self._outbox is not None:
            self._outbox.unregister(PLATFORM)
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("wechat bridge stopped")

    async def _purge_loop(self) -> None:
        while True:
            try:
                before = self._clock() - self._config.delivery_ttl_h * 3600
                await self._bridge.purge(messages_before=before)
            except StorageError as exc:
                log.warning("wechat purge failed: %s", exc)
            await asyncio.sleep(PURGE_EVERY_S)

    def routes(self) -> list[Route]:
        return [
            Route("POST", f"{BASE}/messages", self._post_message),
            Route("GET", f"{BASE}/outbox", self._get_outbox),
            Route("POST", f"{BASE}/outbox/ack", self._post_ack),
            Route("GET", f"{BASE}/jobs/{{job_id}}", self._get_job),
            Route("GET", f"{BASE}/health", self._get_health),
            Route("GET", f"{MEDIA_PATH}/{{media_id}}/{{name}}", self._get_media),
        ]

    # --- HTTP helpers ----------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return False
        got = given.strip().encode()
        ok = False
        for token in self._tokens:  # every token compared, in constant time
            ok = hmac.compare_digest(got, token) | ok
        return ok

    @staticmethod
    def _error(status: int, reason: str, **extra: Any) -> web.Response:
        return web.json_response({"error": reason, **extra}, status=status)

    def _refused(self, request: web.Request) -> web.Response | None:
        if not self._authorized(request):
            return self._error(401, "missing or wrong bearer token")
        if self._signer is None or self._stopping.is_set():
            return self._error(503, "the bridge is not running")
        return None

    async def _read_json(self, request: web.Request, limit: int) -> Any:
        """The body as JSON; TooLarge past ``limit`` bytes, BadRequest when not JSON. Read
        from the stream (not ``request.read()``), so the server's own body cap does not
        apply and ``limit`` is the only one."""
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge(f"body: {request.content_length} bytes is over the cap of {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"body: over the cap of {limit} bytes")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            raise BadRequest("body: not valid JSON") from None

    # --- POST /messages --------------------------------------------------------------------

    async def _post_message(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = await self._read_json(request, self._max_body)
            msg = parse_message(body, self._max_attachment)
        except TooLarge as exc:
            return self._error(413, str(exc))
        except BadRequest as exc:
            return self._error(400, str(exc))
        key = request.headers.get("Idempotency-Key")
        if key is not None and key.strip() != msg.message_id:
            return self._error(400, "Idempotency-Key: must equal message_id")
        try:
            reply = await self._answer_once(msg)
        except StorageError as exc:
            log.error("wechat message %s not answered: %s", msg.message_id, exc)
            return self._error(503, "storage unavailable; try again later")
        return web.json_response(reply)

    async def _answer_once(self, msg: WireMessage) -> dict[str, Any]:
        """The reply to ``msg``; the same message again gets the same reply, answered once.
        A repeat while the first is being answered waits for that answer."""
        running = self._inflight.get(msg.message_id)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight[msg.message_id] = future  # before any await: repeats find it
        try:
            reply = await self._answer_or_recall(msg)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            del self._inflight[msg.message_id]
        future.set_result(reply)
        return reply

    async def _answer_or_recall(self, msg: WireMessage) -> dict[str, Any]:
        instance = self._config.instance
        found = await self._bridge.answered(instance, msg.message_id)
        if found is None:
            request_id = "r_" + secrets.token_hex(6)
            if await self._bridge.claim(instance, msg.message_id, request_id):
                reply = await self._answer(msg, request_id)
                await self._bridge.save_reply(instance, msg.message_id, reply)
                return reply
            found = await self._bridge.answered(instance, msg.message_id)
        if found is not None and found[1] is None:
            found = await self._answered_elsewhere(msg.message_id, found)
        if found is not None and found[1] is not None:
            log.info("wechat duplicate message %s: stored reply", msg.message_id)
            stored: dict[str, Any] = json.loads(found[1])
            return stored
        # Claimed by a run that stopped before answering: never answered twice.
        request_id = found[0] if found else ""
        return {"request_id": request_id, "replies": [], "jobs": [], "duplicate": True}

    async def _answered_elsewhere(
        self, message_id: str, found: tuple[str, str | None]
    ) -> tuple[str, str | None]:
        """With several workers, the message may be being answered by another one right now
        (the plugin sent it again, through another worker): its stored reply, when it comes
        within ``answer_within_s`` (it is saved by then, "still working" at worst)."""
        worker = self._engine.worker
        if worker is None or not worker.shared:
            return found  # one process: a claim without a reply is a previous run's
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.answer_within_s + 2.0
        while found[1] is None and loop.time() < deadline and not self._stopping.is_set():
            await asyncio.sleep(0.1)
            found = await self._bridge.answered(self._config.instance, message_id) or found
        return found

    def _incoming(self, msg: WireMessage) -> IncomingMessage:
        channel = msg.channel
        attachments = tuple(
            Attachment(a.kind, a.data, a.mime, a.filename)  # type: ignore[arg-type]
            for a in msg.attachments
        )
        text = msg.text
        reply_to = None
        if msg.quote:
            reply_to = ReplyContext("", msg.quote)
            if not text.startswith(("/", "／")):  # a chat question sees what it quotes
                text = f"「{msg.quote}」\n{text}" if text else text
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=f"{channel}:{msg.chat_id}",
            chat_type="group" if msg.group else "private",
            user_id=f"{channel}:{msg.sender_id}",
            text=text,
            display_name=msg.sender_name,
            attachments=attachments,
            reply_to=reply_to,
            message_id=msg.message_id,
        )

    async def _answer(self, msg: WireMessage, request_id: str) -> dict[str, Any]:
        incoming = self._incoming(msg)
        dest = Destination.of(incoming, self._lang)
        await self._bridge.save_ref(dest.chat_id, dest.user_id, msg.conversation_ref)
        limit = min(self._config.max_text_chars, msg.max_text_chars or 10**9)
        collector = _Collector(dest, request_id, limit)
        log.info(
            "wechat message %s channel=%s group=%s origin=%s attachments=%d",
            msg.message_id,
            msg.channel,
            msg.group,
            msg.origin,
            len(msg.attachments),
        )
        task = asyncio.create_task(self._run(incoming, collector), name=f"wechat-{request_id}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        done, _ = await asyncio.wait({task}, timeout=self._config.answer_within_s)
        parts = list(collector.parts)
        jobs = [await self._job_view(job_id) for job_id in collector.job_ids]
        if not done:
            collector.deferred = True  # from now on the rest goes to the outbox
            parts.append({"type": "text", "text": STILL_WORKING[self._lang]})
            jobs.append(
                {"job_id": request_id, "kind": "answer", "status": "running", "eta_s": None}
            )
        return {"request_id": request_id, "replies": parts, "jobs": jobs}

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("wechat %s failed", task.get_name(), exc_info=task.exception())

    async def _run(self, incoming: IncomingMessage, collector: _Collector) -> None:
        _COLLECTING.set(collector)  # this task's own context: sends of jobs it submits
        async with aclosing(self._engine.handle(incoming)) as events:
            async for event in events:
                parts = await self._parts([event], collector.max_chars)
                if not parts:
                    continue
                if not collector.deferred:
                    collector.parts.extend(parts)
                else:
                    await self._enqueue(collector.dest, collector.request_id, "succeeded", parts)

    async def _job_view(self, job_id: int) -> dict[str, Any]:
        job = await self._jobs.get(job_id)
        if job is None:
            return {"job_id": f"j_{job_id}", "status": "unknown"}
        return {
            "job_id": f"j_{job.id}",
            "kind": KINDS.get(job.family, job.family),
            "status": JOB_STATUS.get(job.state, job.state),
            "progress": job.progress,
            "eta_s": ETA_S.get(job.family),
        }

    # --- reply parts -----------------------------------------------------------------------

    async def _parts(self, events: Sequence[ReplyEvent], max_chars: int) -> list[Part]:
        parts: list[Part] = []
        for event in events:
            if isinstance(event, FinalText):
                text = to_plain(event.text) if event.markdown else event.text
                parts += [{"type": "text", "text": t} for t in split_text(text, max_chars)]
            elif isinstance(event, Notice):
                parts += [{"type": "text", "text": t} for t in split_text(event.text, max_chars)]
            elif isinstance(event, ErrorReply):
                for text in split_text(event.text, max_chars):
                    parts.append({"type": "error", "text": text, "code": event.code})
            elif isinstance(event, ImageReply):
                part = {"type": "image", "mime": event.mime}
                part["url"] = await self._link(event.data, event.mime, "image")
                if event.caption:
                    part["caption"] = event.caption[:max_chars]
                parts.append(part)
            elif isinstance(event, AudioReply):
                name = _filename(event.title or "audio", event.mime)
                part = {"type": "audio", "mime": event.mime, "filename": name}
                part["url"] = await self._link(event.data, event.mime, name)
                if event.title:
                    part["title"] = event.title
                parts.append(part)
            elif isinstance(event, VideoReply):
                part = {"type": "video", "mime": event.mime}
                if event.data is not None:
                    name = _filename("video", event.mime)
                    part["filename"] = name
                    part["url"] = await self._link(event.data, event.mime, name)
                elif event.url:
                    part["url"] = event.url  # too large to keep: the relay's own link
                else:
                    continue
                if event.caption:
                    part["caption"] = event.caption[:max_chars]
                parts.append(part)
            # TextDelta and ButtonRows never reach here: no edits, no buttons (shape()).
        return parts

    async def _link(self, data: bytes, mime: str, stem: str) -> str:
        name = stem if "." in stem else _filename(stem, mime)
        ttl = self._config.media_link_ttl_h * 3600
        media_id = await self._bridge.put_media(mime, name, data, ttl)
        return self.signer.url(media_id, name, int(self._clock() + ttl))

    # --- the outbox sink: what the core sends on its own ------------------------------------

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        """Job progress and results: into the reply being made, if this is the request that
        started the job, else into the outbox table (kept across restarts)."""
        job_id = SENDING_FOR_JOB.get()
        collector = _COLLECTING.get()
        try:
            parts = await self._parts(events, self._config.max_text_chars)
            if not parts:
                return []
            if collector is not None and not collector.deferred and collector.mine(dest):
                if job_id is not None and job_id not in collector.job_ids:
                    collector.job_ids.append(job_id)
                collector.parts.extend(parts)
                return [f"{collector.request_id}.{len(collector.parts)}"]
            status = "progress"
            if job_id is not None:
                job = await self._jobs.get(job_id)
                state = JOB_STATUS.get(job.state, "running") if job else "running"
                status = state if state in ("succeeded", "failed") else "progress"
            tag = f"j_{job_id}" if job_id is not None else None
            return [await self._enqueue(dest, tag, status, parts)]
        except StorageError as exc:
            raise NothingSent(f"the wechat outbox cannot be written: {exc}") from exc

    async def _enqueue(
        self, dest: Destination, job_id: str | None, status: str, parts: list[Part]
    ) -> str:
        ttl = self._config.delivery_ttl_h * 3600
        delivery_id = await self._bridge.add_delivery(
            self._config.instance, job_id, status, dest.chat_id, dest.user_id, parts, ttl
        )
        log.info("wechat delivery %s queued job=%s status=%s", delivery_id, job_id, status)
        self._new_delivery.set()
        return delivery_id

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        return False  # WeChat messages cannot be edited

    # --- GET /outbox, POST /outbox/ack ------------------------------------------------------

    async def _get_outbox(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            wait = float(request.query.get("wait", "0"))
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            return self._error(400, "wait and limit must be numbers")
        if not 0 <= wait <= MAX_WAIT_S:
            return self._error(400, f"wait: must be between 0 and {MAX_WAIT_S:g}")
        if not 1 <= limit <= 100:
            return self._error(400, "limit: must be between 1 and 100")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        instance = self._config.instance
        while True:
            self._new_delivery.clear()
            leased = await self._bridge.lease(instance, limit, self._config.visibility_timeout_s)
            left = deadline - loop.time()
            if leased or left <= 0 or self._stopping.is_set():
                break
            # woken by a new delivery, or after a second (a lease may have run out)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_delivery.wait(), min(left, 1.0))
        deliveries = []
        for d in leased:
            deliveries.append(
                {
                    "delivery_id": d.delivery_id,
                    "job_id": d.job_id,
                    "status": d.status,
                    "conversation_ref": await self._bridge.ref(d.chat_id, d.user_id),
                    "chat_id": _raw(d.chat_id),
                    "sender_id": _raw(d.user_id),
                    "parts": d.parts,
                    "created_at": d.created_at,
                }
            )
        return web.json_response({"deliveries": deliveries})

    async def _post_ack(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = await self._read_json(request, JSON_SLACK)
        except (BadRequest, TooLarge) as exc:
            return self._error(413 if isinstance(exc, TooLarge) else 400, str(exc))
        ids = body.get("delivery_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return self._error(400, "delivery_ids: must be a list of strings")
        results = body.get("results") or {}
        if not isinstance(results, dict) or not all(isinstance(v, str) for v in results.values()):
            return self._error(400, "results: must map delivery ids to strings")
        acked = await self._bridge.ack(
            self._config.instance, {i: str(results.get(i, "sent"))[:64] for i in ids}
        )
        return web.json_response({"acked": acked})

    # --- GET /jobs/{job_id}, /health, media -------------------------------------------------

    async def _get_job(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        job_id = request.match_info["job_id"]
        if job_id.startswith("j_") and job_id[2:].isdigit():
            job = await self._jobs.get(int(job_id[2:]))
            if job is None or job.dest.platform != PLATFORM:
                return self._error(404, "no such job")
            return web.json_response(
                {
                    "job_id": job_id,
                    "kind": KINDS.get(job.family, job.family),
                    "status": JOB_STATUS.get(job.state, job.state),
                    "progress": job.progress,
                    "parts": await self._bridge.job_parts(job_id),
                }
            )
        if job_id.startswith("r_"):
            parts = await self._bridge.job_parts(job_id)
            running = any(t.get_name() == f"wechat-{job_id}" for t in self._tasks)
            status = "running" if running else "succeeded" if parts else "unknown"
            return web.json_response(
                {
                    "job_id": job_id,
                    "kind": "answer",
                    "status": status,
                    "progress": 0,
                    "parts": parts,
                }
            )
        return self._error(404, "no such job")

    async def _get_health(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response(
            {
                "ok": True,
                "api": "v1",
                "instance": self._config.instance,
                "max_text_chars": self._config.max_text_chars,
                "max_attachment_bytes": self._max_attachment,
            }
        )

    async def _get_media(self, request: web.Request) -> web.StreamResponse:
        media_id = request.match_info["media_id"]
        name = request.match_info["name"]
        exp = request.query.get("exp", "")
        sig = request.query.get("sig", "")
        if self._signer is None or not self._signer.valid(media_id, name, exp, sig, self._clock()):
            return web.Response(status=403, text="forbidden: link altered or expired")
        media = await self._bridge.media(media_id)
        if media is None:
            return web.Response(status=404, text="not found")
        return web.Response(
            body=media.data,
            content_type=media.mime,
            headers={
                "Content-Disposition": f'inline; filename="{media.filename}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
            },
        )


__all__ = ["PLATFORM", "WeChatAdapter", "wechat_traits"]
