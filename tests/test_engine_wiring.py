"""The engine's use of what was built outside gpusim/sim: gang feasibility with kube-scheduler
reasons, the drain cap, catalog prices in the Cluster Autoscaler, trace requests mapped onto
shared pools.
"""

import math

import gpusim
from gpusim.scenario.loader import load_scenario
from tests.conftest import gpu_pool, small_scenario, trace_workload


def test_gang_capacity_counts_autoscaling_max(tmp_path):
    # no node now, up to 3 with autoscaling: 3 pods x 8 GPUs fit (after scale-up), 4 pods never do
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,600,3,8\n1,600,4,8\n")
    pool = gpu_pool(count=0, autoscaling={"min": 0, "max": 3})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[trace_workload(csv)], duration="2h", drain=True)
    r = gpusim.simulate(data, seed=1)
    states = dict(zip(r.jobs["num_pods"], r.jobs["state"], strict=True))
    assert states == {3: "finished", 4: "unschedulable"}
    assert r.jobs.loc[r.jobs["num_pods"] == 4, "failure"].iloc[0] == (
        "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    )


def test_gang_capacity_on_time_sliced_pool_counts_replicas(tmp_path):
    # 2 GPUs x 4 replicas: a gang of 8 one-replica pods (a quarter GPU each maps to 1 replica)
    # fits one node at once, 9 never
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g,m\n0,60,8,1,250\n1,60,9,1,250\n")
    pool = gpu_pool(
        gpus_per_node=2, sharing={"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    )
    w = trace_workload(csv, columns={"arrival": "t", "duration": "d", "num_pods": "p", "gpus": "g", "gpu_milli": "m"})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[w], duration="1h", drain=True)
    r = gpusim.simulate(data, seed=1)
    states = dict(zip(r.jobs["num_pods"], r.jobs["state"], strict=True))
    assert states == {8: "finished", 9: "unschedulable"}


def test_placeholder_that_fits_no_node_is_reported(tmp_path):
    # `gpusim check` rejects this scenario; through the API without the checks, the engine skips
    # the placeholders and says why instead of leaving them pending
    data = small_scenario(cluster={"node_pools": [gpu_pool()], "overprovisioning": {
        "replicas": 2, "pod": {"resources": {"limits": {"nvidia.com/gpu": 16}}}}}, duration="10m")  # fmt: skip
    scenario = load_scenario(data, check=False)
    s = gpusim.simulate(scenario, seed=1).summary
    assert s["overprovisioning_unschedulable"] == 2
    assert s["overprovisioning_unschedulable_reason"] == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    assert s["jobs_pending"] == 0


def test_drain_that_cannot_progress_is_reported():
    # a time-sliced pod that uses more GPU memory than the GPU has crash-loops (OOM) forever:
    # nothing can progress, so draining stops and says so (the checks reject this; the API does not)
    pool = gpu_pool(sharing={"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}})
    w = {"name": "t", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}, "gpu_memory": "100Gi"},
         "jobs": [{"arrival": 0.0, "duration": 60.0}]}  # fmt: skip
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[w], duration="1h", drain=True)
    s = gpusim.simulate(load_scenario(data, check=False), seed=1).summary
    assert s["jobs_running"] == 1 and s["oom_kills"] > 0
    assert s["drain_stalled"] is True and s["drain_cap_hit"] is False
    assert s["drain_stopped_s"] >= 3600.0


def test_drain_cap_is_reported(tmp_path, monkeypatch):
    # a job longer than the cap: draining stops at DRAIN_CAP x duration with it still running
    from gpusim.sim import engine

    monkeypatch.setattr(engine, "DRAIN_CAP", 3)
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,36000,1,1\n")
    data = small_scenario(cluster={"node_pools": [gpu_pool()]}, workloads=[trace_workload(csv)], duration="1h",
                          drain=True)  # fmt: skip
    s = gpusim.simulate(data, seed=1).summary
    assert s["drain_cap_hit"] is True and s["jobs_running"] == 1
    assert 3 * 3600.0 <= s["drain_stopped_s"] < 4 * 3600.0


def test_drained_run_reports_no_drain_stop(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,7200,1,1\n")
    data = small_scenario(cluster={"node_pools": [gpu_pool()]}, workloads=[trace_workload(csv)], duration="1h",
                          drain=True)  # fmt: skip
    s = gpusim.simulate(data, seed=1).summary
    assert s["jobs_finished"] == 1 and "drain_cap_hit" not in s and "drain_stalled" not in s


def test_cli_warns_when_the_drain_cap_is_hit(tmp_path, monkeypatch, capsys):
    import yaml

    from gpusim.cli import main
    from gpusim.sim import engine

    monkeypatch.setattr(engine, "DRAIN_CAP", 2)
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,36000,1,1\n")
    data = small_scenario(cluster={"node_pools": [gpu_pool()]}, workloads=[trace_workload(csv)], duration="1h",
                          drain=True)  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "warning: drain stopped at" in out and "1 job(s) running" in out


def test_price_expander_sees_catalog_prices(tmp_path):
    # neither pool gives price_per_hour or a node type: the catalog's $/GPU-h prices them
    # (8 x H100 at 6.88 vs 8 x A100 80GB at 3.4309, catalog/gpus); the price expander must grow the
    # A100 pool, which is cheaper although it sorts after the H100 pool by name
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,600,1,8\n")
    pools = [
        gpu_pool(name="a-h100", count=0, gpu_model="nvidia-h100-80gb", autoscaling={"min": 0, "max": 2}),
        gpu_pool(name="b-a100", count=0, autoscaling={"min": 0, "max": 2}),
    ]
    data = small_scenario(cluster={"node_pools": pools, "autoscaler": {"expander": "price"}},
                          workloads=[trace_workload(csv)], duration="1h", drain=True)  # fmt: skip
    r = gpusim.simulate(data, seed=1)
    assert list(r.nodes["pool"]) == ["b-a100"]
    assert r.nodes["usd_per_hour"].iloc[0] == 8 * 3.4309
    assert r.summary["cost_usd.b-a100"] == r.summary["cost_usd"] > 0


def test_price_expander_ranks_unknown_prices_last(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,600,1,8\n")
    pools = [
        gpu_pool(name="a-unknown", count=0, price_unknown=True, autoscaling={"min": 0, "max": 2}),
        gpu_pool(name="b-known", count=0, price_per_hour=50.0, autoscaling={"min": 0, "max": 2}),
    ]
    data = small_scenario(cluster={"node_pools": pools, "autoscaler": {"expander": "price"}},
                          workloads=[trace_workload(csv)], duration="1h", drain=True)  # fmt: skip
    r = gpusim.simulate(data, seed=1)
    assert list(r.nodes["pool"]) == ["b-known"]
    assert math.isnan(r.summary["cost_usd.a-unknown"]) and math.isnan(r.summary["cost_usd"])


def test_trace_on_a_mig_pool_gets_the_mapped_profiles(tmp_path):
    # SHARING_MAPPING (gpusim/traces/replay.py): a share f of one GPU takes the smallest MIG profile
    # with compute_slices / 7 >= f; a whole GPU takes a 7g instance, which the all-balanced layout
    # (A100 80GB: 2 x 1g.10gb, 1 x 2g.20gb, 1 x 3g.40gb per GPU) does not have
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,g,m\n0,60,1,100\n1,60,1,250\n2,60,1,400\n3,60,1,1000\n")
    pool = gpu_pool(gpus_per_node=2, sharing={"mig": {"strategy": "mixed", "config": "all-balanced"}})
    w = trace_workload(csv, columns={"arrival": "t", "duration": "d", "gpus": "g", "gpu_milli": "m"})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[w], duration="1h", drain=True)
    r = gpusim.simulate(data, seed=1)
    jobs = r.jobs.sort_values("arrival_s")
    assert list(jobs["gpu_resource"]) == ["nvidia.com/mig-1g.10gb", "nvidia.com/mig-2g.20gb",
                                          "nvidia.com/mig-3g.40gb", "nvidia.com/mig-7g.80gb"]  # fmt: skip
    assert list(jobs["gpus"]) == [1, 1, 1, 1]
    assert list(jobs["state"]) == ["finished", "finished", "finished", "unschedulable"]
    assert jobs["failure"].iloc[3] == "0/1 nodes are available: 1 Insufficient nvidia.com/mig-7g.80gb."


def test_trace_on_a_time_sliced_pool_gets_replicas(tmp_path):
    # time-slicing with R = 4 replicas: a half GPU takes ceil(0.5 x 4) = 2 replicas, 2 whole GPUs 2 x 4
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,g,m\n0,60,1,500\n1,60,2,1000\n")
    pool = gpu_pool(
        gpus_per_node=2, sharing={"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    )
    w = trace_workload(csv, columns={"arrival": "t", "duration": "d", "gpus": "g", "gpu_milli": "m"})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[w], duration="1h", drain=True)
    r = gpusim.simulate(data, seed=1)
    jobs = r.jobs.sort_values("arrival_s")
    assert list(jobs["gpu_resource"]) == ["nvidia.com/gpu", "nvidia.com/gpu"]
    assert list(jobs["gpus"]) == [2, 8]
    assert list(jobs["state"]) == ["finished", "finished"]


def test_trace_on_whole_gpus_is_not_remapped(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,g,m\n0,60,2,1000\n")
    w = trace_workload(csv, columns={"arrival": "t", "duration": "d", "gpus": "g", "gpu_milli": "m"})
    data = small_scenario(cluster={"node_pools": [gpu_pool()]}, workloads=[w], duration="1h", drain=True)
    jobs = gpusim.simulate(data, seed=1).jobs
    assert list(jobs["gpus"]) == [2] and list(jobs["gpu_resource"]) == ["nvidia.com/gpu"]


def test_gang_spanning_ready_and_new_nodes_scales_up(tmp_path):
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n0,600,3,8\n")
    pool = gpu_pool(autoscaling={"min": 1, "max": 3})
    data = small_scenario(cluster={"node_pools": [pool]}, workloads=[trace_workload(csv)], duration="2h", drain=True)
    s = gpusim.simulate(data, seed=1).summary
    assert s["jobs_finished"] == 1
