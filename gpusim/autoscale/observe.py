"""Turn data-plane windows into what the autoscalers read (the glue between the two, kept pure).

`SignalWindow` integrates a running service's windows between decisions; `pod_sample` serves
them as the pods and per-pod samples of a Resource or Pods metric (with each replica's pod phase
and readiness, as the replica calculator groups them), `service_value` as an Object or External
metric, `parse_query` reads a Prometheus-like query (KEDA's prometheus trigger) over them.

The HPA reads per-pod averages over its metrics window (metrics-server's resolution; pass the
windows of the last sync period). The KPA reads the total request concurrency (or request rate),
which `gpusim.autoscale.kpa.WindowAverage` averages over the stable and panic windows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gpusim.autoscale.hpa import GroupedSample, MetricSample, Pod, PodMetric, PodsSample, ServiceSample
from gpusim.autoscale.schema import SERVICE_SIGNALS, HPAMetric
from gpusim.dataplane import _kernels as K
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


# --------------------------------------------------------------------------------------------
# Signals of a running inference service (what the engine hands the autoscalers each decision)
# --------------------------------------------------------------------------------------------

SIGNAL_ALIASES = {
    "vllm:num_requests_waiting": "queue_length",
    "vllm:num_requests_running": "requests_running",
    "vllm:gpu_cache_usage_perc": "kv_cache_usage",
    "gpusim:kv_cache_usage": "kv_cache_usage",
    "DCGM_FI_DEV_GPU_UTIL": "gpu_util",
    "gpusim:queue_length": "queue_length",
    "gpusim:requests_in_flight": "concurrency",
    "gpusim:requests_running": "requests_running",
    "gpusim:requests_per_second": "rps",
    "gpusim:generation_tokens_per_second": "tokens_per_s",
    "gpusim:gpu_util": "gpu_util",
}
"""Prometheus-style series names a query may use for gpusim's signals (vLLM's and DCGM's own
names where they exist), besides the signal names themselves."""

_QUERY_RE = re.compile(
    r"^\s*(?:(sum|avg|max|min)\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*\)|([A-Za-z_:][A-Za-z0-9_:]*))\s*$"
)


def parse_query(query: str) -> tuple[str, str]:
    """A Prometheus-like query -> (aggregation, signal): ``name``, or ``sum|avg|max|min(name)``.

    A bare name sums its series, as the HPA sums the series of an External metric. Raises
    ValueError with what is allowed.
    """
    m = _QUERY_RE.match(query)
    if not m:
        raise ValueError(
            f"query {query!r} is not `name` or `sum|avg|max|min(name)`; names: "
            + ", ".join(sorted(set(SERVICE_SIGNALS) | set(SIGNAL_ALIASES)))
        )
    agg, name = (m.group(1), m.group(2)) if m.group(1) else ("sum", m.group(3))
    signal = SIGNAL_ALIASES.get(name, name)
    if signal not in SERVICE_SIGNALS:
        raise ValueError(
            f"query {query!r}: unknown series {name!r}; known: "
            + ", ".join(sorted(set(SERVICE_SIGNALS) | set(SIGNAL_ALIASES)))
        )
    return agg, signal


def aggregate(series: Sequence[float], agg: str) -> float:
    """Prometheus aggregation over the series; no series gives 0 (KEDA's ignoreNullValues default)."""
    if len(series) == 0:
        return 0.0
    if agg == "sum":
        return float(sum(series))
    if agg == "avg":
        return float(sum(series) / len(series))
    return float(max(series) if agg == "max" else min(series))


@dataclass
class SignalWindow:
    """Time integrals of a service's data-plane windows since the last autoscaler decision.

    The engine `add`s every data-plane window and calls `reset` after each decision; the
    autoscalers read averages over the period in between (the scrape interval of a metrics
    pipeline that reports period averages). Per replica slot the integrals are kept in one
    preallocated array, ``acc[:, slot] = (concurrency x dt, queued x dt, utilisation x dt, dt)``
    summed over the windows in which the slot was ready (a slot never ready since the reset has
    dt 0 and reports nothing).
    """

    lb_queue_dt: float = 0.0
    dt: float = 0.0
    arrivals: int = 0
    output_tokens: float = 0.0
    acc: np.ndarray | None = field(default=None, repr=False)
    kv: np.ndarray | None = field(default=None, repr=False)  # LLM replicas: KV-cache usage fraction x dt per slot

    def kv_slots(self, n: int) -> np.ndarray:
        """The per-slot KV-cache usage integrals (LLM-serving replicas), grown to at least `n` slots."""
        if self.kv is None or self.kv.shape[0] < n:
            grown = np.zeros(n, dtype=np.float64)
            if self.kv is not None:
                grown[: self.kv.shape[0]] = self.kv
            self.kv = grown
        return self.kv

    def slots(self, n: int) -> np.ndarray:
        """The per-slot integrals array, grown to at least `n` slots (a caller may add to it in place)."""
        acc = self.acc
        if acc is None or acc.shape[1] < n:
            grown = np.zeros((4, n), dtype=np.float64)
            if acc is not None:
                grown[:, : acc.shape[1]] = acc
            self.acc = acc = grown
        return acc

    def add(self, m: WindowMetrics, output_tokens: float = 0.0) -> None:
        self.add_arrays(
            m.ready, m.concurrency_avg, m.queued_avg, m.utilisation, m.duration_s, m.lb_queue_avg, m.arrived,
            output_tokens,
        )  # fmt: skip

    def add_arrays(self, ready, concurrency_avg, queued_avg, utilisation, dt, lb_queue_avg, arrived,
                   output_tokens=0.0) -> None:  # fmt: skip
        """`add` from the window's arrays (ready mask, per-slot time averages) and scalars."""
        acc = self.slots(ready.shape[0])
        n = ready.shape[0]
        for k, v in enumerate((concurrency_avg, queued_avg, utilisation)):
            row = acc[k, :n]
            np.add(row, v * dt, out=row, where=ready)
        row = acc[3, :n]
        np.add(row, dt, out=row, where=ready)
        self.add_totals(dt, lb_queue_avg, arrived, output_tokens)

    def add_totals(self, dt: float, lb_queue_avg: float, arrived: int, output_tokens: float = 0.0) -> None:
        """The service-wide part of `add_arrays` (for a caller that adds the per-slot part to `acc`)."""
        self.lb_queue_dt += lb_queue_avg * dt
        self.dt += dt
        self.arrivals += int(arrived)
        self.output_tokens += float(output_tokens)

    def reset(self) -> None:
        if self.acc is not None:
            self.acc.fill(0.0)
        if self.kv is not None:
            self.kv.fill(0.0)
        self.lb_queue_dt = self.dt = 0.0
        self.arrivals = 0
        self.output_tokens = 0.0

    @property
    def per_replica(self) -> dict[int, list[float]]:
        """Slot -> [concurrency x dt, queued x dt, utilisation x dt, dt] of the slots ready since the reset."""
        if self.acc is None:
            return {}
        return {int(i): [float(x) for x in self.acc[:, i]] for i in np.flatnonzero(self.acc[3] > 0)}

    def _replica(self, dp_index: int) -> tuple[float, float, float] | None:
        acc = self.acc
        if acc is None or not (0 <= dp_index < acc.shape[1]) or acc[3, dp_index] <= 0:
            return None
        a = acc[:, dp_index]
        return a[0] / a[3], a[1] / a[3], a[2] / a[3]

    def pod_values(self, signal: str, ready_dp, n_ready: int, request_milli: int) -> tuple[list[int], int]:
        """`pod_sample`'s milli-values of the ready replicas in slots `ready_dp` (the same numbers,
        computed for all at once), and how many of them have no data since the reset (missing).
        """
        acc = self.acc
        if acc is None or len(ready_dp) == 0:
            return [], len(ready_dp)
        idx = np.asarray(ready_dp, dtype=np.intp)
        dt = acc[3, idx]
        have = dt > 0
        if not have.all():
            idx, dt = idx[have], dt[have]
        if signal == "utilization":
            value = acc[2, idx] / dt * request_milli  # already milli
        elif signal == "concurrency":
            value = 1000.0 * (acc[0, idx] / dt + self.lb_queue / n_ready)
        elif signal == "queue_length":
            value = 1000.0 * (acc[1, idx] / dt + self.lb_queue / n_ready)
        elif signal == "requests_running":
            value = 1000.0 * (acc[0, idx] / dt - acc[1, idx] / dt)
        elif signal == "gpu_util":
            value = 1000.0 * (100.0 * (acc[2, idx] / dt))
        elif signal == "kv_cache_usage":
            value = 1000.0 * (self._kv(idx) / dt)
        elif signal == "rps":
            rate = self.arrivals / self.dt if self.dt > 0 else 0.0
            value = np.full(idx.size, 1000.0 * (rate / n_ready))
        elif signal == "tokens_per_s":
            tps = self.output_tokens / self.dt if self.dt > 0 else 0.0
            value = np.full(idx.size, 1000.0 * (tps / n_ready))
        else:
            raise ValueError(f"unknown pod signal {signal!r}")
        return np.rint(value).astype(np.int64).tolist(), len(ready_dp) - int(idx.size)

    def _kv(self, idx) -> np.ndarray:
        """KV-cache usage x dt of slots `idx` (0 for a service without LLM replicas)."""
        if self.kv is None:
            return np.zeros(np.size(idx))
        return self.kv[idx]

    @property
    def lb_queue(self) -> float:
        return self.lb_queue_dt / self.dt if self.dt > 0 else 0.0

    def series(self, signal: str, ready_dp: Sequence[int]) -> list[float]:
        """The service's series of `signal` over the period: one per ready replica (plus the
        load balancer's queue for queue_length and concurrency), or one for the service's rates.
        """
        if signal == "rps":
            return [self.arrivals / self.dt if self.dt > 0 else 0.0]
        if signal == "tokens_per_s":
            return [self.output_tokens / self.dt if self.dt > 0 else 0.0]
        out = []
        for i in ready_dp:
            v = self._replica(i)
            if v is None:
                continue
            conc, queued, util = v
            if signal == "kv_cache_usage":
                out.append(float(self._kv(i)) / float(self.acc[3, i]))
                continue
            out.append(
                {
                    "queue_length": queued,
                    "concurrency": conc,
                    "requests_running": conc - queued,
                    "gpu_util": 100.0 * util,
                }[signal]
            )
        if signal in ("queue_length", "concurrency"):
            out.append(self.lb_queue)
        return out


def _phase(r, now_s: float) -> str:
    if r.state == "pending" or (r.state == "starting" and not now_s >= r.running_s):
        return "Pending"  # waiting for a node, or pulling the image (the pod phase is Pending until containers start)
    return "Running"


def pod_sample(
    metric: HPAMetric,
    replicas: Sequence,
    window: SignalWindow,
    now_s: float,
    request_milli: int,
    cpu_replica: bool,
) -> tuple[list[Pod], dict[str, PodMetric], bool]:
    """The pods and per-pod samples a Resource or Pods metric reads, as the metrics APIs serve them.

    `replicas` are the service's live replicas (attributes state, index, dp_index, running_s,
    ready_s). Pending replicas, and starting ones still pulling the image, are Pending pods;
    replicas loading the model are Running and not ready: they report 0 for utilisation and
    gpu_util (an idle GPU, as DCGM and metrics-server see it) and nothing for the inference
    server's own metrics (its endpoint is not up yet). Ready replicas report their period
    averages: concurrency and queue_length include an even share of the load balancer's queue,
    rps an even share of the arrivals; utilization is usage = busy fraction x `request_milli`.
    Returns (pods, metrics, cpu) where cpu says the CPU resource rule applies (a Resource metric on
    replicas without a GPU).
    """
    ready = [r for r in replicas if r.state == "ready"]
    n_ready = max(1, len(ready))
    lbq = window.lb_queue
    rate = window.arrivals / window.dt if window.dt > 0 else 0.0
    resource = metric.source == "Resource"
    pods, metrics = [], {}
    for r in replicas:
        if r.state not in ("pending", "starting", "ready"):
            continue
        name = f"replica-{r.index}"
        phase = _phase(r, now_s)
        is_ready = r.state == "ready"
        start = None if phase == "Pending" else r.running_s
        pods.append(
            Pod(
                name,
                phase=phase,
                ready=is_ready,
                start_s=start,
                ready_transition_s=r.ready_s if is_ready else (r.running_s if start is not None else -math.inf),
                request_milli=request_milli,
            )
        )
        if phase == "Pending":
            continue
        if not is_ready:
            if metric.name in ("utilization", "gpu_util"):
                metrics[name] = PodMetric(0, timestamp_s=now_s, window_s=window.dt)
            continue
        v = window._replica(r.dp_index)
        if v is None:
            continue
        conc, queued, util = v
        if metric.name == "utilization":
            value = util * request_milli  # already milli
        elif metric.name == "kv_cache_usage":
            value = 1000.0 * float(window._kv(r.dp_index)) / float(window.acc[3, r.dp_index])
        else:
            value = (
                1000.0
                * {
                    "concurrency": conc + lbq / n_ready,
                    "queue_length": queued + lbq / n_ready,
                    "requests_running": conc - queued,
                    "rps": rate / n_ready,
                    "tokens_per_s": (window.output_tokens / window.dt if window.dt > 0 else 0.0) / n_ready,
                    "gpu_util": 100.0 * util,
                }[metric.name]
            )
        metrics[name] = PodMetric(int(round(value)), timestamp_s=now_s, window_s=window.dt)
    return pods, metrics, resource and cpu_replica


def service_value(metric: HPAMetric, replicas: Sequence, window: SignalWindow) -> list[float]:
    """The values an Object metric (one: the total, gpu_util the average) or External metric
    (every series; the HPA sums them) reads for the service.
    """
    ready_dp = [r.dp_index for r in replicas if r.state == "ready"]
    series = window.series(metric.name, ready_dp)
    if metric.source == "Object":
        return [aggregate(series, "avg" if metric.name in ("gpu_util", "kv_cache_usage") else "sum")]
    return series or [0.0]


def ready_count(replicas: Sequence) -> int:
    return sum(1 for r in replicas if r.state == "ready")


def hpa_samples(metrics: Sequence[HPAMetric], replicas: Sequence, window: SignalWindow, now_s: float,
                request_milli: int, cpu_replica: bool) -> list:  # fmt: skip
    """One sample per HPA metric (by position) for `HorizontalPodAutoscaler.reconcile`."""
    out = []
    for m in metrics:
        if m.source in ("Object", "External"):
            out.append(ServiceSample(service_value(m, replicas, window), ready_pods=ready_count(replicas)))
        else:
            out.append(PodsSample(*pod_sample(m, replicas, window, now_s, request_milli, cpu_replica), now_s=now_s))
    return out


def grouped_sample(metric: HPAMetric, replicas: Sequence, window: SignalWindow, now_s: float,
                   request_milli: int) -> GroupedSample:  # fmt: skip
    """`pod_sample`'s pods and samples as groupPods groups them with the CPU rule off (a Pods metric,
    or a Resource metric on GPU replicas): the values of the ready replicas with data (and 0 for
    each replica loading its model, for utilization and gpu_util), the missing (ready without data;
    loading, for the server's own metrics) and the Pending (waiting for a node or the image).
    """
    n_pending = n_loading = 0
    ready_dp = []
    for r in replicas:
        st = r.state
        if st == "ready":
            ready_dp.append(r.dp_index)
        elif st == "starting":
            if now_s >= r.running_s:
                n_loading += 1
            else:
                n_pending += 1
        elif st == "pending":
            n_pending += 1
    values, missing = window.pod_values(metric.name, ready_dp, max(1, len(ready_dp)), request_milli)
    if metric.name in ("utilization", "gpu_util"):
        values.extend([0] * n_loading)  # an idle GPU while the model loads
    else:
        missing += n_loading  # the server's endpoint is not up yet
    return GroupedSample(values, n_missing=missing, n_unready=n_pending, request_milli=request_milli)


_SIGNAL_CODE = {
    "concurrency": K.SIG_CONCURRENCY,
    "queue_length": K.SIG_QUEUE_LENGTH,
    "requests_running": K.SIG_REQUESTS_RUNNING,
    "gpu_util": K.SIG_GPU_UTIL,
    "utilization": K.SIG_UTILIZATION,
    "rps": K.SIG_SHARED,
    "tokens_per_s": K.SIG_SHARED,
}


@dataclass(frozen=True)
class SlotView:
    """The live replicas as a data plane's slots and counts (what `grouped_sample_slots` reads):
    `state` the slots' states (a slot is READY exactly when its replica is ready), `n_ready` the
    ready replicas, `n_pending` the Pending pods (waiting for a node, or pulling the image) and
    `n_loading` the replicas loading the model.
    """

    state: np.ndarray
    n_ready: int
    n_pending: int
    n_loading: int


def grouped_sample_slots(metric: HPAMetric, window: SignalWindow, view: SlotView, request_milli: int,
                         out: np.ndarray | None = None) -> GroupedSample:  # fmt: skip
    """`grouped_sample` from the slots (one compiled pass, no per-replica Python): the same sample,
    with the values' sum and count in place of the values.
    """
    n_ready = max(1, view.n_ready)
    name = metric.name
    if name in ("concurrency", "queue_length"):
        share = window.lb_queue / n_ready
    elif name == "rps":
        share = (window.arrivals / window.dt if window.dt > 0 else 0.0) / n_ready
    elif name == "tokens_per_s":
        share = (window.output_tokens / window.dt if window.dt > 0 else 0.0) / n_ready
    else:
        share = 0.0
    out = np.zeros(3, dtype=np.int64) if out is None else out
    acc = window.slots(view.state.shape[0])
    if name == "kv_cache_usage":  # LLM replicas only: vllm:gpu_cache_usage_perc (a fraction)
        idx = np.flatnonzero(view.state == K.READY)
        dt = acc[3, idx]
        have = dt > 0
        vals = np.rint(1000.0 * window._kv(idx[have]) / dt[have]).astype(np.int64)
        total, n, missing = int(vals.sum()), int(vals.size), int(idx.size - vals.size)
    else:
        K.pod_values(acc, view.state, _SIGNAL_CODE[name], share, request_milli, out)
        total, n, missing = int(out[0]), int(out[1]), int(out[2])
    if name in ("utilization", "gpu_util"):
        n += view.n_loading  # an idle GPU while the model loads: value 0
    else:
        missing += view.n_loading
    return GroupedSample(
        n_missing=missing, n_unready=view.n_pending, request_milli=request_milli, total_milli=total, n_values=n
    )


def hpa_samples_grouped(metrics: Sequence[HPAMetric], replicas: Sequence, window: SignalWindow, now_s: float,
                        request_milli: int, cpu_replica: bool, slots: SlotView | None = None) -> list:  # fmt: skip
    """`hpa_samples`, with a `GroupedSample` for each Resource or Pods metric the CPU rule does not
    apply to (the same proposals, without a `Pod` per replica); what the engine calls every sync.
    With `slots` (the same replicas as a data plane's slots) the grouped samples come from them.
    """
    out = []
    for m in metrics:
        if m.source in ("Object", "External"):
            out.append(ServiceSample(service_value(m, replicas, window), ready_pods=ready_count(replicas)))
        elif m.source == "Resource" and cpu_replica:
            out.append(PodsSample(*pod_sample(m, replicas, window, now_s, request_milli, cpu_replica), now_s=now_s))
        elif slots is not None:
            out.append(grouped_sample_slots(m, window, slots, request_milli))
        else:
            out.append(grouped_sample(m, replicas, window, now_s, request_milli))
    return out
