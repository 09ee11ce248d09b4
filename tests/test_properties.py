"""Hypothesis property tests: invariants that must hold for any cluster and any job list."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpusim
from gpusim.placement import policy_names
from tests.conftest import small_scenario

MODES = {
    "whole": ({}, {"nvidia.com/gpu": 1}),
    "timeslice": ({"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 3}]}}, {"nvidia.com/gpu": 1}),
    "mig": ({"mig": {"strategy": "mixed", "config": "all-1g.10gb"}}, {"nvidia.com/mig-1g.10gb": 1}),
    "fractional": ({"fractional": True}, None),
}
"""Sharing mode of a pool: (pool `sharing`, pod GPU limits per GPU; fractional pods draw a share)."""


@st.composite
def scenarios(draw):
    n_pools = draw(st.integers(1, 3))
    pools = []
    for p in range(n_pools):
        mode = draw(st.sampled_from(list(MODES)))
        pools.append(
            {
                "name": f"p{p}",
                "count": draw(st.integers(1, 3)),
                "gpu_model": "nvidia-a100-80gb",
                "gpus_per_node": draw(st.sampled_from([1, 2, 4, 8])),
                "vcpu": draw(st.sampled_from([8, 16, 64])),
                "memory": "128Gi",
                "labels": {"mode": mode, "pool": f"p{p}"},
                "sharing": MODES[mode][0],
            }
        )
    n_jobs = draw(st.integers(1, 25))
    workloads = []
    for i in range(n_jobs):
        pool = pools[draw(st.integers(0, n_pools - 1))]
        mode = pool["labels"]["mode"]
        if mode in ("mig", "fractional"):
            gpus = 1
        else:
            gpus = draw(st.integers(0, pool["gpus_per_node"]))
        if mode == "fractional":
            milli = draw(st.sampled_from([100, 250, 500, 1000]))
            limits = {"alibabacloud.com/gpu-milli": milli, "alibabacloud.com/gpu-count": 1}
        elif gpus == 0:
            limits = {}
        else:
            ((name, _),) = MODES[mode][1].items()
            limits = {name: gpus}
        workloads.append(
            {
                "name": f"w{i}",
                "pod": {
                    "resources": {
                        "requests": {"cpu": draw(st.sampled_from(["500m", "1", "4"])), "memory": "1Gi"},
                        "limits": limits,
                    },  # fmt: skip
                    "priority": draw(st.integers(0, 3)),
                    "nodeSelector": {"pool": pool["name"]},
                },
                "jobs": [
                    {
                        "arrival": draw(st.floats(0, 7200, allow_nan=False)),
                        "duration": draw(st.floats(1, 7200, allow_nan=False)),
                        # gangs (all pods bound at once), at most one pod per node of the pool
                        "pods": draw(st.sampled_from([1, 1, 1, 2, 3]).filter(lambda k, c=pool["count"]: k <= c)),
                    }
                ],
            }
        )
    return small_scenario(
        cluster={"node_pools": pools},
        workloads=workloads,
        duration=draw(st.floats(600, 3 * 7200)),
        drain=draw(st.booleans()),
        scheduler={
            "policy": draw(st.sampled_from(policy_names())),
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
    never = s["jobs_unschedulable"] + s["jobs_failed"]  # fit no node (a gang too big for its pool)
    assert s["jobs_arrived"] == s["jobs_finished"] + s["jobs_running"] + s["jobs_pending"] + never
    if data["drain"]:
        assert s["jobs_finished"] + never == s["jobs_arrived"]
    # every pod fits a node of its pool and a gang has at most one pod per node: all can run
    assert s["jobs_unschedulable"] == 0

    # per job: arrival <= start <= end; a run takes its duration (whole GPUs, shares) or longer
    # (time-sliced tenants and MIG slices run slower)
    started = jobs.dropna(subset=["start_s"])
    assert (started["start_s"] >= started["arrival_s"] - 1e-9).all()
    done = jobs.dropna(subset=["end_s"])
    assert (done["end_s"] >= done["start_s"]).all()
    mode_of = {p["name"]: p["labels"]["mode"] for p in pools.values()}
    exact = done.loc[[mode_of[p.split(",")[0]] in ("whole", "fractional") for p in done["pool"]]]
    assert np.allclose(exact["end_s"] - exact["start_s"], exact["duration_s"])
    assert (done["end_s"] - done["start_s"] >= done["duration_s"] * (1 - 1e-9)).all()

    # gangs: every pod of a started job is placed, in its workload's pool
    for _, row in started.iterrows():
        nodes = row["node"].split(",")
        assert len(nodes) == row["num_pods"]
        wl_pool = data["workloads"][int(row["workload"][1:])]["pod"]["nodeSelector"]["pool"]
        assert all(n.rsplit("-", 1)[0] == wl_pool for n in nodes)

    # per pod rows (a gang's pods hold resources from the job's start to its end)
    pod_rows = []
    for _, row in started.iterrows():
        per_pod = row["gpu_ids"].split(";") if row["gpus"] > 0 else [""] * int(row["num_pods"])
        for node, ids in zip(row["node"].split(","), per_pod, strict=True):
            pod_rows.append({"node": node, "ids": ids, "start_s": row["start_s"], "end_s": row["end_s"],
                             "gpus": row["gpus"], "milli": row["gpu_milli"], "cpu_milli": row["cpu_milli"]})  # fmt: skip
    import pandas as pd

    pods = pd.DataFrame(pod_rows, columns=["node", "ids", "start_s", "end_s", "gpus", "milli", "cpu_milli"])

    # never more GPUs (or CPU) bound on a node than it has
    for node, peak in _max_concurrent_use(pods, "node", "cpu_milli").items():
        assert peak <= pools[node.rsplit("-", 1)[0]]["vcpu"] * 1000
    # each GPU: whole ones held by one pod at a time, time-sliced ones by at most `replicas`,
    # fractional ones up to 1000 milli, MIG slices never two on one start of a GPU
    rows = []
    for _, r_ in pods.iterrows():
        ids = list(filter(None, r_["ids"].split(",")))
        assert len(ids) == r_["gpus"]  # a pod's GPUs are as many as it asked for
        mode = mode_of[r_["node"].rsplit("-", 1)[0]]
        for g in ids:
            unit = r_["milli"] if mode == "fractional" else 1
            rows.append({"gpu": g, "start_s": r_["start_s"], "end_s": r_["end_s"], "use": unit, "mode": mode})
    if rows:
        df = pd.DataFrame(rows)
        cap = {"whole": 1, "timeslice": 3, "fractional": 1000, "mig": 1}
        for gpu, peak in _max_concurrent_use(df, "gpu", "use").items():
            mode = df.loc[df["gpu"] == gpu, "mode"].iloc[0]
            assert peak <= cap[mode], f"GPU {gpu} ({mode}) over-committed: {peak}"
        whole = df[df["mode"] != "mig"].copy()
        whole["dev"] = whole["gpu"].astype(int)
        for _dev, peak in _max_concurrent_use(whole[whole["mode"] == "whole"], "dev", "use").items():
            assert peak <= 1
        mig = df[df["mode"] == "mig"]
        if len(mig):
            per_gpu = mig.assign(dev=mig["gpu"].str.split("@").str[0])
            for dev, peak in _max_concurrent_use(per_gpu, "dev", "use").items():
                assert peak <= 7, f"GPU {dev}: {peak} 1g MIG slices at once (7 fit)"

    # time series: busy GPUs never exceed the cluster
    ts = r.timeseries
    assert (ts["gpus_allocated"] <= ts["gpus_total"]).all()
    assert (ts["pending_jobs"] >= 0).all() and (ts["running_jobs"] >= 0).all()


def test_gang_larger_than_its_pool_is_unschedulable(tmp_path):
    # `gpusim check` rejects such gangs written inline, so they come from a trace (rows the checks
    # cannot see): one gang of 2 pods x 2 GPUs on a single 2-GPU node, then a job that fits.
    csv = tmp_path / "gangs.csv"
    csv.write_text("t,d,p,g\n0,60,2,2\n5,60,1,2\n")
    data = small_scenario(
        cluster={
            "node_pools": [
                {
                    "name": "p0",
                    "count": 1,
                    "gpu_model": "nvidia-a100-80gb",
                    "gpus_per_node": 2,
                    "vcpu": 8,
                    "memory": "128Gi",
                }
            ]
        },  # fmt: skip
        workloads=[
            {
                "name": "w0",
                "pod": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"nvidia.com/gpu": 2}}},
                "trace": {
                    "format": "generic",
                    "path": str(csv),
                    "columns": {"arrival": "t", "duration": "d", "num_pods": "p", "gpus": "g"},
                },
            }
        ],  # fmt: skip
        duration=600.0,
        drain=True,
    )
    r = gpusim.simulate(data)
    s = r.summary
    assert s["jobs_unschedulable"] == 1 and s["jobs_pending"] == 0 and s["jobs_finished"] == 1
    gang = r.jobs[r.jobs["num_pods"] == 2].iloc[0]
    assert gang["state"] == "unschedulable"
    assert gang["failure"] == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    assert s["jobs_unschedulable.Insufficient nvidia.com/gpu"] == 1
