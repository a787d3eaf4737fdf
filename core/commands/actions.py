"""Short, stable tokens for button actions, so callback data stays small and survives restarts."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Protocol

from core.platform.types import ButtonRows, ReplyEvent

TOKEN_BYTES = 9  # 12 base64url characters: collisions need ~2**36 distinct actions


def action_token(action: str) -> str:
    """The token of ``action``: the same action always gets the same token (no table growth
    when a menu is shown again), and it is 12 ASCII characters whatever the action's length."""
    digest = hashlib.blake2b(action.encode("utf-8"), digest_size=TOKEN_BYTES).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


class ActionStore(Protocol):
    async def save_actions(self, actions: dict[str, str]) -> None: ...


async def tokenize(store: ActionStore, event: ReplyEvent) -> ReplyEvent:
    """Give each button of ``event`` its stored token (other events pass unchanged)."""
    if not isinstance(event, ButtonRows):
        return event
    tokens: dict[str, str] = {}
    rows = []
    for row in event.rows:
        buttons = []
        for button in row:
            token = action_token(button.action)
            tokens[token] = button.action
            buttons.append(replace(button, token=token))
        rows.append(tuple(buttons))
    await store.save_actions(tokens)
    return ButtonRows(tuple(rows))
