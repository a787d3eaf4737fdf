"""What a route handler is: it gets the fake and the recorded call, returns status and body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.fake_discord.models import Call

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

Result = tuple[int, Any]  # (status, JSON body or None for 204)
Handler = Callable[["FakeDiscord", Call], Awaitable[Result]]
