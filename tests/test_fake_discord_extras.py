"""The fake Discord's rarer paths with the real discord.py: modals, archived threads, reply and
embed permissions, a kicked bot, and a sharded client that asks /gateway/bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import discord
import pytest
from discord import app_commands

from tests.fake_discord import DiscordError, new_client, running
from tests.fake_discord.harness import intents
from tests.fake_discord.recorder import Recorder, World, small_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with small_world() as w:
        yield w


def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_modal_opened_and_submitted(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)
    prompts: list[str] = []

    class SystemPrompt(discord.ui.Modal, title="System prompt"):
        text: discord.ui.TextInput[discord.ui.Modal] = discord.ui.TextInput(
            label="Prompt", custom_id="system:text"
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            prompts.append(self.text.value)
            await interaction.response.send_message("saved", ephemeral=True)

    @tree.command(name="system", description="Set the system prompt")
    async def system(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(SystemPrompt())

    async with running(fake, client):
        await tree.sync()
        rec = await fake.slash("system", channel_id=world.general.id, user=world.alice)
        await fake.wait_for(lambda: rec.acknowledged)
        assert rec.response_types == [9]
        sub = await fake.submit_modal(rec, {"system:text": "be brief"})
        await fake.wait_for(lambda: sub.acknowledged)
        assert prompts == ["be brief"]
        assert fake.messages[sub.original_id or 0].content == "saved"


async def test_archived_threads_reopen_unless_locked(world: World) -> None:
    fake, client = world.fake, new_client()
    open_thread = fake.add_thread(world.general.id, "open", owner=world.alice)
    locked = fake.add_thread(world.general.id, "locked", owner=world.alice)
    async with running(fake, client):
        fake.archive(open_thread.id)
        fake.archive(locked.id, locked=True)
        await client.http.send_message(open_thread.id, params=_text("back"))
        assert not fake.channels[open_thread.id].archived
        with pytest.raises(discord.HTTPException) as refused:
            await client.http.send_message(locked.id, params=_text("no"))
        assert refused.value.code == 50083


def _text(content: str) -> discord.http.MultipartParameters:
    return discord.http.handle_message_parameters(content=content)


async def test_reply_needs_history_and_embeds_need_embed_links(world: World) -> None:
    fake, client = world.fake, new_client()
    question = await fake.user_says(world.general.id, "q", author=world.alice)
    fake.deny(world.general.id, "embed_links")
    async with running(fake, client):
        channel = text_channel(client, world.general.id)
        sent = await channel.send("with embed", embed=discord.Embed(description="x"))
        assert fake.messages[sent.id].embeds == [] and sent.embeds == []
        fake.deny(world.general.id, "read_message_history")
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send("a reply", reference=channel.get_partial_message(question.id))
        assert refused.value.code == 160002


async def test_a_kicked_bot_gets_guild_delete(world: World) -> None:
    fake = world.fake
    removed = asyncio.Event()

    class Watcher(discord.Client):
        async def on_guild_remove(self, guild: discord.Guild) -> None:
            removed.set()

    client = Watcher(intents=intents(), guild_ready_timeout=0.05)
    async with running(fake, client):
        fake.remove_guild(world.guild.id)
        await asyncio.wait_for(removed.wait(), 5)
        assert client.get_guild(world.guild.id) is None
        with pytest.raises(discord.NotFound):
            await client.fetch_channel(world.general.id)


async def test_a_sharded_client_asks_gateway_bot(world: World) -> None:
    fake = world.fake
    client = discord.AutoShardedClient(intents=intents(), guild_ready_timeout=0.05)
    async with running(fake, client):
        assert client.shard_count == 1
        assert client.get_guild(world.guild.id) is not None
    assert fake.count("GET /gateway/bot") == 1
    assert [h.shard for h in fake.gateway.handshakes] == [(0, 1)]


async def test_roles_decide_member_permissions(world: World) -> None:
    fake, client = world.fake, new_client()
    mods = fake.add_role(world.guild.id, "mods", permissions=1 << 5)  # MANAGE_GUILD
    bob = fake.add_user("bob")
    fake.add_member(world.guild.id, bob, roles=(mods.id,))
    tree = app_commands.CommandTree(client)
    seen: dict[str, tuple[bool, bool]] = {}

    @tree.command(name="admin", description="Who may")
    async def admin(interaction: discord.Interaction) -> None:
        user = interaction.user
        assert isinstance(user, discord.Member)
        seen[user.name] = (
            user.guild_permissions.manage_guild,
            interaction.permissions.manage_guild,
        )
        await interaction.response.send_message("ok")

    async with running(fake, client):
        await tree.sync()
        guild = client.get_guild(world.guild.id)
        assert guild is not None and guild.me is not None
        assert guild.me.guild_permissions.manage_messages  # the bot's own role
        assert not guild.default_role.permissions.manage_messages
        for user in (world.alice, bob):
            rec = await fake.slash("admin", channel_id=world.general.id, user=user)
            await fake.wait_for(partial(getattr, rec, "acknowledged"))
    assert seen == {"alice": (False, False), "bob": (True, True)}


async def test_autocomplete_choices(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)
    models = ["gpt-test", "gpt-other", "claude-x"]

    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in models if m.startswith(current)]

    @tree.command(name="model", description="Pick a model")
    @app_commands.autocomplete(name=complete)
    async def model(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    async with running(fake, client):
        await tree.sync()
        rec = await fake.slash(
            "model",
            {"name": "gpt"},
            channel_id=world.general.id,
            user=world.alice,
            focused="name",
        )
        await fake.wait_for(partial(getattr, rec, "acknowledged"))
        assert rec.response_types == [8]
        choices = rec.responses[0]["data"]["choices"]
        assert [c["value"] for c in choices] == ["gpt-test", "gpt-other"]


async def test_answers_carry_their_interaction_and_starters_their_thread(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="chat", description="Talk")
    async def chat(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hello")

    async with running(fake, client):
        await tree.sync()
        rec = await fake.slash("chat", channel_id=world.general.id, user=world.alice)
        await fake.wait_for(partial(getattr, rec, "acknowledged"))
        answer = await text_channel(client, world.general.id).fetch_message(rec.original_id or 0)
        assert answer.interaction_metadata is not None
        assert answer.interaction_metadata.user.id == world.alice.id
        question = await fake.user_says(world.general.id, "q", author=world.alice)
        fetched = await text_channel(client, world.general.id).fetch_message(question.id)
        thread = await fetched.create_thread(name="q")
        again = await text_channel(client, world.general.id).fetch_message(question.id)
        assert again.thread is not None and again.thread.id == thread.id
        edited = await fake.user_edits(question.id, "q, edited")
        assert edited.history == ["q", "q, edited"]


async def test_voice_chat_news_and_forum_channels(world: World) -> None:
    fake, client = world.fake, Recorder()
    voice = fake.add_channel(world.guild.id, "lounge", kind="voice")
    news = fake.add_channel(world.guild.id, "news", kind="news")
    forum = fake.add_channel(world.guild.id, "help", kind="forum")
    async with running(fake, client):
        said = await fake.user_says(voice.id, f"{fake.mention()} hi", author=world.alice)
        got = await client.message(said.id)
        assert isinstance(got.channel, discord.VoiceChannel)
        with pytest.raises(discord.HTTPException) as no_thread:
            await got.create_thread(name="x")
        assert no_thread.value.code == 50024
        told = await fake.user_says(news.id, "announcement", author=world.alice)
        fetched = await text_channel(client, news.id).fetch_message(told.id)
        thread = await fetched.create_thread(name="talk")
        assert thread.type is discord.ChannelType.news_thread
        post, first = await fake.user_posts(forum.id, "Help!", "it broke", author=world.alice)
        got_first = await client.message(first.id)
        assert isinstance(got_first.channel, discord.Thread) and got_first.id == post.id
        assert isinstance(got_first.channel.parent, discord.ForumChannel)
        await got_first.channel.send("try again")
        assert fake.texts(post.id) == ["try again"]
        forum_channel = client.get_channel(forum.id)
        assert isinstance(forum_channel, discord.ForumChannel)
        mine = await forum_channel.create_thread(name="FAQ", content="read me")
        assert mine.message.id == mine.thread.id and fake.texts(mine.thread.id) == ["read me"]
        with pytest.raises(discord.HTTPException) as refused:
            await client.http.send_message(forum.id, params=_text("no"))
        assert refused.value.code == 40058


async def test_allowed_mentions_decide_who_is_pinged(world: World) -> None:
    fake, client = world.fake, new_client()
    question = await fake.user_says(world.general.id, "q", author=world.alice)
    text = f"@everyone look, {fake.mention(world.alice)}"
    async with running(fake, client):
        channel = text_channel(client, world.general.id)
        loud = await channel.send(text)
        assert loud.mention_everyone and [u.id for u in loud.mentions] == [world.alice.id]
        quiet = await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        assert not quiet.mention_everyone and quiet.mentions == []
        assert fake.messages[quiet.id].mentions == []
        reply = await channel.send("a", reference=channel.get_partial_message(question.id))
        assert [u.id for u in reply.mentions] == [world.alice.id]
        silent = await channel.send(
            "b", reference=channel.get_partial_message(question.id), mention_author=False
        )
        assert silent.mentions == []
        fake.deny(world.general.id, "mention_everyone")
        assert not fake.messages[(await channel.send("@everyone")).id].mention_everyone


async def test_a_held_route_answers_when_released(world: World) -> None:
    fake, client = world.fake, new_client()
    route = "POST /channels/{channel_id}/messages"
    async with running(fake, client):
        release = fake.hold(route)
        sending = asyncio.create_task(text_channel(client, world.general.id).send("slow"))
        await fake.wait_for(lambda: fake.held(route) == 1)
        assert fake.texts(world.general.id) == [] and not sending.done()
        release.set()
        sent = await sending
        assert fake.texts(world.general.id) == ["slow"] and fake.count(route, status=200) == 1
        fake.fail(route, DiscordError(503, 0, "Service Unavailable"), count=2)
        for _ in range(2):
            with pytest.raises(discord.DiscordServerError):
                await sent.reply("x")
        await sent.reply("ok")
        assert fake.texts(world.general.id) == ["slow", "ok"]
