"""Who a message is from and where, as the ``platform:id`` strings the config uses."""

from __future__ import annotations

from dataclasses import dataclass

from core.platform.types import IncomingMessage

KINDS = ("chat_tokens", "images", "songs", "videos", "speech_chars")


@dataclass(frozen=True, slots=True)
class Who:
    """A user in a chat. ``chat`` is ``platform:chat_id`` in a group and "" in a private chat
    (a group's quotas count what its members use there; private use is the user's own)."""

    platform: str
    user_id: str
    chat_id: str
    group: bool

    @property
    def user(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def chat(self) -> str:
        return f"{self.platform}:{self.chat_id}" if self.group else ""

    @classmethod
    def of(cls, msg: IncomingMessage) -> Who:
        return cls(msg.platform, msg.user_id, msg.chat_id, msg.chat_type == "group")


def job_unit(family: str, kind: str) -> str | None:
    """The quota a job counts against: Midjourney -> images, Suno songs -> songs, videos ->
    videos; None for jobs no quota counts (Suno lyrics)."""
    if family == "mj":
        return "images"
    if family == "suno":
        return "songs" if kind == "music" else None
    if family == "video":
        return "videos"
    return None
