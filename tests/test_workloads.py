"""Workload sources in the engine: gang-scheduled multi-pod jobs, fractional GPU shares, trace
replay and generators drawing from a trace's empirical distribution."""

import numpy as np
import pytest

import gpusim
from tests.conftest import SCENARIOS, SHARED_TRACES, small_scenario


def pools(*specs):
    return {"node_pools": [dict(zip(("name", "count", "gpus_per_node"), s, strict=True), gpu_model="nvidia-a100-80gb",
                                vcpu=64, memory="512Gi") for s in specs]}  # fmt: skip


def test_gang_job_is_all_or_nothing():
    # Two 4-GPU nodes. A 1-GPU job holds node 0 for 1 h; a job of 2 pods x 4 GPUs must wait for
    # both nodes (it never holds node 1 alone), and a later 1-GPU job can still use node 1.
    s = small_scenario(
        cluster=pools(("gpu", 2, 4)),
        workloads=[
            {"name": "small", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
             "jobs": [{"arrival": 0, "duration": "1h"}]},
            {"name": "gang", "pod": {"resources": {"limits": {"nvidia.com/gpu": 4}}},
             "jobs": [{"arrival": "1m", "duration": "1h", "pods": 2}]},
            {"name": "late", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
             "jobs": [{"arrival": "2m", "duration": "10m"}]},
        ],
        scheduler={"policy": "first-fit"},
    )  # fmt: skip
    j = gpusim.simulate(s).jobs.set_index("workload")
    assert j.loc["gang", "start_s"] == pytest.approx(3600)
    assert j.loc["gang", "num_pods"] == 2
    assert sorted(j.loc["gang", "node"].split(",")) == ["gpu-0", "gpu-1"]
    assert j.loc["late", "start_s"] == pytest.approx(120)  # node 1 was free: the gang held nothing


def test_fractional_shares_pack_one_gpu():
    s = small_scenario(
        cluster={"node_pools": [{"name": "share", "count": 1, "gpu_model": "nvidia-t4", "gpus_per_node": 1,
                                 "vcpu": 16, "memory": "64Gi", "sharing": {"fractional": True}}]},
        workloads=[{"name": "frac", "pod": {"resources": {"limits": {"alibabacloud.com/gpu-milli": 300}}},
                    "jobs": [{"arrival": 0, "duration": "1h"}] * 4}],
    )  # fmt: skip
    r = gpusim.simulate(s)
    j = r.jobs
    # three 0.3 shares fit one GPU at once, the fourth waits
    assert (j["start_s"] == 0).sum() == 3
    assert j["start_s"].max() == pytest.approx(3600)
    assert r.timeseries["gpus_allocated"].max() == pytest.approx(0.9)
    assert r.summary["gpu_hours_used"] == pytest.approx(1.2)


def test_fractional_pod_needs_a_sharing_pool():
    s = small_scenario(
        cluster=pools(("gpu", 1, 4)),
        workloads=[{"name": "frac", "pod": {"resources": {"limits": {"alibabacloud.com/gpu-milli": 500}}},
                    "jobs": [{"arrival": 0, "duration": "1h"}]}],
    )  # fmt: skip
    with pytest.raises(gpusim.ScenarioError, match="no GPU sharing"):
        gpusim.load_scenario(s)


def test_vendor_resource_only_on_its_vendor():
    s = small_scenario(
        cluster={"node_pools": [
            {"name": "nv", "count": 1, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 8, "vcpu": 64, "memory": "1Ti"},
            {"name": "amd", "count": 1, "gpu_model": "amd-mi300x", "gpus_per_node": 8, "vcpu": 64, "memory": "1Ti"},
        ]},
        workloads=[{"name": "rocm", "pod": {"resources": {"limits": {"amd.com/gpu": 2}}},
                    "jobs": [{"arrival": 0, "duration": "1h"}] * 3}],
    )  # fmt: skip
    j = gpusim.simulate(s).jobs
    assert set(j["pool"]) == {"amd"}


def test_openb_trace_replay_shipped():
    s = gpusim.load_scenario(SCENARIOS / "openb-replay.yaml")
    data = s.model_dump(mode="json", by_alias=True)
    data["duration"] = "1d"
    r = gpusim.simulate(data)
    jobs = r.jobs
    assert len(jobs) > 50
    assert (jobs["gpu_milli"] < 1000).any()  # fractional shares replayed
    assert set(jobs["state"]) <= {"finished", "running", "pending", "unschedulable"}
    assert r.summary["jobs_arrived"] == sum(r.summary[k] for k in ("jobs_finished", "jobs_running", "jobs_pending",
                                                                   "jobs_unschedulable"))  # fmt: skip


def test_generator_draws_shapes_from_trace():
    s = small_scenario(
        cluster={"node_pools": [{"name": "share", "count": 4, "gpu_model": "nvidia-v100-32gb", "gpus_per_node": 8,
                                 "vcpu": 96, "memory": "512Gi", "sharing": {"fractional": True}}]},
        workloads=[{"name": "synthetic", "generator": {
            "arrival": {"process": "gamma", "rate": "30/h", "cv": 2},
            "shapes_from": {"format": "openb", "path": "shipped:alibaba-gpu-v2023/openb_pod_list_default.csv"},
            "duration": {"distribution": "exponential", "mean": "20m"}}}],
        duration="4h",
    )  # fmt: skip
    r = gpusim.simulate(s)
    j = r.jobs
    assert 60 < len(j) < 300
    assert (j["gpu_milli"] < 1000).any() and (j["gpus"] == 0).any()  # openb mixes shares and CPU pods
    assert np.isclose(j["cpu_milli"] % 1, 0).all()


@pytest.mark.skipif(not (SHARED_TRACES / "philly-runtime").exists(), reason="../shared/traces not present")
def test_generator_durations_from_philly_runtime():
    s = small_scenario()
    s["workloads"][0]["generator"].pop("duration")
    s["workloads"][0]["generator"]["durations_from"] = {
        "format": "philly-runtime",
        "path": str(SHARED_TRACES / "philly-runtime" / "philly_runtime.csv"),
    }
    s["drain"] = False
    jobs = gpusim.simulate(s).jobs
    assert len(jobs) > 5 and (jobs["duration_s"] >= 0).all()


def test_missing_trace_file_says_where_it_is_published(tmp_path):
    s = small_scenario()
    s["workloads"] = [{"name": "t", "trace": {"format": "gavel", "path": str(tmp_path / "nope.trace")}}]
    with pytest.raises(gpusim.ScenarioError, match="published"):
        gpusim.load_scenario(s)


def test_scenario_catalog_block_adds_a_gpu_model():
    s = small_scenario(catalog={"gpu_models": [{"id": "my-card", "proxy": "nvidia-l4", "memory_gib": 48}]})
    s["cluster"]["node_pools"][0]["gpu_model"] = "my-card"
    r = gpusim.simulate(s)
    assert r.summary["jobs_finished"] == r.summary["jobs_arrived"] > 0
    s["cluster"]["node_pools"][0]["gpu_model"] = "my-crad"
    with pytest.raises(gpusim.ScenarioError, match="closest known ids: my-card"):
        gpusim.load_scenario(s)
