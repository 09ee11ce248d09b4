"""Validation against queueing theory: M/M/c mean queueing delay vs the Erlang-C formula.

c identical one-GPU nodes, one-GPU jobs, Poisson arrivals, exponential durations, FIFO: the
cluster is an M/M/c queue. Over seeded replications (warm-up cut), the Erlang-C mean wait must
lie inside the 95% confidence interval of the replication means.
"""

import math

import numpy as np
import pytest
from scipy import stats

import gpusim
from tests.conftest import SCENARIOS


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean waiting time in queue of M/M/c (Erlang-C)."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def test_erlang_c_formula_known_value():
    # M/M/1: Wq = rho / (mu - lam)
    assert erlang_c_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    # M/M/2, lam=1, mu=1: P(wait) = 1/3, Wq = 1/3
    assert erlang_c_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)


def test_mmc_matches_erlang_c():
    scenario = gpusim.load_scenario(SCENARIOS / "mmc-erlang.yaml")
    gen = scenario.workloads[0].generator
    c = scenario.cluster.node_pools[0].count
    lam, mu = gen.arrival.rate, 1.0 / gen.duration.mean
    theory = erlang_c_wait(c, lam, mu)

    means = []
    for seed in range(100, 112):
        r = gpusim.simulate(scenario, seed=seed)
        assert r.summary["jobs_pending"] + r.summary["jobs_running"] < 50  # stable queue
        means.append(r.summary["queueing_delay_mean_s"])
    means = np.asarray(means)
    half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / math.sqrt(len(means))
    est = means.mean()
    print(
        f"Erlang-C Wq = {theory:.1f} s; simulated {est:.1f} +- {half:.1f} s "
        f"(relative error {(est - theory) / theory:+.1%})"
    )
    assert est - half <= theory <= est + half
    assert half / theory < 0.2  # the interval is tight enough to mean something


MM2_YAML = """
name: mm2-half-load
seed: 1
duration: 1000h
drain: false
cluster:
  node_pools:
    - {name: gpu, count: 2, gpu_model: nvidia-t4, gpus_per_node: 1, vcpu: 16, memory: 64Gi}
workloads:
  - name: jobs
    pod:
      resources:
        limits: {nvidia.com/gpu: 1}
    generator:
      arrival: {process: poisson, rate: 1/h}
      gpus: 1
      duration: {distribution: exponential, mean: 1h}
scheduler:
  queue: fifo
  policy: first-fit
"""


def test_mm2_mean_wait_within_5_percent_of_erlang_c(tmp_path):
    """M/M/2 at 50% load, 80 independent replications of 1000 h, warm-up cut: the mean queueing
    delay of the jobs arriving in [20 h, 990 h] (all of which start before the end: P(W > 10 h)
    = 1.5e-5) within 5% of Erlang-C, with a 95% confidence half-width under 5%.

    Half load has about the lowest relative variance of the mean wait per job for small c (for
    M/M/1 the asymptotic variance of the mean wait, rho (2 + 5 rho - 4 rho^2 + rho^3) /
    (mu^2 (1 - rho)^4) (Whitt 1989), over Wq^2 is near its minimum there). The replication means
    are adjusted with two control variates of known expectation, the mean run time of the same
    jobs (1 h) and their number (970), by least squares (Lavenberg & Welch 1981, Management
    Science 27(3)): the estimator stays unbiased and its interval narrows.
    """
    f = tmp_path / "mm2.yaml"
    f.write_text(MM2_YAML)
    scenario = gpusim.load_scenario(f)
    theory = erlang_c_wait(2, 1.0 / 3600, 1.0 / 3600)  # seconds
    assert theory == pytest.approx(1200.0)
    w, svc, cnt = [], [], []
    for seed in range(200, 280):
        jobs = gpusim.simulate(scenario, seed=seed).jobs
        sel = jobs[(jobs["arrival_s"] >= 20 * 3600) & (jobs["arrival_s"] <= 990 * 3600)]
        assert sel["queueing_delay_s"].notna().all()
        w.append(sel["queueing_delay_s"].mean())
        svc.append(sel["duration_s"].mean() - 3600.0)
        cnt.append(len(sel) - 970.0)
    w = np.asarray(w)
    n = len(w)
    x = np.column_stack([svc, cnt])
    beta = np.linalg.lstsq(np.column_stack([np.ones(n), x]), w, rcond=None)[0][1:]
    adj = w - x @ beta
    half_raw = stats.t.ppf(0.975, n - 1) * w.std(ddof=1) / math.sqrt(n)
    half = stats.t.ppf(0.975, n - 3) * adj.std(ddof=3) / math.sqrt(n)
    est = adj.mean()
    print(f"M/M/2: Erlang-C Wq = {theory:.1f} s; simulated {w.mean():.1f} +- {half_raw:.1f} s, with control "
          f"variates {est:.1f} +- {half:.1f} s (relative error {(est - theory) / theory:+.2%})")  # fmt: skip
    assert abs(w.mean() - theory) / theory < 0.05
    assert abs(est - theory) / theory < 0.05
    assert half / theory < 0.05
    assert est - half <= theory <= est + half
