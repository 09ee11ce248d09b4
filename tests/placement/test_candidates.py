"""`placement.candidates`: the nodes the kernels look among for a pod. It must hold every node that
can take the pod (else a placement is missed), in index order (ties keep the lowest index), and be
made again when nodes are added or change state.
"""

from __future__ import annotations

import numpy as np
import pytest
from placement_cases import random_cluster, random_request

from gpusim.cluster.state import NODE_GONE, NODE_PROVISIONING, NODE_READY, ClusterState
from gpusim.placement import candidates, reference


@pytest.mark.parametrize("seed", range(40))
def test_candidates_hold_every_node_that_fits_in_index_order(seed):
    rng = np.random.default_rng(seed)
    state = random_cluster(rng)
    for _ in range(20):
        req = random_request(state, rng)
        cand = candidates(state, req)
        assert np.all(np.diff(cand) > 0)
        live = {n for n in range(state.n_nodes) if state.node_state[n] != NODE_GONE}
        assert set(cand.tolist()) <= live
        fitting = {n for n in range(state.n_nodes) if reference.fits(state, n, req)}
        assert fitting <= set(cand.tolist()), (req, sorted(fitting - set(cand.tolist())))
        # exactly the live nodes that pass the one static predicate (static_fit_nodes is its array form)
        assert cand.tolist() == sorted(n for n in live if state.static_fit(n, req))


def _two_pools() -> ClusterState:
    s = ClusterState()
    s.add_nodes("a", 3, cpu_milli=8000, memory_mib=8192, gpus=2, gpu_model="m", gpu_memory_mib=1000,
                labels={"role": "a"})  # fmt: skip
    s.add_nodes("b", 3, cpu_milli=8000, memory_mib=8192, gpus=2, gpu_model="m", gpu_memory_mib=1000,
                labels={"role": "b"})  # fmt: skip
    return s


def test_candidates_follow_added_nodes_and_state_changes():
    s = _two_pools()
    req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_models=["m"], node_selector={"role": "b"})
    assert candidates(s, req).tolist() == [3, 4, 5]
    cpu_only = s.make_request(cpu_milli=1000, memory_mib=1024, node_selector={"role": "b"})
    assert candidates(s, cpu_only).tolist() == [3, 4, 5]
    new = s.add_nodes("b", 2, cpu_milli=8000, memory_mib=8192, gpus=2, gpu_model="m", gpu_memory_mib=1000,
                      labels={"role": "b"}, state=NODE_PROVISIONING)  # fmt: skip
    assert candidates(s, req).tolist() == [3, 4, 5, 6, 7]  # provisioning: looked at, refused by the kernel
    s.set_node_state(int(new[0]), NODE_READY)
    s.set_node_state(4, NODE_GONE)
    assert candidates(s, req).tolist() == [3, 5, 6, 7]
    s.set_node_state(4, NODE_READY)  # a node back from gone is looked at again
    assert candidates(s, req).tolist() == [3, 4, 5, 6, 7]
    other = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_models=["m"], node_selector={"role": "a"})
    assert candidates(s, other).tolist() == [0, 1, 2]
