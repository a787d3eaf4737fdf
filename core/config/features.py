"""Settings sections of the features: long jobs and pictures."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, PlainValidator, field_validator

from core.config.fields import Bool, PositiveInt, PositiveNumber, Text, _fail
from core.config.sections import Section

_MJ_MODES = ("fast", "relax", "turbo")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_RE = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)*{_LABEL}")


def _mj_mode(value: object) -> str:
    """'' or fast, relax, turbo; the route form ("mj-fast", "/mj-fast") is accepted too."""
    if value is None:
        return ""
    if isinstance(value, str):
        word = value.strip().strip("/").lower().removeprefix("mj-")
        if word in ("", *_MJ_MODES):
            return word
    raise _fail('must be "" or one of fast, relax, turbo')


def _media_host(value: object) -> str:
    """A host name (``files.my-relay.com``), an IP address or a network in CIDR form."""
    if isinstance(value, str) and value.strip():
        text = value.strip().lower().rstrip(".")
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            pass
        if _HOST_RE.fullmatch(text):
            return text
    raise _fail("must be a host name, an IP address or a CIDR network like 10.0.0.0/8")


MjMode = Annotated[str, PlainValidator(_mj_mode)]
MediaHost = Annotated[str, PlainValidator(_media_host)]


class JobsSettings(Section):
    """Long relay tasks: Midjourney, Suno and video."""

    max_running_per_user: PositiveInt = Field(default=3, description="Jobs one user may run.")
    max_parallel_deliveries: PositiveInt = Field(
        default=4, description="Finished jobs downloaded and sent at the same time."
    )
    mj_poll_interval_s: PositiveNumber = Field(
        default=5, description="Seconds between two looks at a Midjourney task."
    )
    mj_deadline_s: PositiveNumber = Field(
        default=600, description="Seconds after which a Midjourney task is given up."
    )
    mj_mode: MjMode = Field(
        default="", description="Midjourney speed mode of the relay: '', fast, relax, turbo."
    )
    suno_poll_interval_s: PositiveNumber = Field(
        default=5, description="Seconds between two looks at a Suno task."
    )
    suno_deadline_s: PositiveNumber = Field(
        default=600, description="Seconds after which a Suno task is given up."
    )
    video_poll_interval_s: PositiveNumber = Field(
        default=5, description="Seconds between two looks at a video task."
    )
    video_deadline_s: PositiveNumber = Field(
        default=1200, description="Seconds after which a video task is given up."
    )
    media_max_mb: PositiveNumber = Field(
        default=50, description="Largest result the bot downloads; larger ones go as a link."
    )
    media_timeout_s: PositiveNumber = Field(
        default=60, description="Seconds allowed to download one result."
    )
    media_allow_hosts: tuple[MediaHost, ...] = Field(
        default=(),
        description="Non-public hosts or networks results may still be downloaded from.",
    )

    @field_validator("media_allow_hosts", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class VisionSettings(Section):
    """Questions about photos."""

    max_side: PositiveInt = Field(default=1568, description="Longest side sent, in pixels.")
    max_kb: PositiveInt = Field(default=1500, description="Largest picture sent, in KB.")
    history_turns: PositiveInt = Field(
        default=3, description="Follow-up questions that still see the last picture."
    )
    recent_photo_s: PositiveNumber = Field(
        default=300, description="A /vision this soon after a photo is about that photo."
    )
    retention_h: PositiveNumber = Field(
        default=24, description="Hours a picture is kept for follow-ups."
    )
    name_model: Bool = Field(
        default=True, description="Name the vision model under an answer it gave."
    )


class VoiceSettings(Section):
    """Voice notes in, spoken replies out."""

    show_transcript: Bool = Field(
        default=True, description="Show what a voice note said before answering it."
    )
    tts_voice: Text = Field(default="alloy", description="Voice of spoken replies.")
    max_mb: PositiveNumber = Field(default=25, description="Largest voice note transcribed.")
    max_seconds: PositiveInt = Field(default=600, description="Longest voice note transcribed.")
