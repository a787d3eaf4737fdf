"""The fake Discord across client restarts and in DMs: buttons of old messages still reach a
new client, interactions work in DMs, replies may not ping, events arrive in order."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from tests.fake_discord import new_client, running
from tests.fake_discord.ratelimits import Limit
from tests.fake_discord.recorder import Recorder, World, small_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with small_world() as w:
        yield w


class Grid(discord.ui.View):
    def __init__(self, pressed: list[str]) -> None:
        super().__init__(timeout=None)
        self.pressed = pressed

    @discord.ui.button(label="U1", custom_id="mj:7:u1")
    async def u1(
        self, interaction: discord.Interaction, button: discord.ui.Button[discord.ui.View]
    ) -> None:
        self.pressed.append("u1")
        await interaction.response.defer()


async def test_a_button_of_an_old_message_reaches_a_restarted_client(world: World) -> None:
    fake = world.fake
    first = new_client()
    async with running(fake, first):
        channel = first.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        grid = await channel.send("job done", view=Grid([]))
    assert not fake.gateway.connected()
    pressed: list[str] = []
    second = new_client()
    async with running(fake, second):
        second.add_view(Grid(pressed))  # persistent: registered again at start-up
        await fake.gateway.wait_connected()
        rec = await fake.press(grid.id, "mj:7:u1", user=world.alice)
        await fake.wait_for(lambda: rec.acknowledged)
        assert pressed == ["u1"]
    assert fake.gateway.identifies() == 2 and fake.gateway.resumes() == 0


async def test_slash_in_a_dm_with_a_file_followup(world: World) -> None:
    fake, client = world.fake, new_client()
    tree = app_commands.CommandTree(client)
    where: list[type] = []

    @tree.command(name="tts", description="Speak")
    async def tts(interaction: discord.Interaction, text: str) -> None:
        where.append(type(interaction.channel))
        await interaction.response.defer(thinking=True)
        voice = discord.File(io.BytesIO(b"OggS..."), "speech.ogg")
        await interaction.followup.send(text, file=voice)

    dm = fake.dm_channel(world.alice)
    async with running(fake, client):
        await tree.sync()
        rec = await fake.slash("tts", {"text": "hello"}, channel_id=dm.id, user=world.alice)
        await fake.wait_for(lambda: rec.followups)
        [follow] = [fake.messages[m] for m in rec.followups]
        assert follow.content == "hello" and follow.attachments[0].data == b"OggS..."
        assert follow.channel_id == dm.id and follow.guild_id is None
        assert where == [discord.DMChannel]


async def test_a_reply_without_ping_and_without_content_intent_is_empty(world: World) -> None:
    fake, client = world.fake, Recorder(message_content=False)
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        answer = await channel.send("an answer")
        pinged = await fake.user_says(
            world.general.id, "thanks", author=world.alice, reference=answer.id
        )
        silent = await fake.user_says(
            world.general.id, "thanks", author=world.alice, reference=answer.id, ping_reply=False
        )
        got_pinged, got_silent = await client.message(pinged.id), await client.message(silent.id)
        assert client.user in got_pinged.mentions and got_pinged.content == "thanks"
        assert client.user not in got_silent.mentions and got_silent.content == ""
        assert got_silent.reference is not None and got_silent.reference.message_id == answer.id


async def test_wait_connected_and_events_in_order(world: World) -> None:
    fake, client = world.fake, Recorder()
    async with running(fake, client):
        session = await fake.gateway.wait_connected()
        said = [
            await fake.user_says(world.general.id, str(i), author=world.alice) for i in range(5)
        ]
        await client.message(said[-1].id)
        assert [m.content for m in client.seen] == ["0", "1", "2", "3", "4"]
        assert [f["s"] for f in session.sent] == list(range(1, len(session.sent) + 1))


async def test_unanswered_heartbeats_make_discord_py_resume(world: World) -> None:
    fake = world.fake
    fake.gateway.heartbeat_interval_ms = 50
    client = discord.Client(
        intents=new_client().intents, guild_ready_timeout=0.05, heartbeat_timeout=0.5
    )
    async with running(fake, client):
        fake.gateway.ack_heartbeats = False  # a zombie connection: nothing comes back
        await fake.wait_for(lambda: fake.gateway.resumes() >= 1, timeout=10)
        fake.gateway.ack_heartbeats = True
        await fake.gateway.wait_connected()
        assert fake.gateway.identifies() == 1


async def test_global_limit_429_is_waited_out(world: World) -> None:
    fake, client = world.fake, new_client()
    route = "POST /channels/{channel_id}/messages"
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        fake.limits.global_limit = Limit(2, 0.5)
        for i in range(3):
            await channel.send(str(i))
        assert fake.texts(world.general.id) == ["0", "1", "2"]
        assert fake.routes()[route] == 4 and fake.invalid_requests() == 1


async def test_discord_like_limits_pace_a_stream_of_edits(world: World) -> None:
    fake, client = world.fake, new_client()
    fake.limits.discord_like(scale=0.05)  # 5 per 0.25 s per channel
    async with running(fake, client):
        channel = client.get_channel(world.general.id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("a")
        for text in ("ab", "abc", "abcd", "abcde", "abcdef", "abcdefg"):
            message = await message.edit(content=text)
        assert fake.messages[message.id].history[-1] == "abcdefg"
        assert fake.limits.hits == []  # discord.py waited on the headers, never a 429


async def test_a_voice_message_arrives_as_one(world: World) -> None:
    fake, client = world.fake, Recorder()
    dm = fake.dm_channel(world.alice)
    async with running(fake, client):
        said = await fake.user_says(
            dm.id,
            "",
            author=world.alice,
            attachments=[("voice-message.ogg", b"OggS", "audio/ogg")],
            voice=True,
        )
        got = await client.message(said.id)
        assert got.flags.voice and got.attachments[0].is_voice_message()
        assert got.attachments[0].duration == 1.5 and await got.attachments[0].read() == b"OggS"
