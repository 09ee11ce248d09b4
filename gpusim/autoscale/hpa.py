"""The Kubernetes Horizontal Pod Autoscaler's decision logic, as pure functions and explicit state.

Follows kubernetes/kubernetes pkg/controller/podautoscaler: `replica_calculator.go`
(calcPlainMetricReplicas / GetResourceReplicas) and `horizontal.go` (reconcileAutoscaler,
stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors, and the legacy
normalizeDesiredReplicas path when no behavior is set). No SimPy: the engine calls
`HorizontalPodAutoscaler.reconcile` every ``sync_period_s`` with the pod counts and per-pod metric
values, and applies the returned replica count.

Per metric (ready = pods reporting a value; unready = pending or not ready; missing = running,
no value):

    ratio   = mean(values) / target
    if no unready pods on a scale-up and no missing pods:
        desired = current        if |1 - ratio| <= tolerance
                  ceil(ratio * ready) otherwise
    else missing pods count as the target (scale-down) or 0 (scale-up), unready ones as 0 on a
    scale-up, the ratio is recomputed, and the change is cancelled if it falls in the tolerance
    band or flips direction.

The largest proposal over the metrics wins, then the stabilisation window (scale-up: the minimum,
scale-down: the maximum of the recommendations in the window, the current count in between), then
the rate limits of the scaling policies, then [min, max]. Quantities are emulated as Kubernetes
reads them: Utilization truncates the average to a whole percent, AverageValue works in milli-units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gpusim.autoscale.schema import HPAConfig, HPAMetric, HPAScalingRules

# legacy path (no behavior): scaleUpLimitFactor, scaleUpLimitMinimum in horizontal.go
_SCALE_UP_LIMIT_FACTOR = 2.0
_SCALE_UP_LIMIT_MINIMUM = 4.0


@dataclass(frozen=True)
class MetricSample:
    """One metric's observation at a reconcile.

    `values` holds one value per ready pod that reports the metric; `n_unready` counts pods that
    are pending or not ready; `n_missing` running pods without a value.
    """

    values: Sequence[float]
    n_unready: int = 0
    n_missing: int = 0


def _usage_ratio(values: Sequence[float], metric: HPAMetric) -> float:
    """Usage / target as metricsclient computes it (integer percent, or milli-unit average)."""
    n = len(values)
    if metric.target_type == "Utilization":
        util = int(math.floor(sum(values) / n))  # GetResourceUtilizationRatio truncates to whole percent
        return util / int(metric.target)
    total_milli = sum(int(round(v * 1000)) for v in values)
    usage_milli = total_milli // n  # GetMetricUsageRatio: integer average of milli-values
    return usage_milli / int(round(metric.target * 1000))


def replicas_for_metric(current_replicas: int, sample: MetricSample, metric: HPAMetric, tolerance: float) -> int | None:
    """Replica proposal of one metric (calcPlainMetricReplicas / GetResourceReplicas); None if no pod reports it."""
    values = [float(v) for v in sample.values]
    if not values:
        return None  # "did not receive metrics for any ready pods"
    ready = len(values)
    ratio = _usage_ratio(values, metric)
    scale_up_with_unready = sample.n_unready > 0 and ratio > 1.0
    if not scale_up_with_unready and sample.n_missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return current_replicas
        return int(math.ceil(ratio * ready))
    filled = list(values)
    if sample.n_missing > 0:
        if ratio < 1.0:  # scale-down: missing pods use the target (Utilization: max(100 %, target))
            fallback = max(100.0, metric.target) if metric.target_type == "Utilization" else metric.target
            filled += [fallback] * sample.n_missing
        elif ratio > 1.0:  # scale-up: missing pods use nothing
            filled += [0.0] * sample.n_missing
    if scale_up_with_unready:
        filled += [0.0] * sample.n_unready
    new_ratio = _usage_ratio(filled, metric)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current_replicas
    new = int(math.ceil(new_ratio * len(filled)))
    if (new_ratio < 1.0 and new > current_replicas) or (new_ratio > 1.0 and new < current_replicas):
        return current_replicas
    return new


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

    @property
    def sync_period_s(self) -> float:
        return self.config.sync_period_s

    def reconcile(
        self, now_s: float, current_replicas: int, samples: Mapping[str, MetricSample] | Sequence[MetricSample]
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
            for i, metric in enumerate(cfg.metrics):
                sample = samples[metric.name] if isinstance(samples, Mapping) else samples[i]
                p = replicas_for_metric(current_replicas, sample, metric, cfg.tolerance)
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
        up_cutoff = now_s - up_rules.stabilization_window_seconds
        down_cutoff = now_s - cfg.scale_down_window_s
        up_rec = down_rec = desired
        for t, rec in self.recommendations:
            if t > up_cutoff:
                up_rec = min(rec, up_rec)
            if t > down_cutoff:
                down_rec = max(rec, down_rec)
        stabilized = current
        if stabilized < up_rec:
            stabilized = up_rec
        if stabilized > down_rec:
            stabilized = down_rec
        # samples older than both windows are never read again; keep the newest only
        self.recommendations = [(t, r) for t, r in self.recommendations if not (t < up_cutoff and t < down_cutoff)]
        self.recommendations.append((now_s, desired))

        result = stabilized
        if stabilized > current:
            limit = scale_up_limit(current, self.scale_up_events, self.scale_down_events, up_rules, now_s)
            limit = max(limit, current)
            result = min(stabilized, min(cfg.max_replicas, limit))
        elif stabilized < current:
            limit = scale_down_limit(current, self.scale_up_events, self.scale_down_events, down_rules, now_s)
            limit = min(limit, current)
            result = max(stabilized, max(cfg.min_replicas, limit))
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
        cutoff = now_s - cfg.downscale_stabilization_s
        stabilized = desired
        for t, rec in self.recommendations:
            if not t < cutoff and rec > stabilized:
                stabilized = rec
        self.recommendations = [(t, r) for t, r in self.recommendations if not t < cutoff]
        self.recommendations.append((now_s, desired))
        up_limit = int(max(_SCALE_UP_LIMIT_FACTOR * current, _SCALE_UP_LIMIT_MINIMUM))
        max_allowed = min(cfg.max_replicas, up_limit)
        if stabilized < cfg.min_replicas:
            return cfg.min_replicas, stabilized
        if stabilized > max_allowed:
            return max_allowed, stabilized
        return stabilized, stabilized
