"""What the bot counts, as a protocol the core calls without knowing who listens.

The App passes one ``Metrics`` object to the engine, the relay client, the job runner and
the adapters; ``NO_METRICS`` (the default everywhere) does nothing. The Prometheus
implementation lives in ``bots/ops/metrics.py``: the core never imports it.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Events worth counting. Every method is cheap and never raises."""

    def message_in(self, platform: str) -> None:
        """A message (or button press) reached the engine."""

    def answer(self, platform: str, model: str, outcome: str) -> None:
        """One chat answer ended: ``outcome`` is ok, empty, truncated or an error code."""

    def answer_latency(self, phase: str, seconds: float) -> None:
        """Seconds from the question to the answer's ``phase``: first_text or final_text."""

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        """Tokens the relay reported for one answer."""

    def relay_request(self, kind: str, model: str, error: str) -> None:
        """One relay request ended; ``error`` is the error code, empty when it was answered.
        A code of ``relay_network``/``relay_timeout``/``relay_connect`` means unreachable."""

    def job(self, family: str, state: str) -> None:
        """A long job reached ``state`` (submitted, delivered, failed, timed_out, in_doubt)."""

    def delivery(self, platform: str, outcome: str) -> None:
        """A job's result was sent (ok) or could not be (failed)."""

    def platform_call(self, platform: str, outcome: str) -> None:
        """One platform API call ended: ok, rate_limited (HTTP 429) or error."""

    def flood_wait(self, platform: str, seconds: float) -> None:
        """A platform asked the bot to wait ``seconds`` (flood control)."""

    def config_reload(self, outcome: str) -> None:
        """A config reload: applied, unchanged or refused."""


class NoMetrics:
    """Counts nothing: the default when no metrics are wanted (tests, ``relaybot chat``)."""

    def message_in(self, platform: str) -> None:
        pass

    def answer(self, platform: str, model: str, outcome: str) -> None:
        pass

    def answer_latency(self, phase: str, seconds: float) -> None:
        pass

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        pass

    def relay_request(self, kind: str, model: str, error: str) -> None:
        pass

    def job(self, family: str, state: str) -> None:
        pass

    def delivery(self, platform: str, outcome: str) -> None:
        pass

    def platform_call(self, platform: str, outcome: str) -> None:
        pass

    def flood_wait(self, platform: str, seconds: float) -> None:
        pass

    def config_reload(self, outcome: str) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()

__all__ = ["NO_METRICS", "Metrics", "NoMetrics"]
