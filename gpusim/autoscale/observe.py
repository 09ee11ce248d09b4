"""Turn data-plane windows into what the autoscalers read (the glue between the two, kept pure).

The HPA reads per-pod averages over its metrics window (metrics-server's resolution; pass the
windows of the last sync period). The KPA reads the total request concurrency (or request rate),
which `gpusim.autoscale.kpa.WindowAverage` averages over the stable and panic windows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpusim.autoscale.hpa import MetricSample
from gpusim.dataplane.plane import WindowMetrics


def hpa_sample(windows: Sequence[WindowMetrics], metric: str, n_unready: int = 0) -> MetricSample:
    """Per-pod values of `metric` averaged over `windows`, for the replicas ready in the last one.

    concurrency: requests in service or queued at the pod; utilization: percent of the pod's
    concurrency slots busy; queue_length: requests waiting at the pod, plus the load balancer's
    queue shared evenly; rps: arrivals per second shared evenly (the balancer spreads them).
    """
    if not windows:
        return MetricSample([], n_unready=n_unready)
    ready = windows[-1].ready
    n_ready = int(ready.sum())
    if n_ready == 0:
        return MetricSample([], n_unready=n_unready)
    dur = np.array([w.duration_s for w in windows], dtype=np.float64)
    total = dur.sum()
    weights = dur / total if total > 0 else np.full(len(windows), 1.0 / len(windows))

    def avg(values):
        return sum(wt * v for wt, v in zip(weights, values, strict=True))

    if metric == "concurrency":
        per_pod = avg([w.concurrency_avg for w in windows])[ready]
    elif metric == "utilization":
        per_pod = 100.0 * avg([w.utilisation for w in windows])[ready]
    elif metric == "queue_length":
        per_pod = avg([w.queued_avg + w.lb_queue_avg / max(1, int(w.ready.sum())) for w in windows])[ready]
    elif metric == "rps":
        rate = sum(w.arrived for w in windows) / total if total > 0 else 0.0
        per_pod = np.full(n_ready, rate / n_ready)
    else:
        raise ValueError(f"unknown metric {metric!r}; expected concurrency, utilization, queue_length or rps")
    return MetricSample([float(v) for v in per_pod], n_unready=n_unready)


def kpa_value(window: WindowMetrics, metric: str = "concurrency") -> float:
    """Total value the KPA averages: requests in the system (queued anywhere or in service), or arrivals/s."""
    if metric == "concurrency":
        return window.in_system_avg
    if metric == "rps":
        return window.arrival_rate_rps
    raise ValueError(f"unknown metric {metric!r}; expected concurrency or rps")
