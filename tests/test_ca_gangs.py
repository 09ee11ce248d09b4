"""The Cluster Autoscaler and gang-scheduled jobs: a pending gang's pods that fit ready nodes count
as placed (upstream's filterOutSchedulable), and only the rest ask for new nodes.

A gang binds all its pods at once, so it waits while some of its pods would fit ready nodes. The
autoscaler used to size new nodes for every pod of it: a gang needing 1 ready + 2 new nodes in a
pool of at most 3 never scaled up, and one needing fewer nodes than it has pods got a node too
many. Each case below is small enough to count its nodes by hand.
"""

from __future__ import annotations

import gpusim
from tests.conftest import gpu_pool, small_scenario, trace_workload


def _gangs(tmp_path, rows: str, duration: str = "2h", **pool):
    csv = tmp_path / "g.csv"
    csv.write_text("t,d,p,g\n" + rows)
    data = small_scenario(cluster={"node_pools": [gpu_pool(**pool)]}, workloads=[trace_workload(csv)],
                          duration=duration, drain=True)  # fmt: skip
    return gpusim.simulate(data, seed=1)


def test_gang_on_one_ready_and_two_new_nodes_within_a_max_of_three(tmp_path):
    # 3 pods x 8 GPUs; 1 idle ready node; max 3: 2 new nodes, and the gang runs
    r = _gangs(tmp_path, "0,600,3,8\n", autoscaling={"min": 1, "max": 3})
    assert r.summary["jobs_finished"] == 1
    assert r.summary["nodes_added"] == 2
    job = r.jobs.iloc[0]
    nodes = r.nodes.set_index("node")
    assert job["start_s"] >= nodes["ready_s"].max() - 1e-9  # it started when the last new node was ready


def test_no_extra_nodes_while_the_new_ones_provision(tmp_path):
    # 4 pods x 8 GPUs, 1 idle ready node, max 10, a 5-minute lag: 3 new nodes, not 4 nor more while
    # they provision (every 10 s scan sees the gang pending: 1 pod on the ready node, 3 on nodes on their way)
    r = _gangs(tmp_path, "0,600,4,8\n", autoscaling={"min": 1, "max": 10, "provisioning": "5m"})
    assert r.summary["jobs_finished"] == 1
    assert r.summary["nodes_added"] == 3
    assert r.summary["cluster_scale_ups"] == 1


def test_ready_room_is_counted_once_per_scan(tmp_path):
    # two gangs of 2 pods x 8 GPUs arrive together on 1 idle ready node (max 10): the first takes the
    # ready node and one new node, the second two new nodes: 3 new nodes in all
    r = _gangs(tmp_path, "0,3600,2,8\n0,3600,2,8\n", autoscaling={"min": 1, "max": 10})
    assert r.summary["jobs_finished"] == 2
    assert r.summary["nodes_added"] == 3
    # and both ran at once: the second did not wait for the first to finish
    assert r.jobs["start_s"].max() < r.jobs["end_s"].min()


def test_half_used_ready_node_gives_its_idle_gpus(tmp_path):
    # a 1-pod job takes 4 of the ready node's 8 GPUs for the whole run; then a gang of 3 pods x 4 GPUs:
    # one pod on the 4 idle GPUs, two on one new node (4 + 4 GPUs), so 1 new node
    r = _gangs(tmp_path, "0,7200,1,4\n60,600,3,4\n", duration="3h", autoscaling={"min": 1, "max": 5})
    assert r.summary["jobs_finished"] == 2
    assert r.summary["nodes_added"] == 1


def test_a_ready_node_takes_several_pods_of_a_gang(tmp_path):
    # a gang of 4 pods x 4 GPUs, 1 idle 8-GPU ready node, max 2: two pods on the ready node, two on
    # one new node (counting one pod per ready node would ask for 2 new nodes, over the max)
    r = _gangs(tmp_path, "0,600,4,4\n", autoscaling={"min": 1, "max": 2})
    assert r.summary["jobs_finished"] == 1
    assert r.summary["nodes_added"] == 1
