"""The texts of /usage, /usage all and /stats."""

from __future__ import annotations

from core.access.ids import KINDS, Who
from core.access.quotas import Window
from core.access.store import AccessStore
from core.config.access import QuotaSettings
from core.texts.i18n import Lang, t

TOP_USERS = 5


async def user_usage(
    store: AccessStore, who: Who, quotas: QuotaSettings, win: Window, lang: Lang, admin: bool
) -> str:
    lines = [t("usage.head", lang, who=who.user, tz=quotas.timezone)]
    for kind in KINDS:
        today = await store.used_by_user(who, kind, win.day_start)
        month = await store.used_by_user(who, kind, win.month_start)
        limit = 0 if admin else int(getattr(quotas.per_user_daily, kind))
        of = t("usage.of_limit", lang, max=limit) if limit else ""
        what = t(f"usage.what.{kind}", lang)
        lines.append(t("usage.line", lang, what=what, today=today, limit=of, month=month))
    return "\n".join(lines)


async def all_usage(
    store: AccessStore, quotas: QuotaSettings, win: Window, lang: Lang, month: bool
) -> str:
    since = win.month_start if month else win.day_start
    period = t("usage.all.month" if month else "usage.all.today", lang)
    lines = [t("usage.all.head", lang, period=period, tz=quotas.timezone)]
    totals = [row for row in await store.totals(since) if row[0] in KINDS]
    lines.append(t("usage.all.models", lang))
    if not totals:
        lines.append(t("usage.all.none", lang))
    for kind, model, amount, count in totals:
        lines.append(f"• {t(f'usage.what.{kind}', lang)} {model or '-'}: {amount} ({count}×)")
    lines.append(t("usage.all.top", lang))
    top = await store.top_users(since, TOP_USERS)
    if not top:
        lines.append(t("usage.all.none", lang))
    for user, kind, amount, count in top:
        lines.append(f"• {user} {t(f'usage.what.{kind}', lang)}: {amount} ({count}×)")
    return "\n".join(lines)


async def stats(store: AccessStore, lang: Lang) -> str:
    found = await store.stats()
    errors = found["errors"]
    assert isinstance(errors, list)
    listed = ", ".join(f"{code} {n}" for code, n in errors) or t("stats.no_errors", lang)
    return t(
        "stats.text",
        lang,
        users=found["users"],
        chats=found["chats"],
        messages=found["messages"],
        jobs=found["jobs"],
        failed=found["failed"],
        errors=listed,
    )
