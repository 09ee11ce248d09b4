"""The engine's running counters and live indexes agree with a recount from the arrays.

ClusterState keeps GPUs, allocated milli-GPU, busy GPUs and live nodes per pool as counters on
bind/release/set_node_state; the Cluster Autoscaler keeps live and provisioning node indexes.
These tests drive random binds, releases and node state changes (and a whole autoscaled run)
and compare every counter with the slow recount after each step.
"""

from __future__ import annotations

import numpy as np

from gpusim.cluster.state import (
    NODE_GONE,
    NODE_PROVISIONING,
    NODE_READY,
    SHARING_MIG,
    SHARING_TIMESLICE,
    ClusterState,
)
from gpusim.placement import place
from gpusim.scenario.loader import load_scenario
from gpusim.sim.run import Run


def _cluster() -> ClusterState:
    s = ClusterState()
    s.add_nodes("whole", 4, cpu_milli=64000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("ts", 2, cpu_milli=64000, memory_mib=512 * 1024, gpus=4, gpu_model="nvidia-h100-80gb",
                sharing=SHARING_TIMESLICE, ts_replicas=4)  # fmt: skip
    s.add_nodes("mig", 2, cpu_milli=64000, memory_mib=512 * 1024, gpus=4, gpu_model="nvidia-a100-80gb",
                sharing=SHARING_MIG)  # fmt: skip
    s.add_nodes("later", 2, cpu_milli=64000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb",
                state=NODE_GONE)  # fmt: skip
    return s


def test_counters_match_recount_under_random_binds_releases_and_state_changes():
    rng = np.random.default_rng(3)
    s = _cluster()
    reqs = [
        s.make_request(cpu_milli=1000, memory_mib=1024, gpus=2),
        s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=300),
        s.make_request(cpu_milli=1000, memory_mib=1024, gpus=2, sharing=SHARING_TIMESLICE),
        s.make_request(cpu_milli=1000, memory_mib=1024, sharing=SHARING_MIG, mig_compute=2, mig_memory=2),
        s.make_request(cpu_milli=1000, memory_mib=1024),
    ]
    bound = []
    assert s.aggregates() == s.aggregates_from_arrays()
    for step in range(600):
        u = rng.random()
        if u < 0.55:
            req = reqs[int(rng.integers(len(reqs)))]
            p = place(s, req, "random", rng)
            if p is not None:
                s.bind(req, p)
                bound.append((req, p))
        elif u < 0.9 and bound:
            req, p = bound.pop(int(rng.integers(len(bound))))
            s.release(req, p)
        else:  # an empty node changes state: provisioning, ready, gone and back
            node = int(rng.integers(s.n_nodes))
            if s.node_pods[node] == 0:
                s.set_node_state(node, int(rng.choice([NODE_PROVISIONING, NODE_READY, NODE_GONE])))
        assert s.aggregates() == s.aggregates_from_arrays(), step
    assert bound and s.busy_gpus > 0  # the walk did reach loaded states


def test_autoscaled_run_keeps_live_indexes_and_counters():
    sc = load_scenario({
        "name": "t", "seed": 4, "duration": "6h", "drain": True,
        "cluster": {
            "node_pools": [{"name": "gpu", "count": 1, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 8,
                            "vcpu": 96, "memory": "1Ti", "autoscaling": {"min": 1, "max": 6}}],
            "autoscaler": {"scale_down_unneeded_time": "5m", "scale_down_delay_after_add": "5m"},
        },
        "workloads": [{"name": "jobs", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
                       "generator": {"arrival": {"process": "poisson", "rate": "12/h"},
                                     "gpus": [1, 4, 8], "duration": {"distribution": "exponential", "mean": "1h"}}}],
    })  # fmt: skip
    run = Run(sc, 4)
    run.start()
    sim = run.sim
    nm = run.nodes
    c = sim.cluster
    for k in range(1, 200):
        sim.env.run(until=k * 120.0)
        assert c.aggregates() == c.aggregates_from_arrays()
        live = [i for i in range(c.n_nodes) if c.node_state[i] in (NODE_PROVISIONING, NODE_READY)]
        assert nm.nodes_in("gpu") == live
        assert nm.provisioning_nodes == [i for i in live if c.node_state[i] == NODE_PROVISIONING]
        assert nm.nodes_ready() == sum(1 for i in live if c.node_state[i] == NODE_READY)
        for i, since in nm.empty_since.items():  # only ready, empty nodes carry an empty-since clock
            assert c.node_state[i] == NODE_READY and c.node_pods[i] == 0 and since <= sim.env.now
    assert nm.scale_ups > 0 and nm.scale_downs > 0


def test_openai_scenario_is_the_article_cluster():
    """scenarios/openai-7500.yaml: 7,000 training nodes, an inference pool of 100-500, 8 H100 each,
    ~5,600 training jobs a day with gangs of 2-64 pods, 50 services with an HPA (the benchmark runs it).
    """
    from pathlib import Path

    from gpusim.scenario.models import InferenceWorkload

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "openai-7500.yaml")
    pools = {p.name: p for p in sc.cluster.node_pools}
    assert pools["train"].count == 7000 and pools["train"].autoscaling is None
    assert (pools["infer"].autoscaling.min, pools["infer"].autoscaling.max) == (100, 500)
    assert all(p.gpus_per_node == 8 and p.gpu_model == "nvidia-h100-80gb" for p in pools.values())
    assert sc.duration == 7 * 86400
    training = [w for w in sc.workloads if not isinstance(w, InferenceWorkload)]
    services = [w for w in sc.workloads if isinstance(w, InferenceWorkload)]
    assert round(sum(w.generator.arrival.rate for w in training) * 86400) == 5600
    gangs = next(w for w in training if w.name == "distributed").generator.pods.values
    assert (min(gangs), max(gangs)) == (2, 64)
    assert len(services) == 50 and all(w.autoscaling.hpa is not None for w in services)
    assert len({w.name for w in services}) == 50
