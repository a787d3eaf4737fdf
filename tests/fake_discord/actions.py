"""What users do, as the gateway events Discord sends the bot: messages, slash commands, clicks."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from tests.fake_discord.models import (
    DM,
    GUILD_FORUM,
    Channel,
    InteractionRecord,
    StoredMessage,
    User,
)
from tests.fake_discord.payloads import attachment_json, interaction_json
from tests.fake_discord.world import WorldBuilding

# (filename, bytes, content type), as a test gives an attachment
FileSpec = tuple[str, bytes, str]

# Application command option types (discord-api-docs interactions/application-commands).
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
ATTACHMENT_OPTION = 11


class UserActions(WorldBuilding):
    """The test-side API that makes users act; each returns the record it created."""

    def mention(self, user: User | None = None) -> str:
        """How Discord writes a mention in content: ``<@id>`` (the bot's by default)."""
        return f"<@{(user or self.bot).id}>"

    async def user_says(
        self,
        channel_id: int,
        content: str,
        *,
        author: User,
        mentions: Sequence[User] = (),
        reference: int | None = None,
        attachments: Sequence[FileSpec] = (),
        voice: bool = False,
        ping_reply: bool = True,
        message_id: int | None = None,
    ) -> StoredMessage:
        """MESSAGE_CREATE from ``author``. Mentions are what Discord computes: ``<@id>`` in the
        content plus ``mentions``, plus the replied-to author for a reply (``reference``) unless
        the user turned the reply's ping off (``ping_reply=False``)."""
        chan = self.channel(channel_id)
        if chan.type == DM and chan.recipient_id != author.id:
            raise ValueError("only the DM's recipient can write in it")
        if chan.type == GUILD_FORUM:
            raise ValueError("a forum takes posts (user_posts), not messages")
        users, roles, everyone = self.parse_mentions(content)
        users += [u.id for u in mentions if u.id not in users]
        msg = StoredMessage(
            id=message_id or self.ids.next(),
            channel_id=channel_id,
            guild_id=chan.guild_id,
            author=author,
            content=content,
            mentions=users,
            mention_roles=roles,
            mention_everyone=everyone,
        )
        if reference is not None:
            ref = self.messages[reference]
            msg.reference, msg.type = reference, 19
            if ping_reply and ref.author.id not in msg.mentions:
                msg.mentions.append(ref.author.id)
        for name, data, ctype in attachments:
            att = self.new_attachment(channel_id, name, data, ctype)
            if voice:
                att.duration_secs, att.waveform = 1.5, "AAAA"
            msg.attachments.append(att)
        if voice:
            msg.flags |= 8192  # IS_VOICE_MESSAGE
        self.store_message(msg)
        await self.delivered()
        return msg

    async def user_posts(
        self, forum_id: int, title: str, content: str, *, author: User
    ) -> tuple[Channel, StoredMessage]:
        """A forum post: THREAD_CREATE, then its starter message (the thread's id) in it."""
        thread = self.add_thread(forum_id, title, owner=author)
        msg = await self.user_says(thread.id, content, author=author, message_id=thread.id)
        return thread, msg

    async def user_edits(self, message_id: int, content: str) -> StoredMessage:
        """The author edits their message: MESSAGE_UPDATE with the new content."""
        msg = self.messages[message_id]
        if msg.author.id == self.bot.id:
            raise ValueError("user_edits is for users' messages; the bot edits through REST")
        msg.edits.append(msg.snapshot())
        msg.content = content
        msg.mentions, msg.mention_roles, msg.mention_everyone = self.parse_mentions(content)
        msg.edited_at = time.time()
        self.emit_message("MESSAGE_UPDATE", msg, self.message_payload(msg))
        self.notify()
        await self.delivered()
        return msg

    async def user_deletes(self, message_id: int) -> None:
        msg = self.messages[message_id]
        msg.deleted = True
        data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id:
            data["guild_id"] = str(msg.guild_id)
        self.emit_message("MESSAGE_DELETE", msg, data)
        await self.delivered()

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel_id: int,
        user: User,
        attachments: dict[str, FileSpec] | None = None,
        subcommand: str | None = None,
        focused: str | None = None,
    ) -> InteractionRecord:
        """INTERACTION_CREATE type 2 for ``/name``. Option types come from the synced command
        (else from the Python values); ``attachments`` maps option names to files, which
        arrive in ``data.resolved.attachments`` as Discord sends them. With ``focused`` (an
        option name) it is type 4, autocomplete: the bot answers with callback type 8."""
        chan = self.channel(channel_id)
        command = self._synced(name, chan.guild_id)
        declared = {o["name"]: o for o in (command or {}).get("options", [])}
        if subcommand is not None:
            declared = {o["name"]: o for o in declared.get(subcommand, {}).get("options", [])}
        opts: list[dict[str, Any]] = []
        for key, value in (options or {}).items():
            kind = declared.get(key, {}).get("type") or OPTION_TYPES[type(value)]
            opt = {"name": key, "type": kind, "value": value}
            if key == focused:
                opt["focused"] = True
            opts.append(opt)
        resolved: dict[str, Any] = {}
        for key, (fname, blob, ctype) in (attachments or {}).items():
            att = self.new_attachment(channel_id, fname, blob, ctype)
            opts.append({"name": key, "type": ATTACHMENT_OPTION, "value": str(att.id)})
            resolved.setdefault("attachments", {})[str(att.id)] = attachment_json(att)
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.ids.next()),
            "name": name,
            "type": 1,
            "options": opts,
        }
        if resolved:
            data["resolved"] = resolved
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(4 if focused else 2, channel_id, user, data)

    async def press(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: User,
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """INTERACTION_CREATE type 3: ``user`` clicks the button (or picks ``values`` in the
        select menu) ``custom_id`` on the bot's message ``message_id``."""
        msg = self.messages[message_id]
        if msg.deleted:
            raise ValueError(f"message {message_id} was deleted: nobody can click on it")
        found = [
            c
            for row in msg.components
            for c in row.get("components", [])
            if c.get("custom_id") == custom_id
        ]
        if not found:
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": found[0]["type"]}
        if values is not None:
            data["values"] = list(values)
        return await self._interact(3, msg.channel_id, user, data, message=msg)

    async def submit_modal(
        self, rec: InteractionRecord, values: dict[str, str], *, user: User | None = None
    ) -> InteractionRecord:
        """INTERACTION_CREATE type 5: the modal the bot opened for ``rec`` (callback type 9)
        is submitted with ``values`` by text-input custom_id, in the shape the bot sent
        (action rows, or labels of discord.py 2.6+)."""
        modals = [r.get("data") or {} for r in rec.responses if r.get("type") == 9]
        if not modals:
            raise ValueError(f"interaction {rec.id} opened no modal")
        modal = modals[-1]

        def answer(comp: dict[str, Any]) -> dict[str, Any]:
            if comp.get("type") == 1:
                return {"type": 1, "components": [answer(c) for c in comp["components"]]}
            if comp.get("type") == 18:
                return {"type": 18, "component": answer(comp["component"])}
            out = {"type": comp["type"], "custom_id": comp.get("custom_id")}
            if comp["type"] == 4:
                out["value"] = values.get(str(comp.get("custom_id")), "")
            return out

        data = {
            "custom_id": modal["custom_id"],
            "components": [answer(c) for c in modal.get("components", [])],
        }
        # opened from a button: the submission carries that button's message, as on Discord
        origin = self.messages.get(rec.message_id) if rec.message_id else None
        return await self._interact(5, rec.channel_id, user or rec.user, data, message=origin)

    def _synced(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        scopes = ([self.guild_commands.get(guild_id, [])] if guild_id else []) + [
            self.global_commands
        ]
        for commands in scopes:
            for cmd in commands:
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None

    async def _interact(
        self,
        kind: int,
        channel_id: int,
        user: User,
        data: dict[str, Any],
        message: StoredMessage | None = None,
    ) -> InteractionRecord:
        chan = self.channel(channel_id)
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        rec = InteractionRecord(
            self.ids.next(),
            token,
            kind,
            channel_id,
            chan.guild_id,
            user,
            data,
            message_id=message.id if message else None,
        )
        self.interactions[rec.id] = rec
        self.interactions_by_token[token] = rec
        guild = self.guild_of(chan)
        payload = interaction_json(
            rec,
            self.app_id,
            self.channel_payload(chan),
            guild,
            self.message_payload(message) if message else None,
            chan.denied,
        )
        self.emit("INTERACTION_CREATE", payload, intent=None)
        self.notify()
        await self.delivered()
        return rec

    def expire(self, rec: InteractionRecord, seconds: float) -> None:
        """Age an interaction by ``seconds`` (past 3 s its callback gets 10062; past 15 min
        its follow-ups get 50027): the token clock without waiting."""
        rec.created -= seconds

    async def delivered(self) -> None:
        """Hook: the server waits until queued gateway frames were written."""
