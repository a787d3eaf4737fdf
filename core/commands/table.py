"""The one table of commands, and the parser that finds a command in a message text."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command users can type. ``enabled`` is false until its feature lands."""

    name: str
    aliases: tuple[str, ...] = ()
    enabled: bool = True
    hidden: bool = False  # sent by buttons, not typed: left out of /help and the menus
    # The typed form of a button (/u2, /continue): the engine finds the result it acts on and
    # runs that button's action. Listed in /help on one line of their own, not in the menus.
    typed: bool = False

    @property
    def help_key(self) -> str:
        return f"help.{self.name}"


# The only list of commands: the parser, /help and the platforms' command menus read it.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start"),
    CommandSpec("help"),
    CommandSpec("reset", aliases=("new",)),
    CommandSpec("model"),
    CommandSpec("models"),
    CommandSpec("system"),
    CommandSpec("vision"),
    CommandSpec("img"),
    CommandSpec("describe"),
    CommandSpec("blend"),
    CommandSpec("jobs"),
    CommandSpec("song"),
    CommandSpec("lyrics"),
    CommandSpec("video"),
    CommandSpec("tts"),
    CommandSpec("voice"),
    CommandSpec("whoami"),
    CommandSpec("usage"),
    CommandSpec("forget"),
    CommandSpec("allow"),
    CommandSpec("block"),
    CommandSpec("unblock"),
    CommandSpec("stats"),
    CommandSpec("mj", hidden=True),
    *(CommandSpec(f"{kind}{n}", hidden=True, typed=True) for kind in "uv" for n in range(1, 5)),
    *(
        CommandSpec(name, hidden=True, typed=True)
        for name in ("reroll", "zoom", "vary", "pan", "upscale", "imagine", "continue", "extend")
    ),
    CommandSpec("resend", hidden=True, typed=True),
)

_BY_NAME: dict[str, CommandSpec] = {
    name: spec for spec in COMMANDS for name in (spec.name, *spec.aliases)
}


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command.

    ``spec`` is ``None`` for an unknown command; ``name`` is then what the user typed,
    lower-cased. ``mention`` is the ``@BotName`` suffix, if any, for adapters that must tell
    whether a group command was meant for them.
    """

    name: str
    args: str
    spec: CommandSpec | None
    mention: str | None = None


# "/" or the full-width "／" of Chinese input methods, a name, an optional @bot, then the rest.
_COMMAND_RE = re.compile(
    r"^[/／](?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<mention>[A-Za-z0-9_]{1,64}))?(?=$|[\s\u3000])"
    r"[\s\u3000]*(?P<args>.*)$",
    re.DOTALL,
)


def parse_command(text: str) -> Command | None:
    """The command at the start of ``text``, or ``None`` when the text is chat."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return None
    name = match["name"].lower()
    spec = _BY_NAME.get(name)
    return Command(
        name=spec.name if spec else name,
        args=match["args"].strip(),
        spec=spec,
        mention=match["mention"],
    )
