"""Typed forms of buttons: /u2, /reroll, /zoom 2, /continue, /resend... find the result they
act on and give back the action its button stands for, which then runs the way a press does."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from core.commands.table import Command
from core.errors import NoSuchButtonError, NoTargetError, NothingToResendError
from core.jobs.runner import JobRunner
from core.jobs.store import Job
from core.platform.types import Button, IncomingMessage
from core.texts.i18n import Lang

log = logging.getLogger("relaybot.engine")

DEFAULT_ARGS = {"continue": "1"}  # /continue alone continues the first clip


@runtime_checkable
class HasButtons(Protocol):
    """A job family whose results carry buttons (Midjourney, Suno, Luma)."""

    def buttons(self, job: Job, lang: Lang) -> list[Button]: ...


def typed_text(command: Command) -> str:
    """The typed form as buttons spell it: ``/ZOOM  2x`` -> ``/zoom 2``."""
    words = command.args.lower().split() or DEFAULT_ARGS.get(command.name, "").split()
    if command.name == "zoom":
        words = [w.removesuffix("x") for w in words]
    return " ".join([f"/{command.name}", *words])


class TypedForms:
    """Turns a typed form into the action of the button it names."""

    def __init__(self, jobs: JobRunner) -> None:
        self._jobs = jobs

    async def action(self, command: Command, msg: IncomingMessage, key: str, lang: Lang) -> str:
        """The action text (``/mj TASK CUSTOMID``...) of the button ``command`` names, on the
        result ``msg`` replies to, else on the conversation's latest result offering it."""
        if command.name == "resend":
            return await self._resend(command, msg)
        wanted = typed_text(command)
        replied = None
        if msg.reply_to is not None and msg.reply_to.message_id:
            replied = await self._jobs.results.of_message(
                msg.platform, msg.chat_id, msg.reply_to.message_id
            )
        if replied is not None:
            buttons = self._buttons(replied, lang)
            match = next((b for b in buttons if b.typed == wanted), None)
            if match is None:
                offered = " ".join(b.typed for b in buttons if b.typed) or "—"
                raise NoSuchButtonError(form=wanted, offered=offered)
            log.info("typed form=%s job=%d (replied to)", wanted, replied.id)
            return match.action
        for job in await self._jobs.results.latest(key):
            match = next((b for b in self._buttons(job, lang) if b.typed == wanted), None)
            if match is not None:
                log.info("typed form=%s job=%d", wanted, job.id)
                return match.action
        raise NoTargetError(form=wanted)

    def _buttons(self, job: Job, lang: Lang) -> list[Button]:
        backend = self._jobs.backend(job.family)
        return backend.buttons(job, lang) if isinstance(backend, HasButtons) else []

    async def _resend(self, command: Command, msg: IncomingMessage) -> str:
        """/resend: the user's latest delivery left in doubt; /resend 12: that job."""
        if command.args.strip().isdigit():
            return f"/jobs resend {int(command.args.strip())}"
        doubt = await self._jobs.jobs.in_doubt_for(msg.platform, msg.user_id)
        if not doubt:
            raise NothingToResendError()
        return f"/jobs resend {doubt[-1].id}"
