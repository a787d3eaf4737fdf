"""Interaction callbacks and the webhook routes of follow-ups and @original (no bot auth).

Callback types (discord-api-docs interactions/receiving-and-responding): 4 reply, 5 deferred
reply ("thinking", a loading message), 6 deferred update and 7 update (component interactions
only), 8 autocomplete, 9 modal. The callback must come within 3 s (else 404 10062), only once
(else 400 40060); follow-ups and @original work for 15 minutes (then 401 50027, APPROX)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tests.fake_discord import rules
from tests.fake_discord.messages import apply_edit, build_message, remove_message
from tests.fake_discord.models import Call, InteractionRecord, StoredMessage
from tests.fake_discord.routing import Handler, Result

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

EPHEMERAL = 64
LOADING = 128


async def callback(fake: FakeDiscord, call: Call) -> Result:
    rec = fake.interactions.get(int(call.params["interaction_id"]))
    if rec is None or rec.token != call.params["token"]:
        raise rules.unknown_interaction()
    if rec.acknowledged:
        raise rules.already_acknowledged()
    if time.monotonic() - rec.created > fake.interaction_response_s:
        raise rules.unknown_interaction()
    body = call.json if isinstance(call.json, dict) else {}
    kind = int(body.get("type") or 0)
    data = body.get("data") or {}
    if kind in (6, 7) and rec.type not in (3, 5) or kind == 9 and rec.type == 5:
        raise rules.invalid_form(
            "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
        )  # APPROX
    if (kind == 8) != (rec.type == 4):  # autocomplete is answered with choices, only
        raise rules.invalid_form(
            "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
        )  # APPROX
    if kind not in (4, 5, 6, 7, 8, 9):
        raise rules.invalid_form("type", "BASE_TYPE_CHOICES", "Value must be one of (4..9).")
    resource: dict[str, Any] = {"type": kind}
    message: StoredMessage | None = None
    if kind in (4, 5):
        message = _response_message(fake, rec, call, data, loading=kind == 5)
        rec.original_id = message.id
    elif kind in (6, 7):
        rec.original_id = rec.message_id
        if rec.message_id is None:  # a modal submitted from a slash command has no message
            raise rules.invalid_form(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
            )  # APPROX
        if kind == 7:
            target = fake.messages[rec.message_id or 0]
            apply_edit(
                fake,
                target,
                Call(call.method, call.route, call.path, call.params, call.query, data, call.files),
            )
            message = target
    rec.responses.append(body)
    if message is not None:
        resource["message"] = fake.message_payload(message)
    fake.notify()
    if call.query.get("with_response") not in ("1", "true", "True"):
        return 204, None
    return 200, {
        "interaction": {
            "id": str(rec.id),
            "type": rec.type,
            "response_message_id": str(message.id) if message else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
        },
        "resource": resource,
    }


def _response_message(
    fake: FakeDiscord, rec: InteractionRecord, call: Call, data: dict[str, Any], *, loading: bool
) -> StoredMessage:
    chan = fake.channels.get(rec.channel_id)
    guild_id = chan.guild_id if chan else None
    if loading:
        msg = StoredMessage(
            fake.ids.next(),
            rec.channel_id,
            fake.bot,
            guild_id=guild_id,
            flags=LOADING | (int(data.get("flags") or 0) & EPHEMERAL),
        )
    else:
        sub = Call(call.method, call.route, call.path, call.params, call.query, data, call.files)
        msg = build_message(fake, rec.channel_id, guild_id, sub, webhook=True)
        msg.flags |= int(data.get("flags") or 0) & EPHEMERAL
    _mark(fake, rec, msg)
    return fake.store_message(msg)


def _mark(fake: FakeDiscord, rec: InteractionRecord, msg: StoredMessage) -> None:
    msg.webhook_id = fake.app_id
    msg.interaction_id = rec.id
    if rec.type == 2:
        msg.type = 20  # CHAT_INPUT_COMMAND


def _by_token(fake: FakeDiscord, call: Call) -> InteractionRecord:
    if call.params.get("app_id") != str(fake.app_id):
        raise rules.unknown_webhook()
    rec = fake.interactions_by_token.get(call.params["token"])
    if rec is None:
        raise rules.unknown_webhook()
    if time.monotonic() - rec.created > fake.interaction_token_s:
        raise rules.invalid_webhook_token()
    return rec


def _message_of(fake: FakeDiscord, rec: InteractionRecord, call: Call) -> StoredMessage:
    which = call.params.get("message_id", "@original")
    mid = rec.original_id if which == "@original" else int(which)
    if which != "@original" and mid not in rec.followups:
        raise rules.unknown_message()
    msg = fake.messages.get(mid or 0)
    if msg is None or msg.deleted:
        raise rules.unknown_message()
    return msg


async def followup(fake: FakeDiscord, call: Call) -> Result:
    rec = _by_token(fake, call)
    if not rec.acknowledged:
        raise rules.unknown_webhook()  # APPROX: follow-ups need an acknowledged interaction
    chan = fake.channels.get(rec.channel_id)
    guild_id = chan.guild_id if chan else None
    msg = build_message(fake, rec.channel_id, guild_id, call, webhook=True)
    body = call.json if isinstance(call.json, dict) else {}
    msg.flags |= int(body.get("flags") or 0) & EPHEMERAL
    _mark(fake, rec, msg)
    rec.followups.append(msg.id)
    fake.store_message(msg)
    if call.query.get("wait") in ("0", "false", "False"):
        return 204, None
    return 200, fake.message_payload(msg)


async def get_webhook_message(fake: FakeDiscord, call: Call) -> Result:
    rec = _by_token(fake, call)
    return 200, fake.message_payload(_message_of(fake, rec, call))


async def edit_webhook_message(fake: FakeDiscord, call: Call) -> Result:
    rec = _by_token(fake, call)
    msg = _message_of(fake, rec, call)
    apply_edit(fake, msg, call)
    return 200, fake.message_payload(msg)


async def delete_webhook_message(fake: FakeDiscord, call: Call) -> Result:
    rec = _by_token(fake, call)
    remove_message(fake, _message_of(fake, rec, call))
    return 204, None


WEBHOOK_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/interactions/{interaction_id}/{token}/callback", callback),
    ("POST", "/webhooks/{app_id}/{token}", followup),
    ("GET", "/webhooks/{app_id}/{token}/messages/@original", get_webhook_message),
    ("PATCH", "/webhooks/{app_id}/{token}/messages/@original", edit_webhook_message),
    ("DELETE", "/webhooks/{app_id}/{token}/messages/@original", delete_webhook_message),
    ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", get_webhook_message),
    ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", edit_webhook_message),
    ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", delete_webhook_message),
]
