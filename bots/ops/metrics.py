"""The Prometheus side of ``core.metrics.Metrics``: counters in a registry of their own (one per
App, so two bots in one process, or two tests, never share numbers) and ``GET /metrics``."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Relay error codes that mean the relay could not be reached at all (not an answer it gave).
UNREACHABLE = frozenset({"relay_network", "relay_timeout"})
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120, 300)


class PrometheusMetrics:
    """Implements ``core.metrics.Metrics``; also remembers when the relay last answered or
    could not be reached, for /healthz."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "relaybot_messages_in", "Messages and button presses taken, by platform",
            ["platform"], registry=r,
        )
        self.answers = Counter(
            "relaybot_answers", "Answers by platform, model and outcome (ok, empty, truncated "
            "or the error code)", ["platform", "model", "outcome"], registry=r,
        )
        self.latency = Histogram(
            "relaybot_answer_latency_seconds", "Seconds from a question to the first text and "
            "to the final text of its answer", ["phase"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.token_count = Counter(
            "relaybot_tokens", "Tokens the relay reported, by model and kind (prompt, "
            "completion)", ["model", "kind"], registry=r,
        )
        self.relay_requests = Counter(
            "relaybot_relay_requests", "Relay requests (each attempt), by route kind and model",
            ["kind", "model"], registry=r,
        )
        self.relay_errors = Counter(
            "relaybot_relay_errors", "Failed relay requests, by route kind, model and error code",
            ["kind", "model", "code"], registry=r,
        )
        self.jobs = Counter(
            "relaybot_jobs", "Long jobs reaching a state, by family (mj, suno, video) and state",
            ["family", "state"], registry=r,
        )
        self.deliveries = Counter(
            "relaybot_deliveries", "Job results sent, by platform and outcome (ok, failed)",
            ["platform", "outcome"], registry=r,
        )
        self.platform_calls = Counter(
            "relaybot_platform_api_calls", "Platform API calls, by platform and outcome (ok, "
            "rate_limited: HTTP 429, error)", ["platform", "outcome"], registry=r,
        )
        self.rate_limited = Counter(
            "relaybot_platform_rate_limited", "Platform API calls answered 429, by platform",
            ["platform"], registry=r,
        )
        self.flood_waits = Counter(
            "relaybot_flood_waits", "Flood waits a platform asked for, by platform",
            ["platform"], registry=r,
        )
        self.flood_wait_seconds = Counter(
            "relaybot_flood_wait_seconds", "Seconds of flood waits asked for, by platform",
            ["platform"], registry=r,
        )
        self.reloads = Counter(
            "relaybot_config_reloads",
            "Config reloads by outcome (applied, refused, needs_restart, unchanged)",
            ["outcome"], registry=r,
        )
        self.relay_ok_at = 0.0  # time.monotonic() of the relay's last answer (any status)
        self.relay_down_at = 0.0  # ... and of the last request that could not reach it

    # -- core.metrics.Metrics ----------------------------------------------------------------

    def message_in(self, platform: str) -> None:
        self.messages.labels(platform).inc()

    def answer(self, platform: str, model: str, outcome: str) -> None:
        self.answers.labels(platform, model, outcome).inc()

    def answer_latency(self, phase: str, seconds: float) -> None:
        self.latency.labels(phase).observe(seconds)

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        self.token_count.labels(model, "prompt").inc(prompt)
        self.token_count.labels(model, "completion").inc(completion)

    def relay_request(self, kind: str, model: str, error: str) -> None:
        self.relay_requests.labels(kind, model).inc()
        if error:
            self.relay_errors.labels(kind, model, error).inc()
        if error in UNREACHABLE:
            self.relay_down_at = time.monotonic()
        else:
            self.relay_ok_at = time.monotonic()

    def job(self, family: str, state: str) -> None:
        self.jobs.labels(family, state).inc()

    def delivery(self, platform: str, outcome: str) -> None:
        self.deliveries.labels(platform, outcome).inc()

    def platform_call(self, platform: str, outcome: str) -> None:
        self.platform_calls.labels(platform, outcome).inc()
        if outcome == "rate_limited":
            self.rate_limited.labels(platform).inc()

    def flood_wait(self, platform: str, seconds: float) -> None:
        self.flood_waits.labels(platform).inc()
        self.flood_wait_seconds.labels(platform).inc(max(0.0, seconds))

    def config_reload(self, outcome: str) -> None:
        self.reloads.labels(outcome).inc()

    # -- GET /metrics ------------------------------------------------------------------------

    def handler(self, token: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The handler of ``GET /metrics``; with a ``token``, only for ``Authorization: Bearer
        <token>``."""
        expected = f"Bearer {token}".encode()

        async def metrics(request: web.Request) -> web.StreamResponse:
            if token:
                given = request.headers.get("Authorization", "").encode()
                if not hmac.compare_digest(given, expected):
                    return web.Response(
                        status=401,
                        text="401: /metrics needs Authorization: Bearer <http.metrics_token>\n",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return metrics


__all__ = ["PrometheusMetrics", "UNREACHABLE"]
