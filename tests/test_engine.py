"""Unit tests of the control plane: arrivals, queue order, binding, selectors, taints, results."""

import math

import numpy as np
import pytest

import gpusim
from gpusim.hardware import load_catalog
from gpusim.scenario import load_scenario
from gpusim.sim.random import RandomStreams
from gpusim.sim.workload import build_jobs
from tests.conftest import small_scenario


def inline(jobs, pools=None, **over):
    """Scenario with inline jobs: each job dict has arrival, duration, gpus and optional pod keys."""
    pools = pools or [
        {"name": "gpu", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 4, "vcpu": 32, "memory": "256Gi"}
    ]
    workloads = []
    for i, j in enumerate(jobs):
        pod = {"resources": {"limits": {"nvidia.com/gpu": j["gpus"]}}, **j.get("pod", {})}
        workloads.append({"name": f"w{i}", "pod": pod, "jobs": [{"arrival": j["arrival"], "duration": j["duration"]}]})
    return small_scenario(cluster={"node_pools": pools}, workloads=workloads, **over)


def test_simulate_returns_frames_and_summary(tiny):
    r = gpusim.simulate(tiny)
    assert r.seed == 1
    assert r.summary["jobs_arrived"] == len(r.jobs) > 0
    assert set(r.jobs["state"]) == {"finished"}  # drain: true by default
    assert (r.jobs["start_s"] >= r.jobs["arrival_s"]).all()
    assert np.allclose(r.jobs["end_s"] - r.jobs["start_s"], r.jobs["duration_s"])
    assert r.timeseries["time_s"].is_monotonic_increasing
    assert 0 < r.summary["gpu_utilisation"] <= 1


def test_multi_gpu_job_waits_for_one_node():
    # Two nodes with 4 GPUs; a 3-GPU job holds node 0; a 2-GPU job goes to node 1; then a
    # 4-GPU job must wait although 3 GPUs are free in total (1 + 2): it needs them on one node.
    pools = [
        {"name": "gpu", "count": 2, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 4, "vcpu": 32, "memory": "256Gi"}
    ]
    s = inline(
        [
            {"arrival": 0, "duration": "1h", "gpus": 3},
            {"arrival": 0, "duration": "2h", "gpus": 2},
            {"arrival": "10m", "duration": "1h", "gpus": 4},
        ],
        pools=pools,
        scheduler={"policy": "first-fit"},
    )
    r = gpusim.simulate(s)
    j = r.jobs.set_index("name")
    assert j.loc["w2-0", "start_s"] == pytest.approx(3600.0)  # when the 3-GPU job frees node 0
    assert j.loc["w2-0", "node"] == j.loc["w0-0", "node"]
    assert j.loc["w2-0", "queueing_delay_s"] == pytest.approx(3000.0)


def test_best_fit_packs_first_fit_does_not():
    pools = [
        {"name": "gpu", "count": 2, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 4, "vcpu": 32, "memory": "256Gi"}
    ]
    jobs = [
        {"arrival": 0, "duration": "10h", "gpus": 3},  # node 0 (both policies)
        {"arrival": "1m", "duration": "10h", "gpus": 2},  # first-fit: node 1 (node 0 lacks 2); best-fit: node 1
        {"arrival": "2m", "duration": "10h", "gpus": 1},  # first-fit: node 0; best-fit: node 0 (tightest)
    ]
    ff = gpusim.simulate(inline(jobs, pools=pools, scheduler={"policy": "first-fit"})).jobs
    bf = gpusim.simulate(inline(jobs, pools=pools, scheduler={"policy": "best-fit"})).jobs
    assert list(ff["node"]) == ["gpu-0", "gpu-1", "gpu-0"]
    assert list(bf["node"]) == ["gpu-0", "gpu-1", "gpu-0"]
    # A case where they differ: node 1 is fuller than node 0 -> best-fit chooses node 1.
    jobs2 = [
        {"arrival": 0, "duration": "10h", "gpus": 2},
        {"arrival": "1m", "duration": "10h", "gpus": 3},  # node 1 (node 0 has only 2 free)
        {"arrival": "2m", "duration": "10h", "gpus": 1},  # first-fit: node 0 (2 free); best-fit: node 1 (1 free)
    ]
    ff = gpusim.simulate(inline(jobs2, pools=pools, scheduler={"policy": "first-fit"})).jobs
    bf = gpusim.simulate(inline(jobs2, pools=pools, scheduler={"policy": "best-fit"})).jobs
    assert ff["node"].iloc[2] == "gpu-0"
    assert bf["node"].iloc[2] == "gpu-1"


def test_fifo_does_not_block_behind_a_large_pod():
    s = inline(
        [
            {"arrival": 0, "duration": "1h", "gpus": 3},
            {"arrival": "1m", "duration": "1h", "gpus": 4},  # cannot fit until 1h
            {"arrival": "2m", "duration": "10m", "gpus": 1},  # fits now: kube-scheduler does not block
        ]
    )
    j = gpusim.simulate(s).jobs.set_index("name")
    assert j.loc["w2-0", "start_s"] == pytest.approx(120.0)
    assert j.loc["w1-0", "start_s"] == pytest.approx(3600.0)


def test_priority_queue_order():
    jobs = [
        {"arrival": 0, "duration": "1h", "gpus": 4},
        {"arrival": "1m", "duration": "1h", "gpus": 4, "pod": {"priority": 0}},
        {"arrival": "2m", "duration": "1h", "gpus": 4, "pod": {"priority": 10}},
    ]
    fifo = gpusim.simulate(inline(jobs, scheduler={"queue": "fifo"})).jobs.set_index("name")
    prio = gpusim.simulate(inline(jobs, scheduler={"queue": "priority"})).jobs.set_index("name")
    assert fifo.loc["w1-0", "start_s"] < fifo.loc["w2-0", "start_s"]
    assert prio.loc["w2-0", "start_s"] < prio.loc["w1-0", "start_s"]


def test_node_selector_and_taints_steer_pods():
    pools = [
        {
            "name": "cheap",
            "count": 1,
            "gpu_model": "nvidia-t4",
            "gpus_per_node": 4,
            "vcpu": 32,
            "memory": "128Gi",
            "labels": {"tier": "t4"},
        },
        {
            "name": "big",
            "count": 1,
            "gpu_model": "nvidia-h100-80gb",
            "gpus_per_node": 8,
            "vcpu": 64,
            "memory": "1Ti",
            "labels": {"tier": "h100"},
            "taints": [{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}],
        },
    ]
    jobs = [
        {"arrival": 0, "duration": "1h", "gpus": 1},  # no toleration: only 'cheap'
        {
            "arrival": 0,
            "duration": "1h",
            "gpus": 1,
            "pod": {
                "nodeSelector": {"tier": "h100"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "llm"}],
            },
        },
    ]
    j = gpusim.simulate(inline(jobs, pools=pools)).jobs
    assert list(j["pool"]) == ["cheap", "big"]


def test_no_drain_stops_at_duration():
    s = inline(
        [{"arrival": 0, "duration": "5h", "gpus": 4}, {"arrival": "1h", "duration": "1h", "gpus": 1}],
        drain=False,
        duration="2h",
    )
    r = gpusim.simulate(s)
    assert list(r.jobs["state"]) == ["running", "pending"]
    assert r.summary["sim_end_s"] == 7200
    assert (
        r.summary["jobs_running"] + r.summary["jobs_pending"] + r.summary["jobs_finished"] == r.summary["jobs_arrived"]
    )
    assert math.isnan(r.summary["makespan_s"])


def test_utilisation_integral_is_exact():
    # One 4-GPU node, a 2-GPU job for 1 h, then nothing until the 2 h horizon: 2 GPU-h of 8.
    s = inline([{"arrival": 0, "duration": "1h", "gpus": 2}], duration="2h")
    r = gpusim.simulate(s)
    assert r.summary["gpu_hours_used"] == pytest.approx(2.0)
    assert r.summary["gpu_hours_idle"] == pytest.approx(6.0)
    assert r.summary["gpu_utilisation"] == pytest.approx(0.25)


def test_sampled_timeseries_interval():
    s = small_scenario(output={"timeseries_interval": "10m"})
    ts = gpusim.simulate(s).timeseries
    assert np.allclose(ts["time_s"] % 600, 0)


def test_generator_respects_window_and_max_jobs():
    s = load_scenario(small_scenario())
    wl = s.workloads[0]
    data = small_scenario()
    data["workloads"][0]["generator"].update({"start": "30m", "end": "1h", "max_jobs": 3})
    jobs = build_jobs(load_scenario(data), RandomStreams(5), load_catalog()).jobs
    assert 0 < len(jobs) <= 3
    assert all(1800 <= j.arrival_s < 3600 for j in jobs)
    assert wl.generator.max_jobs is None


def test_poisson_arrival_count_matches_rate():
    s = load_scenario(small_scenario())
    rng = np.random.default_rng(3)
    t = s.workloads[0].generator.arrival.sample(rng, 0.0, 3600.0 * 1000)
    assert abs(t.size - 10_000) < 4 * 100  # mean 10000, sd 100
    assert (np.diff(t) >= 0).all()


def test_two_simulations_in_one_process_do_not_interfere(tiny):
    a1 = gpusim.simulate(tiny, seed=11)
    b = gpusim.simulate(small_scenario(duration="3h"), seed=12)
    a2 = gpusim.simulate(tiny, seed=11)
    assert a1.jobs.equals(a2.jobs) and a1.summary == a2.summary
    assert not b.jobs.equals(a1.jobs)


def test_scenario_policies_match_the_placement_registry():
    from gpusim.placement import policy_names
    from gpusim.scenario.models import PLACEMENT_POLICIES

    assert sorted(PLACEMENT_POLICIES) == policy_names()


@pytest.mark.parametrize(
    "policy", ["spread", "random", "dot-product", "gpu-packing", "gpu-clustering", "fgd", "weighted-best-fit"]
)
def test_every_policy_runs_in_the_engine(policy):
    r = gpusim.simulate(small_scenario(scheduler={"policy": policy}))
    assert r.summary["jobs_finished"] == r.summary["jobs_arrived"] > 0
