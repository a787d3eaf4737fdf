"""The fake gateway's protocol, spoken by hand (what discord.py relies on, checked directly)."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fake_discord import FakeDiscord, serving
from tests.fake_discord.recorder import World, small_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with small_world() as w:
        yield w


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


def identify(token: str, intents: int = (1 << 0) | (1 << 9)) -> dict[str, Any]:
    return {"op": 2, "d": {"token": token, "intents": intents, "properties": {}}}


async def test_hello_heartbeat_identify_ready(world: World) -> None:
    fake = world.fake
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = await receive(ws)
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 1, "d": None})
        assert await receive(ws) == {"op": 11}
        await ws.send_json(identify(fake.token))
        ready = await receive(ws)
        assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
        assert ready["d"]["resume_gateway_url"].endswith("/resume-gateway/")
        assert ready["d"]["user"]["id"] == str(fake.bot.id)
        guild = await receive(ws)
        assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
        assert guild["d"]["roles"][0]["id"] == str(world.guild.id)  # @everyone
        assert str(fake.bot.id) in [m["user"]["id"] for m in guild["d"]["members"]]


async def test_zlib_stream_frames_end_with_a_sync_flush(world: World) -> None:
    url = world.fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for _ in range(2):
            await ws.send_json({"op": 1, "d": None})
        frames = [await ws.receive(timeout=5) for _ in range(3)]
    assert all(f.type is aiohttp.WSMsgType.BINARY for f in frames)
    assert all(f.data.endswith(b"\x00\x00\xff\xff") for f in frames)
    ops = [json.loads(inflate.decompress(f.data))["op"] for f in frames]  # one shared context
    assert ops == [10, 11, 11]


async def test_wrong_order_and_twice_close_the_socket(world: World) -> None:
    fake = world.fake
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_json({"op": 3, "d": {"status": "online"}})
            closed = await ws.receive(timeout=5)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4003)
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_json(identify(fake.token))
            await ws.send_json(identify(fake.token))
            msg = await ws.receive(timeout=5)
            while msg.type is aiohttp.WSMsgType.TEXT:  # READY, GUILD_CREATE if written first
                msg = await ws.receive(timeout=5)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4005)


async def test_garbage_and_unknown_opcodes_close_the_socket(world: World) -> None:
    fake = world.fake
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_str("{not json")
            closed = await ws.receive(timeout=5)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4002)
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_json(identify(fake.token))
            await ws.send_json({"op": 42, "d": None})
            msg = await ws.receive(timeout=5)
            while msg.type is aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=5)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4001)


async def test_resume_replays_missed_events_and_a_clean_close_ends_the_session(
    world: World,
) -> None:
    fake = world.fake
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_json(identify(fake.token))
            ready = await receive(ws)
            await receive(ws)  # GUILD_CREATE, s=2
            session_id = ready["d"]["session_id"]
            await ws.close(code=4000)
        await fake.wait_for(lambda: not fake.gateway.connected())
        missed = await fake.user_says(world.general.id, "while away", author=world.alice)
        async with http.ws_connect(ready["d"]["resume_gateway_url"]) as ws:
            await receive(ws)
            await ws.send_json(
                {"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": 2}}
            )
            replay, resumed = await receive(ws), await receive(ws)
            assert (replay["t"], replay["s"], replay["d"]["id"]) == (
                "MESSAGE_CREATE",
                3,
                str(missed.id),
            )
            assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)
            await ws.close(code=1000)
        await fake.wait_for(lambda: not fake.gateway.sessions)
        async with http.ws_connect(fake.gateway_url) as ws:
            await receive(ws)
            await ws.send_json(
                {"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": 4}}
            )
            assert await receive(ws) == {"op": 9, "d": False}


async def test_intents_decide_what_is_dispatched(world: World) -> None:
    fake = world.fake
    dm = fake.dm_channel(world.alice)
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        await receive(ws)
        await ws.send_json(identify(fake.token, intents=1 << 12))  # direct messages only
        assert (await receive(ws))["t"] == "READY"  # no GUILD_CREATE without GUILDS
        await fake.user_says(world.general.id, "guild", author=world.alice)
        said = await fake.user_says(dm.id, "dm", author=world.alice)
        event = await receive(ws)
        assert (event["t"], event["d"]["id"], event["d"]["content"]) == (
            "MESSAGE_CREATE",
            str(said.id),
            "dm",
        )
        assert "guild_id" not in event["d"]


async def test_too_many_payloads_close_with_4008(world: World) -> None:
    fake = world.fake
    fake.gateway.send_limit = 3
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        await receive(ws)
        await ws.send_json(identify(fake.token))
        for _ in range(3):
            await ws.send_json({"op": 3, "d": {"status": "online", "since": 0, "afk": False}})
        msg = await ws.receive(timeout=5)
        while msg.type is aiohttp.WSMsgType.TEXT:
            msg = await ws.receive(timeout=5)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4008)


async def test_files_made_before_start_get_the_served_address() -> None:
    fake = FakeDiscord()
    guild = fake.add_guild()
    chan = fake.add_channel(guild.id, "early")
    att = fake.new_attachment(chan.id, "early.txt", b"E", "text/plain")
    async with serving(fake), aiohttp.ClientSession() as http, http.get(att.url) as resp:
        assert att.url.startswith(fake.base_url + "/attachments/")
        assert await resp.read() == b"E"
