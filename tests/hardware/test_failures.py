"""Failure facts and the checkpoint/restart arithmetic.

- The catalog's rates are re-derived from the published counts (Meta, 'The Llama 3 Herd of
  Models', arXiv:2407.21783, section 3.3.4 and Table 5: 419 unexpected interruptions in 54 days on
  16,384 H100 GPUs, "one failure every three hours").
- Young's and Daly's checkpoint intervals are checked against the exact optimum of the expected
  time model (found independently here with scipy's Lambert W and by a grid sweep).
- The closed-form expected run time, goodput and failure count are checked against a Monte-Carlo
  simulation of the same process written in this file.
"""

import math

import numpy as np
import pytest
from scipy.special import lambertw

from gpusim.hardware.failures import (
    availability,
    daly_interval,
    downtime_budget_s,
    expected_failures,
    expected_goodput,
    expected_wall_time,
    load_failure_catalog,
    optimal_interval,
    segment_lengths,
    sla_met,
    young_interval,
)

H = 3600.0


# ---------------------------------------------------------------------------- catalog facts
def test_llama3_counts_and_rates():
    cat = load_failure_catalog()
    s = cat.studies["meta-llama3-405b-pretraining"]
    raw = s.raw
    assert raw["interruptions_planned"] + raw["interruptions_unexpected"] == raw["interruptions_total"] == 466
    assert sum(c["count"] for c in raw["categories"]) == 419
    # the GPU rows' published shares sum to the paper's 58.7%
    assert sum(c["share_published"] for c in raw["categories"] if c["group"] == "GPU") == pytest.approx(0.587, abs=5e-4)
    assert s.gpu_related == 148 + 72 + 19 + 17 + 6 + 6
    assert s.interruptions_per_gpu_hour() == pytest.approx(419 / (16384 * 54 * 24))
    # "an average of one failure every three hours" for the 16,384-GPU job
    mtbf_h = cat.job_mtbf_s("nvidia-h100-80gb", 16384) / H
    assert mtbf_h == pytest.approx(54 * 24 / 419)
    assert 2.9 < mtbf_h < 3.3
    # rates add up over GPUs: half the GPUs, twice the MTBF
    assert cat.job_mtbf_s("nvidia-h100-80gb", 8192) == pytest.approx(2 * cat.job_mtbf_s("nvidia-h100-80gb", 16384))


def test_models_without_data_say_so_and_every_source_exists():
    cat = load_failure_catalog()
    study, assumption = cat.rate_study("amd-mi300x")
    assert study.id == "meta-llama3-405b-pretraining" and "no published fleet rate" in assumption
    assert cat.rate_study("nvidia-h100-80gb")[1] is None
    assert (cat.spot_notice_s("aws"), cat.spot_notice_s("gcp"), cat.spot_notice_s("azure")) == (120, 30, 30)
    keys = [s.source for s in cat.studies.values()] + [v["source"] for v in cat.spot_notice.values()]
    keys += [cat.repair["pod_eviction_after_node_failure_s"]["source"]]
    keys += [v["source"] for v in cat.repair["auto_repair_trigger_s"].values()]
    assert set(keys) <= set(cat.sources)


# ---------------------------------------------------------------------------- Young / Daly
@pytest.mark.parametrize("c_over_m", [1e-4, 1e-3, 1e-2, 5e-2, 0.2])
def test_young_and_daly_against_the_exact_optimum(c_over_m):
    m = 10 * H
    c = c_over_m * m
    exact = m * (1 + lambertw(-math.exp(-1 - c_over_m)).real)  # independent of gpusim's bisection
    assert optimal_interval(c, m) == pytest.approx(exact, rel=1e-9)
    young, daly = young_interval(c, m), daly_interval(c, m)
    assert young == pytest.approx(math.sqrt(2 * c * m))
    # Daly's higher-order estimate is closer than Young's first-order one, and tight for small C/M
    assert abs(daly - exact) < abs(young - exact)
    if c_over_m <= 1e-2:
        assert daly == pytest.approx(exact, rel=1e-4)
        assert young == pytest.approx(exact, rel=0.05)


def test_daly_beyond_its_range_returns_the_mtbf():
    assert daly_interval(3 * H, 1 * H) == 1 * H


def test_interval_sweep_finds_the_optimum():
    # The checkpoint-interval sweep the issue asks for, on the closed form: long job, C = 5 min, M = 8 h.
    w, c, r, m = 2000 * H, 300.0, 600.0, 8 * H
    grid = np.linspace(0.2 * H, 4 * H, 761)  # 18 s apart
    goodput = [expected_goodput(w, t, c, r, m) for t in grid]
    best = grid[int(np.argmax(goodput))]
    assert best == pytest.approx(daly_interval(c, m), abs=20.0)
    assert best == pytest.approx(young_interval(c, m), rel=0.05)
    # the optimum beats 0.5x and 2x of it by a visible margin
    g_opt = expected_goodput(w, optimal_interval(c, m), c, r, m)
    assert g_opt > expected_goodput(w, 0.5 * optimal_interval(c, m), c, r, m) + 0.005
    assert g_opt > expected_goodput(w, 2.0 * optimal_interval(c, m), c, r, m) + 0.005


# ---------------------------------------------------------------------------- closed form
def test_closed_form_by_hand():
    # one segment (interval >= work), no restart cost: E = M (e^(W/M) - 1)
    assert expected_wall_time(H, 2 * H, 60.0, 0.0, H) == pytest.approx(H * (math.e - 1))
    # segments: 2.5 h of work every 1 h -> two of 1 h + C, then 0.5 h without a checkpoint
    assert segment_lengths(2.5 * H, H, 60.0) == [H + 60.0, H + 60.0, 0.5 * H]
    assert segment_lengths(2 * H, H, 60.0) == [H + 60.0, H]
    # no failures (huge MTBF): wall time is work plus the checkpoints written
    assert expected_wall_time(10 * H, H, 60.0, 600.0, 1e15) == pytest.approx(10 * H + 9 * 60.0, rel=1e-9)
    assert expected_goodput(10 * H, H, 0.0, 0.0, 1e15) == pytest.approx(1.0)


def _monte_carlo(rng, work, interval, ckpt, restart, mtbf, n):
    """The process itself: each segment reruns from its start after a failure and a restart;
    failures (exponential gaps) strike during work, checkpoints and restarts alike."""
    segs = segment_lengths(work, interval, ckpt)
    times = np.empty(n)
    fails = np.empty(n)
    for i in range(n):
        t = 0.0
        k = 0
        for s in segs:
            while True:
                gap = rng.exponential(mtbf)
                if gap >= s:
                    t += s
                    break
                t += gap
                k += 1
                while True:  # restart, itself interrupted by failures
                    gap = rng.exponential(mtbf)
                    if gap >= restart:
                        t += restart
                        break
                    t += gap
                    k += 1
        times[i] = t
        fails[i] = k
    return times, fails


@pytest.mark.parametrize(
    "work_h,interval_h,ckpt_h,restart_h,mtbf_h",
    [(20, 1.5, 0.25, 0.5, 5), (10, 0.5, 0.05, 0.1, 2), (6, 10, 0.1, 0.2, 3)],
)
def test_closed_form_against_monte_carlo(work_h, interval_h, ckpt_h, restart_h, mtbf_h):
    rng = np.random.default_rng(20261201)
    args = (work_h * H, interval_h * H, ckpt_h * H, restart_h * H, mtbf_h * H)
    times, fails = _monte_carlo(rng, *args, n=3000)
    expect = expected_wall_time(*args)
    se = times.std(ddof=1) / math.sqrt(len(times))
    assert abs(times.mean() - expect) < 4 * se
    assert times.mean() == pytest.approx(expect, rel=0.03)
    # goodput: work over the mean run time; failures: Wald's identity E[N] = E[T] / M
    assert work_h * H / times.mean() == pytest.approx(expected_goodput(*args), rel=0.03)
    assert fails.mean() == pytest.approx(expected_failures(*args), rel=0.05)


def test_bad_arguments():
    with pytest.raises(ValueError):
        expected_wall_time(H, 0.0, 60.0, 0.0, H)
    with pytest.raises(ValueError):
        young_interval(-1.0, H)
    with pytest.raises(ValueError):
        optimal_interval(60.0, 0.0)


def test_sla_arithmetic():
    # Google SRE book, Appendix A (availability table): 99.9% allows 8.76 h a year, 43.2 min per 30 days
    assert downtime_budget_s(0.999, 365 * 86400) / H == pytest.approx(8.76, abs=0.005)
    assert downtime_budget_s(0.999, 30 * 86400) / 60 == pytest.approx(43.2)
    month = 30 * 86400
    assert sla_met(month - 43.2 * 60, month) and not sla_met(month - 43.3 * 60, month)
    assert sla_met(month - 4 * 60, month, sla=0.9999) and not sla_met(month - 5 * 60, month, sla=0.9999)  # 4.32 min
    # a node failing every 1000 h and repaired in 1 h is available 99.9% of the time
    assert availability(1000 * H, H) == pytest.approx(1000 / 1001)
    with pytest.raises(ValueError):
        downtime_budget_s(99.9, month)
