"""The engine's use of what was built outside gpusim/sim: gang feasibility with kube-scheduler
reasons, the drain cap, catalog prices in the Cluster Autoscaler, trace requests mapped onto
shared pools.
"""

import gpusim
from gpusim.scenario.loader import load_scenario
from tests.conftest import small_scenario


def _pool(**over):
    return {"name": "gpu", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 64,
            "memory": "512Gi", **over}  # fmt: skip


def _trace_workload(csv, pod_limits=None, columns=None):
    return {
        "name": "t",
        "pod": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": pod_limits or {"nvidia.com/gpu": 1}}},
        "trace": {"format": "generic", "path": str(csv),
                  "columns": columns or {"arrival": "t", "duration": "d", "num_pods": "p", "gpus": "g"}},
    }  # fmt: skip


def test_gang_capacity_counts_autoscaling_max(tmp_path):
    # no node now, up to 3 with autoscaling: 3 pods x 8 GPUs fit (after scale-up), 4 pods never do
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,600,3,8\n1,600,4,8\n")
    pool = _pool(count=0, autoscaling={"min": 0, "max": 3})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[_trace_workload(csv)], duration="2h", drain=True)
    r = gpusim.simulate(data, seed=1)
    states = dict(zip(r.jobs["num_pods"], r.jobs["state"], strict=True))
    assert states == {3: "finished", 4: "unschedulable"}
    assert r.jobs.loc[r.jobs["num_pods"] == 4, "failure"].iloc[0] == (
        "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )


def test_gang_capacity_on_time_sliced_pool_counts_replicas(tmp_path):
    # 2 GPUs x 4 replicas: a gang of 8 one-replica pods fits one node at once, 9 never
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,60,8,1\n1,60,9,1\n")
    pool = _pool(gpus_per_node=2, sharing={"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[_trace_workload(csv)], duration="1h", drain=True)
    r = gpusim.simulate(data, seed=1)
    states = dict(zip(r.jobs["num_pods"], r.jobs["state"], strict=True))
    assert states == {8: "finished", 9: "unschedulable"}


def test_placeholder_that_fits_no_node_is_reported(tmp_path):
    # `gpusim check` rejects this scenario; through the API without the checks, the engine skips
    # the placeholders and says why instead of leaving them pending
    data = small_scenario(cluster={"node_pools": [_pool()], "overprovisioning": {
        "replicas": 2, "pod": {"resources": {"limits": {"nvidia.com/gpu": 16}}}}}, duration="10m")  # fmt: skip
    scenario = load_scenario(data, check=False)
    s = gpusim.simulate(scenario, seed=1).summary
    assert s["overprovisioning_unschedulable"] == 2
    assert s["overprovisioning_unschedulable_reason"] == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    assert s["jobs_pending"] == 0
