"""A hypothesis fuzzer of valid scenarios: every sharing mode, gangs, services and autoscalers.

Whatever the scenario, a run accounts for every job (each in exactly one final state, none lost
or invented) and never allocates more GPUs than the cluster has. Only `gpusim.simulate` is
called; examples are few and small so the test stays fast.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpusim

MODES = {
    "whole": ({}, {"nvidia.com/gpu": 1}),
    "timeslice": ({"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}, {"nvidia.com/gpu": 1}),
    "mig": ({"mig": {"config": "all-1g.10gb"}}, {"nvidia.com/mig-1g.10gb": 1}),
    "fractional": ({"fractional": True}, {"alibabacloud.com/gpu-milli": 500}),
}
STATES = {"finished", "running", "pending", "failed", "unschedulable"}


@st.composite
def valid_scenarios(draw):
    modes = draw(st.lists(st.sampled_from(sorted(MODES)), min_size=1, max_size=3, unique=True))
    pools, workloads = [], []
    n_jobs = 0
    for mode in modes:
        sharing, limits = MODES[mode]
        count = draw(st.integers(1, 3))
        pool = {
            "name": mode, "count": count, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": draw(st.sampled_from([2, 4])),
            "vcpu": 64, "memory": "512Gi", "labels": {"mode": mode}, "sharing": sharing,
        }  # fmt: skip
        if draw(st.booleans()):
            pool["autoscaling"] = {"min": 0, "max": count + draw(st.integers(0, 2)), "provisioning": "2m"}
        pools.append(pool)
        jobs = [
            {
                "arrival": draw(st.integers(0, 3000)),
                "duration": draw(st.integers(30, 3000)),
                "pods": draw(st.integers(1, 2)) if mode == "whole" else 1,
            }
            for _ in range(draw(st.integers(1, 6)))
        ]
        n_jobs += len(jobs)
        workloads.append(
            {
                "name": f"train-{mode}",
                "pod": {
                    "resources": {"limits": limits, "requests": {"cpu": "1", "memory": "1Gi"}},
                    "nodeSelector": {"mode": mode},
                },
                "jobs": jobs,
            }  # fmt: skip
        )
    if draw(st.booleans()):
        mode = draw(st.sampled_from(modes))
        service = {
            "type": "inference", "name": "svc",
            "pod": {"resources": {"limits": MODES[mode][1], "requests": {"cpu": "1", "memory": "1Gi"}},
                    "nodeSelector": {"mode": mode}},
            "model": {"service_time": "200ms"},
            "arrivals": {"process": {"process": "poisson", "rate": f"{draw(st.integers(1, 20))}/s"}},
            "replicas": 1, "slo": {"latency": "2s"}, "cold_start": {"image_pull": "0s", "model_load": "5s"},
        }  # fmt: skip
        if draw(st.booleans()):
            service["autoscaling"] = {
                "hpa": {"min_replicas": 1, "max_replicas": 3, "metrics": [{"name": "concurrency", "target": 2}]}
            }
        workloads.append(service)
    scenario = {
        "name": "fuzz", "seed": draw(st.integers(0, 1000)), "duration": "1h", "drain": draw(st.booleans()),
        "cluster": {"node_pools": pools}, "workloads": workloads,
        "scheduler": {"policy": draw(st.sampled_from(["first-fit", "best-fit", "spread"]))},
    }  # fmt: skip
    return scenario, n_jobs


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios())
def test_every_job_accounted_for_and_no_over_allocation(drawn):
    scenario, n_jobs = drawn
    r = gpusim.simulate(scenario)
    jobs = r.jobs
    assert len(jobs) == n_jobs  # no job lost or invented
    assert set(jobs["state"]) <= STATES
    s = r.summary
    assert s["jobs_arrived"] == n_jobs
    assert (
        sum(s[f"jobs_{k}"] for k in ("finished", "running", "pending", "unschedulable"))
        + int((jobs["state"] == "failed").sum())
        == n_jobs
    )
    ts = r.timeseries
    assert (ts["gpus_allocated"] <= ts["gpus_total"] + 1e-9).all()
    assert (ts["gpus_allocated"] >= -1e-9).all()
    finished = jobs[jobs["state"] == "finished"]
    assert (finished["end_s"] >= finished["start_s"]).all()
    assert (finished["start_s"] >= finished["arrival_s"]).all()
    if scenario["drain"] and not any(w.get("type") == "inference" for w in scenario["workloads"]):
        assert set(jobs["state"]) <= {"finished", "unschedulable", "failed"}
