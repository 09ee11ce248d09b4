"""Empty nodes added alike are looked at once (`_kernels.feasible_in`, ``alike``).

Nodes with one `ClusterState.node_shape` and no pods pass or fail every check together and score
alike under every policy, so the kernels list only the first of them; the choice must stay the
plain-Python reference's (which looks at every node) for every policy that draws no random numbers
among its feasible nodes, pod by pod and for gangs that fill one empty node after another.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.cluster.state import ClusterState
from gpusim.placement import K, bind_gang, candidates, place, place_gang, policy_names, request_tuple, state_arrays
from gpusim.placement.reference import REFERENCE_POLICIES

DETERMINISTIC = [p for p in policy_names() if p != "random"]


def _cluster(rng) -> ClusterState:
    """Three pools of empty nodes (two alike in size, one smaller), a few nodes then used at random."""
    s = ClusterState()
    s.add_nodes("a", 30, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("b", 20, cpu_milli=64000, memory_mib=256 * 1024, gpus=4, gpu_model="nvidia-a100-80gb")
    s.add_nodes("a", 10, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")  # alike "a"
    for _ in range(int(rng.integers(0, 12))):
        req = s.make_request(cpu_milli=int(rng.integers(1, 16)) * 1000, memory_mib=1024, gpus=int(rng.integers(1, 5)))
        p = place(s, req, "spread", rng)
        if p is not None:
            s.bind(req, p)
    return s


def _request(s, rng):
    gpus = int(rng.choice([0, 1, 2, 4, 8]))
    milli = int(rng.choice([250, 500])) if gpus == 1 and rng.random() < 0.3 else 1000
    return s.make_request(cpu_milli=int(rng.integers(1, 32)) * 1000, memory_mib=int(rng.integers(1, 64)) * 1024,
                          gpus=gpus, gpu_milli=milli)  # fmt: skip


def test_shapes_follow_what_the_nodes_were_added_with():
    s = _cluster(np.random.default_rng(0))
    assert s.node_shape[:30].tolist() == [0] * 30 and s.node_shape[30:50].tolist() == [1] * 20
    assert s.node_shape[50:].tolist() == [0] * 10  # added later, alike


def test_empty_nodes_alike_are_listed_once():
    s = ClusterState()
    s.add_nodes("a", 50, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1)
    bind_gang(s, [req], [place(s, req, "best-fit", np.random.default_rng(0))])  # node 0 used
    cand = candidates(s, req)
    idx = np.empty(cand.shape[0], dtype=np.int64)
    S, R = state_arrays(s), request_tuple(req)
    assert K.feasible_nodes(S, R, False, idx, cand, False) == 50
    assert K.feasible_nodes(S, R, False, idx, cand, True) == 2  # the used node and one empty node
    assert idx[:2].tolist() == [0, 1]


@pytest.mark.parametrize("seed", range(12))
def test_single_pods_choose_as_the_reference(seed):
    rng = np.random.default_rng(seed)
    s = _cluster(rng)
    for i in range(40):
        req = _request(s, rng)
        for policy in DETERMINISTIC:
            got = place(s, req, policy, np.random.default_rng(i))
            assert got == REFERENCE_POLICIES[policy](s, req, np.random.default_rng(i)), (policy, req)
        p = place(s, req, DETERMINISTIC[i % len(DETERMINISTIC)], rng)
        if p is not None and rng.random() < 0.6:
            s.bind(req, p)  # the cluster fills as it goes


def _reference_gang(s, reqs, policy):
    """The gang pod by pod with the reference policy, bound as it goes, then released."""
    out, done = [], []
    try:
        for r in reqs:
            p = REFERENCE_POLICIES[policy](s, r, np.random.default_rng(0))
            if p is None:
                return None
            s.bind(r, p)
            done.append((r, p))
            out.append(p)
        return out
    finally:
        for r, p in reversed(done):
            s.release(r, p)


@pytest.mark.parametrize("seed", range(12))
def test_gangs_over_empty_nodes_choose_as_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    s = _cluster(rng)
    for _ in range(10):
        req = s.make_request(cpu_milli=int(rng.integers(1, 48)) * 1000, memory_mib=4096,
                             gpus=int(rng.choice([1, 2, 4, 8])))  # fmt: skip
        reqs = [req] * int(rng.integers(2, 40))  # long enough to walk many empty nodes alike
        for policy in DETERMINISTIC:
            got = place_gang(s, reqs, policy, np.random.default_rng(0))
            assert got == _reference_gang(s, reqs, policy), (policy, req, len(reqs))
        got = place_gang(s, reqs, "best-fit", np.random.default_rng(0))
        if got is not None and rng.random() < 0.5:
            bind_gang(s, reqs, got)


def test_beyond_64_shapes_nodes_are_each_looked_at():
    # shapes 64 and up are not deduplicated (a 64-bit mask): still the reference's choices
    s = ClusterState()
    for i in range(70):
        s.add_nodes(f"p{i}", 3, cpu_milli=(96 - i) * 1000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    assert int(s.node_shape.max()) == 69
    req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=2)
    cand = candidates(s, req)
    idx = np.empty(cand.shape[0], dtype=np.int64)
    assert K.feasible_nodes(state_arrays(s), request_tuple(req), False, idx, cand, True) == 64 + 6 * 3
    rng = np.random.default_rng(5)
    for i in range(30):
        for policy in DETERMINISTIC:
            assert place(s, req, policy, np.random.default_rng(i)) == REFERENCE_POLICIES[policy](
                s, req, np.random.default_rng(i)
            ), policy
        bind_gang(s, [req], [place(s, req, DETERMINISTIC[i % len(DETERMINISTIC)], rng)])
