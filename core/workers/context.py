"""What one process knows about being one of several workers: its settings, the name it
holds things under, its leases and the heartbeat that renews them."""

from __future__ import annotations

from dataclasses import dataclass

from core.config.workers import WorkersSettings
from core.storage.store import Store
from core.workers.heartbeat import Heartbeat
from core.workers.leases import Leases, holder_name


@dataclass(frozen=True, slots=True)
class WorkerContext:
    settings: WorkersSettings
    holder: str
    leases: Leases
    heartbeat: Heartbeat

    @property
    def shared(self) -> bool:
        """Other live workers may use the same database (``workers.count`` > 1)."""
        return self.settings.shared

    @classmethod
    def of(cls, settings: WorkersSettings, store: Store) -> WorkerContext:
        holder = holder_name(settings.name())
        heartbeat = Heartbeat(settings.lease_s)
        leases = Leases(store, holder, settings.lease_s)
        heartbeat.add("leases", leases.renew)
        return cls(settings, holder, leases, heartbeat)


__all__ = ["WorkerContext"]
