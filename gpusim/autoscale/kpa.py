"""The Knative Pod Autoscaler's decision logic (KPA), as explicit state without SimPy.

Follows knative/serving pkg/autoscaler/scaling/autoscaler.go (`autoscaler.Scale`, its
`DeciderSpec` and `ScaleResult`) and, for bounds and scale to zero, the KPA reconciler's scaler.
Every ``tick_interval_s`` the engine passes the ready pod count and the observed *total* value of
the metric (requests in flight summed over pods, or requests per second) averaged over the stable
window and over the panic window; `WindowAverage` computes those averages from the data plane's
windows.

    ready      = max(1, ready pods)
    max_up     = ceil(max_scale_up_rate * ready)
    max_down   = floor(ready / max_scale_down_rate)          (0 when the revision is unreachable)
    stable     = clamp(ceil(stable_value / target), max_down, max_up)
    panic      = clamp(ceil(panic_value / target),  max_down, max_up)
    activation scale a > 1 lifts a non-zero stable or panic count to at least a
    panic mode starts (or is extended) when ceil(panic_value / target) / ready >= panic threshold,
    and ends once below it and a full stable window has passed since it was last extended;
    in panic mode the count is max(stable, panic) and never decreases.

Then, when the revision is reachable, the scale-down delay (maximum over the last
``scale_down_delay_s``, kept in tick-sized buckets as Knative's max.TimeWindow does). The result
also carries the excess burst capacity, floor(ready pods x total value - target burst capacity -
panic value) (-1 when the burst capacity is unlimited, 0 when it is 0); a negative value is when
Knative keeps the activator in the request path. No data yet, or no pod count, gives an invalid
result, and the reconciler keeps the current scale. `KnativePodAutoscaler.scale` adds the
reconciler's [min_scale, max_scale] bounds and a simplified scale to zero: the last pod goes only
after the autoscaler has wanted zero pods continuously for ``scale_to_zero_grace_period_s``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from gpusim.autoscale.schema import KPAConfig


@dataclass
class DeciderSpec:
    """The parameters `autoscaler.Scale` reads (knative/serving pkg/autoscaler/scaling/multiscaler.go)."""

    target_value: float
    total_value: float
    target_burst_capacity: float = 211.0
    panic_threshold: float = 2.0  # a factor of the ready pods
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    stable_window_s: float = 60.0
    scale_down_delay_s: float = 0.0
    activation_scale: int = 1
    reachable: bool = True
    tick_interval_s: float = 2.0

    @classmethod
    def from_config(cls, cfg: KPAConfig) -> DeciderSpec:
        return cls(
            target_value=cfg.target_value,
            total_value=cfg.total_value,
            target_burst_capacity=cfg.target_burst_capacity,
            panic_threshold=cfg.panic_threshold,
            max_scale_up_rate=cfg.max_scale_up_rate,
            max_scale_down_rate=cfg.max_scale_down_rate,
            stable_window_s=cfg.stable_window_s,
            scale_down_delay_s=cfg.scale_down_delay_s,
            activation_scale=cfg.activation_scale,
            tick_interval_s=cfg.tick_interval_s,
        )


@dataclass(frozen=True)
class ScaleResult:
    """`autoscaler.Scale`'s answer; `valid` False means no decision (no data, or no pod count)."""

    desired_pods: int
    excess_burst_capacity: int
    valid: bool


INVALID = ScaleResult(0, 0, False)


class _MaxTimeWindow:
    """Knative's max.TimeWindow: the maximum over ceil(duration / granularity) buckets of time."""

    def __init__(self, duration_s: float, granularity_s: float):
        self.size = int(math.ceil(duration_s / granularity_s))
        self.granularity_s = granularity_s
        self._maxima: deque = deque()  # (bucket index, value), values descending

    def record(self, now_s: float, value: int) -> None:
        index = int(now_s // self.granularity_s)
        while self._maxima and value >= self._maxima[-1][1]:
            self._maxima.pop()  # a newer, larger value hides older smaller ones
        while self._maxima and index - self._maxima[0][0] >= self.size:
            self._maxima.popleft()
        if self._maxima and self._maxima[-1][0] == index:
            value = max(value, self._maxima.pop()[1])
        self._maxima.append((index, value))

    def current(self) -> int:
        return self._maxima[0][1]


@dataclass(frozen=True)
class KPADecision:
    time_s: float
    ready_pods: int
    desired_pods: int
    stable_pods: int
    panic_pods: int
    panicking: bool
    excess_burst_capacity: int = 0
    valid: bool = True


@dataclass
class KnativePodAutoscaler:
    """One revision's KPA. `ready_pods_at_start` > 1 starts it in panic mode, as Knative does.

    Built from a `KPAConfig` (the engine) or directly from a `DeciderSpec` (``spec=``).
    """

    config: KPAConfig | None = None
    ready_pods_at_start: int = 0
    start_s: float = 0.0
    spec: DeciderSpec | None = None
    panic_time_s: float | None = None
    max_panic_pods: int = 0
    _delay: _MaxTimeWindow | None = None
    _zero_since_s: float | None = None
    _last: tuple | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.spec is None:
            if self.config is None:
                raise ValueError("give a KPAConfig or a DeciderSpec")
            self.spec = DeciderSpec.from_config(self.config)
        # "We always start in the panic mode, if the deployment is scaled up over 1 pod."
        if self.ready_pods_at_start > 1:
            self.panic_time_s = self.start_s
        self.max_panic_pods = self.ready_pods_at_start
        if self.spec.scale_down_delay_s > 0:
            self._delay = _MaxTimeWindow(self.spec.scale_down_delay_s, self.spec.tick_interval_s)

    @property
    def reachable(self) -> bool:
        return self.spec.reachable

    @reachable.setter
    def reachable(self, value: bool) -> None:
        self.spec.reachable = bool(value)

    @property
    def tick_interval_s(self) -> float:
        return self.spec.tick_interval_s

    def update(self, spec: DeciderSpec) -> None:
        """autoscaler.Update: a new spec; panic state and the delay window are kept."""
        self.spec = spec

    def scale_result(
        self, now_s: float, ready_pods: int | None, stable_value: float | None, panic_value: float | None
    ) -> ScaleResult:
        """One `autoscaler.Scale` tick. None for the pod count or the metric values is the error path."""
        spec = self.spec
        self._last = None
        if ready_pods is None or stable_value is None or panic_value is None:
            return INVALID
        ready = max(1.0, float(ready_pods))
        max_up = math.ceil(spec.max_scale_up_rate * ready)
        max_down = math.floor(ready / spec.max_scale_down_rate) if spec.reachable else 0.0
        dspc = math.ceil(stable_value / spec.target_value)
        dppc = math.ceil(panic_value / spec.target_value)
        stable_pods = int(min(max(dspc, max_down), max_up))
        panic_pods = int(min(max(dppc, max_down), max_up))
        if spec.activation_scale > 1:
            if dspc > 0 and spec.activation_scale > stable_pods:
                stable_pods = spec.activation_scale
            if dppc > 0 and spec.activation_scale > panic_pods:
                panic_pods = spec.activation_scale
        over = dppc / ready >= spec.panic_threshold
        if over:
            self.panic_time_s = now_s  # start, or extend, panic
        elif self.panic_time_s is not None and self.panic_time_s + spec.stable_window_s < now_s:
            self.panic_time_s = None
            self.max_panic_pods = 0
        desired = stable_pods
        if self.panic_time_s is not None:
            desired = max(desired, panic_pods)
            if desired > self.max_panic_pods:
                self.max_panic_pods = desired
            desired = self.max_panic_pods  # no scale-down while panicking
        if spec.reachable and self._delay is not None:
            self._delay.record(now_s, desired)
            desired = self._delay.current()
        if spec.target_burst_capacity == 0:
            ebc = 0.0
        elif spec.target_burst_capacity > 0:
            ebc = math.floor(ready_pods * spec.total_value - spec.target_burst_capacity - panic_value)
        else:
            ebc = -1.0
        self._last = (stable_pods, panic_pods)
        return ScaleResult(int(desired), int(ebc), True)

    def scale(
        self, now_s: float, ready_pods: int | None, stable_value: float | None, panic_value: float | None
    ) -> KPADecision:
        """`autoscaler.Scale` plus the reconciler's bounds and scale-to-zero rule.

        An invalid result (no data yet, no pod count) keeps the ready pods (the reconciler does not act).
        """
        sr = self.scale_result(now_s, ready_pods, stable_value, panic_value)
        n = int(ready_pods or 0)
        if not sr.valid:
            return KPADecision(now_s, n, n, n, n, self.panic_time_s is not None, 0, False)
        stable_pods, panic_pods = self._last
        desired = self._bounds(now_s, sr.desired_pods)
        return KPADecision(
            now_s, n, desired, stable_pods, panic_pods, self.panic_time_s is not None, sr.excess_burst_capacity
        )

    def _bounds(self, now_s: float, want: int) -> int:
        cfg = self.config
        if cfg is None:
            return want
        if cfg.max_scale > 0:
            want = min(want, cfg.max_scale)
        want = max(want, cfg.min_scale)
        if want > 0:
            self._zero_since_s = None
            return want
        if not cfg.enable_scale_to_zero:
            return 1
        if self._zero_since_s is None:
            self._zero_since_s = now_s
        return 0 if now_s - self._zero_since_s >= cfg.scale_to_zero_grace_period_s else 1


@dataclass
class WindowAverage:
    """Time average of a piecewise-constant signal over the last `window_s` seconds.

    The engine records each data-plane window's average (e.g. summed concurrency over pods) with
    `add(t_start, t_end, value)`; `average(now, w)` integrates the part of the record inside
    ``[now - w, now]`` and divides by the covered time (None when nothing is covered). Memory is
    bounded by `max_window_s`.
    """

    max_window_s: float
    _spans: deque = field(default_factory=deque)

    def add(self, t_start_s: float, t_end_s: float, value: float) -> None:
        if t_end_s > t_start_s:
            self._spans.append((t_start_s, t_end_s, float(value)))
        while self._spans and self._spans[0][1] < t_end_s - self.max_window_s:
            self._spans.popleft()

    def average(self, now_s: float, window_s: float) -> float | None:
        lo = now_s - window_s
        area = covered = 0.0
        for t0, t1, v in self._spans:
            a, b = max(t0, lo), min(t1, now_s)
            if b > a:
                area += v * (b - a)
                covered += b - a
        return area / covered if covered > 0 else None
