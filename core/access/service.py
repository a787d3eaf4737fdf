"""The one object the engine asks about access and spending (issue 12).

Everything configurable is read from ``settings()`` at each call, never copied: replacing the
settings object (hot reload) applies new lists and limits at once."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.access.ids import Who, job_unit
from core.access.notices import AdminNotices
from core.access.policy import Verdict, is_admin, verdict
from core.access.quotas import Quotas
from core.access.retention import Retention, forget_user
from core.access.store import AccessStore, Rules
from core.commands.images import split_model_flag
from core.commands.table import Command
from core.config.settings import Settings
from core.errors import ModelNotAllowedError, NotChatAdminError
from core.platform.outbox import Destination, Outbox
from core.platform.types import IncomingMessage
from core.storage.store import Store
from core.texts.i18n import Lang

# Commands that spend, and the quota each counts against (one unit a call).
COMMAND_UNITS = {
    "img": "images",
    "describe": "images",
    "blend": "images",
    "mj": "images",
    "song": "songs",
    "video": "videos",
}
MODEL_FLAG_FEATURES = {"img": "image", "song": "song", "video": "video"}
# The -m names that pick a backend rather than a model (always allowed when listed as such)
SHARED_SETTINGS_COMMANDS = frozenset({"system", "model"})


class Access:
    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        outbox: Outbox | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self.store = AccessStore(store)
        self._db = store
        self._rules: Rules | None = None
        self.quotas = Quotas(lambda: settings().quotas, self.store, clock)
        self.notices = AdminNotices(lambda: settings().access, lambda: settings().language, outbox)
        self.retention = Retention(
            store, lambda: (settings().storage.retention_days, settings().quotas.timezone)
        )

    # --- who may -----------------------------------------------------------------------------

    async def rules(self) -> Rules:
        if self._rules is None:
            self._rules = await self.store.rules()
        return self._rules

    def is_admin(self, who: Who) -> bool:
        return is_admin(self._settings().access, who)

    async def gate(self, msg: IncomingMessage, lang: Lang) -> Verdict:
        """May ``msg`` be handled at all? (before anything reaches the relay or the history)."""
        who = Who.of(msg)
        self.notices.saw(who.user, lang)
        return verdict(self._settings().access, await self.rules(), who)

    async def allows(self, msg: IncomingMessage) -> bool:
        """``gate`` without its side effects: may ``msg`` be handled?"""
        return verdict(self._settings().access, await self.rules(), Who.of(msg)) == "ok"

    async def set_rule(self, subject: str, rule: str | None, by: str) -> None:
        await self.store.set_rule(subject, rule, by)
        self._rules = await self.store.rules()

    # --- how much ----------------------------------------------------------------------------

    async def admitted(self, msg: IncomingMessage) -> None:
        """Count a message: the per-minute flood limit, and the /stats counter."""
        who = Who.of(msg)
        if not self.is_admin(who):
            self.quotas.flood(who)
        await self.store.add(who, "message", 1)

    async def check(self, who: Who, kind: str, amount: int, lang: Lang) -> None:
        if not self.is_admin(who):
            await self.quotas.check(who, kind, amount, lang)

    async def before_command(self, command: Command, msg: IncomingMessage, lang: Lang) -> None:
        """Refuse, before any request, a command that would break a rule: a model not on the
        allow-list, a shared group's settings changed by a member, a quota used up."""
        who = Who.of(msg)
        settings = self._settings()
        feature = MODEL_FLAG_FEATURES.get(command.name)
        if feature is not None:
            choices = settings.models.choices(feature)
            default = str(getattr(settings.models, feature))
            model, _ = split_model_flag(command.args, default)
            allowed = {c.lower() for c in choices}
            if model.lower() not in allowed and not self.is_admin(who):
                raise ModelNotAllowedError(model=model[:64], choices=", ".join(choices))
        if command.name in SHARED_SETTINGS_COMMANDS and command.args and self._shared(msg):
            if not (self.is_admin(who) or msg.chat_admin):
                raise NotChatAdminError(command=command.name)
        unit = COMMAND_UNITS.get(command.name)
        if unit is not None:
            await self.check(who, unit, 1, lang)
        if command.name == "tts":
            text = command.args or (msg.reply_to.text if msg.reply_to else "")
            await self.check(who, "speech_chars", max(1, len(text.strip())), lang)

    def _shared(self, msg: IncomingMessage) -> bool:
        """Is ``msg``'s conversation one a whole group shares?"""
        from core.engine.keys import group_mode

        if msg.chat_type != "group":
            return False
        return group_mode(msg.platform, msg.chat_id, self._settings().chat) == "shared"

    # --- jobs (core.jobs.runner calls these) --------------------------------------------------

    async def charge_job(self, family: str, kind: str, dest: Destination) -> int | None:
        """A job is being submitted: count its unit; the ledger row's id (None: not counted)."""
        unit = job_unit(family, kind)
        if unit is None:
            return None
        who = Who(dest.platform, dest.user_id, dest.chat_id, dest.group)
        return await self.store.add(who, unit, 1, family)

    async def bind_job(self, event_id: int, job_id: int) -> None:
        await self.store.set_ref(event_id, f"job:{job_id}")

    async def refund_event(self, event_id: int) -> None:
        """The submit was refused before the job had a row of its own: give the unit back."""
        await self.store.remove_id(event_id)

    async def refund_job(self, job_id: int) -> bool:
        """The relay rejected or failed the job: its unit is given back."""
        return await self.store.remove(f"job:{job_id}") > 0

    # --- what is kept ------------------------------------------------------------------------

    async def forget(self, who: Who) -> None:
        await forget_user(self._db, who.platform, who.user_id)
