"""The engine's grouped HPA samples give the same proposals as the pod-by-pod replica calculator.

`observe.grouped_sample` + `hpa.grouped_replicas` are the per-sync fast path of the inference
service (no `Pod` per replica); they must agree with `observe.pod_sample` + `PodsSample` through
`group_pods`/`pods_metric_replicas`/`resource_replicas` (the port of replica_calculator.go that the
upstream tables check) on every branch: within the tolerance, missing pods filled at the target or
0, Pending pods filled with 0 on a scale-up, the change cancelled when the fill-ins flip it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from gpusim.autoscale.hpa import GroupedSample, PodsSample, Tolerances, replicas_for_metric
from gpusim.autoscale.observe import (
    SignalWindow,
    SlotView,
    grouped_sample,
    grouped_sample_slots,
    hpa_samples,
    hpa_samples_grouped,
    pod_sample,
)
from gpusim.autoscale.schema import HPAMetric
from gpusim.dataplane.plane import DRAINING, READY


@dataclass
class R:  # a replica as the engine keeps it
    index: int
    state: str
    dp_index: int = -1
    running_s: float = math.nan
    ready_s: float = math.nan


METRICS = [
    HPAMetric(name="concurrency", target=1.5),
    HPAMetric(name="queue_length", target=0.5),
    HPAMetric(name="requests_running", target=1),
    HPAMetric(name="rps", target=2),
    HPAMetric(name="tokens_per_s", target=300),
    HPAMetric(name="gpu_util", target=60),
    HPAMetric(name="utilization", target_type="Utilization", target=70),
]


def _case(rng):
    """Random live replicas and a signal window over a few data-plane windows."""
    slots = 12
    w = SignalWindow()
    ready_slots = rng.random(slots) < 0.7
    for _ in range(int(rng.integers(0, 4))):
        ready = ready_slots & (rng.random(slots) < 0.9)
        ins = rng.integers(0, 3, slots) * rng.random(slots)
        q = rng.integers(0, 3, slots) * rng.random(slots)
        # integral values (e.g. 1.0, 1.5) put ratios exactly on the tolerance band's edges too
        if rng.random() < 0.5:
            ins, q = np.round(ins * 2) / 2, np.round(q * 2) / 2
        w.add_arrays(ready, ins + q, q, ins / 2, float(rng.choice([0.0, 5.0, 15.0])), float(rng.random() * 3),
                     int(rng.integers(0, 50)), float(rng.integers(0, 5000)))  # fmt: skip
    reps, now = [], 100.0
    free = list(rng.permutation(slots))  # a data-plane slot holds one replica at a time
    for i in range(int(rng.integers(0, 10))):
        st = str(rng.choice(["pending", "starting", "ready", "ready", "ready", "draining"]))
        running = float(rng.choice([math.nan, 90.0, 110.0])) if st == "starting" else 50.0
        dp = int(free.pop()) if st in ("ready", "draining") else -1
        reps.append(R(i, st, dp, running, 60.0 if st == "ready" else math.nan))
    return reps, w, now


def _slots(reps, now, n_slots=12):
    """The replicas as the engine hands them over: slot states and counts."""
    state = np.zeros(n_slots, dtype=np.int8)
    for r in reps:
        if r.state in ("ready", "draining"):
            state[r.dp_index] = READY if r.state == "ready" else DRAINING
    starting = [r for r in reps if r.state == "starting"]
    loading = sum(1 for r in starting if now >= r.running_s)
    pending = sum(1 for r in reps if r.state == "pending") + len(starting) - loading
    return SlotView(state, sum(1 for r in reps if r.state == "ready"), pending, loading)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_grouped_proposals_equal_the_pod_by_pod_calculator(metric):
    rng = np.random.default_rng(16)
    branches = set()
    for _ in range(1500):
        reps, w, now = _case(rng)
        req = int(rng.choice([1000, 2000, 7000]))
        live = [r for r in reps if r.state in ("pending", "starting", "ready")]
        slow = PodsSample(*pod_sample(metric, live, w, now, req, cpu_replica=False), now_s=now)
        fast = grouped_sample(metric, live, w, now, req)
        from_slots = grouped_sample_slots(metric, w, _slots(reps, now), req)
        assert fast.sum_count() == from_slots.sum_count()
        assert (fast.n_missing, fast.n_unready) == (from_slots.n_missing, from_slots.n_unready)
        for current in {len(live), max(0, len(live) - 2), len(live) + 3}:
            tol = Tolerances(*rng.choice([0.0, 0.1, 0.25], 2))
            a = replicas_for_metric(current, slow, metric, tol)
            b = replicas_for_metric(current, fast, metric, tol)
            assert a == b, (metric.name, current, tol, live, fast)
            assert replicas_for_metric(current, from_slots, metric, tol) == a
            branches.add((a is None, a == current, bool(fast.n_missing), bool(fast.n_unready)))
    # every branch was reached: no proposal, no change, a change; with and without missing/Pending pods
    assert {(True,), (False, True), (False, False)} <= {k[:1] if k[0] else k[:2] for k in branches}
    assert {(m, u) for _, _, m, u in branches} == {(False, False), (False, True), (True, False), (True, True)}


def test_grouped_samples_replace_only_the_pod_metrics():
    reps = [R(0, "ready", 0, 0.0, 5.0), R(1, "starting", running_s=8.0), R(2, "pending")]
    w = SignalWindow()
    w.add_arrays(
        np.array([True, False]), np.array([2.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 0.0]), 10.0, 0.0, 6
    )
    metrics = [HPAMetric(name="queue_length", type="External", target=1), HPAMetric(name="concurrency", target=2),
               HPAMetric(name="utilization", target_type="Utilization", target=50)]  # fmt: skip
    fast = hpa_samples_grouped(metrics, reps, w, 10.0, 1000, cpu_replica=False)
    slow = hpa_samples(metrics, reps, w, 10.0, 1000, cpu_replica=False)
    assert fast[0] == slow[0]
    assert fast[1] == GroupedSample([2000], n_missing=1, n_unready=1, request_milli=1000)
    assert fast[2] == GroupedSample([1000, 0], n_missing=0, n_unready=1, request_milli=1000)  # loading: idle GPU
    # the CPU rule (a Resource metric on CPU replicas) keeps the pod-by-pod path
    assert isinstance(hpa_samples_grouped(metrics, reps, w, 10.0, 1000, cpu_replica=True)[2], PodsSample)
