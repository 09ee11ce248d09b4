"""The multi-cluster engine (gpusim.sim.multicluster, issue 15 item 2)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from gpusim.cli import main
from gpusim.scenario.loader import load_scenario
from gpusim.scenario.multicluster import load_multicluster
from gpusim.sim.engine import simulate
from gpusim.sim.multicluster import e2e_stats, member_run, simulate_multicluster


def _pool(name, count, amax=None, node_type=None):
    p = {"name": name, "count": count, "gpu_model": "nvidia-t4", "gpus_per_node": 1, "vcpu": 16, "memory": "64Gi"}
    if amax is not None:
        p["autoscaling"] = {"min": count, "max": amax, "provisioning": "5m"}
    if node_type is not None:
        p["node_type"] = node_type
    return p


SERVICE = {
    "type": "inference",
    "name": "api",
    "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
    "model": {"service_time": {"distribution": "exponential", "mean": "50ms"}},
    "arrivals": {"process": {"process": "poisson", "rate": "20/s"}},
    "replicas": 2,
    "concurrency": 4,
    "slo": {"latency": "1s", "percentile": 99},
}
TRAINING = {
    "name": "train",
    "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
    "generator": {"arrival": {"process": "poisson", "rate": "4/h"}, "gpus": 1,
                  "duration": {"distribution": "exponential", "mean": "1h"}},
}  # fmt: skip


def two_members(latency_a="5ms", latency_b="20ms", policy=None, transfer=None, egress_b=None):
    """A training cluster `a` (self-managed) and a cloud cluster `b` (EKS); `api` routed over both."""
    b = {
        "name": "b",
        "location": {"kind": "cloud", "provider": "aws", "region": "eu-west-1"},
        "cluster": {"node_pools": [_pool("gpu", 2, amax=4)]},
        "control_plane": {"managed": {"provider": "eks", "tier": "standard"}},
        "provisioning_lag": "2m",
    }
    if egress_b is not None:
        b["egress"] = egress_b
    return {
        "name": "two",
        "seed": 3,
        "duration": "2h",
        "drain": False,
        "clusters": [
            {
                "name": "a",
                "location": {"kind": "on-prem", "site": "dc"},
                "cluster": {"node_pools": [_pool("gpu", 4)]},
                "control_plane": {"self_managed": {"ops_usd_per_hour": 5.0}},
            },
            b,
        ],
        "workloads": [copy.deepcopy(TRAINING), copy.deepcopy(SERVICE)],
        "placement": {"train": "a"},
        "routing": [
            {
                "service": "api",
                "clusters": ["a", "b"],
                "policy": policy or {"kind": "static", "weights": {"a": 1, "b": 3}},
                "clients": [{"name": "c", "latency": {"a": latency_a, "b": latency_b}}],
                "transfer": transfer or {"request_bytes": "1Ki", "response_bytes": "1M"},
            }
        ],
    }


@pytest.fixture(scope="module")
def base():
    ms = load_multicluster(two_members())
    return ms, simulate_multicluster(ms)


def _clean(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_s", "events", "events_per_s")}


def test_members_equal_running_each_alone(base):
    """Nothing is shared between members but the clock: each member gives exactly what its Run gives
    alone (same stream prefix), jobs, nodes, services and summary alike."""
    ms, res = base
    for name in ("a", "b"):
        run, _ = member_run(ms, name, res.seed)  # its own clock
        run.run()
        run.end_s = res.summary["end_s"]
        alone = run.result()
        together = res.members[name]
        pd.testing.assert_frame_equal(alone.jobs, together.jobs)
        pd.testing.assert_frame_equal(alone.nodes, together.nodes)
        pd.testing.assert_frame_equal(alone.services, together.services)
        assert _clean(alone.summary) == _clean(together.summary)
    assert len(res.members["a"].jobs) > 0 and (res.jobs["cluster"] == "a").all()


def test_adding_a_member_leaves_the_others_alone():
    """A third cluster (nothing placed or routed there) does not move a or b's numbers."""
    d = two_members()
    ms2 = load_multicluster(d)
    d3 = copy.deepcopy(d)
    d3["clusters"].append({**copy.deepcopy(d["clusters"][0]), "name": "c"})
    d3["workloads"].append({**copy.deepcopy(TRAINING), "name": "train-c"})
    d3["placement"]["train-c"] = "c"
    r2, r3 = simulate_multicluster(ms2), simulate_multicluster(load_multicluster(d3))
    for name in ("a", "b"):
        pd.testing.assert_frame_equal(r2.members[name].jobs, r3.members[name].jobs)
        pd.testing.assert_frame_equal(r2.members[name].services, r3.members[name].services)
    assert len(r3.members["c"].jobs) > 0


def test_no_request_lost(base):
    """One arrival process split over the members: the requests of the members add up to those of
    the same service in a plain single-cluster run (same unprefixed arrival streams)."""
    ms, res = base
    rows = res.service_summary
    single = {"name": "single", "seed": 3, "duration": "2h", "drain": False,
              "cluster": {"node_pools": [_pool("gpu", 4)]}, "workloads": [copy.deepcopy(SERVICE)]}  # fmt: skip
    alone = simulate(load_scenario(single), seed=res.seed).service_summary.iloc[0]
    assert rows["requests"].sum() == alone["requests"]
    assert rows["arrived"].sum() == alone["arrived"]
    assert res.routing["requests"].sum() == alone["requests"]
    # a static 1:3 split: b gets about 3/4 (Binomial; 5 sigma)
    n = alone["requests"]
    nb = int(rows.loc[rows["cluster"] == "b", "requests"].iloc[0])
    assert abs(nb - 0.75 * n) < 5 * math.sqrt(n * 0.75 * 0.25)
    for r in rows.to_dict("records"):
        assert r["arrived"] == r["served"] + r["timed_out"] + r["dropped"] + r["in_flight_end"]


def test_egress_against_hand_computation():
    """Response bytes x requests served by b, at b's own tiers (first 1 GB a month free, then
    $0.05/GB; a 2 h run is one part-month billed from zero); a (on premises) pays nothing."""
    egress = {"tiers": [{"up_to_gb": 1, "usd_per_gb": 0}, {"up_to_gb": None, "usd_per_gb": 0.05}], "unit": "GB"}
    res = simulate_multicluster(load_multicluster(two_members(egress_b=egress)))
    served_b = int(res.service_summary.set_index("cluster").loc["b", "served"])
    gb = served_b * 1e6 / 1e9
    assert gb > 1  # the paid tier is reached
    c = res.clusters.set_index("cluster")
    assert c.loc["b", "egress_usd"] == pytest.approx((gb - 1) * 0.05, rel=1e-12)
    assert c.loc["a", "egress_usd"] == 0.0
    assert res.summary["egress_usd"] == pytest.approx((gb - 1) * 0.05, rel=1e-12)
    # the client pays: the scenario pays nothing
    paid = simulate_multicluster(load_multicluster(two_members(egress_b=egress, transfer={"response_bytes": "1M",
                                                                                          "payer": "client"})))  # fmt: skip
    assert paid.summary["egress_usd"] == 0.0


def test_control_plane_over_the_run(base):
    """EKS standard: $0.10 per cluster-hour (catalog) x 2 h; self-managed: $5/h x 2 h; and each
    member's total is nodes + control plane + egress."""
    _, res = base
    c = res.clusters.set_index("cluster")
    assert c.loc["b", "control_plane_usd"] == pytest.approx(0.10 * 2)
    assert c.loc["a", "control_plane_usd"] == pytest.approx(5.0 * 2)
    for name in ("a", "b"):
        row = c.loc[name]
        assert row["total_usd"] == pytest.approx(row["nodes_usd"] + row["control_plane_usd"] + row["egress_usd"])
        assert row["nodes_usd"] == res.members[name].summary["cost_usd"]
    assert res.summary["cost_usd"] == pytest.approx(c["total_usd"].sum())
    assert res.summary["control_plane_managed_usd"] == pytest.approx(0.2)
    assert res.summary["control_plane_self_managed_usd"] == pytest.approx(10.0)
    assert c.loc["b", "control_plane_usd_per_hour"] == pytest.approx(0.10)


def test_added_latency_in_percentiles_and_slo():
    """The same run with 0 ms and 100 ms one-way to b: in-cluster figures identical, end-to-end mean
    up by exactly 0.2 s at b, p50/p99 up by 0.2 s (to the histogram's bin width), and the SLO
    (1 s p99) attainment falls where the shift pushes requests over it."""
    r0 = simulate_multicluster(load_multicluster(two_members(latency_b="0ms")))
    r1 = simulate_multicluster(load_multicluster(two_members(latency_b="100ms")))
    b0 = r0.service_summary.set_index("cluster").loc["b"]
    b1 = r1.service_summary.set_index("cluster").loc["b"]
    assert b0["cluster_latency_p99_s"] == b1["cluster_latency_p99_s"]
    assert b1["network_latency_mean_s"] == pytest.approx(0.2)
    assert b1["latency_mean_s"] - b0["latency_mean_s"] == pytest.approx(0.2, abs=1e-9)
    for col in ("latency_p50_s", "latency_p99_s"):
        assert b1[col] - b0[col] == pytest.approx(0.2, rel=0.03, abs=0.02 * b0[col])
    assert b0["latency_p99_s"] == pytest.approx(b0["cluster_latency_p99_s"])
    assert b1["slo_attainment"] <= b0["slo_attainment"]
    # a at 5 ms one-way: 10 ms more end to end
    a1 = r1.service_summary.set_index("cluster").loc["a"]
    assert a1["network_latency_mean_s"] == pytest.approx(0.01)


def test_e2e_stats_shift_crosses_the_slo():
    """Every request at 0.05 s in the cluster: 0.04 s more end to end misses a 0.08 s SLO, 0.02 s
    does not; a 50/50 mixture attains half, and its p99 is the slower part's."""
    edges = np.array([0.01, 0.05, 0.1])
    uppers = np.append(edges, math.inf)
    counts = np.array([0, 100, 0, 0])
    near = e2e_stats([(counts, uppers, 0, 0.02, 1.0)], 0.08, 99)
    far = e2e_stats([(counts, uppers, 0, 0.04, 1.0)], 0.08, 99)
    assert near["slo_attainment"] == 1.0 and far["slo_attainment"] == 0.0
    assert near["latency_p99_s"] == pytest.approx(0.07) and far["latency_p99_s"] == pytest.approx(0.09)
    mix = e2e_stats([(counts, uppers, 0, 0.02, 0.5), (counts, uppers, 0, 0.04, 0.5)], 0.08, 99)
    assert mix["slo_attainment"] == pytest.approx(0.5)
    assert mix["latency_p50_s"] == pytest.approx(0.07) and mix["latency_p99_s"] == pytest.approx(0.09)
    missed = e2e_stats([(counts, uppers, 100, 0.0, 1.0)], 0.08, 99)
    assert missed["slo_attainment"] == 0.5 and missed["latency_p99_s"] == math.inf


def test_lowest_latency_sends_each_group_to_its_nearest():
    d = two_members(policy={"kind": "lowest-latency"})
    d["routing"][0]["clients"] = [
        {"name": "near-a", "share": 1, "latency": {"a": "2ms", "b": "30ms"}},
        {"name": "near-b", "share": 2, "latency": {"a": "40ms", "b": "3ms"}},
    ]
    res = simulate_multicluster(load_multicluster(d))
    r = res.routing.set_index(["client", "cluster"])["requests"]
    assert r[("near-a", "b")] == 0 and r[("near-b", "a")] == 0
    assert r[("near-a", "a")] > 0 and r[("near-b", "b")] > r[("near-a", "a")]
    rows = res.service_summary.set_index("cluster")
    assert rows.loc["a", "network_latency_mean_s"] == pytest.approx(0.004)
    assert rows.loc["b", "network_latency_mean_s"] == pytest.approx(0.006)


def test_provisioning_lag_delays_b_nodes():
    """b's autoscaled nodes take the pool's 5 min plus the member's 2 min lag."""
    d = two_members()
    d["routing"][0]["policy"] = {"kind": "static", "weights": {"a": 0, "b": 1}}
    d["workloads"][1]["arrivals"]["process"]["rate"] = "120/s"  # more than 2 replicas hold
    d["workloads"][1]["autoscaling"] = {"hpa": {"min_replicas": 2, "max_replicas": 4,
                                                "metrics": [{"name": "concurrency", "target": 2}]}}  # fmt: skip
    res = simulate_multicluster(load_multicluster(d))
    nodes = res.members["b"].nodes
    added = nodes[nodes["requested_s"] > 0]
    assert len(added) > 0
    lag = (added["ready_s"] - added["requested_s"]).to_numpy()
    assert np.allclose(lag, 7 * 60)


def test_failover_is_refused_with_exit_2(tmp_path, capsys):
    import yaml

    d = two_members(policy={"kind": "failover", "order": ["a", "b"]})
    f = tmp_path / "fo.yaml"
    f.write_text(yaml.safe_dump(d))
    assert main(["run", str(f), "--out", str(tmp_path / "out")]) == 2
    assert "failover routing is not simulated yet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_writes_tables_with_cluster_column(tmp_path, capsys):
    import yaml

    f = tmp_path / "two.yaml"
    f.write_text(yaml.safe_dump(two_members()))
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "total" in text and "api: p99" in text
    for name in ("clusters", "jobs", "nodes", "services", "service_summary", "timeseries"):
        df = pd.read_parquet(out / f"{name}.parquet")
        assert "cluster" in df.columns and set(df["cluster"]) <= {"a", "b"}, name
    # a second run replaces the first result folder; a user's file is refused
    assert main(["run", str(f), "--out", str(out), "--quiet"]) == 0
    user = tmp_path / "mine.txt"
    user.write_text("keep")
    assert main(["run", str(f), "--out", str(user)]) == 2
    assert user.read_text() == "keep"


def test_ikea_hybrid_runs_with_catalog_prices():
    """The shipped IKEA pattern: training only on premises, nordics -> GCP (9 ms < 14 ms), west
    Europe -> AWS (6 ms < 8 ms); AWS egress inside its 100 GB free a month, GCP Premium's 1 GiB free
    then $0.12/GiB (gpusim/hardware/data/clusters.yaml) on 16 KiB x requests served there; EKS
    standard $0.10/h x 24 h; GKE's $74.40 monthly credit covers its 24 h fee; self-managed $4.50/h."""
    from tests.conftest import SCENARIOS

    res = simulate_multicluster(SCENARIOS / "ikea-hybrid.yaml")
    c = res.clusters.set_index("cluster")
    assert c.loc["onprem-dc", "jobs"] > 0 and c.loc["aws-eu-west-1", "jobs"] == 0
    r = res.routing.set_index(["client", "cluster"])["requests"]
    assert r[("nordics", "aws-eu-west-1")] == 0 and r[("west-europe", "gcp-europe-west4")] == 0
    served = res.service_summary.set_index("cluster")["served"]
    gib = served["gcp-europe-west4"] * 16 * 1024 / 2**30
    assert gib > 1
    assert c.loc["gcp-europe-west4", "egress_usd"] == pytest.approx((gib - 1) * 0.12, rel=1e-9)
    assert served["aws-eu-west-1"] * 16 * 1024 / 1e9 < 100 and c.loc["aws-eu-west-1", "egress_usd"] == 0.0
    assert c.loc["onprem-dc", "egress_usd"] == 0.0
    assert c.loc["aws-eu-west-1", "control_plane_usd"] == pytest.approx(2.40)
    assert c.loc["gcp-europe-west4", "control_plane_usd"] == 0.0
    assert c.loc["onprem-dc", "control_plane_usd"] == pytest.approx(4.50 * 24, rel=0.01)
    assert (c["nodes_usd"] > 0).all()
    assert res.service_summary["requests"].sum() == res.routing["requests"].sum()


def test_member_failure_override_runs_the_failure_model():
    """A member's `failures:` override runs the failure model in that member only: on premises its
    failed nodes are repaired (same node, billed), and its numbers come into the per-member row."""
    from gpusim.scenario.multicluster import load_multicluster
    from gpusim.sim.multicluster import member_failures, simulate_multicluster
    from tests.conftest import SCENARIOS

    ms = load_multicluster(SCENARIOS / "ikea-hybrid.yaml")
    onprem = next(m for m in ms.clusters if m.location.kind == "on-prem")
    cloud = next(m for m in ms.clusters if m.location.kind == "cloud")
    f = member_failures(onprem)
    assert f is not None and f.repair.action == "repair" and f.repair.time == 3 * 86400.0
    # rate_scale 1.0: each GPU pool's rate is the catalog's for its model
    from gpusim.hardware.failures import load_failure_catalog

    fc = load_failure_catalog()
    for p in onprem.cluster.node_pools:
        if p.gpu_model:
            assert f.pools[p.name].per_gpu_hour == fc.interruptions_per_gpu_hour(p.gpu_model)
    assert member_failures(cloud) is None or member_failures(cloud).repair.action == "replace"
    hot = ms.model_copy(update={"clusters": [
        m.model_copy(update={"failures": m.failures.model_copy(update={"rate_scale": None,
                     "interruptions_per_gpu_hour": 0.01})}) if m is onprem else m for m in ms.clusters]})  # fmt: skip
    r = simulate_multicluster(hot, 11)
    row = r.summary["per_cluster"][onprem.name]
    assert row["failures"] > 0 and 0 < row["node_availability"] < 1
    assert "failures" not in r.summary["per_cluster"][cloud.name] or cloud.failures is not None
