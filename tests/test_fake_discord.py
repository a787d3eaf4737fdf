"""The fake Discord against the real discord.py 2.7 client: does it answer like Discord?"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fake_discord import FakeDiscord, new_client, running, start_failure
from tests.fake_discord.harness import pointed_at
from tests.fake_discord.recorder import Recorder, World, small_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with small_world() as w:
        yield w


async def test_login_ready_with_guilds(world: World) -> None:
    client = new_client()
    async with running(world.fake, client):
        assert client.user is not None and client.user.id == world.fake.bot.id
        guild = client.get_guild(world.guild.id)
        assert guild is not None and guild.name == "Relay Lab"
        channel = guild.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        assert guild.me is not None
        assert channel.permissions_for(guild.me).send_messages
        assert client.application_id == world.fake.app_id
    assert world.fake.count("GET /users/@me") == 1
    assert world.fake.gateway.identifies() == 1


async def test_bad_token_is_a_login_failure(world: World) -> None:
    exc = await start_failure(world.fake, new_client(), token="not-the-token")
    assert isinstance(exc, discord.LoginFailure)
    assert world.fake.count("GET /users/@me", status=401) == 1


async def test_json_content_type_is_exact(world: World) -> None:
    async with aiohttp.ClientSession() as http:
        url = world.fake.api_base + "/users/@me"
        async with http.get(url, headers={"Authorization": f"Bot {world.fake.token}"}) as resp:
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(url) as resp:
            assert resp.status == 401
            assert await resp.json() == {"message": "401: Unauthorized", "code": 0}


async def test_user_message_reaches_on_message(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        first = await fake.user_says(world.general.id, "earlier", author=world.alice)
        msg = await fake.user_says(
            world.general.id,
            f"{fake.mention()} what is this?",
            author=world.alice,
            reference=first.id,
            attachments=[("cat.png", b"\x89PNG-bytes", "image/png")],
        )
        got = await client.message(msg.id)
        assert got.content == f"<@{fake.bot.id}> what is this?"
        assert client.user in got.mentions
        assert got.reference is not None and got.reference.message_id == first.id
        assert got.author.id == world.alice.id
        assert isinstance(got.author, discord.Member)
        [att] = got.attachments
        assert att.filename == "cat.png" and att.content_type == "image/png"
        assert await att.read() == b"\x89PNG-bytes"


async def test_without_message_content_intent_guild_text_is_empty(world: World) -> None:
    fake = world.fake
    client = Recorder(message_content=False)
    async with running(fake, client):
        plain = await fake.user_says(world.general.id, "hello all", author=world.alice)
        tagged = await fake.user_says(world.general.id, f"{fake.mention()} hi", author=world.alice)
        assert (await client.message(plain.id)).content == ""
        assert (await client.message(tagged.id)).content == f"<@{fake.bot.id}> hi"


async def test_send_edit_and_limits_are_recorded(world: World) -> None:
    fake, client = world.fake, new_client()
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("part one", file=discord.File(io.BytesIO(b"abc"), "a.txt"))
        await sent.edit(content="part one, more")
        stored = fake.messages[sent.id]
        assert stored.history == ["part one", "part one, more"]
        assert stored.attachments[0].data == b"abc"
        assert fake.texts(world.general.id) == ["part one, more"]
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "2000 or fewer" in str(too_long.value)
        fake.upload_limit = 10
        with pytest.raises(discord.HTTPException) as too_big:
            await channel.send(file=discord.File(io.BytesIO(b"y" * 11), "big.bin"))
        assert too_big.value.status == 413 and too_big.value.code == 40005
        with pytest.raises(discord.NotFound) as gone:
            await channel.fetch_message(12345)
        assert gone.value.code == 10008


async def test_missing_permissions_is_forbidden(world: World) -> None:
    fake, client = world.fake, new_client()
    fake.deny(world.general.id, "send_messages")
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel) and channel.guild.me is not None
        assert not channel.permissions_for(channel.guild.me).send_messages
        with pytest.raises(discord.Forbidden) as denied:
            await channel.send("hi")
        assert denied.value.code == 50013


async def test_429_is_waited_out_and_retried(world: World) -> None:
    fake, client = world.fake, new_client()
    route = "POST /channels/{channel_id}/messages"
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        fake.limits.inject(route, retry_after=0.05)
        await channel.send("after the wait")
        assert fake.count(route, status=429) == 1
        assert fake.count(route, status=200) == 1
        fake.limits.inject(route, retry_after=0.05, via=False)
        with pytest.raises(discord.HTTPException) as banned:
            await channel.send("no Via: a Cloudflare ban to discord.py")
        assert banned.value.status == 429


async def test_bucket_headers_pace_the_client(world: World) -> None:
    fake, client = world.fake, new_client()
    fake.limits.set("messages", 2, 0.2)
    route = "POST /channels/{channel_id}/messages"
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        await asyncio.gather(*(channel.send(f"m{i}") for i in range(5)))
        assert fake.count(route, status=200) == 5
        assert fake.limits.hits == []  # the headers made discord.py wait: never a 429
        assert sorted(fake.texts(world.general.id)) == [f"m{i}" for i in range(5)]


async def test_slash_sync_defer_and_followup(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)
    answered = asyncio.Event()

    @tree.command(name="chat", description="Talk")
    @app_commands.describe(prompt="what to say")
    async def chat(
        interaction: discord.Interaction, prompt: str, image: discord.Attachment | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        data = await image.read() if image else b""
        await interaction.followup.send(f"echo {prompt} {len(data)}")
        await interaction.edit_original_response(content="done")
        answered.set()

    async with running(fake, client):
        synced = await tree.sync()
        assert [c.name for c in synced] == ["chat"]
        assert fake.commands()[0]["options"][0]["name"] == "prompt"
        image = ("i.png", b"12345", "image/png")
        rec = await fake.slash(
            "chat",
            {"prompt": "hi"},
            channel_id=world.general.id,
            user=world.alice,
            attachments={"image": image},
        )
        await asyncio.wait_for(answered.wait(), 5)
        assert rec.response_types == [5]
        original = fake.messages[rec.original_id or 0]
        assert original.content == "done" and not original.flags & 128
        [follow] = [fake.messages[m] for m in rec.followups]
        assert follow.content == "echo hi 5"
        with pytest.raises(discord.HTTPException) as twice:
            await fake_callback(fake, rec.id, rec.token)
        assert twice.value.code == 40060


async def fake_callback(fake: FakeDiscord, interaction_id: int, token: str) -> None:
    """A second acknowledgement through discord.py's own webhook adapter."""
    from discord.webhook.async_ import async_context, interaction_response_params

    adapter = async_context.get()
    async with aiohttp.ClientSession() as session, pointed_at(fake.api_base, fake.gateway_url):
        await adapter.create_interaction_response(
            interaction_id, token, session=session, params=interaction_response_params(5)
        )


async def test_button_press_reaches_a_persistent_view(world: World) -> None:
    fake, client = world.fake, new_client()
    pressed: list[str] = []

    class Persistent(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="U1", custom_id="mj:abc:u1")
        async def u1(
            self, interaction: discord.Interaction, button: discord.ui.Button[discord.ui.View]
        ) -> None:
            data: dict[str, object] = dict(interaction.data or {})
            pressed.append(str(data.get("custom_id")))
            await interaction.response.defer()

    async with running(fake, client):
        client.add_view(Persistent())
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("grid", view=Persistent())
        rec = await fake.press(sent.id, "mj:abc:u1", user=world.alice)
        await fake.wait_for(lambda: rec.acknowledged)
        assert pressed == ["mj:abc:u1"] and rec.response_types == [6]


async def test_forced_reconnect_resumes_and_replays(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        fake.gateway.open.clear()
        await fake.gateway.force_reconnect()
        missed = await fake.user_says(world.general.id, "while away", author=world.alice)
        fake.gateway.open.set()
        assert (await client.message(missed.id)).content == "while away"
        assert fake.gateway.resumes() == 1 and fake.gateway.identifies() == 1
        assert fake.gateway.handshakes[-1].path == "/resume-gateway/"


async def test_disallowed_intent_is_4014(world: World) -> None:
    world.fake.gateway.portal_intents = 0
    exc = await start_failure(world.fake, new_client())
    assert isinstance(exc, discord.PrivilegedIntentsRequired)
