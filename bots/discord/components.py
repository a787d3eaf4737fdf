"""Buttons as Discord components: the ``custom_id`` is the engine's stored short token, and one
dynamic item class, registered at every start-up, answers presses of any message ever sent
(so buttons keep working after a restart)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from core.platform.types import ButtonRows

PREFIX = "a:"
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
ROWS = 5  # action rows per message
PER_ROW = 5  # buttons per row
TEMPLATE = re.compile(r"a:(?P<token>[A-Za-z0-9_-]{1,90})(?::\d{1,2})?$")

OnPress = Callable[[discord.Interaction[Any], str], Awaitable[None]]


def custom_id(token: str, n: int = 0) -> str:
    """The component id of the button stored under ``token``; ``n`` > 0 keeps two buttons of
    the same action on one message distinct (ids must be unique within a message)."""
    cid = f"{PREFIX}{token}" + (f":{n}" if n else "")
    if len(cid) > CUSTOM_ID_LIMIT or TEMPLATE.match(cid) is None:
        raise ValueError(f"not a usable button token: {token!r}")
    return cid


def token_of(cid: str) -> str | None:
    """The stored token in a pressed component's id, or None when it is not one of ours."""
    m = TEMPLATE.match(cid)
    return m.group("token") if m else None


def layout(rows: ButtonRows) -> list[list[tuple[str, str]]]:
    """``(label, custom_id)`` rows within Discord's limits: at most 5 rows of 5, labels of at
    most 80 characters, every id unique in the message. Buttons past 25 are left out (they
    can still be typed: /help lists the typed forms)."""
    flat_rows: list[list[tuple[str, str]]] = []
    seen: dict[str, int] = {}
    for row in rows.rows:
        cells: list[tuple[str, str]] = []
        for button in row:
            if not button.token:
                continue
            n = seen.get(button.token, 0)
            seen[button.token] = n + 1
            label = button.label if len(button.label) <= LABEL_LIMIT else (
                button.label[: LABEL_LIMIT - 1] + "…"
            )
            cells.append((label or "·", custom_id(button.token, n)))
        for i in range(0, len(cells), PER_ROW):
            flat_rows.append(cells[i : i + PER_ROW])
    return flat_rows[:ROWS]


def action_button_class(on_press: OnPress) -> type[discord.ui.DynamicItem[discord.ui.Button[Any]]]:
    """The dynamic item the client registers at start-up (``add_dynamic_items``): any press
    of a component whose id matches ``a:<token>`` calls ``on_press(interaction, token)``."""

    class ActionButton(
        discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE.pattern
    ):
        def __init__(self, label: str, cid: str, row: int | None = None) -> None:
            super().__init__(
                discord.ui.Button(
                    label=label, custom_id=cid, style=discord.ButtonStyle.secondary, row=row
                )
            )

        @classmethod
        async def from_custom_id(
            cls,
            interaction: discord.Interaction[Any],
            item: discord.ui.Item[Any],
            match: re.Match[str],
            /,
        ) -> ActionButton:
            label = getattr(item, "label", None) or "·"
            return cls(label, match.group(0))

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            token = token_of(self.custom_id)
            if token is not None:
                await on_press(interaction, token)

    return ActionButton


def view_of(
    rows: ButtonRows, button_class: type[discord.ui.DynamicItem[discord.ui.Button[Any]]]
) -> discord.ui.View | None:
    """A persistent view (no timeout) of ``rows``; None when no button is left."""
    cells = layout(rows)
    if not cells:
        return None
    view = discord.ui.View(timeout=None)
    for r, row in enumerate(cells):
        for label, cid in row:
            view.add_item(button_class(label, cid, r))  # type: ignore[call-arg]
    return view
