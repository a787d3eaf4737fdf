"""The conversation engine: a message in, reply events out, one conversation at a time."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace

from core.access.ids import Who
from core.access.service import Access
from core.commands.access import AccessCommands
from core.commands.actions import tokenize
from core.commands.handlers import CommandHandlers
from core.commands.images import ImageCommands, split_model_flag
from core.commands.media import MediaCommands
from core.commands.table import Command, parse_command
from core.commands.typed import TypedForms
from core.config.settings import Settings
from core.engine.history import Turn, estimate_tokens, trim
from core.engine.keys import conversation_key
from core.engine.locks import KeyedLocks, Place
from core.engine.ports import ChatBackend
from core.errors import (
    BotError,
    ConversationBusyError,
    ExpiredButtonError,
    InputTooLongError,
    MissingImageError,
    NotEnabledError,
    StorageError,
    UserInputError,
    error_code,
    user_text,
)
from core.jobs.runner import JobRunner
from core.media.vision import VisionMemory
from core.media.voice import Voice
from core.metrics import NO_METRICS, Metrics
from core.platform.outbox import Outbox
from core.platform.shape import shape_event
from core.platform.traits import TraitsRegistry
from core.platform.types import (
    Attachment,
    AudioReply,
    ErrorReply,
    FinalText,
    ImageReply,
    IncomingMessage,
    Notice,
    ReplyEvent,
    TextDelta,
)
from core.relay.types import ChatDelta, ChatEnd, ChatMessage
from core.storage.store import Store, UsageRecord
from core.texts.i18n import Lang, pick_lang, t
from core.workers.context import WorkerContext

log = logging.getLogger("relaybot.engine")

IMAGE_MARKER = "[image]"
FOOTER_MARK = "\n\n"  # the bot's own footer (it starts with 🖼) follows the model's words


class Engine:
    """Handles messages from every platform the same way.

    ``handle(msg)`` is the one entry point adapters call. Messages of one conversation run one
    at a time, in arrival order; other conversations run concurrently.

    Bounded work: a message longer than ``chat.max_input_chars`` is refused before anything
    else, and at most ``chat.max_queued_per_conversation`` messages wait behind the one being
    answered; more are refused at once (the user is told to wait), never sent to the relay.
    An adapter with slow work to do before ``handle`` (downloading a photo) calls ``admit``
    first, so that work is only done for a message that has its place.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        relay: ChatBackend,
        *,
        images: ImageCommands | None = None,
        media: MediaCommands | None = None,
        voice: Voice | None = None,
        jobs: JobRunner | None = None,
        traits: TraitsRegistry | None = None,
        outbox: Outbox | None = None,
        metrics: Metrics = NO_METRICS,
        worker: WorkerContext | None = None,
    ) -> None:
        self._settings = settings
        # One of several workers on one database (workers.count > 1), or None: this process
        # alone. Adapters read it (the Telegram inbox, the flood budget's share).
        self.worker = worker
        self.metrics = metrics  # adapters count their API calls here too
        self._store = store
        self._relay = relay
        self._locks = KeyedLocks()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # What each platform can do; adapters' traits are registered here as they start.
        self.traits = traits or TraitsRegistry()
        # Who may, and how much (issue 12): reads self._settings at each call (hot reload).
        self.access = Access(lambda: self._settings, store, outbox)
        access_commands = AccessCommands(self.access, lambda: self._settings)
        self._commands = CommandHandlers(
            settings, store, relay, images, media, self.traits, access_commands
        )
        if jobs is not None:
            jobs.meter = self.access  # jobs count at submit, given back when they fail
        self._typed = TypedForms(jobs) if jobs is not None else None
        self._voice = voice
        self._vision = VisionMemory(settings.vision, store)

    @property
    def settings(self) -> Settings:
        """The settings in force (a reload replaces them; each message reads them anew)."""
        return self._settings

    def reconfigure(self, settings: Settings) -> None:
        """Use ``settings`` from the next message on; answers in flight keep theirs."""
        self._settings = settings
        self._commands.reconfigure(settings)
        self._vision = VisionMemory(settings.vision, self._store)

    @property
    def locks(self) -> KeyedLocks:
        return self._locks

    @property
    def store(self) -> Store:
        """The database, for an adapter that keeps tables of its own (the WeChat bridge)."""
        return self._store

    @property
    def in_flight(self) -> int:
        """Messages being handled right now (running or waiting for their conversation)."""
        return self._in_flight

    async def wait_idle(self, limit_s: float) -> bool:
        """Wait until no message is in flight; False if ``limit_s`` seconds passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), limit_s)
        except TimeoutError:
            return False
        return True

    def key_of(self, msg: IncomingMessage) -> str:
        return conversation_key(msg, self._settings.chat)

    def admit(self, msg: IncomingMessage) -> Place:
        """Take ``msg``'s place in its conversation's line, at once.

        Raises ``InputTooLongError`` (text over ``chat.max_input_chars``) or
        ``ConversationBusyError`` (the line is full); words them with ``core.errors.user_text``.
        Pass the place to ``handle(msg, place=...)``, or ``leave()`` it when giving up.
        """
        self._check_length(msg.text)
        key = self.key_of(msg)
        place = self._locks.join(key, self._settings.chat.max_queued_per_conversation)
        if place is None:
            raise ConversationBusyError()
        return place

    async def allowed(self, msg: IncomingMessage) -> bool:
        """May ``msg``'s sender use the bot here? Adapters ask before slow or costly work on
        its behalf (downloading its photo); ``handle`` asks again and words the refusal."""
        return await self.access.allows(msg)

    def _check_length(self, text: str) -> None:
        limit = self._settings.chat.max_input_chars
        if len(text) > limit:
            raise InputTooLongError(length=str(len(text)), limit=str(limit))

    async def handle(
        self, msg: IncomingMessage, *, place: Place | None = None
    ) -> AsyncIterator[ReplyEvent]:
        """Answer ``msg`` as a stream of reply events for the adapter to render.

        ``place``: from ``admit(msg)``, when the adapter took it already. ``handle`` leaves it
        when done; the adapter leaves it too in a ``finally`` (harmless twice), in case this
        generator is closed before it ever ran.
        """
        lang = pick_lang(msg.language, self._settings.language)
        key = self.key_of(msg)
        traits = self.traits.of(msg.platform)
        self.metrics.message_in(msg.platform)
        # The one gate every message passes (typed, pressed, spoken): before any relay call,
        # any history. A private chat is told once, with the id to give the admin.
        verdict = await self.access.gate(msg, lang)
        if verdict != "ok":
            log.info("refused key=%s verdict=%s", key, verdict)
            if place is not None:
                place.leave()
            if verdict == "refuse":
                who = Who.of(msg).user
                yield FinalText(t("access.refused", lang, id=who), markdown=False)
            return
        if place is None:
            try:
                place = self.admit(msg)
            except (InputTooLongError, ConversationBusyError) as exc:
                self._log_error(exc, key)
                yield ErrorReply(user_text(exc, lang), error_code(exc))
                return
        self._in_flight += 1
        self._idle.clear()
        try:
            async with place.hold():
                try:
                    await self.access.admitted(msg)  # per-minute limit, /stats counter
                    text = await self._pressed_action(msg) if msg.action_token else msg.text
                    async for event in self._route(msg, text, key, lang):
                        shaped = shape_event(event, traits, lang)  # as the platform can show it
                        if shaped is not None:
                            yield shaped
                except BotError as exc:
                    self._log_error(exc, key)
                    await self._report(exc, msg)
                    self.metrics.answer(msg.platform, "-", error_code(exc))
                    text = user_text(exc, lang, plain=not traits.buttons)
                    yield ErrorReply(text, error_code(exc))
                except Exception:
                    log.exception("unexpected error key=%s", key)
                    yield ErrorReply(t("error.internal", lang), "internal")
        finally:
            place.leave()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _route(
        self, msg: IncomingMessage, text: str, key: str, lang: Lang
    ) -> AsyncIterator[ReplyEvent]:
        """Chat, vision or a command, by what the message holds. A voice note is transcribed
        first and then handled like the text it says ("/img a cat" said aloud works)."""
        who = Who.of(msg)
        notes = [a for a in msg.attachments if a.kind == "audio"]
        if notes and self._voice is not None and not parse_command(text):
            await self.access.check(who, "chat_tokens", 1, lang)  # transcribing is paid too
            spoken = await self._voice.transcribe(notes[0])
            self._check_length(spoken)  # a transcript counts like typed text
            if not spoken:
                yield Notice(t("voice.empty", lang))
                return
            if self._voice.show_transcript:
                yield Notice(t("voice.transcript", lang, text=spoken))
            if text.strip() and not parse_command(spoken):  # a caption goes with what was said
                spoken = f"{text.strip()}\n{spoken}"
                self._check_length(spoken)
            rest = tuple(a for a in msg.attachments if a.kind != "audio")
            heard = replace(msg, text=spoken, attachments=rest)
            answer = ""
            async for event in self._route(heard, spoken, key, lang):
                if isinstance(event, FinalText) and event.markdown:
                    answer = event.text.split(FOOTER_MARK + "🖼", 1)[0]  # the model's words
                yield event
            if answer and (await self._store.get_settings(key)).voice_reply:
                await self.access.check(who, "speech_chars", len(answer[:4000]), lang)
                yield await self._voice.speak(answer[:4000], msg.platform)
                await self.access.quotas.charge(who, "speech_chars", len(answer[:4000]))
            return
        command = parse_command(text)
        if command is not None and command.spec is not None and command.spec.typed:
            text = await self._typed_action(command, msg, key, lang)  # /u2 -> U2's action
            command = parse_command(text)
        images = tuple(a for a in msg.attachments if a.kind == "image")
        if command is not None and command.name == "vision":
            if not images:  # the photo may have come just before, on its own (WeChat)
                recent = await self._vision.recent_photo(key)
                images = (recent,) if recent else ()
            log.info("command key=%s name=vision images=%d", key, len(images))
            question = command.args or t("vision.default_question", lang)
            async for event in self._ask_about(images, question, key, lang, who):
                yield event
        elif command is not None:
            log.info("command key=%s name=%s", key, command.name)
            await self.access.before_command(command, msg, lang)  # allow-lists, quotas
            if command.name in ("blend", "describe") and not images:
                # The photos may have come just before, one by one (WeChat, or in a row).
                photos = await self._vision.recent_photos(key)
                picked = photos if command.name == "blend" else photos[-1:]
                msg = replace(msg, attachments=msg.attachments + tuple(picked))
            for event in await self._commands.run(command, msg, key, lang):
                await self._charge_reply(command, event, who)
                yield await tokenize(self._store, event)
        elif images and text.strip():  # a photo with a question (groups: addressed to us)
            async for event in self._ask_about(images, text.strip(), key, lang, who):
                yield event
        elif images and not text.strip():
            # A photo on its own: kept for a question that may follow (/vision, or chat).
            await self._vision.prepare(images[:1])  # a broken file is reported now
            await self._vision.remember(key, images[0])
            yield Notice(t("vision.photo_saved", lang))
        elif text.strip():
            follow_up = await self._vision.follow_up(key)
            if follow_up is None:
                async for event in self._chat(key, lang, text.strip(), who=who):
                    yield event
            else:
                async for event in self._chat(
                    key,
                    lang,
                    text.strip(),
                    images=(follow_up,),
                    model=self._vision_model(),
                    who=who,
                ):
                    yield event
        elif msg.attachments:
            yield Notice(t("notice.attachment_unsupported", lang))

    def _vision_model(self) -> str:
        return self._settings.models.vision

    async def _ask_about(
        self, images: tuple[Attachment, ...], question: str, key: str, lang: Lang, who: Who
    ) -> AsyncIterator[ReplyEvent]:
        if not images:
            raise MissingImageError()
        uris = await self._vision.prepare(images)
        await self._vision.remember(key, images[0])
        model = self._vision_model()
        async for event in self._chat(key, lang, question, images=uris, model=model, who=who):
            yield event

    async def _charge_reply(self, command: Command, event: ReplyEvent, who: Who) -> None:
        """Count what a command produced at once (jobs count in the job runner)."""
        if isinstance(event, ImageReply) and command.name == "img":
            model, _ = split_model_flag(command.args, self._settings.models.image)
            await self.access.quotas.charge(who, "images", 1, model)
        elif isinstance(event, AudioReply) and command.name == "tts":
            await self.access.quotas.charge(who, "speech_chars", len(command.args))

    async def _report(self, exc: BotError, msg: IncomingMessage) -> None:
        """Count an error for /stats; tell the admins when the relay key, balance or a
        model is the problem (at most hourly)."""
        try:
            await self.access.store.add(Who.of(msg), "error", 1, error_code(exc))
            await self.access.notices.report(exc)
        except Exception as err:  # the database itself, most likely: the user still gets an answer
            log.warning("could not record the error: %s", err)

    async def _typed_action(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> str:
        """What a typed button (/u2, /continue, /resend) stands for: the action of that button
        on the result replied to, or on the latest one; it then runs as a press would."""
        if self._typed is None:
            raise NotEnabledError(command=command.name)
        log.info("command key=%s name=%s (typed button)", key, command.name)
        return await self._typed.action(command, msg, key, lang)

    async def _pressed_action(self, msg: IncomingMessage) -> str:
        """The action a pressed button stands for; stored, so it survives restarts."""
        action = await self._store.get_action(msg.action_token or "")
        if action is None:
            raise ExpiredButtonError()
        log.info("button token=%s action=%s", msg.action_token, action)
        return action

    async def _chat(
        self,
        key: str,
        lang: Lang,
        text: str,
        *,
        images: tuple[str, ...] = (),
        model: str | None = None,
        who: Who,
    ) -> AsyncIterator[ReplyEvent]:
        """Stream an answer to ``text`` (with ``images`` as data URIs) and store the turn."""
        await self.access.check(who, "chat_tokens", 1, lang)  # before the relay is asked
        chat = self._settings.chat
        conv = await self._store.get_settings(key)
        chosen = self._commands.allowed_model(conv.model)
        model = model or chosen
        # A picture goes to the vision model, whatever /model chose; the user is told so.
        footer = ""
        if model != chosen and self._settings.vision.name_model:
            footer = FOOTER_MARK + t("vision.footer", lang, model=model)
        system = conv.system_prompt if conv.system_prompt is not None else chat.system_prompt
        # History keeps a marker, not the picture: images are not stored (yet).
        stored = f"{IMAGE_MARKER * len(images)} {text}".strip() if images else text
        question = Turn("user", stored, estimate_tokens(stored))
        budget = chat.history_tokens - question.tokens - (estimate_tokens(system) if system else 0)
        history = trim(await self._store.recent_turns(key, chat.max_history_messages), budget)
        messages = [ChatMessage("system", system)] if system else []
        messages += [ChatMessage(turn.role, turn.content) for turn in history]
        messages.append(ChatMessage("user", text, images))

        started = time.monotonic()
        parts: list[str] = []
        end = ChatEnd()
        # Counted as an estimate while it streams, settled by the relay's figure at the end.
        estimate = sum(estimate_tokens(m.content) for m in messages)
        charged = await self.access.quotas.charge(who, "chat_tokens", estimate, model)
        stream = self._relay.stream_chat(model, messages, max_tokens=chat.max_answer_tokens)
        # aclosing: an adapter that stops listening closes the relay stream at once.
        finished = False
        try:
            async with aclosing(stream):
                async for event in stream:
                    if isinstance(event, ChatDelta):
                        if not parts:
                            self.metrics.answer_latency("first_text", time.monotonic() - started)
                        parts.append(event.text)
                        yield TextDelta(event.text)
                    else:
                        end = event
            finished = True
        finally:
            if end.usage:
                spent = end.usage.total_tokens
            elif parts or finished:
                spent = estimate + estimate_tokens("".join(parts))
            else:
                spent = 0  # refused before any answer (a bad key, no balance): not charged
            await self.access.store.settle(charged, spent)
        answer = "".join(parts).strip()
        used = UsageRecord(model, end.usage, end.request_id) if end.usage else None
        if answer:
            reply = Turn("assistant", answer, estimate_tokens(answer))
            await self._store.append_turns(key, [question, reply], chat.max_history_messages, used)
            if footer:
                yield TextDelta(footer)
            yield FinalText(answer + footer)
            self.metrics.answer_latency("final_text", time.monotonic() - started)
        if end.truncated:
            yield Notice(t("notice.truncated", lang))
        elif not answer:
            yield Notice(t("notice.empty", lang))
        if used is not None and not answer:
            await self._store.record_usage(key, model, used.usage, used.request_id)
        outcome = "truncated" if end.truncated else "ok" if answer else "empty"
        self._answered(key, model, end, outcome, started)

    def _answered(
        self, key: str, model: str, end: ChatEnd, outcome: str, started: float
    ) -> None:
        """One INFO line and the metrics of an answer; never the user's text."""
        platform = key.split(":", 1)[0]
        usage = end.usage
        self.metrics.answer(platform, model, outcome)
        if usage is not None:
            self.metrics.tokens(model, usage.prompt_tokens, usage.completion_tokens)
        conv = hashlib.sha256(key.encode()).hexdigest()[:12]
        ms = round((time.monotonic() - started) * 1000)
        fields = {
            "platform": platform,
            "conv": conv,
            "model": model,
            "request_id": end.request_id or "-",
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "ms": ms,
            "outcome": outcome,
            "finish": end.finish_reason or "-",
        }
        log.info(
            "answer platform=%s conv=%s model=%s request_id=%s prompt_tokens=%s "
            "completion_tokens=%s ms=%d outcome=%s finish=%s",
            *("-" if v is None else v for v in fields.values()),
            extra={"fields": fields},
        )

    @staticmethod
    def _log_error(exc: BotError, key: str) -> None:
        request_id = getattr(exc, "request_id", "") or "-"
        status = getattr(exc, "status", 0)
        detail = getattr(exc, "detail", "") or str(exc)
        if exc.__cause__ is not None:  # e.g. what Pillow said about a picture
            detail += f" ({type(exc.__cause__).__name__}: {exc.__cause__})"
        # The admin must act on a bad key or a broken database; a user's mistake is no news.
        if error_code(exc) == "relay_auth" or isinstance(exc, StorageError):
            level = logging.ERROR
        elif isinstance(exc, UserInputError):
            level = logging.INFO
        else:
            level = logging.WARNING
        log.log(
            level,
            "error key=%s code=%s status=%s request_id=%s detail=%s",
            key,
            error_code(exc),
            status,
            request_id,
            detail,
        )


__all__ = ["Engine"]
