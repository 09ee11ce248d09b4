"""GPU sharing in the engine: time-slicing (slowdown, OOM restarts, device-plugin flags) and MIG
(static layouts, mixed and single strategies, slice speed)."""

import pytest

import gpusim
from gpusim.hardware import load_catalog
from tests.conftest import small_scenario


def one_gpu_pool(sharing, model="nvidia-a100-80gb", gpus=1, count=1):
    return {"node_pools": [{"name": "p", "count": count, "gpu_model": model, "gpus_per_node": gpus, "vcpu": 64,
                            "memory": "512Gi", "sharing": sharing}]}  # fmt: skip


def jobs(resource, n, duration="1h", arrival=0, gpu_memory=None, count=1, spacing=0):
    pod = {"resources": {"limits": {resource: count}}}
    if gpu_memory:
        pod["gpu_memory"] = gpu_memory
    return {
        "name": "w",
        "pod": pod,
        "jobs": [{"arrival": arrival + i * spacing, "duration": duration} for i in range(n)],
    }


TS = {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}


def test_time_slicing_shares_compute_with_switch_overhead():
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(TS), workloads=[jobs("nvidia.com/gpu", 2)]))
    j = r.jobs
    assert (j["start_s"] == 0).all()  # both replicas on one GPU at once
    # each tenant runs at (1 - 0.2) / 2 = 0.4 of the GPU: 1 h of work takes 2.5 h
    assert j["end_s"].tolist() == pytest.approx([9000.0, 9000.0])


def test_time_slicing_rate_changes_reschedule_finish():
    # job A alone for 30 min (0.5 h of work done), then B joins: both at 0.4.
    # A's remaining 0.5 h takes 1.25 h -> A ends at 1.75 h; B then runs alone: it did 0.5 h by
    # then, the remaining 0.5 h ends at 2.25 h.
    w = {"name": "w", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
         "jobs": [{"arrival": 0, "duration": "1h"}, {"arrival": "30m", "duration": "1h"}]}  # fmt: skip
    j = gpusim.simulate(small_scenario(cluster=one_gpu_pool(TS), workloads=[w])).jobs
    assert j["end_s"].tolist() == pytest.approx([1.75 * 3600, 2.25 * 3600])


def test_time_slicing_oom_restarts_with_backoff():
    # 80 GiB GPU, two tenants using 50 GiB each: the second OOMs and restarts until the first ends
    s = small_scenario(cluster=one_gpu_pool(TS), workloads=[jobs("nvidia.com/gpu", 2, gpu_memory="50Gi", spacing=1)])
    r = gpusim.simulate(s)
    j = r.jobs
    assert r.summary["oom_kills"] > 0 and j["restarts"].iloc[1] == r.summary["oom_kills"]
    assert j["restarts"].iloc[0] == 0
    assert j["end_s"].iloc[0] == pytest.approx(3600)  # the first ran alone at full speed
    assert j["end_s"].iloc[1] > 2 * 3600  # no progress while crash-looping
    assert r.summary["jobs_finished"] == 2  # every failure and restart accounted for


def test_fail_requests_greater_than_one():
    sharing = {
        "timeSlicing": {"failRequestsGreaterThanOne": True, "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}
    }
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/gpu", 1, count=2)]))
    assert r.jobs["state"].tolist() == ["failed"]
    assert "maximum request size for shared resources is 1" in r.jobs["failure"].iloc[0]
    assert r.summary["jobs_failed"] == 1


def test_rename_by_default_needs_shared_resource():
    sharing = {"timeSlicing": {"renameByDefault": True, "resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}}
    with pytest.raises(gpusim.ScenarioError, match="nvidia.com/gpu.shared"):
        gpusim.load_scenario(small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/gpu", 1)]))
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/gpu.shared", 2)]))
    assert (r.jobs["start_s"] == 0).all()


def test_time_slicing_only_on_nvidia():
    with pytest.raises(gpusim.ScenarioError, match="NVIDIA device plugin feature"):
        gpusim.load_scenario(
            small_scenario(cluster=one_gpu_pool(TS, model="amd-mi300x"), workloads=[jobs("amd.com/gpu", 1)])
        )


MIG = {"mig": {"strategy": "mixed", "config": "all-balanced"}}


def test_mig_static_layout_and_slice_speed():
    cat = load_catalog()
    frac_1g = cat.gpu("nvidia-a100-80gb").mig.profile("1g.10gb").compute_fraction
    s = small_scenario(
        cluster=one_gpu_pool(MIG),
        workloads=[jobs("nvidia.com/mig-1g.10gb", 3, duration="1h")],
    )
    j = gpusim.simulate(s).jobs
    # all-balanced holds two 1g.10gb instances: the third pod waits for one of them
    assert sorted(j["start_s"].tolist())[:2] == [0, 0] and j["start_s"].max() > 0
    assert {g.split("@")[1] for g in j["gpu_ids"]} <= {"mig0", "mig1"}  # the layout's 1g starts
    run = (j["end_s"] - j["start_s"]).iloc[0]
    # NVIDIA MIG User Guide: an A100 has 7 compute slices and a 1g instance gets one of them
    assert run == pytest.approx(3600 * 7)
    assert frac_1g == pytest.approx(1 / 7)


def test_mig_three_g_never_faster_than_four_g():
    cat = load_catalog()
    gpu = cat.gpu("nvidia-h100-80gb")
    assert gpu.mig.profile("3g.40gb").compute_fraction <= gpu.mig.profile("4g.40gb").compute_fraction


def test_mig_single_strategy_serves_nvidia_gpu():
    sharing = {"mig": {"strategy": "single", "config": "all-1g.10gb"}}
    j = gpusim.simulate(small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/gpu", 8)])).jobs
    assert (j["start_s"] == 0).sum() == 7  # seven 1g instances per A100


def test_mig_on_incapable_gpu_is_a_scenario_error():
    with pytest.raises(gpusim.ScenarioError, match="cannot do MIG; MIG-capable models"):
        gpusim.load_scenario(
            small_scenario(cluster=one_gpu_pool(MIG, model="nvidia-t4"), workloads=[jobs("nvidia.com/gpu", 1)])
        )


def test_mig_profile_not_in_layout():
    with pytest.raises(gpusim.ScenarioError, match="no 4g.40gb instances"):
        gpusim.load_scenario(small_scenario(cluster=one_gpu_pool(MIG), workloads=[jobs("nvidia.com/mig-4g.40gb", 1)]))


def test_mig_dynamic_any_valid_start():
    sharing = {"mig": {"config": "dynamic"}}
    j = gpusim.simulate(
        small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/mig-3g.40gb", 3)])
    ).jobs.sort_values("start_s")
    first, second, third = (j.iloc[i] for i in range(3))
    # the first instance is created on the idle GPU (60 s re-partition); a second 3g instance
    # (the other valid start) needs the GPU drained first, then another 60 s; the third pod
    # reuses the first instance once it is free
    assert first["start_s"] == 60
    assert second["start_s"] == pytest.approx(first["end_s"] + 60)
    assert sorted(g.split("@")[1] for g in (first["gpu_ids"], second["gpu_ids"])) == ["mig0", "mig4"]
    assert third["gpu_ids"] == first["gpu_ids"]


def test_whole_and_time_sliced_pools_side_by_side():
    cluster = {"node_pools": [
        {"name": "whole", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 1, "vcpu": 8, "memory": "64Gi"},
        {"name": "shared", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 1, "vcpu": 8, "memory": "64Gi",
         "sharing": TS},
    ]}  # fmt: skip
    j = gpusim.simulate(small_scenario(cluster=cluster, workloads=[jobs("nvidia.com/gpu", 3)])).jobs
    assert (j["start_s"] == 0).all()
    assert sorted(j["pool"]) == ["shared", "shared", "whole"]


def test_amd_partitions_single_strategy():
    # MI300X in CPX mode: 8 logical GPUs per physical GPU, each with 1/8 of its compute.
    sharing = {"amdPartition": {"profile": "cpx_nps4", "strategy": "single"}}
    r = gpusim.simulate(
        small_scenario(cluster=one_gpu_pool(sharing, model="amd-mi300x"), workloads=[jobs("amd.com/gpu", 9)])
    )
    j = r.jobs
    assert (j["start_s"] == 0).sum() == 8
    assert (j["end_s"] - j["start_s"]).iloc[0] == pytest.approx(8 * 3600)
    assert r.summary["gpus_total"] == 8  # logical GPUs, as the device plugin reports them


def test_amd_partitions_mixed_names_and_isolation_from_whole_gpus():
    cluster = {"node_pools": [
        {"name": "cpx", "count": 1, "gpu_model": "amd-mi300x", "gpus_per_node": 1, "vcpu": 8, "memory": "64Gi",
         "sharing": {"amdPartition": {"profile": "cpx_nps4", "strategy": "mixed"}}},
        {"name": "whole", "count": 1, "gpu_model": "amd-mi300x", "gpus_per_node": 1, "vcpu": 8, "memory": "64Gi"},
    ]}  # fmt: skip
    j = gpusim.simulate(small_scenario(cluster=cluster, workloads=[jobs("amd.com/gpu", 2)])).jobs
    assert list(j["pool"]) == ["whole", "whole"]  # a whole-GPU pod never lands on a partition
    j = gpusim.simulate(small_scenario(cluster=cluster, workloads=[jobs("amd.com/cpx_nps4", 3)])).jobs
    assert set(j["pool"]) == {"cpx"} and (j["start_s"] == 0).all()


def test_amd_partition_profile_must_exist():
    sharing = {"amdPartition": {"profile": "cpx_nps9"}}
    with pytest.raises(gpusim.ScenarioError, match="no partition profile 'cpx_nps9'"):
        gpusim.load_scenario(
            small_scenario(cluster=one_gpu_pool(sharing, model="amd-mi300x"), workloads=[jobs("amd.com/gpu", 1)])
        )


def test_intel_shared_devices():
    sharing = {"intel": {"sharedDevNum": 2}}
    j = gpusim.simulate(
        small_scenario(cluster=one_gpu_pool(sharing, model="intel-max-1550"), workloads=[jobs("gpu.intel.com/i915", 3)])
    ).jobs
    assert (j["start_s"] == 0).sum() == 2  # two containers share the device, the third waits
    with pytest.raises(gpusim.ScenarioError, match="needs an Intel GPU"):
        gpusim.load_scenario(small_scenario(cluster=one_gpu_pool(sharing), workloads=[jobs("nvidia.com/gpu", 1)]))


def test_mig_dynamic_repartition_drains_and_takes_time():
    # Dynamic MIG, one A100: a 3g pod creates its instance (re-partition: 60 s). Later a 4g pod
    # needs slices 0-3 re-cut while the 3g pod still runs on 4-7... the 4g@0 instance does not
    # overlap 3g@4, but creating it still drains the GPU: it waits for the 3g pod to finish.
    sharing = {"mig": {"config": "dynamic", "reconfigure_time": "60s"}}
    w1 = {
        "name": "a",
        "pod": {"resources": {"limits": {"nvidia.com/mig-3g.40gb": 1}}},
        "jobs": [{"arrival": 0, "duration": "1h"}],
    }
    w2 = {"name": "b", "pod": {"resources": {"limits": {"nvidia.com/mig-4g.40gb": 1}}},
          "jobs": [{"arrival": "10m", "duration": "1h"}]}  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(sharing), workloads=[w1, w2]))
    j = r.jobs.set_index("workload")
    cat = load_catalog().gpu("nvidia-a100-80gb").mig
    run_a = 3600 * 7 / 3  # 3 of the A100's 7 compute slices (NVIDIA MIG User Guide)
    assert cat.profile("3g.40gb").compute_fraction == pytest.approx(3 / 7)
    end_a = 60 + run_a
    assert j.loc["a", "end_s"] == pytest.approx(end_a)
    # b was bound at 10 min but waits for the drain (a's end) plus the 60 s re-partition
    assert j.loc["b", "end_s"] == pytest.approx(end_a + 60 + 3600 * 7 / 4)  # 4 of 7 compute slices
    assert r.summary["mig_reconfigurations"] == 2


def test_mig_dynamic_reuses_existing_instances():
    sharing = {"mig": {"config": "dynamic", "reconfigure_time": "60s"}}
    w = {"name": "a", "pod": {"resources": {"limits": {"nvidia.com/mig-3g.40gb": 1}}},
         "jobs": [{"arrival": 0, "duration": "1h"}, {"arrival": "20h", "duration": "1h"}]}  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(sharing), workloads=[w]))
    j = r.jobs
    assert r.summary["mig_reconfigurations"] == 1  # the second pod finds the instance already there
    assert j["start_s"].iloc[1] == pytest.approx(20 * 3600)


def test_training_work_scales_with_gpu_model():
    from gpusim.hardware import performance as perf

    def run(model):
        w = {"name": "w", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
             "jobs": [{"arrival": 0, "duration": "1h"}], "work": {"reference_gpu": "nvidia-a100-40gb"}}  # fmt: skip
        cl = {
            "node_pools": [
                {"name": "p", "count": 1, "gpu_model": model, "gpus_per_node": 1, "vcpu": 8, "memory": "64Gi"}
            ]
        }
        return gpusim.simulate(small_scenario(cluster=cl, workloads=[w])).jobs["end_s"].iloc[0]

    cat = load_catalog()
    prof = perf.TrainingProfile(reference=cat.gpu("nvidia-a100-40gb"))
    expected = 3600 / perf.training_rate(cat.gpu("nvidia-h100-80gb"), prof, 1)
    assert run("nvidia-a100-40gb") == pytest.approx(3600)
    assert run("nvidia-h100-80gb") == pytest.approx(expected)
    assert run("nvidia-h100-80gb") < 3600 < run("nvidia-t4")  # faster and slower GPUs


def test_job_that_can_never_fit_its_memory_crash_loops_without_hanging_the_run():
    # 100 GiB of actual use on an 80 GB time-sliced GPU: it fails at every start, forever
    s = small_scenario(
        cluster=one_gpu_pool(TS), workloads=[jobs("nvidia.com/gpu", 1, gpu_memory="100Gi")], duration="1h"
    )
    r = gpusim.simulate(s)
    assert r.jobs["state"].iloc[0] == "running" and r.jobs["restarts"].iloc[0] > 5
    assert r.summary["sim_end_s"] < 10 * 3600  # the drain gives up instead of running to its cap


@pytest.mark.parametrize("limit", [0, 2, 6])
def test_backoff_limit_fails_a_crash_looping_job(limit):
    """A Job's backoffLimit counts container crashes: a job whose 100 GiB never fit the 80 GB
    time-sliced GPU crashes at every start, after the kubelet's back-off (10 s doubling, capped at
    5 min); its (limit + 1)th crash marks it failed (BackoffLimitExceeded) at the sum of the
    back-offs before it, and the GPU it held goes to the next job at once."""
    w = jobs("nvidia.com/gpu", 1, gpu_memory="100Gi")
    w["backoff_limit"] = limit
    ok = jobs("nvidia.com/gpu", 1, count=4, arrival=1)  # all 4 time-slice replicas: waits for w's
    ok["name"] = "ok"
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(TS), workloads=[w, ok], duration="2h"))
    j = r.jobs.set_index("workload")
    delays = [min(10.0 * 2**k, 300.0) for k in range(limit)]
    assert j.loc["w", "state"] == "failed" and j.loc["w", "restarts"] == limit + 1
    assert "BackoffLimitExceeded" in j.loc["w", "failure"] and f"({limit})" in j.loc["w", "failure"]
    assert j.loc["w", "end_s"] == pytest.approx(sum(delays))
    assert j.loc["ok", "state"] == "finished" and j.loc["ok", "restarts"] == 0
    assert j.loc["ok", "start_s"] == pytest.approx(max(j.loc["w", "end_s"], 1.0))
    assert r.summary["jobs_failed"] == 1 and r.summary["jobs_finished"] == 1


def test_without_backoff_limit_a_crash_loop_goes_on():
    """Left out, there is no limit (as before backoff_limit existed): the same job crash-loops on."""
    w = jobs("nvidia.com/gpu", 1, gpu_memory="100Gi")
    r = gpusim.simulate(small_scenario(cluster=one_gpu_pool(TS), workloads=[w], duration="2h"))
    assert r.jobs["state"].iloc[0] == "running" and r.jobs["restarts"].iloc[0] > 7
    for bad in (-1, True, 2.5, "6"):
        with pytest.raises(gpusim.ScenarioError, match="backoff_limit"):
            gpusim.load_scenario(small_scenario(cluster=one_gpu_pool(TS), workloads=[{**w, "backoff_limit": bad}]))
