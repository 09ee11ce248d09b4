"""Every sampler against its analytic mean and variance.

Duration and count distributions of the scenario language (gpusim.sim.workload.sample_durations,
sample_counts) and the arrival processes (gpusim.traces.generators), one seeded draw each. The
bounds are z-tests: the sample mean within 5 standard errors of the analytic mean, the sample
variance within 5 standard errors of the analytic variance, where the variance's standard error
is sqrt((mu4 - sigma^4) / n) with the analytic fourth central moment mu4. Expectations are the
textbook formulas (e.g. Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions), not
the implementation's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter

from gpusim.scenario.models import DurationDistribution
from gpusim.sim.workload import sample_counts, sample_durations
from gpusim.traces import generators as G

N = 200_000
Z = 5.0


def check_moments(x, mean, var, mu4):
    n = len(x)
    m = x.mean()
    v = x.var(ddof=1)
    assert abs(m - mean) < Z * math.sqrt(var / n), (m, mean)
    assert abs(v - var) < Z * math.sqrt(max(mu4 - var**2, 1e-300) / n), (v, var)


def dist(doc):
    return TypeAdapter(DurationDistribution).validate_python(doc)


def test_exponential_duration():
    mu = 3600.0
    x = sample_durations(dist({"distribution": "exponential", "mean": mu}), np.random.default_rng(1), N)
    check_moments(x, mu, mu**2, 9 * mu**4)


def test_lognormal_duration():
    med, s = 600.0, 0.8
    x = sample_durations(dist({"distribution": "lognormal", "median": med, "sigma": s}), np.random.default_rng(2), N)
    w = math.exp(s * s)
    mean = med * math.sqrt(w)
    var = med**2 * w * (w - 1)
    # fourth central moment from the raw moments
    # E[X^k] = med^k exp(k^2 s^2 / 2)
    raw = [med**k * math.exp(k * k * s * s / 2) for k in range(5)]
    mu4 = raw[4] - 4 * raw[3] * raw[1] + 6 * raw[2] * raw[1] ** 2 - 3 * raw[1] ** 4
    check_moments(x, mean, var, mu4)
    assert np.median(x) == pytest.approx(med, rel=0.01)


def test_uniform_duration():
    a, b = 100.0, 700.0
    x = sample_durations(dist({"distribution": "uniform", "low": a, "high": b}), np.random.default_rng(3), N)
    check_moments(x, (a + b) / 2, (b - a) ** 2 / 12, (b - a) ** 4 / 80)
    assert x.min() >= a and x.max() <= b


@pytest.mark.parametrize("weights", [None, [1, 2, 7]])
def test_choice_duration_and_count(weights):
    vals = np.array([60.0, 600.0, 6000.0])
    p = np.full(3, 1 / 3) if weights is None else np.array(weights) / 10
    mean = float((p * vals).sum())
    var = float((p * (vals - mean) ** 2).sum())
    mu4 = float((p * (vals - mean) ** 4).sum())
    doc = {"distribution": "choice", "values": vals.tolist(), **({"weights": weights} if weights else {})}
    x = sample_durations(dist(doc), np.random.default_rng(4), N)
    check_moments(x, mean, var, mu4)
    from gpusim.scenario.models import ChoiceCount

    counts = ChoiceCount.model_validate(
        {"distribution": "choice", "values": [1, 2, 8], **({"weights": weights} if weights else {})}
    )
    c = sample_counts(counts, np.random.default_rng(5), N).astype(float)
    cv = np.array([1.0, 2.0, 8.0])
    cm = float((p * cv).sum())
    check_moments(c, cm, float((p * (cv - cm) ** 2).sum()), float((p * (cv - cm) ** 4).sum()))


def test_constant_duration():
    x = sample_durations(dist({"distribution": "constant", "value": "90m"}), np.random.default_rng(6), 10)
    assert (x == 5400.0).all()


# ---------------------------------------------------------------------------- arrival processes
def counts(fn, reps=4000):
    rng = np.random.default_rng(7)
    return np.array([len(fn(rng)) for _ in range(reps)], dtype=float)


def test_poisson_interarrivals_and_counts():
    rate = 2.0
    t = G.poisson(np.random.default_rng(8), rate, 0.0, N / rate)
    gaps = np.diff(t)
    check_moments(gaps, 1 / rate, 1 / rate**2, 9 / rate**4)
    c = counts(lambda r: G.poisson(r, rate, 0.0, 50.0))
    m = rate * 50
    check_moments(c, m, m, m + 3 * m * m)  # Poisson: mu4 = m + 3 m^2


@pytest.mark.parametrize("cv", [0.5, 2.0])
def test_gamma_renewal_interarrivals(cv):
    rate = 0.5
    t = G.gamma_renewal(np.random.default_rng(9), rate, cv, 0.0, N / rate)
    gaps = np.diff(t)
    k = 1 / cv**2  # shape; scale theta = 1 / (rate k)
    theta = 1 / (rate * k)
    mean, var = k * theta, k * theta**2
    mu4 = 3 * k * (k + 2) * theta**4
    check_moments(gaps, mean, var, mu4)


def test_mmpp_counts_mean_and_variance():
    # two states alternating: rates (l1, l2), exponential sojourns (m1, m2); stationary
    # pi_i = m_i / (m1 + m2); over a window T >> m the count has mean T sum(pi l) and (Heffes &
    # Lucantoni 1986, IEEE JSAC 4(6)) variance mean + 2 pi1 pi2 (l1 - l2)^2 / r (T - (1 - e^{-rT}) / r)
    # with r = 1/m1 + 1/m2 the switching rate
    l1, l2, m1, m2, T = 10.0, 1.0, 5.0, 20.0, 500.0
    c = counts(lambda r: G.mmpp(r, [l1, l2], [m1, m2], 0.0, T), reps=600)
    p1, p2 = m1 / (m1 + m2), m2 / (m1 + m2)
    mean = T * (p1 * l1 + p2 * l2)
    r = 1 / m1 + 1 / m2
    var = mean + 2 * p1 * p2 * (l1 - l2) ** 2 / r * (T - (1 - math.exp(-r * T)) / r)
    assert abs(c.mean() - mean) < Z * math.sqrt(var / len(c))
    # the count is close to normal over 500 s (20 cycles): mu4 ~ 3 var^2
    assert abs(c.var(ddof=1) - var) < Z * math.sqrt(2 * var**2 / len(c))


def test_diurnal_and_flash_crowd_counts_are_poisson():
    # both are non-homogeneous Poisson: count ~ Poisson(integral of the rate)
    day = 86400.0
    c = counts(lambda r: G.diurnal(r, 0.005, 0.0, day, amplitude=0.8), reps=800)
    m = 0.005 * day  # whole periods: the sinusoid integrates to the mean rate
    check_moments(c, m, m, m + 3 * m * m)
    base, peak, at, ramp, decay, T = 0.05, 2.0, 100.0, 60.0, 300.0, 3000.0
    c = counts(lambda r: G.flash_crowd(r, base, peak, at, 0.0, T, ramp_s=ramp, decay_s=decay), reps=800)
    # integral: base T + (peak - base) (ramp / 2 + decay (1 - exp(-(T - at - ramp) / decay)))
    m = base * T + (peak - base) * (ramp / 2 + decay * (1 - math.exp(-(T - at - ramp) / decay)))
    check_moments(c, m, m, m + 3 * m * m)
