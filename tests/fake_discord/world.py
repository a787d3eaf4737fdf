"""Building the fake's world: users, guilds, roles, channels, threads, DMs, permissions.

Each change made while a client is connected is dispatched as Discord would (GUILD_CREATE,
CHANNEL_CREATE/UPDATE/DELETE, THREAD_CREATE/UPDATE/DELETE, GUILD_ROLE_CREATE, GUILD_DELETE)."""

from __future__ import annotations

from tests.fake_discord.models import (
    ANNOUNCEMENT_THREAD,
    CHANNEL_KINDS,
    DM,
    GUILD_NEWS,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Channel,
    Guild,
    Role,
    User,
)
from tests.fake_discord.payloads import role_json
from tests.fake_discord.rules import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, PERMISSIONS
from tests.fake_discord.state import GUILDS, FakeState


class WorldBuilding(FakeState):
    """The test-side API that shapes the server the bot lives in."""

    def add_user(self, name: str, *, bot: bool = False, locale: str = "en-US") -> User:
        user = User(self.ids.next(), name, bot=bot, global_name=name.title(), locale=locale)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str = "Test Server", *, premium_tier: int = 0) -> Guild:
        gid = self.ids.next()
        guild = Guild(gid, name, premium_tier=premium_tier, owner_id=self.owner.id)
        guild.roles.append(Role(gid, "@everyone", EVERYONE_PERMISSIONS))
        bot_role = Role(self.ids.next(), self.bot.name, BOT_PERMISSIONS, position=1, managed=True)
        guild.roles.append(bot_role)
        guild.members[self.bot.id] = [bot_role.id]
        self.guilds[gid] = guild
        self.emit("GUILD_CREATE", self.guild_payload(guild), intent=GUILDS)
        return guild

    def add_member(self, guild_id: int, user: User, roles: tuple[int, ...] = ()) -> None:
        self.guilds[guild_id].members[user.id] = list(roles)

    def add_role(self, guild_id: int, name: str, permissions: int = 0) -> Role:
        guild = self.guilds[guild_id]
        role = Role(self.ids.next(), name, permissions, position=len(guild.roles))
        guild.roles.append(role)
        data = {"guild_id": str(guild_id), "role": role_json(guild)[-1]}
        self.emit("GUILD_ROLE_CREATE", data, intent=GUILDS)
        return role

    def add_channel(
        self, guild_id: int, name: str, *, denied: tuple[str, ...] = (), kind: str = "text"
    ) -> Channel:
        """A guild channel; ``kind``: "text", "voice" (its text chat takes messages), "news"
        (announcements: threads are type 10) or "forum" (posts are threads; no messages)."""
        for perm in denied:
            assert perm in PERMISSIONS, perm
        chan = Channel(
            self.ids.next(),
            CHANNEL_KINDS[kind],
            name,
            guild_id=guild_id,
            denied=set(denied),
            position=len(self.guilds[guild_id].channel_ids),
        )
        self.channels[chan.id] = chan
        self.guilds[guild_id].channel_ids.append(chan.id)
        self.emit("CHANNEL_CREATE", self.channel_payload(chan), intent=GUILDS)
        return chan

    def add_thread(
        self,
        parent_id: int,
        name: str,
        *,
        owner: User | None = None,
        message_id: int | None = None,
        private: bool = False,
        thread_id: int | None = None,
    ) -> Channel:
        """A thread (started from ``message_id`` if given: it then has the message's id)."""
        parent = self.channel(parent_id)
        tid = message_id or thread_id or self.ids.next()
        kind = PRIVATE_THREAD if private else PUBLIC_THREAD
        if parent.type == GUILD_NEWS:
            kind = ANNOUNCEMENT_THREAD
        thread = Channel(
            tid,
            kind,
            name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=(owner or self.bot).id,
            denied=set(parent.denied),
        )
        self.channels[tid] = thread
        if message_id is not None:
            self.messages[message_id].thread_id = tid
        data = self.channel_payload(thread)
        data["newly_created"] = True
        self.emit("THREAD_CREATE", data, intent=GUILDS)
        return thread

    def dm_channel(self, user: User) -> Channel:
        for chan in self.channels.values():
            if chan.type == DM and chan.recipient_id == user.id:
                return chan
        chan = Channel(self.ids.next(), DM, recipient_id=user.id)
        self.channels[chan.id] = chan
        return chan

    def deny(self, channel_id: int, *perms: str) -> None:
        """The bot loses ``perms`` (names in rules.PERMISSIONS) here; CHANNEL_UPDATE follows."""
        chan = self.channel(channel_id)
        chan.denied.update(perms)
        self.changed_channel(chan)

    def allow(self, channel_id: int, *perms: str) -> None:
        chan = self.channel(channel_id)
        chan.denied.difference_update(perms)
        self.changed_channel(chan)

    def archive(self, thread_id: int, *, locked: bool = False) -> None:
        """A moderator (or Discord's inactivity timer) archives the thread; THREAD_UPDATE."""
        chan = self.channel(thread_id)
        assert chan.is_thread, "only threads are archived"
        chan.archived, chan.locked = True, locked
        self.changed_channel(chan)

    def remove_guild(self, guild_id: int) -> None:
        """The bot is kicked: GUILD_DELETE (without ``unavailable``), its channels are gone."""
        guild = self.guilds.pop(guild_id)
        for chan in self.channels.values():
            if chan.guild_id == guild.id:
                chan.deleted = True
        self.emit("GUILD_DELETE", {"id": str(guild.id)}, intent=GUILDS)

    def delete_channel(self, channel_id: int) -> None:
        chan = self.channel(channel_id)
        chan.deleted = True
        if chan.is_thread:
            data = {
                "id": str(chan.id),
                "guild_id": str(chan.guild_id),
                "parent_id": str(chan.parent_id),
                "type": chan.type,
            }
            self.emit("THREAD_DELETE", data, intent=GUILDS)
        else:
            self.emit("CHANNEL_DELETE", self.channel_payload(chan), intent=GUILDS)
