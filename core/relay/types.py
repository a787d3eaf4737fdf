"""Values exchanged with the relay client: chat messages in, deltas and results out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat request; ``images`` are data URIs sent as ``image_url`` parts."""

    role: Role
    content: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the relay reported for one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of answer text (reasoning already removed)."""

    text: str


@dataclass(frozen=True, slots=True)
class ChatEnd:
    """The last event of a stream.

    ``truncated`` is true when the stream ended without ``[DONE]`` (connection cut, relay idle
    timeout); the text yielded so far is then a partial answer.
    """

    request_id: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    truncated: bool = False


ChatEvent = ChatDelta | ChatEnd


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A whole (non-streamed) answer."""

    text: str
    request_id: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
