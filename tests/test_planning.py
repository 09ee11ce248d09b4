"""Capacity-planning figures: prices with sources, unknown cost stays unknown, node counts,
monthly run-rate, and p99 / SLO attainment over the same requests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gpusim.errors import ScenarioError
from gpusim.hardware import load_catalog, pool_price
from gpusim.metrics.summary import (
    HOURS_PER_MONTH,
    cost_summary,
    node_count_stats,
    slo_stats,
    slo_stats_from_histogram,
)
from gpusim.scenario import load_scenario
from tests.conftest import small_scenario


# ------------------------------------------------------------------ prices in the catalog
def _priced(entry, name):
    return name in entry.sources or name in entry.assumptions


def test_every_gpu_model_has_a_price_with_its_source():
    cat = load_catalog()
    for g in cat.gpu_models.values():
        assert g.usd_per_gpu_hour is not None and g.usd_per_gpu_hour > 0, g.id
        assert _priced(g, "usd_per_gpu_hour"), f"{g.id}: price without source or assumption"
        assert g.price_basis in ("cloud-list", "amortised"), g.id
    for gid in ("amd-mi300x", "amd-mi325x", "intel-gaudi2", "intel-gaudi3", "intel-max-1550"):
        assert cat.gpu(gid).usd_per_gpu_hour > 0


def test_every_node_type_has_a_price_with_its_source():
    cat = load_catalog()
    for n in cat.node_types.values():
        assert n.on_demand_usd_per_hour is not None and n.on_demand_usd_per_hour > 0, n.id
        assert _priced(n, "on_demand_usd_per_hour"), n.id


def test_azure_mi300x_price_is_eight_gpus_at_the_reported_rate():
    cat = load_catalog()
    nt = cat.node_type("azure-nd96isr-mi300x-v5")
    assert nt.on_demand_usd_per_hour == pytest.approx(8 * cat.gpu("amd-mi300x").usd_per_gpu_hour)


def test_node_type_without_price_derives_from_its_gpus():
    cat = load_catalog({"node_types": [{"id": "my-box", "gpu_model": "nvidia-l4", "gpus": 4, "vcpu": 48,
                                        "memory_gib": 192}]})  # fmt: skip
    nt = cat.node_type("my-box")
    assert nt.on_demand_usd_per_hour == pytest.approx(4 * cat.gpu("nvidia-l4").usd_per_gpu_hour)
    assert "derived" in nt.assumptions["on_demand_usd_per_hour"]


# ------------------------------------------------------------------ a pool without a price
def _custom_node_scenario(**pool_extra):
    d = small_scenario()
    d["catalog"] = {
        "gpu_models": [{"id": "mystery-gpu", "proxy": "nvidia-a100-80gb", "usd_per_gpu_hour": None}],
        "node_types": [{"id": "mystery-node", "gpu_model": "mystery-gpu", "gpus": 4, "vcpu": 32,
                        "memory_gib": 256, "price_unknown": True}],
    }  # fmt: skip
    d["catalog"]["gpu_models"][0].pop("usd_per_gpu_hour")
    pool = d["cluster"]["node_pools"][0]
    pool.update(gpu_model="mystery-gpu", node_type="mystery-node", **pool_extra)
    d["workloads"][0]["pod"]["resources"]["limits"] = {"nvidia.com/gpu": 1}
    d["duration"] = "30m"
    return d


def test_pool_without_price_is_an_error():
    with pytest.raises(ScenarioError) as e:
        load_scenario(_custom_node_scenario())
    assert "has no price" in str(e.value) and "price_unknown" in str(e.value)


def test_unknown_price_prints_unknown_never_zero(capsys, tmp_path):
    import gpusim
    from gpusim.cli import _print_summary

    s = load_scenario(_custom_node_scenario(price_unknown=True))
    cat = load_catalog(s.catalog)
    assert pool_price(s.cluster.node_pools[0], cat)[0] is None
    r = gpusim.simulate(s, seed=1)
    assert math.isnan(r.summary["cost_usd"]) and math.isnan(r.summary["monthly_run_rate_usd"])
    assert r.summary["price_unknown_pools"] == 1
    assert r.nodes["cost_usd"].isna().all()
    from rich.console import Console

    _print_summary(Console(width=100, file=None), r, tmp_path)
    out = capsys.readouterr().out
    assert "unknown" in out and "$0.00" not in out


def test_gpu_pool_without_node_type_is_billed_at_the_gpu_price():
    import gpusim

    d = small_scenario(duration="1h", drain=False)
    r = gpusim.simulate(d, seed=1)
    price = 4 * load_catalog().gpu("nvidia-a100-80gb").usd_per_gpu_hour
    # two fixed nodes billed per second from t=0 to the end of the run
    assert r.summary["cost_usd"] == pytest.approx(2 * price * r.summary["sim_end_s"] / 3600, rel=1e-6)
    assert r.summary["monthly_run_rate_usd"] == pytest.approx(2 * price * HOURS_PER_MONTH, rel=1e-6)


# ------------------------------------------------------------------ node counts and run-rate
def test_node_count_stats_time_weighted():
    # 2 nodes for the whole 100 s, a third for [10, 30), a fourth for [20, 23)
    nodes = pd.DataFrame({"ready_s": [0, 0, 10, 20], "removed_s": [np.nan, np.nan, 30, 23]})
    st = node_count_stats(nodes, 100.0)
    assert st["nodes_peak"] == 4
    assert st["nodes_mean"] == pytest.approx((2 * 100 + 20 + 3) / 100)
    # count 2 for 80 s, 3 for 17 s, 4 for 3 s: 97 % of the time at or below 3
    assert st["nodes_p95"] == 3


def test_node_count_not_ready_nodes_do_not_count():
    nodes = pd.DataFrame({"ready_s": [0, np.nan], "removed_s": [np.nan, np.nan]})  # second still provisioning
    assert node_count_stats(nodes, 10.0) == {"nodes_peak": 1, "nodes_mean": 1.0, "nodes_p95": 1}


def test_cost_summary_unknown_pool_makes_totals_unknown():
    nodes = pd.DataFrame({"pool": ["a", "a", "b"], "billed_hours": [1.0, 0.5, 2.0]})
    known = cost_summary(nodes, {"requests_served": 1000}, {"a": 10.0, "b": 1.0}, end_s=7200)
    assert known["cost_usd"] == pytest.approx(17.0)
    assert known["usd_per_hour_mean"] == pytest.approx(8.5)
    assert known["monthly_run_rate_usd"] == pytest.approx(8.5 * 730)
    assert known["cost_per_million_requests_usd"] == pytest.approx(17.0 / 1000 * 1e6)
    unknown = cost_summary(nodes, {"requests_served": 1000}, {"a": 10.0, "b": None}, end_s=7200)
    assert unknown["cost_usd.a"] == pytest.approx(15.0)
    assert math.isnan(unknown["cost_usd.b"]) and math.isnan(unknown["cost_usd"])
    assert math.isnan(unknown["cost_per_million_requests_usd"])


# ------------------------------------------------------------------ p99 and attainment together
def test_slo_stats_counts_misses_in_both():
    # 990 requests at 9.8 s, 10 timed out: p99 is 9.8 s and exactly 99 % meet 10 s
    s = slo_stats(np.full(990, 9.8), missed=10, target_s=10.0)
    assert s["latency_p_s"] == pytest.approx(9.8) and s["slo_attainment"] == pytest.approx(0.99) and s["slo_met"]
    # one more miss: the p99 request is a timed-out one, attainment is below 99 %
    s = slo_stats(np.full(990, 9.8), missed=11, target_s=10.0)
    assert s["latency_p_s"] == math.inf and not s["slo_met"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slo_stats_p99_below_target_iff_met(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        lat = rng.lognormal(1.5, 0.6, size=int(rng.integers(50, 500)))
        missed = int(rng.integers(0, 8))
        target = float(rng.uniform(3, 20))
        s = slo_stats(lat, missed, target)
        assert (s["latency_p_s"] <= target) == s["slo_met"]
        assert s["slo_attainment"] == pytest.approx(np.sum(lat <= target) / (lat.size + missed))


def test_slo_stats_from_histogram_matches_exact_at_bin_edges():
    edges = np.arange(1.0, 21.0)  # 1 s bins, counts[0] below 1 s
    lat = np.array([0.5] * 10 + [4.5] * 80 + [12.5] * 9)  # 99 served
    counts = np.zeros(edges.size + 1, dtype=int)
    for x in lat:
        counts[np.searchsorted(edges, x, side="right")] += 1
    h = slo_stats_from_histogram(counts, edges, missed=1, target_s=13.0)
    e = slo_stats(np.ceil(lat), missed=1, target_s=13.0)  # bins taken at their upper edge
    assert h["latency_p_s"] == e["latency_p_s"] == 13.0
    assert h["slo_attainment"] == pytest.approx(e["slo_attainment"]) == pytest.approx(0.99)
    assert h["slo_met"] and e["slo_met"]


# ------------------------------------------------------------------ concurrency / batch_slowdown guidance
def test_batch_slowdown_guidance_follows_the_measured_tpot():
    """README: batch_slowdown about 0.03-0.06 for 8-32 concurrent requests, about 0.01 at 256
    (vLLM on B200, Vultr concurrency-tuning page [S106], rows in calibration.yaml)."""
    from gpusim.hardware.catalog import calibration_data

    rows = calibration_data()["batching_tpot"]["rows"]
    base = next(r["tpot_ms"] for r in rows if r["concurrency"] == 1)
    slow = {r["concurrency"]: (r["tpot_ms"] / base - 1) / (r["concurrency"] - 1) for r in rows if r["concurrency"] > 1}
    assert all(0.025 <= slow[n] <= 0.06 for n in (8, 16, 32))
    assert 0.005 <= slow[256] <= 0.02
    assert all(r["source"] in load_catalog().sources for r in rows)


# ------------------------------------------------------------------ unschedulable reasons
def _trace_scenario(tmp_path, pool_extra=None, pod_extra=None):
    csv = tmp_path / "jobs.csv"
    csv.write_text("t,d,g\n0,600,1\n10,600,16\n20,600,2\n")
    pool = {"name": "gpu", "count": 2, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 64,
            "memory": "512Gi", **(pool_extra or {})}  # fmt: skip
    pod = {"resources": {"limits": {"nvidia.com/gpu": 1}}, **(pod_extra or {})}
    return {
        "name": "reasons", "seed": 1, "duration": "1h",
        "cluster": {"node_pools": [pool]},
        "workloads": [{"name": "t", "pod": pod, "trace": {"format": "generic", "path": str(csv),
                       "columns": {"arrival": "t", "duration": "d", "gpus": "g"}}}],
    }  # fmt: skip


def test_unschedulable_jobs_get_kube_scheduler_reasons(tmp_path):
    import gpusim

    r = gpusim.simulate(_trace_scenario(tmp_path), seed=1)
    un = r.jobs[r.jobs["state"] == "unschedulable"]
    assert list(un["gpus"]) == [16]
    assert un["failure"].iloc[0] == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    assert r.summary["jobs_unschedulable.Insufficient nvidia.com/gpu"] == 1


def test_unschedulable_reason_wording():
    from gpusim.metrics.summary import pool_allocatable, unschedulable_reason

    s = load_scenario(small_scenario(cluster={"node_pools": [
        {"name": "a", "count": 2, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 32, "memory": "256Gi",
         "labels": {"team": "x"}},
        {"name": "b", "count": 3, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 32, "memory": "256Gi",
         "taints": ["dedicated=infer:NoSchedule"]},
        {"name": "m", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 32, "memory": "256Gi",
         "sharing": {"mig": {"strategy": "mixed", "config": "all-3g.40gb"}}},
    ]}))  # fmt: skip
    cat = load_catalog()
    assert pool_allocatable(s.cluster.node_pools[2], cat)["nvidia.com/mig-3g.40gb"] == 16  # 8 GPUs x 2
    pod = s.workloads[0].pod
    why = unschedulable_reason({"gpu_resource": "nvidia.com/gpu", "gpus": 16, "cpu_milli": 1000, "memory_mib": 1},
                               pod, s, cat)  # fmt: skip
    # 2 nodes of a have 8 < 16 GPUs, the MIG node advertises no nvidia.com/gpu, pool b's taint is not tolerated
    assert (
        why
        == "0/6 nodes are available: 3 Insufficient nvidia.com/gpu, 3 node(s) had untolerated taint {dedicated: infer}."
    )
