"""Hypothesis property tests: invariants that must hold for any cluster and any job list."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpusim
from tests.conftest import small_scenario


@st.composite
def scenarios(draw):
    n_pools = draw(st.integers(1, 3))
    pools = []
    for p in range(n_pools):
        pools.append(
            {
                "name": f"p{p}",
                "count": draw(st.integers(1, 3)),
                "gpu_model": "nvidia-a100-80gb",
                "gpus_per_node": draw(st.sampled_from([1, 2, 4, 8])),
                "vcpu": draw(st.sampled_from([8, 16, 64])),
                "memory": "128Gi",
            }
        )
    max_gpus = max(p["gpus_per_node"] for p in pools)
    n_jobs = draw(st.integers(1, 25))
    jobs = []
    for _ in range(n_jobs):
        jobs.append(
            {
                "arrival": draw(st.floats(0, 7200, allow_nan=False)),
                "duration": draw(st.floats(1, 7200, allow_nan=False)),
                "gpus": draw(st.integers(0, max_gpus)),
                "cpu": draw(st.sampled_from(["500m", "1", "4"])),
                "priority": draw(st.integers(0, 3)),
            }
        )
    workloads = [
        {
            "name": f"w{i}",
            "pod": {
                "resources": {"requests": {"cpu": j["cpu"], "memory": "1Gi"}, "limits": {"nvidia.com/gpu": j["gpus"]}},
                "priority": j["priority"],
            },
            "jobs": [{"arrival": j["arrival"], "duration": j["duration"]}],
        }
        for i, j in enumerate(jobs)
    ]
    return small_scenario(
        cluster={"node_pools": pools},
        workloads=workloads,
        duration=draw(st.floats(600, 3 * 7200)),
        drain=draw(st.booleans()),
        scheduler={
            "policy": draw(st.sampled_from(["first-fit", "best-fit"])),
            "queue": draw(st.sampled_from(["fifo", "priority"])),
        },
    )


def _max_concurrent_use(jobs, key_col, amount_col):
    """Per key, the maximum summed amount over time (ends processed before starts at equal t)."""
    worst = {}
    started = jobs.dropna(subset=["start_s"])
    for key, grp in started.groupby(key_col):
        ev = []
        for _, r in grp.iterrows():
            ev.append((r["start_s"], 1, r[amount_col]))
            if not np.isnan(r["end_s"]):
                ev.append((r["end_s"], 0, -r[amount_col]))
        ev.sort()
        level = peak = 0
        for _, _, d in ev:
            level += d
            peak = max(peak, level)
        worst[key] = peak
    return worst


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants(data):
    r = gpusim.simulate(data)
    jobs, s = r.jobs, r.summary
    pools = {p["name"]: p for p in data["cluster"]["node_pools"]}

    # every job accounted for
    assert s["jobs_arrived"] == len(data["workloads"])
    assert s["jobs_arrived"] == s["jobs_finished"] + s["jobs_running"] + s["jobs_pending"]
    if data["drain"]:
        assert s["jobs_finished"] == s["jobs_arrived"]

    # per job: arrival <= start <= end, and a started job's run time is its duration
    started = jobs.dropna(subset=["start_s"])
    assert (started["start_s"] >= started["arrival_s"] - 1e-9).all()
    done = jobs.dropna(subset=["end_s"])
    assert (done["end_s"] >= done["start_s"]).all()
    assert np.allclose(done["end_s"] - done["start_s"], done["duration_s"])

    # never more GPUs (or CPU) bound on a node than it has
    for node, peak in _max_concurrent_use(jobs, "node", "gpus").items():
        pool = pools[node.rsplit("-", 1)[0]]
        assert peak <= pool["gpus_per_node"]
    for node, peak in _max_concurrent_use(jobs, "node", "cpu_milli").items():
        pool = pools[node.rsplit("-", 1)[0]]
        assert peak <= pool["vcpu"] * 1000

    # whole GPUs are exclusive: a GPU id is never held by two jobs at once
    rows = []
    for _, row in started.iterrows():
        for g in filter(None, row["gpu_ids"].split(",")):
            rows.append({"gpu": int(g), "start_s": row["start_s"], "end_s": row["end_s"], "one": 1})
    if rows:
        import pandas as pd

        for gpu, peak in _max_concurrent_use(pd.DataFrame(rows), "gpu", "one").items():
            assert peak <= 1, f"GPU {gpu} double-booked"
        # a job's GPUs are as many as it asked for
    assert all(
        len(list(filter(None, g.split(",")))) == n for g, n in zip(started["gpu_ids"], started["gpus"], strict=True)
    )

    # time series: busy GPUs never exceed the cluster
    ts = r.timeseries
    assert (ts["gpus_allocated"] <= ts["gpus_total"]).all()
    assert (ts["pending_jobs"] >= 0).all() and (ts["running_jobs"] >= 0).all()
