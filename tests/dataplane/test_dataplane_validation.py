"""The data plane against queueing theory: Erlang-C (M/M/c), M/M/1 and Little's law.

Seeded replications with a warm-up cut; the theory must lie inside the 95% confidence interval of
the replication means. Windows have random lengths, as control events would cut them.
"""

import math

import numpy as np
import pytest
from scipy import stats

from gpusim.dataplane import DataPlane


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean time in queue of M/M/c."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def replicate(seed, routing, c, lam, mu, horizon_s, warmup_s):
    """One run; returns (mean wait, mean sojourn, time-avg in system, arrival rate) after warm-up."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(lam * horizon_s)
    arrivals = np.sort(rng.random(n) * horizon_s)
    work = rng.exponential(1.0 / mu, n)
    dp = DataPlane(c, 1, routing)
    for _ in range(c):
        dp.add_replica(0.0)
    cuts = np.cumsum(rng.uniform(1.0, 30.0, int(horizon_s)))
    cuts = np.concatenate([[warmup_s], cuts[(cuts > warmup_s) & (cuts < horizon_s)], [horizon_s]])
    idx = np.searchsorted(arrivals, cuts)
    dp.serve(arrivals[: idx[0]], work[: idx[0]], warmup_s)
    wait = lat = area = 0.0
    served = arrived = 0
    for k in range(1, len(cuts)):
        m = dp.serve(arrivals[idx[k - 1] : idx[k]], work[idx[k - 1] : idx[k]], cuts[k])
        assert dp.conservation_gap() == 0  # arrived = served + timed_out + dropped + in_flight
        wait += m.wait.sum_s
        lat += m.latency.sum_s
        served += m.served
        arrived += m.arrived
        area += m.in_system_avg * m.duration_s
    span = horizon_s - warmup_s
    return wait / served, lat / served, area / span, arrived / span


def ci95(xs):
    xs = np.asarray(xs)
    half = stats.t.ppf(0.975, len(xs) - 1) * xs.std(ddof=1) / math.sqrt(len(xs))
    return xs.mean(), half


@pytest.mark.parametrize("c, lam", [(4, 3.2), (2, 1.5)])
def test_mmc_shared_queue_matches_erlang_c(c, lam):
    mu = 1.0
    runs = [replicate(100 + s, "shared-queue", c, lam, mu, 30_000.0, 2_000.0) for s in range(10)]
    mean, half = ci95([r[0] for r in runs])
    theory = erlang_c_wait(c, lam, mu)
    print(
        f"M/M/{c} rho={lam / (c * mu):.2f}: Wq sim {mean:.4f} +- {half:.4f}, Erlang-C {theory:.4f}, "
        f"rel err {(mean - theory) / theory:+.2%}"
    )
    assert abs(mean - theory) <= half


def test_round_robin_single_replica_is_mm1():
    lam, mu = 0.7, 1.0
    runs = [replicate(200 + s, "round-robin", 1, lam, mu, 30_000.0, 2_000.0) for s in range(10)]
    mean_w, half_w = ci95([r[0] for r in runs])
    mean_t, half_t = ci95([r[1] for r in runs])
    rho = lam / mu
    print(
        f"M/M/1: Wq {mean_w:.4f} +- {half_w:.4f} vs {rho / (mu - lam):.4f}; "
        f"W {mean_t:.4f} +- {half_t:.4f} vs {1 / (mu - lam):.4f}"
    )
    assert abs(mean_w - rho / (mu - lam)) <= half_w
    assert abs(mean_t - 1 / (mu - lam)) <= half_t


def test_littles_law():
    for seed, routing, c in [(300, "shared-queue", 4), (301, "least-outstanding", 3), (302, "round-robin", 2)]:
        lam = 0.75 * c
        _, w, big_l, lam_hat = replicate(seed, routing, c, lam, 1.0, 40_000.0, 1_000.0)
        err = big_l / (lam_hat * w) - 1
        print(f"Little {routing} c={c}: L={big_l:.4f} lambda*W={lam_hat * w:.4f} rel err {err:+.3%}")
        assert abs(err) < 0.01


def test_window_cuts_do_not_change_the_outcome():
    """With no replica changes, one window or many give the same requests the same fate."""
    rng = np.random.default_rng(5)
    n = 5000
    arrivals = np.sort(rng.random(n) * 1000.0)
    work = rng.exponential(1.0, n) * 2.5
    for routing in ("round-robin", "least-outstanding", "join-shortest-queue", "shared-queue"):
        results = []
        for cuts in ([1000.0], list(np.sort(rng.random(300) * 1000.0)) + [1000.0]):
            dp = DataPlane(3, 2, routing, timeout_s=20.0, batch_slowdown=0.1)
            for s in (1.0, 2.0, 0.5):
                dp.add_replica(0.0, s)
            idx = np.searchsorted(arrivals, [0.0] + cuts)
            hist = 0
            for k, t in enumerate(cuts):
                m = dp.serve(arrivals[idx[k] : idx[k + 1]], work[idx[k] : idx[k + 1]], t)
                hist = hist + m.latency.counts
            results.append((dp.totals["served"], dp.totals["timed_out"], dp.in_flight, hist))
        assert results[0][:3] == results[1][:3], routing
        np.testing.assert_array_equal(results[0][3], results[1][3])
