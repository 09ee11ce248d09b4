"""Data-plane windows turned into autoscaler inputs, and one closed loop HPA -> data plane."""

import numpy as np
import pytest

from gpusim.autoscale import HorizontalPodAutoscaler, HPAConfig, HPAMetric, KnativePodAutoscaler, KPAConfig
from gpusim.autoscale.kpa import WindowAverage
from gpusim.autoscale.observe import hpa_sample, kpa_value
from gpusim.dataplane import DataPlane


def test_hpa_sample_from_windows():
    dp = DataPlane(3, 2, "round-robin")
    dp.add_replica()
    dp.add_replica()
    w = dp.serve(np.array([0.0, 0.0, 0.0, 0.0]), np.array([10.0, 10.0, 10.0, 10.0]), 10.0)
    assert hpa_sample([w], "concurrency").values == [2.0, 2.0]
    assert hpa_sample([w], "utilization").values == [100.0, 100.0]
    assert hpa_sample([w], "rps").values == [0.2, 0.2]
    assert hpa_sample([w], "queue_length").values == [0.0, 0.0]
    assert kpa_value(w) == pytest.approx(4.0) and kpa_value(w, "rps") == pytest.approx(0.4)
    assert hpa_sample([], "rps").values == []
    with pytest.raises(ValueError):
        hpa_sample([w], "gpu")


def test_closed_loop_hpa_scales_out_and_in():
    """A step of load: the HPA on concurrency per pod adds replicas, then removes them after 300 s."""
    rng = np.random.default_rng(1)
    hpa = HorizontalPodAutoscaler(HPAConfig(max_replicas=20, metrics=[HPAMetric(name="concurrency", target=2)]))
    dp = DataPlane(20, 4, "least-outstanding")
    dp.add_replica()
    t, replicas, history = 0.0, 1, []
    for step in range(80):  # 15 s syncs, 20 minutes
        lam = 8.0 if step < 30 else 0.5
        n = rng.poisson(lam * 15.0)
        w = dp.serve(np.sort(t + rng.random(n) * 15.0), rng.exponential(1.0, n), t + 15.0)
        t += 15.0
        d = hpa.reconcile(t, replicas, [hpa_sample([w], "concurrency")])
        while replicas < d.desired_replicas:
            dp.add_replica()
            replicas += 1
        while replicas > d.desired_replicas:
            idx = int(np.flatnonzero(dp.state == 1)[-1])
            dp.drain_replica(idx)
            replicas -= 1
        for idx in np.flatnonzero(dp.state == 2):
            if dp.is_drained(int(idx)):
                dp.remove_replica(int(idx))
        history.append(replicas)
        assert dp.conservation_gap() == 0
    # about 8 requests in flight at 2 per pod: at least 4 pods under load
    assert min(history[5:30]) >= 4
    # load drops at step 30: the 300 s window keeps the high recommendations until step 30 + 20
    assert min(history[30:49]) >= 4
    assert history[-1] <= 2


def test_kpa_with_window_average():
    kpa = KnativePodAutoscaler(KPAConfig())
    avg = WindowAverage(max_window_s=60.0)
    for k in range(30):
        avg.add(2.0 * k, 2.0 * (k + 1), 140.0)
    now = 60.0
    d = kpa.scale(now, 1, avg.average(now, 60.0), avg.average(now, 6.0))
    assert d.desired_pods == 2
