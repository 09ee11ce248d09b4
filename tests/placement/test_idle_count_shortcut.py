"""Whole GPUs' room from the node's idle-GPU count (`_kernels.feasible_in`).

On a node where no pod holds a share of a GPU (no GPU-affinity tag 0), a GPU is wholly free exactly
when it has no tenant, so `ClusterState.node_gpus_idle` answers a whole-GPU pod without walking the
GPUs. Where shares run, a share of 0 milli-GPU leaves its GPU wholly free though it has a tenant:
there the GPUs are walked. Both must list the nodes the plain-Python reference's `fits` lists, and
every policy must choose as its reference does.
"""

from __future__ import annotations

import numpy as np
import pytest
from placement_cases import check_whole_gpu_pods_as_reference

from gpusim.cluster.state import ClusterState, Placement
from gpusim.placement import place, policy_names
from gpusim.placement.reference import fits

DETERMINISTIC = [p for p in policy_names() if p != "random"]


def _cluster(rng) -> ClusterState:
    s = ClusterState()
    s.add_nodes("a", 24, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("b", 12, cpu_milli=64000, memory_mib=256 * 1024, gpus=4, gpu_model="nvidia-a100-80gb")
    for _ in range(int(rng.integers(10, 60))):
        if rng.random() < 0.4:  # a share of one GPU, 0 milli-GPU included
            req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=int(rng.choice([0, 0, 100, 500])))
        else:
            req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=int(rng.choice([1, 2, 4])))
        p = place(s, req, DETERMINISTIC[int(rng.integers(len(DETERMINISTIC)))], rng)
        if p is not None:
            s.bind(req, p)
    zero = s.make_request(cpu_milli=100, memory_mib=128, gpus=1, gpu_milli=0)
    for n in rng.choice(s.n_nodes, 6, replace=False):  # 0-milli shares on GPUs left wholly free
        g = int(s.node_gpu_start[n] + rng.integers(s.node_gpu_count[n]))
        s.bind(zero, Placement(int(n), (g,)))
    return s


@pytest.mark.parametrize("seed", range(16))
def test_whole_gpu_pods_see_the_nodes_the_reference_sees(seed):
    rng = np.random.default_rng(seed)
    s = _cluster(rng)
    zero_share = [
        n for n in range(s.n_nodes)
        if any(s.gpu_tenants[g] and s.gpu_free_milli[g] == 1000
               for g in range(s.node_gpu_start[n], s.node_gpu_start[n] + s.node_gpu_count[n]))
    ]  # fmt: skip
    check_whole_gpu_pods_as_reference(s, 0)
    assert zero_share, "no wholly free GPU with a tenant: the case the walk is kept for is not tried"


def test_a_zero_share_leaves_its_gpu_wholly_free():
    """A node whose 8 GPUs all have a tenant of 0 milli-GPU still takes an 8-GPU pod (idle count 0)."""
    s = ClusterState()
    s.add_nodes("a", 1, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    share = s.make_request(cpu_milli=100, memory_mib=128, gpus=1, gpu_milli=0)
    for g in range(8):
        p = place(s, share, "spread", np.random.default_rng(0))
        s.bind(share, Placement(p.node, (g,)))
    assert int(s.node_gpus_idle[0]) == 0
    whole = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=8)
    assert fits(s, 0, whole)
    for policy in DETERMINISTIC:
        assert place(s, whole, policy, np.random.default_rng(0)) is not None, policy
