"""Generators against theory: seeded property tests (hypothesis, derandomized)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpusim.traces import generators as g
from gpusim.traces import replay

SETTINGS = settings(max_examples=15, derandomize=True, deadline=None)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.5, 50), start=st.floats(0, 1e5))
def test_poisson_counts_mean_and_dispersion(seed, rate, start):
    rng = np.random.default_rng(seed)
    bins, width = 2000, 5.0 / rate  # about 5 arrivals per bin
    a = g.poisson(rng, rate, start, start + bins * width)
    assert np.all(np.diff(a) >= 0) and a.min() >= start
    counts = np.bincount(((a - start) // width).astype(int), minlength=bins)[:bins]
    mean = counts.mean()
    assert abs(mean - 5.0) < 5 * np.sqrt(5.0 / bins)
    dispersion = counts.var(ddof=1) / mean  # 1 for Poisson counts
    assert abs(dispersion - 1.0) < 5 * np.sqrt(2.0 / (bins - 1))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.1, 100), cv=st.floats(0.2, 3.0))
def test_gamma_hits_rate_and_cv(seed, rate, cv):
    rng = np.random.default_rng(seed)
    n = 60_000
    a = g.gamma_renewal(rng, rate, cv, 0.0, n / rate)
    d = np.diff(a)
    assert abs(len(a) / n - 1) < 0.05 + 0.02 * cv
    assert abs(d.std() / d.mean() / cv - 1) < 0.1
    assert abs(d.mean() * rate - 1) < 0.05


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), r=st.floats(0.05, 0.95))
def test_thinning_scales_rate(seed, r):
    rng = np.random.default_rng(seed)
    a = g.poisson(rng, 20.0, 0.0, 5000.0)
    b = replay.scale_rate(rng, a, r)
    n = len(a)
    assert abs(len(b) - r * n) < 5 * np.sqrt(n * r * (1 - r))
    assert set(b).issubset(set(a))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), r=st.floats(1.0, 4.0))
def test_superposition_scales_rate(seed, r):
    rng = np.random.default_rng(seed)
    a = g.poisson(rng, 5.0, 0.0, 2000.0)
    b = replay.scale_rate(rng, a, r, span_s=2000.0)
    frac = r - np.floor(r)
    n = len(a)
    assert abs(len(b) - r * n) <= 5 * np.sqrt(n * frac * (1 - frac)) + 1
    assert np.all(np.diff(b) >= 0) and b.min() >= 0 and b.max() < 2000.0


def test_mmpp_long_run_rate_and_burstiness():
    rng = np.random.default_rng(7)
    # on/off: 20/s for 10 s on average, silent for 40 s: mean 4/s, bursty.
    a = g.mmpp(rng, [20.0, 0.0], [10.0, 40.0], 0.0, 200_000.0)
    assert abs(len(a) / 200_000.0 - 4.0) < 0.25
    d = np.diff(a)
    assert d.std() / d.mean() > 2
    three = g.mmpp(rng, [1.0, 5.0, 10.0], [100.0, 100.0, 100.0], 0.0, 300_000.0,
                   transition=[[0, 1, 0], [0, 0, 1], [1, 0, 0]])  # fmt: skip
    assert abs(len(three) / 300_000.0 - 16 / 3) < 0.3


def test_mmpp_mean_rate_by_hand_and_against_the_sample():
    # on/off 20/s for 10 s, 0 for 40 s: 20 * 10 / 50 = 4/s
    assert g.mmpp_mean_rate([20.0, 0.0], [10.0, 40.0]) == pytest.approx(4.0, rel=1e-12)
    # from state 0 half the jumps go to 1, half to 2; both return to 0: the embedded chain visits
    # 0, 1, 2 with 1/2, 1/4, 1/4, so with sojourns 1, 2, 4 s the time shares are 1/4, 1/4, 1/2 and
    # the mean is 4/4 + 8/4 + 0 = 3/s
    q = [[0, 0.5, 0.5], [1, 0, 0], [1, 0, 0]]
    assert g.mmpp_mean_rate([4.0, 8.0, 0.0], [1.0, 2.0, 4.0], q) == pytest.approx(3.0, rel=1e-12)
    a = g.mmpp(np.random.default_rng(11), [4.0, 8.0, 0.0], [1.0, 2.0, 4.0], 0.0, 200_000.0, transition=q)
    assert abs(len(a) / 200_000.0 - 3.0) < 0.05


def test_diurnal_sinusoid_and_profile():
    rng = np.random.default_rng(3)
    days = 20
    a = g.diurnal(rng, 1.0, 0.0, days * 86400.0, amplitude=0.8, peak_s=12 * 3600.0)
    assert abs(len(a) / (days * 86400.0) - 1.0) < 0.02
    hour = (a % 86400 // 3600).astype(int)
    by_hour = np.bincount(hour, minlength=24) / (days * 3600.0)
    assert by_hour[12] == pytest.approx(1.8, rel=0.1) and by_hour[0] == pytest.approx(0.2, rel=0.25)
    prof = [1.0] * 12 + [3.0] * 12
    b = g.diurnal(rng, 2.0, 0.0, days * 86400.0, profile=prof)
    first = (b % 86400 < 43200).mean()
    assert first == pytest.approx(0.25, abs=0.01)


def test_flash_crowd_expected_count():
    rng = np.random.default_rng(11)
    base, peak, ramp, decay = 2.0, 200.0, 30.0, 120.0
    reps = [len(g.flash_crowd(rng, base, peak, 600.0, 0.0, 3600.0, ramp_s=ramp, decay_s=decay)) for _ in range(20)]
    tail = decay * (1 - np.exp(-(3600 - 600 - ramp) / decay))
    expected = base * 3600 + (peak - base) * (ramp / 2 + tail)
    assert np.mean(reps) == pytest.approx(expected, rel=0.02)
    a = g.flash_crowd(rng, base, peak, 600.0, 0.0, 3600.0, ramp_s=ramp, decay_s=decay)
    assert (a < 600).sum() < 1500 and ((a >= 630) & (a < 640)).sum() > 1500


def test_generators_use_only_the_given_rng():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for fn in (
        lambda r: g.poisson(r, 3.0, 0, 100),
        lambda r: g.gamma_renewal(r, 3.0, 2.0, 0, 100),
        lambda r: g.mmpp(r, [5.0, 0.5], [5.0, 5.0], 0, 100),
        lambda r: g.diurnal(r, 3.0, 0, 100, period_s=50),
        lambda r: g.flash_crowd(r, 1.0, 10.0, 20.0, 0, 100),
    ):
        x, y = fn(np.random.default_rng(5)), fn(np.random.default_rng(5))
        np.testing.assert_array_equal(x, y)
        assert np.all(np.diff(x) >= 0) and (len(x) == 0 or (x.min() >= 0 and x.max() < 100))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_training_jobs_draw_from_trace():
    from gpusim.traces.openb import read_openb_pods
    from gpusim.traces.records import validate_training

    pods, _ = read_openb_pods("shipped:alibaba-gpu-v2023/openb_pod_list_default.csv")
    rng = np.random.default_rng(2)
    arr = g.poisson(rng, 1.0, 0, 20_000)
    jobs = g.training_jobs(rng, arr, g.empirical_job_shapes(pods), pods["duration_s"].to_numpy())
    validate_training(jobs)
    assert len(jobs) == len(arr)
    share = (jobs["gpus"] == 0).mean()
    assert share == pytest.approx(1088 / 8152, abs=0.02)
    assert np.median(jobs["duration_s"]) == pytest.approx(np.median(pods["duration_s"]), rel=0.1)
