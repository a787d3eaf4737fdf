"""Config hot reload: the file is looked at every ``reload_check_s`` seconds (its mtime, size
and then a hash of its bytes) and on SIGHUP; a valid change is handed to ``App.reconfigure``.

A file that does not validate is refused: the old settings stay, every problem is logged with
its key path and ``relaybot_config_reloads{outcome="refused"}`` counts it. Keys that cannot
change while running (``RESTART_SECTIONS``, a platform's connection) keep their old values
and are logged as "needs a restart".
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.config.settings import Settings
from core.errors import ConfigError
from core.metrics import NO_METRICS, Metrics

log = logging.getLogger("relaybot.reload")

# Whole sections (or top-level keys) that only a restart applies: the database file, the
# HTTP server's address, how long jobs poll, how the process stops and how logs are shaped.
RESTART_SECTIONS = ("storage", "http", "shutdown_grace_s", "reload_check_s")
# Keys of a restart section that do apply live.
LIVE_IN_RESTART = {"jobs": ("max_running_per_user",), "logging": ("level", "levels")}
# Of a platform's section only these apply live; its token, URLs, proxy, webhook... do not.
LIVE_PLATFORM_KEYS = ("trigger_words",)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and tuples are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def changed_paths(old: Settings, new: Settings) -> list[str]:
    a, b = flatten(old.model_dump()), flatten(new.model_dump())
    return sorted(p for p in set(a) | set(b) if a.get(p, _MISSING) != b.get(p, _MISSING))


_MISSING = object()


def _restart_only(path: str, platforms: Iterable[str]) -> bool:
    top, _, rest = path.partition(".")
    if top in RESTART_SECTIONS:
        return True
    if top in LIVE_IN_RESTART:
        return rest.split(".", 1)[0] not in LIVE_IN_RESTART[top]
    if top in platforms:
        return rest.split(".", 1)[0] not in LIVE_PLATFORM_KEYS
    return False


def split(old: Settings, new: Settings) -> tuple[Settings, list[str], list[str]]:
    """(settings to use now, key paths applied live, key paths that need a restart): ``new``
    with every restart-only key put back to its value in ``old``."""
    changed = changed_paths(old, new)
    platforms = set(old.platforms())
    restart = [p for p in changed if _restart_only(p, platforms)]
    live = [p for p in changed if p not in restart]
    if not restart:
        return new, live, restart
    data = new.model_dump()
    before = old.model_dump()
    for top in {p.split(".", 1)[0] for p in restart}:
        if top in RESTART_SECTIONS:
            data[top] = copy.deepcopy(before[top])
            continue
        keep = LIVE_IN_RESTART.get(top, LIVE_PLATFORM_KEYS)
        section = copy.deepcopy(before[top])
        section.update({k: v for k, v in data[top].items() if k in keep})
        data[top] = section
    return type(new).model_validate(data), live, restart


class ConfigReloader:
    """Watches ``path``; ``apply(settings) -> (live paths, restart paths)`` makes a valid new
    file take effect (``App.reconfigure``)."""

    def __init__(
        self,
        path: str | Path,
        load: Callable[[], Settings],
        current: Callable[[], Settings],
        apply: Callable[[Settings], None],
        *,
        interval_s: float = 2.0,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._path = Path(path)
        self._load = load
        self._current = current
        self._apply = apply
        self.interval_s = interval_s
        self._metrics = metrics
        self._stamp = self._stat()
        self._digest = self._hash()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _hash(self) -> str:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return ""

    async def check(self) -> str:
        """Reload when the file changed since the last look: applied, refused, needs_restart
        (only keys that need a restart changed) or unchanged."""
        stamp = self._stat()
        if stamp == self._stamp:
            return "unchanged"
        self._stamp = stamp
        digest = self._hash()
        if digest == self._digest:  # touched, not changed
            return "unchanged"
        return await self.reload(digest)

    async def reload(self, digest: str | None = None) -> str:
        """Read the file now (SIGHUP does this whatever its mtime says)."""
        async with self._lock:
            self._digest = self._hash() if digest is None else digest
            self._stamp = self._stat()
            try:
                new = self._load()
            except ConfigError as exc:
                for path, what in exc.problems:
                    log.error("config reload refused: %s: %s", path or "(file)", what)
                log.error("config reload refused: %s unchanged, the old settings stay", self._path)
                self._metrics.config_reload("refused")
                return "refused"
            old = self._current()
            settings, live, restart = split(old, new)
            for path in restart:
                log.warning("config reload: %s needs a restart; the old value stays", path)
            if not live:
                outcome = "needs_restart" if restart else "unchanged"
                self._metrics.config_reload(outcome)
                log.info("config reload: nothing to apply now")
                return outcome
            self._apply(settings)
            log.info("config reload applied: %s", ", ".join(live))
            self._metrics.config_reload("applied")
            return "applied"

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # keep watching; a bug here must not stop the bot
                log.exception("config reload failed")

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="config-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


__all__ = ["ConfigReloader", "changed_paths", "split"]
