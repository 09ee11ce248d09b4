"""Inference services in the engine: validation against queueing theory, conservation of
requests, HPA and Cluster Autoscaler behaviour, cold starts and cost."""

import math

import numpy as np
import pytest
from scipy import stats

import gpusim
from tests.conftest import small_scenario
from tests.test_validation_erlang import erlang_c_wait

NO_COLD_START = {"image_pull": 0, "model_load": 0}


def service(**over):
    w = {
        "type": "inference",
        "name": "svc",
        "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
        "model": {"service_time": {"distribution": "exponential", "mean": "1s"}},
        "arrivals": {"process": {"process": "poisson", "rate": 3.2}},
        "replicas": 4,
        "routing": "shared-queue",
        "timeout": "1h",
        "cold_start": NO_COLD_START,
        "slo": {"latency": "2s"},
    }
    w.update(over)
    return w


def pool(count=1, gpus=8, **over):
    p = {"name": "gpu", "count": count, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": gpus, "vcpu": 192,
         "memory": "2Ti"}  # fmt: skip
    p.update(over)
    return p


def test_service_matches_erlang_c_and_conserves_requests():
    # 4 replicas of concurrency 1 behind one queue = M/M/4 at 80% load
    means = []
    for seed in range(5):
        r = gpusim.simulate(
            small_scenario(cluster={"node_pools": [pool()]}, workloads=[service()], duration="3h"), seed=seed
        )
        s = r.summary
        assert (
            s["requests"]
            == s["requests_served"] + s["requests_timed_out"] + s["requests_dropped"] + s["requests_in_flight_end"]
        )
        means.append(r.service_summary["latency_mean_s"].iloc[0])
    theory = erlang_c_wait(4, 3.2, 1.0) + 1.0  # wait + mean service
    m = np.asarray(means)
    half = stats.t.ppf(0.975, m.size - 1) * m.std(ddof=1) / math.sqrt(m.size)
    print(f"M/M/4 sojourn: theory {theory:.3f} s, simulated {m.mean():.3f} +- {half:.3f} s")
    assert m.mean() - half <= theory <= m.mean() + half


def test_cold_start_delays_first_requests_and_is_counted():
    w = service(replicas=1, arrivals={"process": {"process": "poisson", "rate": 0.5}},
                cold_start={"image_pull": "30s", "model_load": "30s"}, timeout="10s")  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration="10m"))
    s = r.summary
    assert s["cold_starts"] == 1
    assert s["requests_timed_out"] > 0  # requests in the first minute wait for the replica and time out
    first = r.services[r.services["ready_replicas"] > 0]["time_s"].min()
    assert first >= 60


def test_hpa_scales_up_and_cluster_autoscaler_adds_nodes():
    w = service(
        replicas=1,
        concurrency=1,
        routing="least-outstanding",
        arrivals={"process": {"process": "poisson", "rate": 6}},
        autoscaling={
            "hpa": {"min_replicas": 1, "max_replicas": 16, "metrics": [{"name": "concurrency", "target": 0.7}]}
        },
    )
    p = pool(count=1, gpus=2, autoscaling={"min": 1, "max": 8, "provisioning": "2m"}, price_per_hour=10.0)
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [p]}, workloads=[w], duration="30m"))
    ts = r.services
    assert ts["ready_replicas"].max() >= 8
    assert r.summary["nodes_added"] >= 3
    nodes = r.nodes
    added = nodes[nodes["requested_s"] > 0]
    assert np.allclose(added["ready_s"] - added["requested_s"], 120.0)
    # billed from the request, not from readiness
    assert r.summary["cost_usd"] == pytest.approx((nodes["billed_hours"] * 10.0).sum())
    assert r.summary["cost_usd"] > 10.0 * 0.5


def test_provisioning_lag_hurts_slo_and_scale_down_drains():
    def run(lag):
        w = service(
            replicas=1,
            routing="least-outstanding",
            timeout="30s",
            arrivals={"process": {"process": "flash-crowd", "base_rate": 0.5, "peak_rate": 8, "spike_at": "10m",
                                  "decay": "10m"}},
            autoscaling={"hpa": {"min_replicas": 1, "max_replicas": 16, "metrics": [{"name": "concurrency", "target": 0.7}]}},
        )  # fmt: skip
        p = pool(count=1, gpus=1, autoscaling={"min": 1, "max": 16, "provisioning": lag}, price_per_hour=10.0)
        return gpusim.simulate(small_scenario(cluster={"node_pools": [p]}, workloads=[w], duration="90m"), seed=3)

    fast, slow = run("0s"), run("10m")
    assert slow.summary["slo_attainment"] < fast.summary["slo_attainment"]
    for r in (fast, slow):
        s = r.summary
        assert (
            s["requests"]
            == s["requests_served"] + s["requests_timed_out"] + s["requests_dropped"] + s["requests_in_flight_end"]
        )
    # after the burst the HPA scales down (5 min stabilisation) and the CA removes empty nodes
    ts = fast.services
    assert ts["ready_replicas"].iloc[-1] < ts["ready_replicas"].max()
    assert fast.summary["cluster_scale_downs"] >= 1


def test_kpa_panics_on_a_burst():
    w = service(
        replicas=1,
        concurrency=4,
        routing="least-outstanding",
        arrivals={
            "process": {"process": "flash-crowd", "base_rate": 0.5, "peak_rate": 30, "spike_at": "5m", "decay": "5m"}
        },
        autoscaling={"kpa": {"target": 2, "max_scale": 20}},
    )
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool(count=4)]}, workloads=[w], duration="20m"))
    assert r.services["desired_replicas"].max() >= 5


def test_llm_service_on_whole_mig_and_time_sliced_gpus():
    def run(resource, sharing):
        w = service(
            replicas=2,
            pod={"resources": {"limits": {resource: 1}}},
            model={"llm": {"params_b": 8}},
            arrivals={"process": {"process": "poisson", "rate": 1}, "prompt_tokens": 1000, "output_tokens": 100},
            routing="least-outstanding",
            concurrency=4,
        )
        p = pool(count=1, gpus=1, gpu_model="nvidia-a100-80gb", sharing=sharing)
        return gpusim.simulate(small_scenario(cluster={"node_pools": [p]}, workloads=[w], duration="20m"), seed=1)

    whole = run("nvidia.com/gpu", {})
    mig = run("nvidia.com/mig-3g.40gb", {"mig": {"config": "all-3g.40gb"}})
    ts = run("nvidia.com/gpu", {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}})
    # one GPU: whole-GPU replicas cannot both fit, slices and time-slices can
    assert whole.services["ready_replicas"].max() == 1
    assert mig.services["ready_replicas"].max() == 2 and ts.services["ready_replicas"].max() == 2
    for r in (whole, mig, ts):
        assert r.summary["requests_served"] > 0
    # a 3g slice is slower than a whole GPU: higher median latency
    assert mig.summary["latency_p50_s"] > whole.summary["latency_p50_s"]


def test_inference_scenario_errors_are_located():
    w = service(routing="fastest")
    with pytest.raises(gpusim.ScenarioError, match="routing"):
        gpusim.load_scenario(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w]))
    w = service(pod={"resources": {"limits": {"nvidia.com/mig-1g.10gb": 1}}})
    with pytest.raises(gpusim.ScenarioError, match="a replica asking"):
        gpusim.load_scenario(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w]))


def test_overprovisioning_placeholders_hide_node_lag():
    def run(headroom):
        w = service(
            replicas=1,
            routing="least-outstanding",
            timeout="30s",
            arrivals={"process": {"process": "flash-crowd", "base_rate": 0.5, "peak_rate": 4, "spike_at": "10m",
                                  "decay": "20m"}},
            autoscaling={"hpa": {"min_replicas": 1, "max_replicas": 8, "metrics": [{"name": "concurrency", "target": 0.7}]}},
        )  # fmt: skip
        p = pool(count=1, gpus=4, autoscaling={"min": 1, "max": 4, "provisioning": "10m"}, price_per_hour=10.0)
        cluster = {"node_pools": [p]}
        if headroom:
            cluster["overprovisioning"] = {"replicas": 3, "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}
        return gpusim.simulate(small_scenario(cluster=cluster, workloads=[w], duration="50m"), seed=4)

    plain, spare = run(False), run(True)
    assert spare.summary["preemptions"] >= 1
    # evicted placeholders go pending, so the Cluster Autoscaler adds a node to restore the headroom
    assert spare.summary["nodes_added"] >= 1
    assert spare.summary["slo_attainment"] > plain.summary["slo_attainment"]
    s = spare.summary
    assert (
        s["requests"]
        == s["requests_served"] + s["requests_timed_out"] + s["requests_dropped"] + s["requests_in_flight_end"]
    )


def test_replicas_are_time_slice_co_tenants_of_training_jobs():
    ts = {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    p = pool(count=1, gpus=1, gpu_model="nvidia-a100-80gb", sharing=ts)
    w = service(replicas=1, pod={"resources": {"limits": {"nvidia.com/gpu": 1}}, "gpu_memory": "30Gi"},
                arrivals={"process": {"process": "poisson", "rate": 0.2}})  # fmt: skip

    def train(mem):
        return {"name": "t", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}, "gpu_memory": mem},
                "jobs": [{"arrival": "10m", "duration": "1h"}]}  # fmt: skip

    slow = gpusim.simulate(small_scenario(cluster={"node_pools": [p]}, workloads=[w, train("30Gi")], duration="4h"))
    run = slow.jobs["end_s"].iloc[0] - slow.jobs["start_s"].iloc[0]
    assert run == pytest.approx(3600 / 0.4)  # two tenants: (1 - 0.2) / 2 of the GPU
    oom = gpusim.simulate(small_scenario(cluster={"node_pools": [p]}, workloads=[w, train("60Gi")], duration="2h"))
    assert oom.summary["oom_kills"] > 0 and oom.jobs["state"].iloc[0] == "running"  # 30 + 60 GiB > 80 GB
