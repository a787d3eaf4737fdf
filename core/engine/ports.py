"""Protocols of the engine's collaborators, so tests and later backends can stand in."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from core.relay.types import ChatEvent, ChatMessage


class ChatBackend(Protocol):
    """What the engine needs from the relay client."""

    def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], *, max_tokens: int | None = None
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream an answer: text deltas, then exactly one ``ChatEnd``."""
        ...

    async def list_models(self) -> list[str]:
        """The model ids the relay offers to this key."""
        ...
