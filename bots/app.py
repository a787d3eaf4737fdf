"""Composition root: config -> store -> relay client -> engine -> adapters, and clean shutdown."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

from bots.http.server import HttpServer, Route
from bots.ops.health import Health
from bots.ops.metrics import PrometheusMetrics
from bots.ops.reload import ConfigReloader
from bots.platforms import ADAPTERS
from core.commands.images import ImageCommands
from core.commands.media import MediaCommands
from core.config.fields import without_userinfo
from core.config.settings import Settings
from core.engine.engine import Engine
from core.jobs.midjourney import MjBackend
from core.jobs.runner import JobRunner
from core.jobs.suno import SunoBackend
from core.jobs.video import VideoBackend
from core.logs import RedactingFormatter, set_levels
from core.media.fetcher import MediaFetcher, MediaLimits
from core.media.voice import Voice
from core.platform.adapter import Adapter
from core.platform.outbox import Outbox
from core.platform.traits import TraitsRegistry
from core.relay.audio import AudioClient
from core.relay.client import RelayClient
from core.relay.images import ImagesClient
from core.relay.midjourney import MidjourneyClient
from core.relay.suno import SunoClient
from core.relay.video import KlingClient, LumaClient, RunwayClient
from core.storage.factory import make_store
from core.storage.sqlite import storage_problem
from core.workers.context import WorkerContext

log = logging.getLogger("relaybot.app")

DRAIN_TIMEOUT_S = 30.0  # the default of shutdown_grace_s


class App:
    """Owns the long-lived objects: the database, the relay client and the engine."""

    def __init__(self, settings: Settings, *, relay: RelayClient | None = None) -> None:
        self.settings = settings
        # Counted in a registry of this App's own (GET /metrics); passed to every part.
        self.metrics = PrometheusMetrics()
        self.store = make_store(settings.storage.database(), settings.storage.pool_size)
        self.relay = relay or RelayClient(
            settings.relay.base_url,
            settings.relay.api_key,
            timeout_s=settings.relay.timeout_s,
            connect_timeout_s=settings.relay.connect_timeout_s,
            max_retries=settings.relay.max_retries,
            backoff_s=settings.relay.retry_backoff_s,
            metrics=self.metrics,
        )
        self.adapters: list[Adapter] = []  # built by build_adapters; told of reloads
        self.outbox = Outbox()
        # Started by serve() only when an adapter or operations mount a route on it.
        self.http = HttpServer(settings.http.listen, settings.http.port)
        self.traits = TraitsRegistry()  # each adapter's traits, registered as it is built
        # One of several workers on the database (workers.count > 1), or this process alone.
        self.worker = WorkerContext.of(settings.workers, self.store)
        jobs = settings.jobs
        self.jobs = JobRunner(
            self.store,
            self.outbox,
            max_running_per_user=jobs.max_running_per_user,
            traits=self.traits,
            max_parallel_deliveries=jobs.max_parallel_deliveries,
            metrics=self.metrics,
            worker=self.worker,
        )
        self._fetcher = media = MediaFetcher(
            self.relay,
            MediaLimits(int(jobs.media_max_mb * 1_000_000), jobs.media_timeout_s),
            allow_hosts=jobs.media_allow_hosts,
        )
        mj = MidjourneyClient(self.relay, mode_prefix=jobs.mj_mode)
        self.jobs.add_backend(
            MjBackend(
                mj, media, poll_interval_s=jobs.mj_poll_interval_s, deadline_s=jobs.mj_deadline_s
            )
        )
        self._images = images = ImageCommands(
            default_model=settings.models.image,
            images=ImagesClient(self.relay),
            mj=mj,
            jobs=self.jobs,
            media=media,
        )
        suno = SunoClient(self.relay)
        self.jobs.add_backend(
            SunoBackend(
                suno,
                media,
                poll_interval_s=jobs.suno_poll_interval_s,
                deadline_s=jobs.suno_deadline_s,
            )
        )
        video = VideoBackend(
            luma=LumaClient(self.relay),
            kling=KlingClient(self.relay),
            runway=RunwayClient(self.relay),
            media=media,
            poll_interval_s=jobs.video_poll_interval_s,
            deadline_s=jobs.video_deadline_s,
        )
        self.jobs.add_backend(video)
        self._voice = voice = Voice(
            settings.voice,
            AudioClient(self.relay),
            transcribe_model=settings.models.transcribe,
            tts_model=settings.models.tts,
            traits=self.traits,
        )
        self._media = media_commands = MediaCommands(
            song_model=settings.models.song,
            video_model=settings.models.video,
            suno=suno,
            video=video,
            voice=voice,
            jobs=self.jobs,
            store=self.store,
        )
        self.engine = Engine(
            settings,
            self.store,
            self.relay,
            images=images,
            media=media_commands,
            voice=voice,
            jobs=self.jobs,
            traits=self.traits,
            outbox=self.outbox,  # admins' notices (issue 12)
            metrics=self.metrics,
            worker=self.worker,
        )
        self.health = Health(
            store=self.store, relay=self.relay, metrics=self.metrics, jobs=self.jobs
        )
        self._started = False

    async def start(self) -> None:
        """Open the database and the relay client; when a step fails, what already started is
        closed again (no thread or connection is left to keep the process alive)."""
        try:
            await self.store.open()
            retention = self.settings.vision.retention_h * 3600
            await self.store.forget_images(before=time.time() - retention)  # kept too long
            await self.relay.start()
            self.engine.access.retention.start()  # prunes now and daily (issue 12)
            if self.worker.shared:  # keeps this worker's leases and claims alive
                self.worker.heartbeat.start()
        except BaseException:
            await self.relay.aclose()
            await self.store.close()
            raise
        self._started = True
        log.info(
            "started storage=%s relay=%s",
            self.settings.storage.describe(),
            without_userinfo(self.settings.relay.base_url),
        )

    def ops_routes(self, adapters: list[Adapter], others: bool) -> list[Route]:
        """The operations routes: /metrics when ``http.metrics``, /healthz whenever the server
        runs (``http.health``, ``http.metrics``, or ``others``: an adapter mounted routes)."""
        config = self.settings.http
        routes: list[Route] = []
        if config.metrics:
            routes.append(Route("GET", "/metrics", self.metrics.handler(config.metrics_token)))
        if routes or others or config.health:
            self.health.adapters = list(adapters)
            routes.append(Route("GET", "/healthz", self.health.handler()))
        return routes

    def reloader(self, path: str, load: Callable[[], Settings]) -> ConfigReloader:
        """A watcher of the config file at ``path`` that applies its changes to this App."""
        return ConfigReloader(
            path,
            load,
            lambda: self.settings,
            self.reconfigure,
            interval_s=self.settings.reload_check_s,
            metrics=self.metrics,
        )

    def reconfigure(self, settings: Settings) -> None:
        """Use ``settings`` from now on, in every part that holds some. Messages already being
        answered finish with what they started with; the next ones read the new values.
        ``bots.ops.reload.split`` keeps what needs a restart (storage, http, platform tokens)
        at its old value before this is called."""
        old, self.settings = self.settings, settings
        relay, models = settings.relay, settings.models
        secrets = (*old.secrets(), *settings.secrets())  # a line logged later may hold either
        for handler in logging.getLogger().handlers:
            if isinstance(handler.formatter, RedactingFormatter):
                handler.formatter.set_secrets(secrets)
        set_levels(settings.logging.level, settings.logging.levels)
        if isinstance(self.relay, RelayClient):
            self.relay.reconfigure(
                relay.base_url,
                relay.api_key,
                relay.timeout_s,
                relay.connect_timeout_s,
                relay.max_retries,
                relay.retry_backoff_s,
            )
        self.jobs.reconfigure(settings.jobs.max_running_per_user)
        self._fetcher.reconfigure(settings.jobs.media_allow_hosts)  # the relay may have moved
        self._images.reconfigure(models.image)
        self._media.reconfigure(models.song, models.video)
        self._voice.reconfigure(settings.voice, models.transcribe, models.tts)
        self.engine.reconfigure(settings)
        for adapter in self.adapters:
            reconfigure = getattr(adapter, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(settings)

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Let in-flight replies finish (bounded by ``drain_timeout``, default
        ``shutdown_grace_s``), then close the relay client and database."""
        if drain_timeout is None:
            drain_timeout = self.settings.shutdown_grace_s
        if not self._started:
            return
        self._started = False
        await self.jobs.stop()
        await self.engine.access.retention.stop()
        await self.worker.heartbeat.stop()
        if not await self.engine.wait_idle(drain_timeout):
            log.warning("stopping with %d replies still in flight", self.engine.in_flight)
        await self.relay.aclose()
        await self.store.close()
        log.info("stopped")

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def enabled_platforms(settings: Settings) -> list[str]:
    return [name for name, section in settings.platforms().items() if section.enabled]


def load_adapter(name: str) -> Callable[..., Adapter]:
    """The adapter class of platform ``name``; KeyError when this build has none."""
    module_name, _, class_name = ADAPTERS[name].partition(":")
    factory: Callable[..., Adapter] = getattr(importlib.import_module(module_name), class_name)
    return factory


async def serve(
    adapters: list[Adapter],
    *,
    stop: asyncio.Event | None = None,
    jobs: JobRunner | None = None,
    http: HttpServer | None = None,
    ops: Callable[[list[Adapter], bool], list[Route]] | None = None,
    reloader: ConfigReloader | None = None,
) -> None:
    """Run ``adapters`` until SIGINT/SIGTERM (or ``stop`` is set), then stop them so they take
    no new messages. The caller then stops the ``App``, which lets in-flight replies finish.

    ``http`` is the process's HTTP server: an adapter with a ``routes()`` method mounts them
    on it, and the server runs only when some route was mounted (by adapters or before).
    ``ops`` (``App.ops_routes``) adds /healthz and /metrics as configured; ``reloader``
    watches the config file, and SIGHUP reloads it at once."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    reloads: set[asyncio.Task[str]] = set()
    if reloader is not None:

        def hangup() -> None:
            task = asyncio.ensure_future(reloader.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        try:
            loop.add_signal_handler(signal.SIGHUP, hangup)
            installed.append(signal.SIGHUP)
        except (NotImplementedError, RuntimeError, AttributeError):
            pass
    started: list[Adapter] = []
    http_started = False
    try:
        if http is not None:
            for adapter in adapters:
                routes = getattr(adapter, "routes", None)
                if routes is not None:
                    http.add(*routes())
            if ops is not None:
                http.add(*ops(adapters, http.needed))
            if http.needed:
                await http.start()
                http_started = True
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
            log.info("adapter started platform=%s", adapter.name)
        if jobs is not None:  # after the adapters: resumed jobs may need to send at once
            await jobs.start()
        if reloader is not None:
            reloader.start()
        await stop.wait()
        log.info("shutting down")
    finally:
        if reloader is not None:
            await reloader.stop()
        if jobs is not None:
            await jobs.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter stop failed platform=%s", adapter.name)
        if http is not None and http_started:
            await http.stop()


def build_adapters(app: App, names: list[str]) -> list[Adapter]:
    adapters: list[Adapter] = []
    for name in names:
        factory = load_adapter(name)
        adapter = factory(app.settings, app.engine, app.outbox)
        app.traits.register(adapter.name, adapter.traits)
        adapters.append(adapter)
        app.adapters.append(adapter)
    return adapters


def describe_missing(names: list[str]) -> list[str]:
    return [name for name in names if name not in ADAPTERS]


PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net")


def preflight(settings: Settings, *, platforms: bool = True) -> list[tuple[str, str]]:
    """What would stop relaybot from working that the schema cannot see, as (key path,
    problem): a platform this version cannot run, the example relay URL, a database path
    that cannot be written. ``check-config`` reports them; ``run`` and ``chat`` refuse to
    start on them. Touches nothing."""
    problems: list[tuple[str, str]] = []
    if platforms:
        for name in describe_missing(enabled_platforms(settings)):
            problems.append(
                (f"{name}.enabled", f"this version cannot run {name} yet; set it to false")
            )
    count = settings.workers.count
    for name, section in settings.platforms().items():
        if section.enabled:
            problems += [(f"{name}.{k}", p) for k, p in section.workers_problems(count)]
    host = (urlsplit(settings.relay.base_url).hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in PLACEHOLDER_HOSTS):
        problems.append(
            ("relay.base_url", f"{host} is the example placeholder; set your relay's URL")
        )
    database = settings.storage.database()
    if settings.workers.shared and not database.is_postgres:
        problems.append(
            (
                "workers.count",
                f"{count} workers need one shared PostgreSQL database: set storage.url to"
                " postgresql://...; SQLite serves one process",
            )
        )
    if not database.is_postgres:  # PostgreSQL is reached by check-config and at start-up
        storage = storage_problem(database.path)
        if storage:
            key = "storage.url" if settings.storage.url else "storage.path"
            problems.append((key, storage))
    return problems


__all__ = ["ADAPTERS", "App", "build_adapters", "enabled_platforms", "preflight", "serve"]
