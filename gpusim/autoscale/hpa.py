"""The Kubernetes Horizontal Pod Autoscaler's decision logic, as pure functions and explicit state.

Follows kubernetes/kubernetes pkg/controller/podautoscaler: `replica_calculator.go` (groupPods,
GetResourceReplicas, calcPlainMetricReplicas, GetObjectMetricReplicas, GetObjectPerPodMetricReplicas,
GetExternalMetricReplicas, GetExternalPerPodMetricReplicas), `metrics/utilization.go`
(GetResourceUtilizationRatio, GetMetricUsageRatio) and `horizontal.go` (reconcileAutoscaler,
stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate, the scale-up/-down
limits, and the legacy normalizeDesiredReplicas path when no behavior is set). No SimPy: the
engine calls `HorizontalPodAutoscaler.reconcile` every ``sync_period_s`` with one sample per metric
and applies the returned replica count.

Pods and Resource metrics (per pod, milli-units as the metrics APIs carry them): `group_pods` sorts
the pods as upstream does -- deleted or failed pods are ignored; Pending pods are *unready for every
metric*; running pods without a sample are *missing*; running pods that are not ready (or still in
the CPU initialisation window) are unready *only for the CPU resource metric* -- for any other
metric a running pod that reports a value counts. Then

    Resource:  utilisation = floor(100 x sum(usage) / sum(requests))  (request-weighted), ratio = that / target
    Pods:      usage = floor(sum(values) / n),                        ratio = usage / target
    if no unready pods on a scale-up and no missing pods:
        desired = current if the ratio is within the tolerances, else ceil(ratio x ready)
    else missing pods count as the target (scale-down; Resource: max(100 %, target) of their
    request) or 0 (scale-up), unready ones as 0 on a scale-up, the ratio is recomputed, and the
    change is cancelled if it falls in the tolerance band or flips direction.

Object and External metrics (one value for the whole service, e.g. a queue length): Value targets
scale the ready pods by value / target (ceil(value / target) from zero replicas); AverageValue
targets give ceil(value / target) pods.

The largest proposal over the metrics wins, then the stabilisation window (scale-up: the minimum,
scale-down: the maximum of the recommendations in the window, the current count in between), then
the rate limits of the scaling policies, then [min, max].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gpusim.autoscale.schema import HPAConfig, HPAMetric, HPAScalingRules

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1

# legacy path (no behavior): scaleUpLimitFactor, scaleUpLimitMinimum in horizontal.go
_SCALE_UP_LIMIT_FACTOR = 2.0
_SCALE_UP_LIMIT_MINIMUM = 4.0

# kube-controller-manager --horizontal-pod-autoscaler-cpu-initialization-period and
# --horizontal-pod-autoscaler-initial-readiness-delay defaults
CPU_INITIALIZATION_PERIOD_S = 300.0
DELAY_OF_INITIAL_READINESS_S = 30.0


class MetricsError(ValueError):
    """The replica calculator could not compute a proposal (upstream's error text)."""


@dataclass(frozen=True)
class Tolerances:
    """Usage-ratio band with no scaling: [1 - scale_down, 1 + scale_up] (Tolerances.isWithin)."""

    scale_down: float = 0.1
    scale_up: float = 0.1

    def is_within(self, ratio: float) -> bool:
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True)
class Pod:
    """One pod as the replica calculator reads it (times in seconds on the run's clock).

    `ready` is the PodReady condition (None: no condition); `start_s` the pod's StartTime (None:
    unset); `request_milli` its request of the resource (milli-units), for Resource metrics.
    """

    name: str
    phase: str = "Running"  # Pending, Running, Succeeded, Failed
    ready: bool | None = True
    start_s: float | None = None
    ready_transition_s: float = -math.inf
    deleting: bool = False
    request_milli: int | None = None


@dataclass(frozen=True)
class PodMetric:
    """One pod's sample: value in milli-units, its timestamp and the window it averages."""

    value_milli: int
    timestamp_s: float = -math.inf
    window_s: float = 60.0


def group_pods(
    pods: Sequence[Pod],
    metrics: Mapping[str, PodMetric],
    cpu: bool,
    now_s: float = 0.0,
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    delay_of_initial_readiness_s: float = DELAY_OF_INITIAL_READINESS_S,
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    ready = 0
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
            continue
        if pod.phase == "Pending":  # unready for every metric
            unready.add(pod.name)
            continue
        metric = metrics.get(pod.name)
        if metric is None:
            missing.add(pod.name)
            continue
        if cpu:  # only the CPU resource metric drops not-ready and initialising pods
            if pod.ready is None or pod.start_s is None:
                is_unready = True
            elif pod.start_s + cpu_initialization_period_s > now_s:
                is_unready = (not pod.ready) or metric.timestamp_s < pod.ready_transition_s + metric.window_s
            else:
                is_unready = (not pod.ready) and pod.start_s + delay_of_initial_readiness_s > pod.ready_transition_s
            if is_unready:
                unready.add(pod.name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def resource_utilization_ratio(
    metrics: Mapping[str, int], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio, whole-percent utilisation, raw average milli-value)."""
    metrics_total = requests_total = n = 0
    for name, value in metrics.items():
        if name not in requests:  # metrics of unknown pods are extraneous
            continue
        metrics_total += value
        requests_total += requests[name]
        n += 1
    if requests_total == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = (metrics_total * 100) // requests_total
    return utilization / target_utilization, utilization, metrics_total // n


def metric_usage_ratio(metrics: Mapping[str, int], target_milli: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (ratio, integer average milli-value)."""
    usage = sum(metrics.values()) // len(metrics)
    return usage / target_milli, usage


def _with_fallbacks(
    values: dict[str, int], ratio: float, missing: set[str], unready: set[str], scale_up_with_unready: bool, fill_down
) -> dict[str, int]:
    out = dict(values)
    if missing:
        if ratio < 1.0:
            for name in missing:
                out[name] = fill_down(name)
        elif ratio > 1.0:
            for name in missing:
                out[name] = 0
    if scale_up_with_unready:
        for name in unready:
            out[name] = 0
    return out


def _guarded(current: int, ratio: float, new_ratio: float, n: int, tol: Tolerances) -> int:
    if tol.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current  # too small a change, or the fill-ins flipped the direction
    new = int(math.ceil(new_ratio * n))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current
    return new


def resource_replicas(
    current: int,
    target_utilization: int,
    pods: Sequence[Pod],
    metrics: Mapping[str, PodMetric],
    tolerances: Tolerances = Tolerances(),
    *,
    cpu: bool = True,
    resource: str = "cpu",
    now_s: float = 0.0,
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    delay_of_initial_readiness_s: float = DELAY_OF_INITIAL_READINESS_S,
) -> tuple[int, int, int]:
    """GetResourceReplicas (Utilization target): (replicas, utilisation %, raw average milli-value)."""
    if not metrics:
        raise MetricsError(
            f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(
        pods, metrics, cpu, now_s, cpu_initialization_period_s, delay_of_initial_readiness_s
    )
    values = {n: m.value_milli for n, m in metrics.items() if n not in ignored and n not in unready}
    if not values:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    requests = {}
    for p in pods:
        if p.request_milli is None:
            raise MetricsError(f"missing request for {resource} in container of Pod {p.name}")
        requests[p.name] = p.request_milli
    ratio, utilization, raw = resource_utilization_ratio(values, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if tolerances.is_within(ratio):
            return current, utilization, raw
        return int(math.ceil(ratio * ready)), utilization, raw
    fallback = max(100, target_utilization)
    filled = _with_fallbacks(
        values, ratio, missing, unready, scale_up_with_unready, lambda n: requests[n] * fallback // 100
    )
    new_ratio, _, _ = resource_utilization_ratio(filled, requests, target_utilization)
    return _guarded(current, ratio, new_ratio, len(filled), tolerances), utilization, raw


def pods_metric_replicas(
    current: int,
    target_milli: int,
    pods: Sequence[Pod],
    metrics: Mapping[str, PodMetric],
    tolerances: Tolerances = Tolerances(),
    *,
    cpu: bool = False,
    now_s: float = 0.0,
    cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
    delay_of_initial_readiness_s: float = DELAY_OF_INITIAL_READINESS_S,
) -> tuple[int, int]:
    """CalcPlainMetricReplicas (Pods metrics, and Resource metrics with an AverageValue target): (replicas, usage)."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(
        pods, metrics, cpu, now_s, cpu_initialization_period_s, delay_of_initial_readiness_s
    )
    values = {n: m.value_milli for n, m in metrics.items() if n not in ignored and n not in unready}
    if not values:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = metric_usage_ratio(values, target_milli)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if tolerances.is_within(ratio):
            return current, usage
        return int(math.ceil(ratio * ready)), usage
    filled = _with_fallbacks(values, ratio, missing, unready, scale_up_with_unready, lambda n: target_milli)
    new_ratio, _ = metric_usage_ratio(filled, target_milli)
    return _guarded(current, ratio, new_ratio, len(filled), tolerances), usage


def _usage_ratio_replica_count(current: int, ratio: float, ready_pods: int, tolerances: Tolerances) -> int:
    """getUsageRatioReplicaCount: from zero replicas ceil(ratio), else ceil(ratio x ready pods)."""
    if current == 0:
        return int(math.ceil(ratio))
    if tolerances.is_within(ratio):
        return current
    count = ratio * ready_pods
    return MAX_INT32 if count > MAX_INT32 else int(math.ceil(count))


def object_metric_replicas(
    current: int, target_milli: int, usage_milli: int, ready_pods: int, tolerances: Tolerances = Tolerances()
) -> tuple[int, int]:
    """GetObjectMetricReplicas (Object metric, Value target): (replicas, usage)."""
    return _usage_ratio_replica_count(current, usage_milli / target_milli, ready_pods, tolerances), usage_milli


def object_per_pod_metric_replicas(
    status_replicas: int, target_average_milli: int, usage_milli: int, tolerances: Tolerances = Tolerances()
) -> tuple[int, int]:
    """GetObjectPerPodMetricReplicas (Object metric, AverageValue target): (replicas, usage per pod)."""
    replicas = status_replicas
    if not tolerances.is_within(usage_milli / (target_average_milli * replicas)):
        replicas = int(math.ceil(usage_milli / target_average_milli))
    return replicas, int(math.ceil(usage_milli / status_replicas))


def external_metric_replicas(
    current: int, target_milli: int, values_milli: Sequence[int], ready_pods: int, tolerances: Tolerances = Tolerances()
) -> tuple[int, int]:
    """GetExternalMetricReplicas (External metric, Value target): the series are summed, capped at MaxInt64."""
    usage = min(sum(int(v) for v in values_milli), MAX_INT64)
    return _usage_ratio_replica_count(current, usage / target_milli, ready_pods, tolerances), usage


def external_per_pod_metric_replicas(
    status_replicas: int, target_milli: int, values_milli: Sequence[int], tolerances: Tolerances = Tolerances()
) -> tuple[int, int]:
    """GetExternalPerPodMetricReplicas (External metric, AverageValue target): (replicas, usage per pod)."""
    usage = min(sum(int(v) for v in values_milli), MAX_INT64)
    replicas = status_replicas
    if not tolerances.is_within(usage / (target_milli * replicas)):
        count = math.ceil(usage / target_milli)
        replicas = MAX_INT32 if count > MAX_INT32 else int(count)
    per_pod = MAX_INT64 if float(usage) >= float(MAX_INT64) else int(math.ceil(usage / status_replicas))
    return replicas, per_pod


def _milli(v: float) -> int:
    return int(round(float(v) * 1000))


@dataclass(frozen=True)
class MetricSample:
    """One Resource or Pods metric's observation at a reconcile, in the metric's unit.

    `values`: one per running pod that reports it (ready ones, and -- since only the CPU resource
    metric drops them -- not-ready ones in `not_ready_values`); `n_unready` counts Pending pods
    (unready for every metric); `n_missing` running pods without a value. `requests` (per pod, in
    the unit of the values, ordered values, not-ready values, missing, pending) turns a Utilization
    metric into usage / request; without it the values are percent of each pod's request.
    `cpu=True` applies the CPU rule: not-ready pods are unready.
    """

    values: Sequence[float]
    n_unready: int = 0
    n_missing: int = 0
    not_ready_values: Sequence[float] = ()
    requests: Sequence[float] | None = None
    cpu: bool = False
    now_s: float = 0.0

    def pods(self) -> tuple[list[Pod], dict[str, PodMetric]]:
        kinds = (
            [("ready", v) for v in self.values]
            + [("not-ready", v) for v in self.not_ready_values]
            + [("missing", None)] * self.n_missing
            + [("pending", None)] * self.n_unready
        )
        if self.requests is not None and len(self.requests) != len(kinds):
            raise ValueError(f"{len(self.requests)} requests for {len(kinds)} pods")
        pods, metrics = [], {}
        for i, (kind, v) in enumerate(kinds):
            name = f"pod-{i}"
            req = 100_000 if self.requests is None else _milli(self.requests[i])  # percent values: request 100
            pods.append(
                Pod(
                    name,
                    phase="Pending" if kind == "pending" else "Running",
                    ready=kind != "not-ready",
                    # a not-ready pod has just started (inside the CPU initialisation period)
                    start_s=None if kind == "pending" else (self.now_s if kind == "not-ready" else -math.inf),
                    ready_transition_s=self.now_s if kind == "not-ready" else -math.inf,
                    request_milli=req,
                )
            )
            if v is not None:
                metrics[name] = PodMetric(_milli(v))
        return pods, metrics


@dataclass(frozen=True)
class PodsSample:
    """A Resource or Pods metric's observation as explicit pods and samples (what the engine builds)."""

    pod_list: Sequence[Pod]
    metrics: Mapping[str, PodMetric]
    cpu: bool = False
    now_s: float = 0.0

    def pods(self) -> tuple[list[Pod], dict[str, PodMetric]]:
        return list(self.pod_list), dict(self.metrics)


@dataclass(frozen=True)
class ServiceSample:
    """One Object or External metric's observation: the value(s) for the whole service, and the ready pods."""

    values: Sequence[float]
    ready_pods: int = 0


@dataclass(frozen=True)
class GroupedSample:
    """A Resource or Pods metric's observation already grouped as groupPods groups it with the CPU
    rule off (every running pod that reports a value counts, ready or not), all pods with one
    request: the milli-values of the pods that report one, how many running pods report none
    (missing) and how many are Pending (unready for every metric). It gives the same proposal as the
    `PodsSample` of those pods (`tests/autoscale/test_grouped_sample.py` checks it), without
    building a `Pod` per replica: the engine hands one to the HPA every sync.
    """

    values_milli: Sequence[int] = ()
    n_missing: int = 0
    n_unready: int = 0
    request_milli: int | None = None
    total_milli: int | None = None  # with n_values: the values' sum and count, in place of the values
    n_values: int = 0

    def sum_count(self) -> tuple[int, int]:
        if self.total_milli is not None:
            return self.total_milli, self.n_values
        return sum(self.values_milli), len(self.values_milli)


def grouped_replicas(current: int, metric: HPAMetric, s: GroupedSample, tol: Tolerances) -> int:
    """`resource_replicas` / `pods_metric_replicas` over a `GroupedSample` (raises MetricsError as they do)."""
    total, n = s.sum_count()
    utilization = metric.target_type == "Utilization"
    if utilization and n == 0:
        raise MetricsError("unable to get metrics for resource: no metrics returned from resource metrics API")
    if n + s.n_missing + s.n_unready == 0:
        raise MetricsError("no pods returned by selector while calculating replica count")
    if n == 0:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    if utilization:
        req = s.request_milli
        if req is None:
            raise MetricsError("missing request for the resource in the pods' containers")
        target = int(metric.target)
        if req * n == 0:
            raise MetricsError("no metrics returned matched known pods")
        ratio = ((total * 100) // (req * n)) / target
        fill_down = req * max(100, target) // 100
    else:
        target = _milli(metric.target)
        ratio = (total // n) / target
        fill_down = target
    scale_up_with_unready = s.n_unready > 0 and ratio > 1.0
    if not scale_up_with_unready and not s.n_missing:
        if tol.is_within(ratio):
            return current
        return int(math.ceil(ratio * n))
    n_filled, total_filled = n, total
    if s.n_missing:
        if ratio < 1.0:
            n_filled += s.n_missing
            total_filled += fill_down * s.n_missing
        elif ratio > 1.0:
            n_filled += s.n_missing
    if scale_up_with_unready:
        n_filled += s.n_unready
    if utilization:
        new_ratio = ((total_filled * 100) // (req * n_filled)) / target
    else:
        new_ratio = (total_filled // n_filled) / target
    return _guarded(current, ratio, new_ratio, n_filled, tol)


def replicas_for_metric(
    current_replicas: int,
    sample: MetricSample | PodsSample | ServiceSample | GroupedSample,
    metric: HPAMetric,
    tolerance: float | Tolerances,
) -> int | None:
    """Replica proposal of one metric; None when upstream would fail to compute it (no usable samples)."""
    tol = tolerance if isinstance(tolerance, Tolerances) else Tolerances(tolerance, tolerance)
    kind = metric.source
    try:
        if kind in ("Object", "External"):
            values = [_milli(v) for v in sample.values]
            if not values:
                return None
            target = _milli(metric.target)
            if kind == "Object":
                if metric.target_type == "Value":
                    return object_metric_replicas(current_replicas, target, values[0], sample.ready_pods, tol)[0]
                if current_replicas == 0:
                    return None
                return object_per_pod_metric_replicas(current_replicas, target, values[0], tol)[0]
            if metric.target_type == "Value":
                return external_metric_replicas(current_replicas, target, values, sample.ready_pods, tol)[0]
            if current_replicas == 0:
                return None
            return external_per_pod_metric_replicas(current_replicas, target, values, tol)[0]
        if isinstance(sample, GroupedSample):
            return grouped_replicas(current_replicas, metric, sample, tol)
        pods, metrics = sample.pods()
        now = sample.now_s
        if metric.target_type == "Utilization":
            return resource_replicas(
                current_replicas, int(metric.target), pods, metrics, tol, cpu=sample.cpu, now_s=now
            )[0]
        return pods_metric_replicas(
            current_replicas, _milli(metric.target), pods, metrics, tol, cpu=sample.cpu, now_s=now
        )[0]
    except MetricsError:
        return None


def _change_in_period(events: list[tuple[float, int]], period_s: float, now_s: float) -> int:
    cutoff = now_s - period_s
    return sum(change for t, change in events if t > cutoff)  # timestamp.After(cutoff)


def scale_up_limit(current: int, up_events, down_events, rules: HPAScalingRules, now_s: float) -> int:
    """calculateScaleUpLimitWithScalingRules: the most replicas the scale-up policies allow now."""
    if rules.select_policy == "Disabled":
        return current
    pick = min if rules.select_policy == "Min" else max
    result = None
    for p in rules.policies:
        start = (
            current
            - _change_in_period(up_events, p.period_seconds, now_s)
            + _change_in_period(down_events, p.period_seconds, now_s)
        )
        if p.type == "Pods":
            proposed = start + p.value
        else:  # rounded up, or a small deployment would never grow
            proposed = int(math.ceil(start * (1 + p.value / 100)))
        result = proposed if result is None else pick(result, proposed)
    return result


def scale_down_limit(current: int, up_events, down_events, rules: HPAScalingRules, now_s: float) -> int:
    """calculateScaleDownLimitWithBehaviors: the fewest replicas the scale-down policies allow now."""
    if rules.select_policy == "Disabled":
        return current
    pick = max if rules.select_policy == "Min" else min
    result = None
    for p in rules.policies:
        start = (
            current
            - _change_in_period(up_events, p.period_seconds, now_s)
            + _change_in_period(down_events, p.period_seconds, now_s)
        )
        if p.type == "Pods":
            proposed = start - p.value
        else:  # int32() truncates toward zero
            proposed = int(start * (1 - p.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return result


def stabilize_recommendation_with_behaviors(
    recommendations: list[tuple[float, int]],
    now_s: float,
    current: int,
    desired: int,
    up_window_s: float,
    down_window_s: float,
) -> int:
    """stabilizeRecommendationWithBehaviors: scale-up takes the minimum, scale-down the maximum of
    the recommendations in its window (the current count in between). Records `desired` in
    `recommendations` (in place), reusing the slot of a sample older than both windows.
    """
    up_cutoff, down_cutoff = now_s - up_window_s, now_s - down_window_s
    both = min(up_cutoff, down_cutoff)
    up_rec = down_rec = desired
    old = None
    for i, (t, rec) in enumerate(recommendations):
        if t > up_cutoff and rec < up_rec:
            up_rec = rec
        if t > down_cutoff and rec > down_rec:
            down_rec = rec
        if t < both:
            old = i
    if old is not None:
        recommendations[old] = (now_s, desired)
    else:
        recommendations.append((now_s, desired))
    stabilized = current
    if stabilized < up_rec:
        stabilized = up_rec
    if stabilized > down_rec:
        stabilized = down_rec
    return stabilized


def stabilize_recommendation(
    recommendations: list[tuple[float, int]], now_s: float, desired: int, window_s: float
) -> int:
    """StabilizeRecommendation (no spec.behavior): the maximum recommendation of the window;
    records `desired` in place, in the slot of a sample older than the window if there is one.
    """
    cutoff = now_s - window_s
    stabilized = desired
    old = None
    for i, (t, rec) in enumerate(recommendations):
        if t < cutoff:
            old = i
        elif rec > stabilized:
            stabilized = rec
    if old is not None:
        recommendations[old] = (now_s, desired)
    else:
        recommendations.append((now_s, desired))
    return stabilized


def convert_desired_replicas_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    up_rules: HPAScalingRules,
    down_rules: HPAScalingRules,
    up_events,
    down_events,
    now_s: float,
) -> tuple[int, str]:
    """convertDesiredReplicasWithBehaviorRate: the policies' rate limits and [min, max], with the limiting reason."""
    if desired > current:
        limit = max(scale_up_limit(current, up_events, down_events, up_rules, now_s), current)
        if max_replicas > limit:
            allowed, reason = limit, "ScaleUpLimit"
        else:
            allowed, reason = max_replicas, "TooManyReplicas"
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(scale_down_limit(current, up_events, down_events, down_rules, now_s), current)
        if min_replicas < limit:
            allowed, reason = limit, "ScaleDownLimit"
        else:
            allowed, reason = min_replicas, "TooFewReplicas"
        if desired < allowed:
            return allowed, reason
    return desired, "DesiredWithinRange"


def convert_desired_replicas_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int
) -> tuple[int, str]:
    """ConvertDesiredReplicasWithRules (no spec.behavior): at most max(2 x current, 4), then [min, max]."""
    up_limit = int(max(_SCALE_UP_LIMIT_FACTOR * current, _SCALE_UP_LIMIT_MINIMUM))
    if max_replicas > up_limit:
        allowed, reason = up_limit, "ScaleUpLimit"
    else:
        allowed, reason = max_replicas, "TooManyReplicas"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas"
    if desired > allowed:
        return allowed, reason
    return desired, "DesiredWithinRange"


@dataclass(frozen=True)
class HPADecision:
    """What one reconcile decided. `desired_replicas` is what the scale subresource is set to."""

    time_s: float
    current_replicas: int
    desired_replicas: int
    metric_proposal: int | None
    stabilized: int | None
    reason: str

    @property
    def rescale(self) -> bool:
        return self.desired_replicas != self.current_replicas


@dataclass
class HorizontalPodAutoscaler:
    """One HPA's controller state: past recommendations and scale events (as horizontal.go keeps them).

    Pass ``legacy=True`` for an HPA object without `spec.behavior` (the controller's older path:
    scale-down stabilisation only, scale-up at most max(2 x current, 4) per reconcile).
    """

    config: HPAConfig
    legacy: bool = False
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_up_events: list[tuple[float, int]] = field(default_factory=list)
    scale_down_events: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self):
        # derived once from the (frozen) config: read at every reconcile
        self._tolerances = self.config.tolerances
        self._down_window_s = self.config.scale_down_window_s

    @property
    def sync_period_s(self) -> float:
        return self.config.sync_period_s

    def reconcile(
        self,
        now_s: float,
        current_replicas: int,
        samples: Mapping[str, MetricSample | ServiceSample] | Sequence[MetricSample | ServiceSample],
    ) -> HPADecision:
        """One reconcileAutoscaler pass. `samples` go with `config.metrics` (by position or metric name)."""
        cfg = self.config
        if not self.recommendations:  # recordInitialRecommendation
            self.recommendations.append((now_s, current_replicas))
        min_r, max_r = cfg.min_replicas, cfg.max_replicas
        proposal = stabilized = None
        if current_replicas == 0 and min_r != 0:
            return HPADecision(now_s, 0, 0, None, None, "ScalingDisabled")
        if current_replicas > max_r:
            desired, reason = max_r, "Current number of replicas above Spec.MaxReplicas"
        elif current_replicas < min_r:
            desired, reason = min_r, "Current number of replicas below Spec.MinReplicas"
        else:
            proposals = []
            by_name = isinstance(samples, Mapping)
            for i, metric in enumerate(cfg.metrics):
                sample = samples[metric.name] if by_name else samples[i]
                p = replicas_for_metric(current_replicas, sample, metric, self._tolerances)
                if p is not None:
                    proposals.append(p)
            if not proposals:
                return HPADecision(
                    now_s, current_replicas, current_replicas, None, None, "FailedComputeMetricsReplicas"
                )
            proposal = max(0, max(proposals))
            if self.legacy:
                desired, stabilized = self._normalize_legacy(now_s, current_replicas, proposal)
            else:
                desired, stabilized = self._normalize_with_behaviors(now_s, current_replicas, proposal)
            reason = "above target" if desired > current_replicas else "All metrics below target"
        if desired != current_replicas:
            self._store_scale_event(now_s, current_replicas, desired)
        else:
            reason = "no change"
        return HPADecision(now_s, current_replicas, desired, proposal, stabilized, reason)

    # --- autoscaling/v2 behavior path ------------------------------------------------------

    def _normalize_with_behaviors(self, now_s: float, current: int, desired: int) -> tuple[int, int]:
        cfg = self.config
        up_rules, down_rules = cfg.behavior.scale_up, cfg.behavior.scale_down
        stabilized = stabilize_recommendation_with_behaviors(
            self.recommendations,
            now_s,
            current,
            desired,
            up_rules.stabilization_window_seconds,
            self._down_window_s,
        )
        result, _ = convert_desired_replicas_with_behavior_rate(
            current, stabilized, cfg.min_replicas, cfg.max_replicas, up_rules, down_rules,
            self.scale_up_events, self.scale_down_events, now_s,
        )  # fmt: skip
        return result, stabilized

    def _store_scale_event(self, now_s: float, prev: int, new: int) -> None:
        if self.legacy:
            return
        beh = self.config.behavior
        if new > prev:
            longest = max(p.period_seconds for p in beh.scale_up.policies)
            self.scale_up_events = [(t, c) for t, c in self.scale_up_events if t >= now_s - longest]
            self.scale_up_events.append((now_s, new - prev))
        else:
            longest = max(p.period_seconds for p in beh.scale_down.policies)
            self.scale_down_events = [(t, c) for t, c in self.scale_down_events if t >= now_s - longest]
            self.scale_down_events.append((now_s, prev - new))

    # --- legacy path (no spec.behavior) ---------------------------------------------------------

    def _normalize_legacy(self, now_s: float, current: int, desired: int) -> tuple[int, int]:
        cfg = self.config
        stabilized = stabilize_recommendation(self.recommendations, now_s, desired, cfg.downscale_stabilization_s)
        result, _ = convert_desired_replicas_with_rules(current, stabilized, cfg.min_replicas, cfg.max_replicas)
        return result, stabilized


def compiled_supported(config: HPAConfig, cpu_replica: bool, legacy: bool = False) -> bool:
    """Whether `CompiledHPA` can stand in for `HorizontalPodAutoscaler` with the engine's grouped
    samples: the behavior path, and every metric per pod (Pods, or Resource on GPU replicas) over a
    signal the slot kernel computes (not kv_cache_usage).
    """
    if legacy:
        return False
    for m in config.metrics:
        if m.source not in ("Pods", "Resource") or (m.source == "Resource" and cpu_replica):
            return False
        if m.name == "kv_cache_usage":
            return False
    return True


class CompiledHPA:
    """`HorizontalPodAutoscaler` (behavior path) fed by `observe.grouped_sample_slots` samples, as
    one compiled call per sync (`gpusim.autoscale._hpa_kernel.hpa_sync`): the same decisions, the
    controller's recommendations and scale events kept in arrays. Only for configs that
    `compiled_supported` accepts.
    """

    def __init__(self, config: HPAConfig, capacity: int = 64):
        import numpy as np

        from gpusim.autoscale import _hpa_kernel as HK
        from gpusim.dataplane import _kernels as K

        self.config = config
        codes = {"concurrency": K.SIG_CONCURRENCY, "queue_length": K.SIG_QUEUE_LENGTH,
                 "requests_running": K.SIG_REQUESTS_RUNNING, "gpu_util": K.SIG_GPU_UTIL,
                 "utilization": K.SIG_UTILIZATION, "rps": K.SIG_SHARED, "tokens_per_s": K.SIG_SHARED}  # fmt: skip
        shares = {"concurrency": HK.SHARE_LB_QUEUE, "queue_length": HK.SHARE_LB_QUEUE, "rps": HK.SHARE_RPS,
                  "tokens_per_s": HK.SHARE_TOKENS}  # fmt: skip
        rows = []
        for m in config.metrics:
            util = m.target_type == "Utilization"
            rows.append((codes[m.name], int(util), int(m.name in ("utilization", "gpu_util")),
                         int(m.target) if util else _milli(m.target), shares.get(m.name, HK.SHARE_NONE)))  # fmt: skip
        self._mi = np.array(rows, dtype=np.int64).reshape(len(rows), 5)
        up, down = config.behavior.scale_up, config.behavior.scale_down
        sel = {"Max": HK.SELECT_MAX, "Min": HK.SELECT_MIN, "Disabled": HK.SELECT_DISABLED}
        ci = [config.min_replicas, config.max_replicas, sel[up.select_policy], sel[down.select_policy],
              max(p.period_seconds for p in up.policies), max(p.period_seconds for p in down.policies),
              len(up.policies), len(down.policies)]  # fmt: skip
        for p in list(up.policies) + list(down.policies):
            ci += [HK.POLICY_PODS if p.type == "Pods" else HK.POLICY_PERCENT, p.value, p.period_seconds]
        self._ci = np.array(ci, dtype=np.int64)
        tol = config.tolerances
        self._cf = np.array(
            [tol.scale_down, tol.scale_up, up.stabilization_window_seconds, config.scale_down_window_s], dtype=float
        )
        self._st = np.zeros(3, dtype=np.int64)
        self._rec_t, self._rec_v = np.zeros(capacity), np.zeros(capacity, dtype=np.int64)
        self._ev_t, self._ev_c = np.zeros((2, capacity)), np.zeros((2, capacity), dtype=np.int64)
        self._out = np.zeros(3, dtype=np.int64)
        self._sync = HK.hpa_sync

    @property
    def sync_period_s(self) -> float:
        return self.config.sync_period_s

    def _grow(self) -> None:
        import numpy as np

        cap = self._rec_t.shape[0] * 2
        rec_t, rec_v = np.zeros(cap), np.zeros(cap, dtype=np.int64)
        ev_t, ev_c = np.zeros((2, cap)), np.zeros((2, cap), dtype=np.int64)
        n = self._rec_t.shape[0]
        rec_t[:n], rec_v[:n], ev_t[:, :n], ev_c[:, :n] = self._rec_t, self._rec_v, self._ev_t, self._ev_c
        self._rec_t, self._rec_v, self._ev_t, self._ev_c = rec_t, rec_v, ev_t, ev_c

    def sync(self, now_s: float, current: int, window, state, n_ready: int, n_pending: int, n_loading: int,
             request_milli: int) -> int:  # fmt: skip
        """One reconcile: the desired replicas from `window` (an `observe.SignalWindow`) over the data
        plane's slot states `state` and the replica counts (as `observe.SlotView` carries them).
        """
        while True:
            d = self._sync(
                float(now_s), int(current), window.acc, state, n_ready, n_pending, n_loading, window.lb_queue_dt,
                window.dt, window.arrivals, window.output_tokens, request_milli, self._mi, self._ci, self._cf,
                self._st, self._rec_t, self._rec_v, self._ev_t, self._ev_c, self._out,
            )  # fmt: skip
            if d != -1:
                return int(d)
            self._grow()

    @property
    def recommendations(self) -> list[tuple[float, int]]:
        n = int(self._st[0])
        return [(float(t), int(v)) for t, v in zip(self._rec_t[:n], self._rec_v[:n], strict=True)]

    @property
    def scale_up_events(self) -> list[tuple[float, int]]:
        n = int(self._st[1])
        return [(float(t), int(c)) for t, c in zip(self._ev_t[0, :n], self._ev_c[0, :n], strict=True)]

    @property
    def scale_down_events(self) -> list[tuple[float, int]]:
        n = int(self._st[2])
        return [(float(t), int(c)) for t, c in zip(self._ev_t[1, :n], self._ev_c[1, :n], strict=True)]
