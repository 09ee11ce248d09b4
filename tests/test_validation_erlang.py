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
