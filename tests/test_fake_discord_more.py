"""More of the fake Discord against the real discord.py: threads, DMs, interaction edge cases,
gateway breakage, rate-limit enforcement and the validation Discord does."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fake_discord import DiscordError, new_client, running, start_failure
from tests.fake_discord.recorder import Recorder, World, small_world

CREATE = "POST /channels/{channel_id}/messages"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with small_world() as w:
        yield w


def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_thread_from_a_message_and_a_message_in_it(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        question = await fake.user_says(
            world.general.id, f"{fake.mention()} hi", author=world.alice
        )
        message = await text_channel(client, world.general.id).fetch_message(question.id)
        thread = await message.create_thread(name="hi")
        assert thread.id == question.id and thread.parent_id == world.general.id
        await client.until(lambda: client.count("thread") == 1)
        assert [t.id for t in fake.threads(world.general.id)] == [thread.id]
        follow = await fake.user_says(thread.id, "and then?", author=world.alice)
        got = await client.message(follow.id)
        assert isinstance(got.channel, discord.Thread) and got.channel.parent_id == world.general.id
        await thread.send("in the thread")
        assert fake.texts(thread.id) == ["in the thread"]
        with pytest.raises(discord.HTTPException) as again:
            await message.create_thread(name="again")
        assert again.value.code == 160004


async def test_dm_open_send_receive_and_closed(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        user = await client.fetch_user(world.alice.id)
        dm = await user.create_dm()
        await dm.send("hello alice")
        assert fake.texts(dm.id) == ["hello alice"]
        said = await fake.user_says(dm.id, "hello bot", author=world.alice)
        got = await client.message(said.id)
        assert isinstance(got.channel, discord.DMChannel) and got.guild is None
        fake.dms_closed.add(world.alice.id)
        with pytest.raises(discord.Forbidden) as closed:
            await dm.send("again")
        assert closed.value.code == 50007


async def test_own_messages_edits_and_deletes_come_back_as_events(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        sent = await text_channel(client, world.general.id).send("mine")
        echoed = await client.message(sent.id)
        assert echoed.author == client.user
        await sent.edit(content="mine, edited")
        await client.until(lambda: client.count("edit") == 1)
        await sent.delete()
        await client.until(lambda: client.count("delete") == 1)
        assert fake.messages[sent.id].deleted and fake.texts(world.general.id) == []
        with pytest.raises(discord.NotFound):
            await sent.edit(content="gone")


async def test_interaction_reply_with_file_and_component_update(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)

    class Menu(discord.ui.View):
        @discord.ui.button(label="More", custom_id="more")
        async def more(
            self, interaction: discord.Interaction, button: discord.ui.Button[discord.ui.View]
        ) -> None:
            await interaction.response.edit_message(content="updated", view=None)

    @tree.command(name="img", description="Picture")
    async def img(interaction: discord.Interaction) -> None:
        picture = discord.File(io.BytesIO(b"PNG"), "cat.png")
        await interaction.response.send_message("here", file=picture, view=Menu())

    async with running(fake, client):
        await tree.sync()
        rec = await fake.slash("img", channel_id=world.general.id, user=world.alice)
        await fake.wait_for(lambda: rec.acknowledged)
        original = fake.messages[rec.original_id or 0]
        assert rec.response_types == [4] and original.content == "here"
        assert original.attachments[0].data == b"PNG" and original.interaction_id == rec.id
        press = await fake.press(original.id, "more", user=world.alice)
        await fake.wait_for(lambda: press.acknowledged)
        assert press.response_types == [7]
        assert original.history == ["here", "updated"] and original.components == []


async def test_late_callback_and_expired_token(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)
    errors: list[discord.HTTPException] = []
    done = asyncio.Event()

    @tree.command(name="slow", description="Too slow")
    async def slow(interaction: discord.Interaction) -> None:
        rec = fake.interactions[interaction.id]
        fake.expire(rec, 3.5)
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            errors.append(exc)
        fake.expire(rec, -3.5)  # young again: this defer is in time
        await interaction.response.defer()
        fake.expire(rec, 15 * 60)
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as exc:
            errors.append(exc)
        done.set()

    async with running(fake, client):
        await tree.sync()
        await fake.slash("slow", channel_id=world.general.id, user=world.alice)
        await asyncio.wait_for(done.wait(), 5)
    assert [(e.status, e.code) for e in errors] == [(404, 10062), (401, 50027)]


async def test_a_filesize_limit_by_boost_tier(world: World) -> None:
    fake, client = world.fake, new_client()
    boosted = fake.add_guild("Boosted", premium_tier=2)
    room = fake.add_channel(boosted.id, "room")
    fake.add_member(boosted.id, world.alice)
    tree = app_commands.CommandTree(client)
    limits: list[int] = []

    @tree.command(name="limit", description="Upload limit")
    async def limit(interaction: discord.Interaction) -> None:
        limits.append(interaction.filesize_limit)
        await interaction.response.send_message("ok", ephemeral=True)

    async with running(fake, client):
        await tree.sync()
        for channel in (world.general.id, room.id):
            rec = await fake.slash("limit", channel_id=channel, user=world.alice)
            await fake.wait_for(partial(getattr, rec, "acknowledged"))
        assert limits == [10 * 1024 * 1024, 50 * 1024 * 1024]
        assert fake.messages[rec.original_id or 0].flags & 64
        with pytest.raises(discord.NotFound):  # ephemeral: only its user sees it
            await client.http.get_message(room.id, rec.original_id or 0)


async def test_command_validation_and_localizations(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="help", description="Help")
    async def help_(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("help")

    async with running(fake, client):
        body = [
            {
                "name": "help",
                "description": "Help",
                "type": 1,
                "description_localizations": {"zh-CN": "帮助", "en-US": "Help"},
            }
        ]
        await client.http.bulk_upsert_guild_commands(fake.app_id, world.guild.id, body)
        stored = fake.commands(world.guild.id)[0]
        assert stored["description_localizations"]["zh-CN"] == "帮助"
        bad = [{"name": "help", "description": "Help", "description_localizations": {"zh": "x"}}]
        with pytest.raises(discord.HTTPException) as refused:
            await client.http.bulk_upsert_global_commands(fake.app_id, bad)
        assert refused.value.code == 50035
        with pytest.raises(discord.HTTPException):
            await client.http.bulk_upsert_global_commands(
                fake.app_id, [{"name": "Help", "description": "Help"}]
            )
        assert fake.global_commands == [] and len(fake.command_syncs) == 1


async def test_global_429_holds_every_request(world: World) -> None:
    fake, client = world.fake, new_client()
    async with running(fake, client):
        fake.limits.inject(CREATE, retry_after=0.05, is_global=True)
        await text_channel(client, world.general.id).send("after the global wait")
        assert fake.count(CREATE, status=429) == 1 and fake.count(CREATE, status=200) == 1


async def test_a_client_ignoring_the_headers_gets_429(world: World) -> None:
    fake = world.fake
    fake.limits.set("messages", 2, 30)
    url = f"{fake.api_base}/channels/{world.general.id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        for i in range(2):
            async with http.post(url, json={"content": str(i)}, headers=headers) as resp:
                assert resp.status == 200
                assert resp.headers["X-RateLimit-Remaining"] == str(1 - i)
        async with http.post(url, json={"content": "3"}, headers=headers) as resp:
            assert resp.status == 429 and resp.headers["Via"]
            body = await resp.json()
            assert body["global"] is False and 0 < body["retry_after"] <= 30
    assert fake.texts(world.general.id) == ["0", "1"]


class QuickIdentify(Recorder):
    """discord.py sleeps 5 s before every IDENTIFY but the first (Client.before_identify_hook,
    a documented override point); a test client skips that wait."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_drop_resumes_and_invalid_session_identifies_again(world: World) -> None:
    fake, client = world.fake, QuickIdentify()
    async with running(fake, client):
        assert fake.gateway.connections[0].compress  # zlib-stream, as discord.py asks
        await fake.gateway.drop(4000)
        await fake.wait_for(lambda: fake.gateway.resumes() == 1 and fake.gateway.connected())
        await fake.gateway.invalidate(resumable=False)
        await fake.wait_for(lambda: fake.gateway.identifies() == 2 and fake.gateway.connected())
        await client.until(lambda: client.count("ready") == 2)
        said = await fake.user_says(world.general.id, "still here", author=world.alice)
        assert (await client.message(said.id)).content == "still here"


async def test_4004_at_identify_is_connection_closed(world: World) -> None:
    world.fake.gateway.close_on_identify = 4004
    exc = await start_failure(world.fake, new_client())
    assert isinstance(exc, discord.ConnectionClosed) and exc.code == 4004


async def test_cdn_needs_the_signed_url(world: World) -> None:
    fake = world.fake
    msg = await fake.user_says(
        world.general.id, "file", author=world.alice, attachments=[("a.txt", b"A", "text/plain")]
    )
    url = msg.attachments[0].url
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200 and await resp.read() == b"A"
        async with http.get(url.split("?")[0]) as resp:
            assert resp.status == 404


async def test_injected_503_is_a_server_error(world: World) -> None:
    fake, client = world.fake, new_client()
    async with running(fake, client):
        fake.fail(CREATE, DiscordError(503, 0, "Service Unavailable"))
        with pytest.raises(discord.DiscordServerError):
            await text_channel(client, world.general.id).send("x")
        await text_channel(client, world.general.id).send("y")
        assert fake.texts(world.general.id) == ["y"]


async def test_history_newest_first(world: World) -> None:
    fake, client = world.fake, new_client()
    async with running(fake, client):
        for text in ("a", "b", "c"):
            await fake.user_says(world.general.id, text, author=world.alice)
        channel = text_channel(client, world.general.id)
        assert [m.content async for m in channel.history(limit=2)] == ["c", "b"]
