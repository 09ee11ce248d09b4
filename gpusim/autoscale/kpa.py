"""The Knative Pod Autoscaler's decision logic (KPA), as explicit state without SimPy.

Follows knative/serving pkg/autoscaler/scaling/autoscaler.go (`autoscaler.Scale`) and, for bounds
and scale to zero, the KPA reconciler's scaler. Every ``tick_interval_s`` the engine passes the
ready pod count and the observed *total* value of the metric (requests in flight summed over pods,
or requests per second) averaged over the stable window and over the panic window;
`WindowAverage` computes those averages from the data plane's windows.

    ready      = max(1, ready pods)
    max_up     = ceil(max_scale_up_rate * ready)
    max_down   = floor(ready / max_scale_down_rate)          (0 when the revision is unreachable)
    stable     = clamp(ceil(stable_value / target), max_down, max_up)
    panic      = clamp(ceil(panic_value / target),  max_down, max_up)
    panic mode starts (or is extended) when ceil(panic_value / target) / ready >= panic threshold,
    and ends once below it and a full stable window has passed since it was last extended;
    in panic mode the count is max(stable, panic) and never decreases.

Then an optional scale-down delay (maximum over the last ``scale_down_delay_s``), then
[min_scale, max_scale]. Scale to zero (a simplification of the reconciler's activator hand-off):
the last pod goes only after the autoscaler has wanted zero pods continuously for
``scale_to_zero_grace_period_s``; until then it keeps one.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from gpusim.autoscale.schema import KPAConfig


@dataclass(frozen=True)
class KPADecision:
    time_s: float
    ready_pods: int
    desired_pods: int
    stable_pods: int
    panic_pods: int
    panicking: bool


@dataclass
class KnativePodAutoscaler:
    """One revision's KPA. `ready_pods_at_start` > 1 starts it in panic mode, as Knative does."""

    config: KPAConfig
    ready_pods_at_start: int = 0
    start_s: float = 0.0
    panic_time_s: float | None = None
    max_panic_pods: int = 0
    reachable: bool = True
    _delay: deque = field(default_factory=deque)
    _zero_since_s: float | None = None

    def __post_init__(self):
        # "We always start in the panic mode, if the deployment is scaled up over 1 pod."
        if self.ready_pods_at_start > 1:
            self.panic_time_s = self.start_s
        self.max_panic_pods = self.ready_pods_at_start

    @property
    def tick_interval_s(self) -> float:
        return self.config.tick_interval_s

    def scale(self, now_s: float, ready_pods: int, stable_value: float, panic_value: float) -> KPADecision:
        """One `autoscaler.Scale` tick plus the reconciler's bounds and scale-to-zero rule."""
        cfg = self.config
        ready = max(1.0, float(ready_pods))
        target = cfg.target_value
        max_up = math.ceil(cfg.max_scale_up_rate * ready)
        max_down = math.floor(ready / cfg.max_scale_down_rate) if self.reachable else 0.0
        dspc = math.ceil(stable_value / target)
        dppc = math.ceil(panic_value / target)
        stable_pods = int(min(max(dspc, max_down), max_up))
        panic_pods = int(min(max(dppc, max_down), max_up))
        over = dppc / ready >= cfg.panic_threshold
        if over:
            self.panic_time_s = now_s  # start, or extend, panic
        elif self.panic_time_s is not None and self.panic_time_s + cfg.stable_window_s < now_s:
            self.panic_time_s = None
            self.max_panic_pods = 0
        desired = stable_pods
        if self.panic_time_s is not None:
            desired = max(desired, panic_pods)
            if desired > self.max_panic_pods:
                self.max_panic_pods = desired
            desired = self.max_panic_pods  # no scale-down while panicking
        if cfg.scale_down_delay_s > 0:
            self._delay.append((now_s, desired))
            while self._delay and self._delay[0][0] <= now_s - cfg.scale_down_delay_s:
                self._delay.popleft()
            desired = max(d for _, d in self._delay)
        desired = self._bounds(now_s, desired)
        return KPADecision(now_s, int(ready_pods), desired, stable_pods, panic_pods, self.panic_time_s is not None)

    def _bounds(self, now_s: float, want: int) -> int:
        cfg = self.config
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
