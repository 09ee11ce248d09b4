"""A KEDA ScaledObject for one inference service: trigger polling, scale to and from zero, and the
HPA it owns (pure state, no SimPy).

Follows kedacore/keda's scale executor (pkg/scaling/executor/scale_scaledobjects.go) as its docs
describe it: every ``polling_interval`` each trigger's query is evaluated and the ScaledObject is
active while any value exceeds its activation threshold. Active with no replicas: scale to
max(minReplicaCount, 1). Not active, minReplicaCount 0, replicas above zero: once the last active
poll is ``cooldown_period`` old (and ``initial_cooldown_period`` has passed since creation), scale
to 0 (or idleReplicaCount). In between the HPA KEDA creates (External metrics, one per trigger,
AverageValue or Value targets) scales the replicas every ``sync_period_s``; it is disabled at zero
replicas, as the HPA controller is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gpusim.autoscale.hpa import HorizontalPodAutoscaler, ServiceSample
from gpusim.autoscale.observe import aggregate, parse_query
from gpusim.autoscale.schema import KEDAConfig


@dataclass(frozen=True)
class KEDADecision:
    time_s: float
    current_replicas: int
    desired_replicas: int
    active: bool | None  # None: no poll this tick
    values: tuple[float, ...]
    reason: str


@dataclass
class KEDAScaledObject:
    config: KEDAConfig
    created_s: float = 0.0
    last_active_s: float | None = None
    active: bool = False
    hpa: HorizontalPodAutoscaler = field(init=False)
    _next_poll_s: float = field(init=False)
    _next_sync_s: float = field(init=False)

    def __post_init__(self):
        self.hpa = HorizontalPodAutoscaler(self.config.hpa_config())
        self._queries = [parse_query(t.metadata.query) for t in self.config.triggers]
        self._next_poll_s = self.created_s
        self._next_sync_s = self.created_s

    @property
    def tick_interval_s(self) -> float:
        return min(self.config.polling_interval, self.config.sync_period_s)

    def values(self, series_of) -> list[float]:
        """Each trigger's query value; `series_of(signal)` gives the service's series of a signal."""
        return [aggregate(series_of(sig), agg) for agg, sig in self._queries]

    def reconcile(self, now_s: float, current: int, values: Sequence[float], ready_pods: int) -> KEDADecision:
        """One tick: a trigger poll when due, then an HPA sync when due; returns the replica count to set."""
        cfg = self.config
        vals = tuple(float(v) for v in values)
        desired, reason, polled = current, "no change", None
        if now_s + 1e-9 >= self._next_poll_s:
            self._next_poll_s = now_s + cfg.polling_interval
            polled = self.active = any(
                v > t.metadata.activation_threshold for v, t in zip(vals, cfg.triggers, strict=True)
            )
            if self.active:
                self.last_active_s = now_s
                if current == 0 or (cfg.idle_replica_count is not None and current == cfg.idle_replica_count):
                    desired, reason = max(cfg.min_replica_count, 1), "scale from zero (trigger active)"
            elif cfg.min_replica_count == 0 or cfg.idle_replica_count is not None:
                idle = cfg.idle_replica_count or 0
                cooled = self.last_active_s is None or self.last_active_s + cfg.cooldown_period < now_s
                initial = cfg.initial_cooldown_period == 0 or self.created_s + cfg.initial_cooldown_period < now_s
                if current > idle and cooled and initial:
                    desired, reason = idle, "scale to zero (no trigger active for the cooldown period)"
            elif current < cfg.min_replica_count:
                desired, reason = cfg.min_replica_count, "below minReplicaCount"
        if desired == current and now_s + 1e-9 >= self._next_sync_s:
            self._next_sync_s = now_s + cfg.sync_period_s
            samples = [ServiceSample([v], ready_pods=ready_pods) for v in vals]
            d = self.hpa.reconcile(now_s, current, samples)
            desired, reason = d.desired_replicas, f"HPA: {d.reason}"
        return KEDADecision(now_s, current, desired, polled, vals, reason)
