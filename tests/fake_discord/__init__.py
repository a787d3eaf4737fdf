"""A fake Discord (REST, gateway, CDN) for running the real discord.py against; see
tests/test_fake_discord.py for its use and /work/wt/dfake.API.md for the API summary."""

from tests.fake_discord.harness import (
    intents,
    new_client,
    pointed_at,
    running,
    serving,
    start_failure,
)
from tests.fake_discord.models import Call, Channel, Guild, InteractionRecord, StoredMessage, User
from tests.fake_discord.rules import DiscordError
from tests.fake_discord.server import TOKEN, FakeDiscord

__all__ = [
    "TOKEN",
    "Call",
    "Channel",
    "DiscordError",
    "FakeDiscord",
    "Guild",
    "InteractionRecord",
    "StoredMessage",
    "User",
    "intents",
    "new_client",
    "pointed_at",
    "running",
    "serving",
    "start_failure",
]
