"""The compiled HPA sync (`CompiledHPA`, `_hpa_kernel.hpa_sync`) decides what the Python HPA decides.

The engine's per-sync path was `observe.hpa_samples_grouped` + `HorizontalPodAutoscaler.reconcile`;
`CompiledHPA.sync` replaces both in one compiled call for HPAs whose metrics are all per pod. Over
random configurations (metrics, targets, tolerances, stabilisation windows, Pods/Percent policies
with Max/Min/Disabled selection, min/max replicas) and random sequences of signals and replica
counts, every decision and the controller's state (recommendations, scale events) must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.autoscale.hpa import CompiledHPA, HorizontalPodAutoscaler, compiled_supported
from gpusim.autoscale.observe import SignalWindow, SlotView, hpa_samples_grouped
from gpusim.autoscale.schema import HPAConfig, HPAMetric
from gpusim.dataplane.plane import DRAINING, READY

SLOTS = 12

METRICS = [
    {"name": "concurrency", "target": 1.5},
    {"name": "queue_length", "target": 0.5},
    {"name": "requests_running", "target": 1},
    {"name": "rps", "target": 2},
    {"name": "tokens_per_s", "target": 300},
    {"name": "gpu_util", "target": 60},
    {"name": "utilization", "target_type": "Utilization", "target": 70},
]


def _rules(rng, up: bool) -> dict:
    pols = []
    for _ in range(int(rng.integers(1, 4))):
        pols.append({"type": str(rng.choice(["Pods", "Percent"])), "value": int(rng.choice([1, 2, 4, 50, 100, 150])),
                     "period_seconds": int(rng.choice([15, 30, 60, 120]))})  # fmt: skip
    r = {"select_policy": str(rng.choice(["Max", "Min", "Disabled"], p=[0.5, 0.35, 0.15])), "policies": pols}
    if rng.random() < 0.7:
        r["stabilization_window_seconds"] = int(rng.choice([0, 30, 60, 300] if up else [0, 60, 120, 300]))
    if rng.random() < 0.3:
        r["tolerance"] = float(rng.choice([0.0, 0.05, 0.2]))
    return r


def _config(rng) -> HPAConfig:
    k = int(rng.integers(1, 3))
    metrics = [HPAMetric(**METRICS[i]) for i in rng.choice(len(METRICS), k, replace=False)]
    lo = int(rng.integers(0, 4))
    beh = {}
    if rng.random() < 0.8:
        beh = {"scale_up": _rules(rng, True), "scale_down": _rules(rng, False)}
    return HPAConfig(min_replicas=lo, max_replicas=lo + int(rng.integers(1, 12)), metrics=metrics, behavior=beh,
                     tolerance=float(rng.choice([0.0, 0.1, 0.25])),
                     downscale_stabilization_s=int(rng.choice([0, 60, 300])))  # fmt: skip


def _window(rng, w: SignalWindow, state: np.ndarray) -> None:
    w.reset()
    for _ in range(int(rng.integers(0, 4))):
        ready = (state == READY) & (rng.random(SLOTS) < 0.9)
        ins = rng.integers(0, 3, SLOTS) * rng.random(SLOTS)
        q = rng.integers(0, 3, SLOTS) * rng.random(SLOTS)
        if rng.random() < 0.5:  # values on the tolerance band's edges too
            ins, q = np.round(ins * 2) / 2, np.round(q * 2) / 2
        w.add_arrays(ready, ins + q, q, ins / 2, float(rng.choice([0.0, 5.0, 15.0])), float(rng.random() * 3),
                     int(rng.integers(0, 50)), float(rng.integers(0, 5000)))  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_compiled_sync_equals_the_python_hpa(seed):
    rng = np.random.default_rng(100 + seed)
    reasons = set()
    changes = 0
    for _ in range(40):
        cfg = _config(rng)
        assert compiled_supported(cfg, cpu_replica=False)
        py, fast = HorizontalPodAutoscaler(cfg), CompiledHPA(cfg, capacity=4)  # small: the arrays must grow
        w_py, w_fast = SignalWindow(), SignalWindow()
        w_py.slots(SLOTS)
        w_fast.slots(SLOTS)
        now, current = 0.0, int(rng.integers(0, cfg.max_replicas + 3))
        for _ in range(60):
            now += float(rng.choice([15.0, 15.0, 30.0, 7.5]))
            state = rng.choice(np.array([0, READY, READY, DRAINING], dtype=np.int8), SLOTS)
            n_ready = int((state == READY).sum())
            n_pending, n_loading = int(rng.integers(0, 3)), int(rng.integers(0, 3))
            seed_w = int(rng.integers(1 << 30))
            _window(np.random.default_rng(seed_w), w_py, state)
            _window(np.random.default_rng(seed_w), w_fast, state)
            req = int(rng.choice([1000, 2000, 7000]))
            view = SlotView(state, n_ready, n_pending, n_loading)
            samples = hpa_samples_grouped(cfg.metrics, [], w_py, now, req, False, view)
            d = py.reconcile(now, current, samples)
            got = fast.sync(now, current, w_fast, state, n_ready, n_pending, n_loading, req)
            assert got == d.desired_replicas, (cfg, now, current, d)
            reasons.add(d.reason)
            changes += d.desired_replicas != current
            assert fast.recommendations == py.recommendations
            assert fast.scale_up_events == py.scale_up_events
            assert fast.scale_down_events == py.scale_down_events
            # the engine applies the decision; sometimes pods are lost or added behind the HPA's back
            current = max(0, d.desired_replicas + int(rng.choice([0, 0, 0, -1, 1, 3])))
    assert changes > 100
    assert {"no change", "above target", "All metrics below target"} <= reasons


def test_compiled_sync_notices_a_wrong_decision():
    """The comparison above can fail: a different target gives different decisions."""
    cfg = HPAConfig(min_replicas=1, max_replicas=20, metrics=[HPAMetric(name="concurrency", target=1.0)])
    other = HPAConfig(min_replicas=1, max_replicas=20, metrics=[HPAMetric(name="concurrency", target=4.0)])
    w = SignalWindow()
    w.slots(SLOTS)
    state = np.zeros(SLOTS, dtype=np.int8)
    state[:4] = READY
    ready = state == READY
    w.add_arrays(ready, np.full(SLOTS, 3.0), np.zeros(SLOTS), np.full(SLOTS, 0.5), 15.0, 0.0, 10)
    a = CompiledHPA(cfg).sync(15.0, 4, w, state, 4, 0, 0, 1000)
    b = CompiledHPA(other).sync(15.0, 4, w, state, 4, 0, 0, 1000)
    assert a == 8  # 4 pods at concurrency 3 against 1: ceil(3 x 4) = 12, the 4-pod policy caps it at 8
    assert b == 4  # ceil(0.75 x 4) = 3, but the 300 s scale-down window still holds the initial 4
    assert a != b


def test_unsupported_configs_keep_the_python_hpa():
    pods = HPAMetric(name="concurrency", target=1.0)
    ext = HPAMetric(name="queue_length", type="External", target=5)
    util = HPAMetric(name="utilization", target_type="Utilization", target=60)
    kv = HPAMetric(name="kv_cache_usage", target=0.8)
    assert compiled_supported(HPAConfig(max_replicas=4, metrics=[pods, util]), cpu_replica=False)
    assert not compiled_supported(HPAConfig(max_replicas=4, metrics=[pods, ext]), cpu_replica=False)
    assert not compiled_supported(HPAConfig(max_replicas=4, metrics=[util]), cpu_replica=True)
    assert not compiled_supported(HPAConfig(max_replicas=4, metrics=[kv]), cpu_replica=False)
    assert not compiled_supported(HPAConfig(max_replicas=4, metrics=[pods]), cpu_replica=False, legacy=True)
