"""/whoami, /usage, /stats, /allow, /block, /unblock and /forget (issue 12)."""

from __future__ import annotations

from collections.abc import Callable

from core.access import reports
from core.access.ids import Who
from core.access.service import Access
from core.commands.table import Command
from core.config.access import _platform_id
from core.config.settings import Settings
from core.errors import AdminOnlyError
from core.platform.types import FinalText, IncomingMessage, ReplyEvent
from core.texts.i18n import Lang, t

ACCESS_COMMANDS = frozenset({"whoami", "usage", "stats", "allow", "block", "unblock", "forget"})
_ADMIN_ONLY = frozenset({"stats", "allow", "block", "unblock"})


class AccessCommands:
    def __init__(self, access: Access, settings: Callable[[], Settings]) -> None:
        self._access = access
        self._settings = settings

    async def run(
        self, command: Command, msg: IncomingMessage, key: str, lang: Lang
    ) -> list[ReplyEvent]:
        who = Who.of(msg)
        admin = self._access.is_admin(who)
        name = command.name
        if name in _ADMIN_ONLY or (name == "usage" and command.args):
            if not admin:
                raise AdminOnlyError(command=name if name != "usage" else "usage all")
        if name == "whoami":
            extra = t("cmd.whoami.admin", lang) if admin else ""
            chat = f"{msg.platform}:{msg.chat_id}"
            text = t("cmd.whoami", lang, id=who.user, chat=chat, admin=extra)
        elif name == "usage":
            text = await self._usage(command.args, who, lang, admin)
        elif name == "stats":
            text = await reports.stats(self._access.store, lang)
        elif name == "forget":
            await self._access.forget(who)
            text = t("cmd.forget.done", lang)
        else:
            text = await self._rule(name, command.args, msg, who, lang)
        return [FinalText(text, markdown=False)]

    async def _usage(self, args: str, who: Who, lang: Lang, admin: bool) -> str:
        quotas = self._settings().quotas
        win = self._access.quotas.window()
        if args:
            month = "month" in args.lower() or "月" in args
            return await reports.all_usage(self._access.store, quotas, win, lang, month)
        return await reports.user_usage(self._access.store, who, quotas, win, lang, admin)

    async def _rule(self, name: str, args: str, msg: IncomingMessage, who: Who, lang: Lang) -> str:
        subject = self._subject(args, msg)
        if subject is None:
            return t("cmd.access.usage", lang, command=name)
        config = self._settings().access
        if name == "block" and subject in config.admins:
            return t("cmd.block.admin", lang, id=subject)
        rule = {"allow": "allow", "block": "block", "unblock": None}[name]
        await self._access.set_rule(subject, rule, who.user)
        text = t(f"cmd.{name}.done", lang, id=subject)
        if name == "unblock" and subject in config.blocked_users:
            text += "\n" + t("cmd.unblock.config", lang, id=subject)
        return text

    @staticmethod
    def _subject(args: str, msg: IncomingMessage) -> str | None:
        """``platform:id`` from the arguments (a bare id means this platform), or the sender
        of the message replied to."""
        word = args.split()[0] if args.split() else ""
        if word:
            if ":" not in word:
                word = f"{msg.platform}:{word}"
            try:
                return _platform_id(word)
            except Exception:
                return None
        if msg.reply_to is not None and msg.reply_to.user_id:
            return f"{msg.platform}:{msg.reply_to.user_id}"
        if msg.chat_type == "group":  # "/allow" alone in a group: this group
            return f"{msg.platform}:{msg.chat_id}"
        return None
