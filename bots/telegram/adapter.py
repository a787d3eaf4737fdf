"""Telegram adapter: python-telegram-bot in, engine calls through, rendered replies out."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import replace
from urllib.parse import urlsplit

from telegram import BotCommand, Message, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots.shared.flood import FloodGate, FloodLimits, Rules
from bots.telegram.inbound import PLATFORM, BotIdentity, thread_of, to_incoming
from bots.telegram.media import (
    AlbumCollector,
    DownloadFailed,
    FileRef,
    FileTooBig,
    download,
    files_of,
)
from bots.telegram.render import CALLBACK_PREFIX, ReplyRenderer, TextLost
from bots.telegram.send import ChatGone, Skipped, Target, TelegramSender
from bots.telegram.settings import TelegramSettings
from bots.telegram.shared import SharedUpdates, StoringQueue
from bots.telegram.stream import plain
from bots.telegram.traits import telegram_traits
from core.commands.table import COMMANDS, parse_command
from core.config.fields import without_userinfo
from core.config.settings import Settings
from core.engine.engine import Engine
from core.engine.locks import Place
from core.errors import (
    ConversationBusyError,
    CredentialsError,
    InputTooLongError,
    StartupError,
    user_text,
)
from core.platform.outbox import Destination, NothingSent, Outbox
from core.platform.types import IncomingMessage, ReplyEvent
from core.texts.i18n import LANGS, Lang, pick_lang, t
from core.workers.inbox import Inbox

log = logging.getLogger("relaybot.telegram")

MB = 1_000_000
STOP_WAIT_S = 30.0
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
# Commands that also take the photo of the message they reply to.
REPLIED_PHOTO_COMMANDS = frozenset({"vision", "img", "describe", "blend", "video"})
CHAT_ADMIN_COMMANDS = frozenset({"model", "system"})  # may change a shared group's settings
CHAT_ADMIN_CACHE_S = 300.0
CHAT_ADMIN_CACHE_MAX = 10_000


class TelegramAdapter:
    """Runs the bot on Telegram, by long polling or behind a webhook."""

    name = PLATFORM

    def __init__(self, settings: Settings, engine: Engine, outbox: Outbox | None = None) -> None:
        self._settings = settings
        self._outbox = outbox
        self._config = settings.section(PLATFORM, TelegramSettings)
        self.traits = telegram_traits(self._config.max_upload_mb)
        self._engine = engine
        self._app: Application | None = None  # type: ignore[type-arg]
        self._me = BotIdentity(0, "")
        limits = self._config.limits
        self._shared: SharedUpdates | None = None
        worker = engine.worker
        workers = 1
        if worker is not None and worker.shared:
            workers = worker.settings.count
            self._shared = SharedUpdates(
                lambda source: Inbox(engine.store, source, worker.holder),
                worker.leases,
                poll_s=worker.settings.poll_s,
                max_concurrent=self._config.max_concurrent_updates,
                handle=self._process_stored,
                interrupted=self._tell_interrupted,
            )
        # With several workers the bot-wide budget is split between them (README "Several
        # workers"); a chat is answered by one worker at a time, so its budgets hold whole.
        self._gate = FloodGate(
            FloodLimits(
                limits.per_chat_per_s,
                limits.per_group_per_min,
                max(1, limits.global_per_s // workers),
            )
        )
        self._albums = AlbumCollector(self._config.album_wait_s, self._handle_messages)
        self._sender: TelegramSender | None = None
        self._refusing: set[str] = set()  # conversations with a refusal being sent
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}  # getChatMember cache

    # --- lifecycle -------------------------------------------------------------------------

    def _build(self) -> Application:  # type: ignore[type-arg]
        config = self._config
        builder = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(config.base_file_url)
            .connect_timeout(10)
            .read_timeout(30)
            .write_timeout(60)
            .media_write_timeout(120)
            .get_updates_read_timeout(40)
        )
        if config.proxy:
            builder = builder.proxy(config.proxy).get_updates_proxy(config.proxy)
        # Bounded work: at most ``max_concurrent_updates`` updates are handled at once; more
        # wait in PTB for a free slot (FIFO). The handlers block (block=True): with block=False
        # PTB would start each one as its own task, outside this bound. A handler keeps its
        # slot while its message waits for its conversation (core.engine.locks), but the engine lets
        # only chat.max_queued_per_conversation messages wait per conversation and refuses the
        # rest at once (``_admit``, before any download, without waiting for flood control).
        # So one conversation holds at most 1 + max_queued + 1 slots (answer, queue, one
        # refusal being sent) and a flood of it cannot starve the others. An album is handled
        # in its first part's slot (AlbumCollector); button presses go the same way as texts
        # (when every slot is busy, a press waits too and its spinner just turns longer).
        builder = builder.concurrent_updates(config.max_concurrent_updates)
        if self._shared is not None:  # updates are stored before Telegram hears 200
            builder = builder.update_queue(StoringQueue(self._shared.accept))
        app = builder.build()
        app.add_handler(MessageHandler(filters.ALL & ~filters.UpdateType.EDITED, self._on_message))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_error_handler(self._on_error)
        return app

    @property
    def flood_rules(self) -> Rules:
        """The budgets this process keeps to (its share of the global one, with workers)."""
        return self._gate.rules

    @property
    def connected(self) -> bool:
        """Started and taking updates (for /healthz)."""
        app = self._app
        return app is not None and app.running and bool(app.updater and app.updater.running)

    def reconfigure(self, settings: Settings) -> None:
        """A config reload: trigger words and the bot's language apply to the next update."""
        self._settings = settings
        config = settings.section(PLATFORM, TelegramSettings)
        self._me = BotIdentity(self._me.id, self._me.username, config.trigger_words)

    @property
    def updates_in_progress(self) -> int:
        """Updates being handled right now (at most ``telegram.max_concurrent_updates``)."""
        if self._shared is not None:
            return self._shared.in_progress
        return self._app.update_processor.current_concurrent_updates if self._app else 0

    async def start(self) -> None:
        """Connect (getMe), register the menu and start polling or the webhook server. A
        failure undoes what started and raises a StartupError that names what to fix."""
        # PTB 22 warns on every flood error unless told to give retry_after as a timedelta (the
        # behaviour of its next major version); send.py reads both forms. Set when the bot
        # starts, never on import.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        app = self._build()
        try:
            await self._start(app)
        except BaseException as exc:
            await self._undo(app)
            error = self._startup_error(exc)
            if error is exc:
                raise
            raise error from None if isinstance(exc, InvalidToken) else exc

    async def _start(self, app: Application) -> None:  # type: ignore[type-arg]
        await app.initialize()  # getMe: a wrong token fails here
        self._app = app
        bot = app.bot
        self._me = BotIdentity(bot.id, bot.username, self._config.trigger_words)
        if self._shared is not None:
            self._shared.bind(f"{PLATFORM}:{bot.id}")
        self._sender = TelegramSender(bot, self._gate, metrics=self._engine.metrics)
        await self._register_commands()
        await app.start()
        if self._outbox is not None:
            self._outbox.register(PLATFORM, self)
        webhook = self._config.webhook
        assert app.updater is not None
        if webhook.url:
            await app.updater.start_webhook(
                listen=webhook.listen,
                port=webhook.port,
                url_path=urlsplit(webhook.url).path.lstrip("/"),
                webhook_url=webhook.url,
                secret_token=webhook.secret_token,
                allowed_updates=ALLOWED_UPDATES,
            )
            if self._shared is not None:
                self._shared.start()
            log.info("telegram started as @%s, webhook %s", bot.username, webhook.url)
        else:
            await app.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=30, error_callback=self._on_poll_error
            )
            log.info("telegram started as @%s, long polling", bot.username)

    async def _undo(self, app: Application) -> None:  # type: ignore[type-arg]
        """After a failed start: stop whatever started, close the HTTP connections."""
        try:
            if self._app is not None:
                await self.stop()
            else:  # getMe failed: the application never initialized, its bot's clients did
                await app.bot.shutdown()
        except Exception as exc:
            log.debug("cleanup after a failed start: %s", exc)
        self._app = None

    def _startup_error(self, exc: BaseException) -> BaseException:
        """``exc`` from start-up as one line for the admin; the token is never in it."""
        config = self._config
        api = without_userinfo(config.base_url)
        via = f" through the proxy {without_userinfo(config.proxy)}" if config.proxy else ""
        if isinstance(exc, InvalidToken):
            return CredentialsError(
                f"Telegram rejected telegram.token (or telegram.base_url {api} is not a Bot API "
                "server); copy the token again from @BotFather"
            )
        if isinstance(exc, NetworkError):  # includes TimedOut: no answer, refused, DNS, proxy
            return StartupError(
                f"cannot reach the Telegram Bot API at {api}{via} ({exc.message}); check the "
                "network, telegram.proxy and telegram.base_url"
            )
        if isinstance(exc, TelegramError):
            return StartupError(
                f"Telegram refused to start the bot ({exc.message}); check telegram.base_url "
                "and telegram.webhook"
            )
        if isinstance(exc, OSError) and config.webhook.url:
            webhook = config.webhook
            return StartupError(
                f"cannot listen for Telegram webhooks on {webhook.listen}:{webhook.port} "
                f"({exc.strerror or exc}); free the port or change telegram.webhook.port / "
                "telegram.webhook.listen"
            )
        return exc

    async def stop(self) -> None:
        """Stop taking updates, let replies in flight finish (bounded), close the connection."""
        app, self._app = self._app, None
        if app is None:
            return
        if self._outbox is not None:
            self._outbox.unregister(PLATFORM)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if self._shared is not None:
            await self._shared.stop(STOP_WAIT_S)
        await self._albums.flush()
        if app.running:
            try:
                await asyncio.wait_for(app.stop(), STOP_WAIT_S)
            except TimeoutError:
                log.warning(
                    "telegram replies still running after %ss; stopping anyway", STOP_WAIT_S
                )
        await app.shutdown()
        log.info("telegram stopped")

    async def _register_commands(self) -> None:
        """The command menu, in zh and en, with the configured language as the default."""
        assert self._app is not None
        bot = self._app.bot

        def menu(lang: str) -> list[BotCommand]:
            return [
                BotCommand(s.name, t(s.help_key, lang)[:256]) for s in COMMANDS if not s.hidden
            ]  # type: ignore[arg-type]

        try:
            await bot.set_my_commands(menu(self._settings.language))
            for lang in LANGS:
                await bot.set_my_commands(menu(lang), language_code=lang)
        except TelegramError as exc:
            log.warning("could not register the command menu: %s", exc.message)

    # --- updates ---------------------------------------------------------------------------

    async def _process_stored(self, payload: dict[str, object]) -> None:
        """An update from the shared inbox, through PTB's handlers as if it had just come."""
        assert self._app is not None
        update = Update.de_json(payload, self._app.bot)
        if update is not None:
            await self._app.process_update(update)

    async def _tell_interrupted(self, payload: dict[str, object]) -> None:
        """A worker died while answering this update: its sender is asked to send it again."""
        assert self._app is not None
        update = Update.de_json(payload, self._app.bot)
        message = update.message if update is not None else None
        if message is None or message.from_user is None or to_incoming(message, self._me) is None:
            return  # not a message to the bot (group chatter): nothing was being answered
        lang = pick_lang(message.from_user.language_code, self._settings.language)
        group = message.chat.type != "private"
        target = Target(
            message.chat.id, group, thread_of(message), message.message_id if group else None
        )
        await self._notify(target, t("worker.interrupted", lang))

    def _on_poll_error(self, exc: TelegramError) -> None:
        """getUpdates failed; PTB tries again with a growing pause (up to 30 s), forever."""
        log.warning("telegram polling failed, retrying: %s: %s", type(exc).__name__, exc.message)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        if message.media_group_id is not None:
            await self._albums.add(message)  # the first part's handler delivers the album
            return
        await self._handle_messages([message])

    async def _admit(self, incoming: IncomingMessage, target: Target, lang: Lang) -> Place | None:
        """The message's place in its conversation (``Engine.admit``), or None after telling
        the user why not (too long, or too many messages waiting). Only one refusal per
        conversation is sent at a time; others meanwhile are dropped, so a flood's refusals
        do not sit in flood control holding update slots."""
        try:
            return self._engine.admit(incoming)
        except (InputTooLongError, ConversationBusyError) as exc:
            key = self._engine.key_of(incoming)
            log.info("refused key=%s code=%s", key, exc.code)
            if key in self._refusing:
                return None
            self._refusing.add(key)
            try:
                await self._notify(target, user_text(exc, lang))
            finally:
                self._refusing.discard(key)
            return None

    async def _handle_messages(self, messages: list[Message]) -> None:
        """One logical message (a single update, or an album) to the engine and back."""
        first = next((m for m in messages if m.text or m.caption), messages[0])
        incoming = to_incoming(first, self._me)
        if incoming is None:
            return
        target = Target(
            chat_id=first.chat.id,
            group=incoming.chat_type == "group",
            thread_id=thread_of(first),
            reply_to=first.message_id if incoming.chat_type == "group" else None,
        )
        refs = [ref for m in messages for ref in files_of(m)]
        command = parse_command(incoming.text)
        replied = first.reply_to_message
        if command is not None and command.name in REPLIED_PHOTO_COMMANDS and replied is not None:
            refs += [r for r in files_of(replied) if r.kind == "image"]
        lang = pick_lang(incoming.language, self._settings.language)
        place = await self._admit(incoming, target, lang)
        if place is None:
            return
        try:
            if incoming.chat_type == "group" and command is not None and command.args:
                if command.name in CHAT_ADMIN_COMMANDS:  # a shared group's /model, /system
                    admin = await self._chat_admin(first.chat.id, int(incoming.user_id))
                    incoming = replace(incoming, chat_admin=admin)
            await self._download_and_reply(incoming, target, lang, refs, place)
        finally:
            place.leave()

    async def _chat_admin(self, chat_id: int, user_id: int) -> bool | None:
        """Is the user an admin of the group (getChatMember, cached a few minutes)? None
        when Telegram could not say."""
        loop = asyncio.get_running_loop()
        cached = self._admins.get((chat_id, user_id))
        if cached is not None and cached[1] > loop.time():
            return cached[0]
        try:
            member = await self._app.bot.get_chat_member(chat_id, user_id)  # type: ignore[union-attr]
        except TelegramError as exc:
            log.info("getChatMember failed chat=%s: %s", chat_id, exc)
            return None
        admin = member.status in ("administrator", "creator")
        if len(self._admins) > CHAT_ADMIN_CACHE_MAX:
            self._admins.clear()
        self._admins[(chat_id, user_id)] = (admin, loop.time() + CHAT_ADMIN_CACHE_S)
        return admin

    async def _download_and_reply(
        self,
        incoming: IncomingMessage,
        target: Target,
        lang: Lang,
        refs: list[FileRef],
        place: Place,
    ) -> None:
        if refs and await self._engine.allowed(incoming):  # nothing fetched for a refused user
            limit = int(self._config.max_download_mb * MB)
            try:
                attachments = await download(
                    self._app.bot, refs, limit, proxy=self._config.proxy  # type: ignore[union-attr]
                )
            except FileTooBig as exc:
                text = t(
                    "error.file_too_big",
                    lang,
                    size_mb=f"{exc.size / MB:.0f}",
                    limit_mb=f"{limit / MB:.0f}",
                )
                await self._notify(target, text)
                return
            except DownloadFailed as exc:
                log.warning("download failed chat=%s: %s", target.chat_id, exc)
                await self._notify(target, t("error.download_failed", lang))
                return
            incoming = replace(incoming, attachments=attachments)
        await self._reply(incoming, target, place)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None or query.from_user is None:
            return
        message = query.message
        user = query.from_user
        data = query.data or ""
        lang = pick_lang(user.language_code, self._settings.language)
        if not data.startswith(CALLBACK_PREFIX):
            await query.answer(t("error.expired_button", lang))
            return
        try:
            await query.answer()  # stop the spinner at once; the reply follows
        except TelegramError as exc:
            log.debug("answerCallbackQuery failed: %s", exc.message)
        chat = message.chat
        group = chat.type != "private"
        thread = thread_of(message) if isinstance(message, Message) else None
        incoming = IncomingMessage(
            platform=PLATFORM,
            chat_id=str(chat.id),
            chat_type="group" if group else "private",
            user_id=str(user.id),
            text="",
            display_name=user.full_name,
            language=user.language_code,
            thread_id=str(thread) if thread is not None else None,
            action_token=data[len(CALLBACK_PREFIX) :],
        )
        target = Target(chat.id, group, thread)
        place = await self._admit(incoming, target, lang)
        if place is not None:
            try:
                await self._reply(incoming, target, place)
            finally:
                place.leave()

    async def _reply(
        self, incoming: IncomingMessage, target: Target, place: Place | None = None
    ) -> None:
        assert self._sender is not None
        renderer = ReplyRenderer(
            self._sender,
            target,
            interval_s=self._config.edit_interval_s,
            max_upload=int(self._config.max_upload_mb * MB),
        )
        # aclosing: whatever happens while rendering, the engine's reply is closed at once,
        # which releases its conversation for the next message.
        async with aclosing(self._engine.handle(incoming, place=place)) as events:
            await renderer.render(events)

    # --- messages the core sends on its own (jobs) ------------------------------------------

    def _target_of(self, dest: Destination) -> Target:
        thread = int(dest.thread_id) if dest.thread_id else None
        return Target(int(dest.chat_id), dest.group, thread)

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        """Send ``events`` to a chat outside a reply (a finished job); their message ids."""
        assert self._sender is not None

        async def stream() -> AsyncIterator[ReplyEvent]:
            for event in events:
                yield event

        renderer = ReplyRenderer(
            self._sender, self._target_of(dest), interval_s=self._config.edit_interval_s,
            max_upload=int(self._config.max_upload_mb * MB), tolerant=False,
        )
        try:
            await renderer.render(stream())
        except (TimedOut, TextLost):
            raise  # it may have arrived
        except Exception as exc:
            if not renderer.message_ids:
                raise NothingSent(str(exc)) from exc  # safe to try again later
            raise
        if renderer.gone:
            if not renderer.message_ids:
                raise NothingSent(f"chat {dest.chat_id} cannot be written to")
            raise ChatGone(dest.chat_id)
        return renderer.message_ids

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        assert self._sender is not None
        try:
            return await self._sender.edit_text(
                self._target_of(dest), int(message_id), plain(text), wait=final
            )
        except Skipped:
            return False

    async def _notify(self, target: Target, text: str) -> None:
        assert self._sender is not None
        try:
            await self._sender.send_text(target, plain(text))
        except (TelegramError, ChatGone) as exc:
            log.info("could not notify chat=%s: %s", target.chat_id, exc)
