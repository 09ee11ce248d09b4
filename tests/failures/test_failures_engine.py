"""Failures in the engine (issue 15 item 1): accounting, availability, spot interruptions, and the
checkpoint-interval sweep against Young/Daly and the expected-time model of
gpusim.hardware.failures (Daly, Future Generation Computer Systems 22(3), 2006, eq. 13).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpusim.hardware.failures import availability, daly_interval, expected_wall_time, optimal_interval, young_interval
from gpusim.scenario.loader import load_scenario
from gpusim.sim.engine import simulate

GPU = {"nvidia.com/gpu": 1}


def _pool(name="gpu", count=8, gpus=1, **kw) -> dict:
    return {"name": name, "count": count, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": gpus, "vcpu": 96,
            "memory": "1Ti", "price_per_hour": 3.0, **kw}  # fmt: skip


def _single_job(interval_s: float, *, mtbf_s: float, cost_s: float, restart_s: float, work_s: float):
    """One single-GPU job on 1-GPU nodes failing at 1/mtbf_s each, repaired in 10 min; with 8 nodes
    a failed job is rebound at once (all 8 down together has probability ~1e-9), so its wall time
    is the model's: segments of interval + cost, each repeated until it runs without a failure.
    """
    return load_scenario({
        "name": "ckpt", "duration": "1h", "drain": True,
        "cluster": {"node_pools": [_pool()]},
        "failures": {"per_gpu_hour": 3600.0 / mtbf_s, "repair": {"action": "repair", "time": "10m"}},
        "workloads": [{"name": "train", "pod": {"resources": {"limits": GPU}},
                       "checkpoint": {"interval": interval_s, "cost": cost_s, "restart": restart_s},
                       "jobs": [{"arrival": 0, "duration": work_s}]}],
    })  # fmt: skip


@pytest.mark.slow
def test_checkpoint_sweep_finds_the_young_daly_optimum():
    """A sweep of checkpoint intervals around the optimum, 30 seeds each: every mean wall time agrees
    with `expected_wall_time` within 3 standard errors, and the minimum of a parabola fitted to the
    means (in log interval) agrees with `optimal_interval` (and so with Young's and Daly's
    estimates, which lie within a few percent of it here) within 3 bootstrap standard deviations.
    """
    mtbf, cost, restart, work = 3600.0, 300.0, 120.0, 12 * 3600.0
    t_opt = optimal_interval(cost, mtbf)
    assert abs(daly_interval(cost, mtbf) / t_opt - 1) < 0.05 and abs(young_interval(cost, mtbf) / t_opt - 1) < 0.2
    factors = (0.25, 0.5, 1.0, 2.0, 4.0)
    seeds = range(30)
    walls = np.empty((len(factors), len(seeds)))
    for i, f in enumerate(factors):
        sc = _single_job(f * t_opt, mtbf_s=mtbf, cost_s=cost, restart_s=restart, work_s=work)
        for k, seed in enumerate(seeds):
            jobs = simulate(sc, seed=seed).jobs
            assert jobs["state"][0] == "finished"
            walls[i, k] = jobs["jct_s"][0]
    means = walls.mean(axis=1)
    se = walls.std(axis=1, ddof=1) / math.sqrt(len(seeds))
    for f, m, s in zip(factors, means, se, strict=True):
        expected = expected_wall_time(work, f * t_opt, cost, restart, mtbf)
        assert abs(m - expected) <= 3 * s, (f, m / 3600, expected / 3600, s / 3600)
    # the sweep's best grid point is the optimum's, and the extremes are clearly worse
    assert int(np.argmin(means)) == factors.index(1.0)
    assert means[0] - means[2] > 3 * math.hypot(se[0], se[2]) and means[-1] - means[2] > 3 * math.hypot(se[-1], se[2])

    x = np.log(np.array(factors) * t_opt)

    def vertex(m):
        a, b, _ = np.polyfit(x, m, 2)
        return -b / (2 * a)

    rng = np.random.default_rng(0)
    boot = [vertex(walls[:, rng.integers(0, len(seeds), len(seeds))].mean(axis=1)) for _ in range(300)]
    v, sd = vertex(means), float(np.std(boot))
    assert abs(v - math.log(t_opt)) <= 3 * sd, (math.exp(v), t_opt, sd)
    assert sd < 0.25  # the sweep pins the optimum down to about +-25% (else the check says nothing)


def _busy_cluster(**failures) -> dict:
    """Gangs of 2-4 pods of 8 GPUs, single-GPU and 4-GPU jobs; a fixed pool, an autoscaled pool and
    a spot pool; failures at a high rate so that many jobs are hit.
    """
    return {
        "name": "busy", "seed": 11, "duration": "12h", "drain": True,
        "cluster": {"node_pools": [
            _pool("fixed", 4, 8),
            _pool("auto", 0, 8, autoscaling={"min": 0, "max": 4, "provisioning": "5m"}),
            _pool("spot", 2, 8, spot=True),
        ]},
        "failures": {"per_gpu_hour": 0.01, "spot": {"per_node_hour": 0.1, "cloud": "aws"}, **failures},
        "workloads": [
            {"name": "gangs", "pod": {"resources": {"limits": GPU}},
             "checkpoint": {"interval": "20m", "cost": "1m", "restart": "3m"},
             "generator": {"arrival": {"process": "poisson", "rate": "1/h"}, "gpus": 8, "pods": [2, 3, 4],
                           "duration": {"distribution": "exponential", "mean": "3h"}}},
            {"name": "small", "pod": {"resources": {"limits": GPU}},
             "generator": {"arrival": {"process": "poisson", "rate": "6/h"}, "gpus": [1, 4],
                           "duration": {"distribution": "exponential", "mean": "1h"}}},
        ],
    }  # fmt: skip


def test_no_job_lost_and_gpu_hours_conserved():
    r = simulate(_busy_cluster())
    s, jobs = r.summary, r.jobs
    assert s["failures"] > 5 and s["failures.spot"] > 0 and s["job_failures"] > 5
    # every job ends somewhere; drained, every admitted job finished
    assert len(jobs) == s["jobs_arrived"] and set(jobs["state"]) == {"finished"}
    assert jobs["failures"].sum() == s["job_failures"] and s["jobs_hit_by_failures"] == (jobs["failures"] > 0).sum()
    gangs = jobs[jobs["num_pods"] > 1]
    assert (gangs["failures"] > 0).any()  # a gang was hit, requeued whole and finished
    # allocated = useful + recomputed + checkpoint + restart (whole GPUs at full speed: nothing stalls)
    parts = s["training_gpu_hours_useful"] + s["lost_gpu_hours"]
    assert s["lost_gpu_hours"] == pytest.approx(s["gpu_hours_recomputed"] + s["gpu_hours_checkpoint"]
                                                + s["gpu_hours_restart"])  # fmt: skip
    assert s["training_gpu_hours_allocated"] == pytest.approx(parts, rel=1e-9)
    assert abs(s["gpu_hours_stalled"]) < 1e-6 * s["training_gpu_hours_allocated"]
    # useful work is exactly the jobs' work; goodput is its share of the allocation
    work = float((jobs["duration_s"] * jobs["gpus"] * jobs["num_pods"]).sum()) / 3600
    assert s["training_gpu_hours_useful"] == pytest.approx(work, rel=1e-9)
    assert s["goodput"] == pytest.approx(work / s["training_gpu_hours_allocated"])
    assert 0 < s["goodput"] < 1 and s["gpu_hours_recomputed"] > 0 and s["gpu_hours_checkpoint"] > 0
    # jobs hit by a failure took longer than their work
    hit = jobs[jobs["failures"] > 0]
    assert (hit["end_s"] - hit["start_s"] > hit["duration_s"]).all()


def test_backoff_limit_fails_jobs_that_lose_their_pods_too_often():
    """With `backoff_limit: 1` a job whose pods are lost with a node a second time is marked failed
    (BackoffLimitExceeded) instead of requeued (without the limit every job finishes, some after
    two failures or more; the jobs' own draws do not move). Every job still ends somewhere, the
    failed ones with exactly two failures, and the GPU-hour accounting holds: a failed job's last
    attempt is booked as lost work, its checkpointed work as useful."""
    base = simulate(_busy_cluster())
    sc = _busy_cluster()
    for w in sc["workloads"]:
        w["backoff_limit"] = 1
    r = simulate(sc)
    s, jobs = r.summary, r.jobs
    failed = jobs[jobs["state"] == "failed"]
    assert len(failed) > 0 and s["jobs_failed"] == len(failed)
    assert (failed["failures"] == 2).all() and failed["failure"].str.startswith("BackoffLimitExceeded").all()
    assert (
        set(jobs["state"]) == {"finished", "failed"} and (jobs.loc[jobs["state"] == "finished", "failures"] <= 1).all()
    )
    assert jobs["arrival_s"].equals(base.jobs["arrival_s"]) and jobs["duration_s"].equals(base.jobs["duration_s"])
    assert (base.jobs["failures"] >= 2).sum() > 0 and set(base.jobs["state"]) == {"finished"}  # no limit: all finish
    parts = s["training_gpu_hours_useful"] + s["lost_gpu_hours"]
    assert s["training_gpu_hours_allocated"] == pytest.approx(parts, rel=1e-9)
    finished = jobs[jobs["state"] == "finished"]
    work = float((finished["duration_s"] * finished["gpus"] * finished["num_pods"]).sum()) / 3600
    assert s["training_gpu_hours_useful"] >= work * (1 - 1e-9)  # the failed kept their checkpointed work
    assert s["jobs_finished"] + s["jobs_failed"] == s["jobs_arrived"]


def test_failure_during_restart_and_jobs_running_at_the_end_are_accounted():
    """Stopping at the horizon (no drain) leaves jobs bound mid-attempt: still conserved."""
    sc = _busy_cluster(per_gpu_hour=0.05)
    sc["drain"] = False
    r = simulate(sc)
    s, jobs = r.summary, r.jobs
    assert s["jobs_running"] + s["jobs_pending"] > 0
    # every job is accounted for in one state
    assert set(jobs["state"]) <= {"finished", "running", "pending", "failed", "unschedulable"}
    assert len(jobs) == s["jobs_arrived"] == sum(s[f"jobs_{k}"] for k in
                                                 ("finished", "running", "pending", "failed", "unschedulable"))  # fmt: skip
    assert s["training_gpu_hours_allocated"] == pytest.approx(s["training_gpu_hours_useful"] + s["lost_gpu_hours"],
                                                              rel=1e-9)  # fmt: skip


def test_spot_interruption_gives_notice_stops_billing_and_replaces_the_node():
    sc = {
        "name": "spot", "seed": 5, "duration": "48h", "drain": False,
        "cluster": {"node_pools": [_pool("spot", 4, 8, spot=True)]},
        "failures": {"per_gpu_hour": 0, "spot": {"per_node_hour": 0.05, "cloud": "gcp"}},
        "workloads": [{"name": "w", "pod": {"resources": {"limits": GPU}},
                       "jobs": [{"arrival": 0, "duration": "100h"}]}],
    }  # fmt: skip
    r = simulate(sc)
    s, nodes = r.summary, r.nodes
    assert s["failures.spot"] > 0 and s["failures.gpu"] == s["failures.node"] == 0
    gone = nodes[nodes["removed_s"].notna()]
    assert len(gone) == s["failures.spot"] and len(nodes) == 4 + len(gone)
    # each replacement is requested when its node goes away (billing of the old one stops then)
    new = nodes.iloc[4:]
    assert sorted(new["requested_s"]) == pytest.approx(sorted(gone["removed_s"]))
    assert s["cluster_scale_ups"] == 0 and s["cluster_scale_downs"] == 0  # replacements are not autoscaling
    # NotReady during each 30 s GCP notice only
    assert s["node_downtime_hours"] == pytest.approx(s["failures.spot"] * 30 / 3600)


def test_node_availability_matches_mtbf_over_mtbf_plus_mttr():
    """Repaired nodes form an alternating renewal process: availability MTBF / (MTBF + MTTR)."""
    mtbf_h, mttr_h = 10.0, 2.0
    sc = {
        "name": "avail", "seed": 2, "duration": "2000h", "drain": False,
        "cluster": {"node_pools": [_pool("gpu", 20, 8)]},
        "failures": {"per_gpu_hour": 1 / (8 * mtbf_h), "repair": {"action": "repair", "time": f"{mttr_h}h"}},
        "workloads": [{"name": "w", "pod": {"resources": {"limits": GPU}}, "jobs": [{"arrival": 0, "duration": "1h"}]}],
    }  # fmt: skip
    s = simulate(sc).summary
    a = availability(mtbf_h, mttr_h)
    n = s["failures"]
    assert n > 2000
    # each cycle's up time is exponential (sd = mean), so the estimate's sd is about a (1 - a) sqrt(2 / n)
    assert abs(s["node_availability"] - a) < 4 * a * (1 - a) * math.sqrt(2 / n)
    assert s["failures.gpu"] / n == pytest.approx(268 / 419, abs=0.05)  # Llama 3 Table 5's GPU share


def test_disabled_block_changes_nothing_but_adds_the_columns():
    base = _busy_cluster()
    base.pop("failures")
    for w in base["workloads"]:
        w.pop("checkpoint", None)
    off = {**base, "failures": {"enabled": False}}
    a, b = simulate(base), simulate(off)
    assert "failures" not in a.jobs and "failures" not in a.summary
    assert b.summary["failures"] == 0 and (b.jobs["failures"] == 0).all()
    assert b.jobs.drop(columns="failures").equals(a.jobs)
    assert b.timeseries.equals(a.timeseries)
    assert b.summary["goodput"] == pytest.approx(1.0, rel=1e-12)


def test_service_on_failing_nodes_keeps_running():
    """Inference replicas on a failed node: the service is told `node_lost` where it has it; the run
    still completes and serves requests.
    """
    sc = {
        "name": "svc", "seed": 1, "duration": "2h",
        "cluster": {"node_pools": [_pool("gpu", 4, 1)]},
        "failures": {"per_gpu_hour": 1.0, "repair": {"action": "repair", "time": "5m"}},
        "workloads": [{"type": "inference", "name": "chat", "replicas": 2,
                       "pod": {"resources": {"limits": GPU}}, "model": {"llm": {"params_b": 8}},
                       "arrivals": {"process": {"process": "poisson", "rate": "2/s"}}, "slo": {"latency": "30s"}}],
    }  # fmt: skip
    s = simulate(sc).summary
    assert s["failures"] > 0 and s["requests_served"] > 0


def test_bad_failure_blocks_are_refused_with_their_path():
    from gpusim.errors import ScenarioError

    sc = _busy_cluster()
    sc["failures"]["pools"] = {"nope": {"per_gpu_hour": 0.1}}
    with pytest.raises(ScenarioError, match=r"failures\.pools\.nope: no node pool named 'nope'"):
        load_scenario(sc)
    sc = _busy_cluster(per_gpu_hour=-1)
    with pytest.raises(ScenarioError, match="failures.per_gpu_hour"):
        load_scenario(sc)


def test_repair_keeps_billing_and_replace_stops_it():
    """repair: the same node is back after the repair time and billed throughout; replace: the failed
    node is deleted after the trigger (its billing stops) and a new node of the pool is requested.
    """
    base = {
        "name": "bill", "seed": 3, "duration": "24h", "drain": False,
        "cluster": {"node_pools": [_pool("gpu", 4, 8)]},
        "workloads": [{"name": "w", "pod": {"resources": {"limits": GPU}}, "jobs": [{"arrival": 0, "duration": "1h"}]}],
    }  # fmt: skip
    rep = simulate({**base, "failures": {"per_gpu_hour": 0.02, "repair": {"action": "repair", "time": "1h"}}})
    assert rep.summary["failures"] > 0 and len(rep.nodes) == 4 and rep.nodes["removed_s"].isna().all()
    assert rep.nodes["billed_hours"].tolist() == pytest.approx([24.0] * 4)
    # each failure costs its 1 h repair, but for repairs still under way at the end (at most one per node)
    n = rep.summary["failures"]
    assert n - 4 <= rep.summary["node_downtime_hours"] <= n + 1e-9
    new = simulate({**base, "failures": {"per_gpu_hour": 0.02, "repair": {"action": "replace", "time": "10m"}}})
    n, nodes = new.summary["failures"], new.nodes
    assert n > 0 and len(nodes) == 4 + n and nodes["removed_s"].notna().sum() == n
    # the replacement is requested when the failed node is deleted, 10 min after it failed
    assert sorted(nodes.iloc[4:]["requested_s"]) == pytest.approx(sorted(nodes["removed_s"].dropna()))
    assert new.summary["node_downtime_hours"] == pytest.approx(n * 10 / 60)
    assert new.summary["cluster_scale_ups"] == 0


def test_failures_are_reproducible_and_leave_other_streams_alone():
    """Same seed, same failures; turning failures on never shifts the jobs' own random draws."""
    a, b = simulate(_busy_cluster()), simulate(_busy_cluster())
    assert a.jobs.equals(b.jobs) and a.summary["failures"] == b.summary["failures"]
    plain = _busy_cluster()
    plain.pop("failures")
    c = simulate(plain)
    for col in ("arrival_s", "duration_s", "gpus", "num_pods"):
        assert c.jobs[col].equals(a.jobs[col])
    assert a.summary["makespan_s"] > c.summary["makespan_s"]  # failures cost time


@pytest.mark.parametrize(("cost", "on_notice", "loses"), [("10s", True, False), ("1m", True, True),
                                                          ("10s", False, True)])  # fmt: skip
def test_spot_notice_checkpoint_saves_the_work_when_it_fits(cost, on_notice, loses):
    """On a GCP notice (30 s) a job whose checkpoint takes less writes one and leaves: nothing to
    recompute. A longer checkpoint, or `on_notice: false`, loses the work since the last one.
    """
    sc = {
        "name": "notice", "seed": 8, "duration": "12h", "drain": True,
        "cluster": {"node_pools": [_pool("spot", 6, 1, spot=True)]},
        "failures": {"per_gpu_hour": 0, "spot": {"per_node_hour": 0.3, "cloud": "gcp"}},
        "workloads": [{"name": "w", "pod": {"resources": {"limits": GPU}},
                       "checkpoint": {"interval": "1h", "cost": cost, "restart": "1m", "on_notice": on_notice},
                       "jobs": [{"arrival": 0, "duration": "8h"}, {"arrival": 0, "duration": "8h"}]}],
    }  # fmt: skip
    r = simulate(sc)
    s, jobs = r.summary, r.jobs
    assert s["failures.spot"] > 0 and s["job_failures"] > 0 and set(jobs["state"]) == {"finished"}
    assert (s["gpu_hours_recomputed"] > 0) is loses
    assert s["training_gpu_hours_useful"] == pytest.approx(16.0)
    assert s["training_gpu_hours_allocated"] == pytest.approx(s["training_gpu_hours_useful"] + s["lost_gpu_hours"])
    if not loses:  # every interruption of a job cost one notice checkpoint and one restart
        n = s["job_failures"]
        assert s["gpu_hours_restart"] == pytest.approx(n / 60)
        # the rest are whole regular checkpoints, at most 7 per job (one after every hour of work
        # since the last checkpoint, none after the last hour)
        regular = (s["gpu_hours_checkpoint"] * 3600 - n * 10) / 10
        assert regular == pytest.approx(round(regular), abs=1e-6) and 0 <= round(regular) <= 14
        # each job's wall time is its work plus its checkpoints and restarts: nothing recomputed
        extra = float((jobs["end_s"] - jobs["start_s"]).sum()) - 16 * 3600
        assert extra == pytest.approx(s["gpu_hours_checkpoint"] * 3600 + n * 60)
