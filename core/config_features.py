"""Settings sections of the features: long jobs and pictures."""

from __future__ import annotations

from pydantic import Field

from core.config_errors import Bool, PositiveInt, PositiveNumber, Text
from core.config_platforms import _Section


class JobsSettings(_Section):
    """Long relay tasks (Midjourney now; Suno and video next)."""

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
    mj_mode: Text = Field(
        default="", description="Midjourney speed prefix of the relay: '', fast, relax, turbo."
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


class VisionSettings(_Section):
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


class VoiceSettings(_Section):
    """Voice notes in, spoken replies out."""

    show_transcript: Bool = Field(
        default=True, description="Show what a voice note said before answering it."
    )
    tts_voice: Text = Field(default="alloy", description="Voice of spoken replies.")
    max_mb: PositiveNumber = Field(default=25, description="Largest voice note transcribed.")
    max_seconds: PositiveInt = Field(default=600, description="Longest voice note transcribed.")
