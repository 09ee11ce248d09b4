"""Blocks of 64 nodes without room are skipped (`ClusterState.room_block`, `_kernels.feasible_in`).

A block's figure is at least the most wholly free GPUs on any of its nodes, or -1 once any of its
nodes changed; a whole-GPU pod skips a block whose figure is below its GPU count. Binds, releases,
touches, added nodes and a gang kernel's undone binds must keep the figures true, so that every
pod still sees the nodes the plain-Python reference's `fits` sees and every policy chooses as its
reference does.
"""

from __future__ import annotations

import numpy as np
import pytest
from placement_cases import check_whole_gpu_pods_as_reference

from gpusim.cluster.state import MILLI, ROOM_BLOCK_SHIFT, ClusterState, Placement
from gpusim.placement import place, place_gang, policy_names
from gpusim.placement.reference import REFERENCE_POLICIES

DETERMINISTIC = [p for p in policy_names() if p != "random"]


def _whole_free(s: ClusterState, n: int) -> int:
    start, count = int(s.node_gpu_start[n]), int(s.node_gpu_count[n])
    return int(np.sum(s.gpu_free_milli[start : start + count] == MILLI))


def assert_blocks_hold(s: ClusterState) -> None:
    assert s.room_block.shape[0] == ((s.n_nodes - 1) >> ROOM_BLOCK_SHIFT) + 1
    for b, figure in enumerate(s.room_block.tolist()):
        nodes = range(b << ROOM_BLOCK_SHIFT, min((b + 1) << ROOM_BLOCK_SHIFT, s.n_nodes))
        if figure >= 0:
            assert figure >= max(_whole_free(s, n) for n in nodes), b
            shape = int(s.room_shape[b])
            if shape >= 0:  # every node of the block empty and of that shape
                assert all(s.node_pods[n] == 0 and s.node_shape[n] == shape for n in nodes), b


def _cluster(rng) -> ClusterState:
    s = ClusterState()
    s.add_nodes("a", 150, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("b", 40, cpu_milli=64000, memory_mib=256 * 1024, gpus=4, gpu_model="nvidia-a100-80gb")
    s.add_nodes("c", 20, cpu_milli=32000, memory_mib=64 * 1024)  # CPU only
    return s


def _random_request(s, rng):
    kind = rng.random()
    if kind < 0.15:
        return s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=int(rng.choice([0, 250, 500])))
    if kind < 0.2:
        return s.make_request(cpu_milli=2000, memory_mib=2048)
    return s.make_request(cpu_milli=int(rng.integers(1, 8)) * 1000, memory_mib=4096, gpus=int(rng.choice([1, 2, 4, 8])))


def _check_whole_pods(s, rng_seed):
    check_whole_gpu_pods_as_reference(s, rng_seed)
    assert_blocks_hold(s)


@pytest.mark.parametrize("seed", range(10))
def test_pods_see_what_the_reference_sees_as_the_cluster_fills_and_drains(seed):
    rng = np.random.default_rng(seed)
    s = _cluster(rng)
    bound: list = []
    for step in range(300):
        if bound and rng.random() < 0.35:  # a release gives room back
            req, p = bound.pop(int(rng.integers(len(bound))))
            s.release(req, p)
        else:
            req = _random_request(s, rng)
            p = place(s, req, DETERMINISTIC[step % len(DETERMINISTIC)], rng)
            if p is not None:
                s.bind(req, p)
                bound.append((req, p))
        if rng.random() < 0.05:
            s.touch(int(rng.integers(s.n_nodes)))
        if step % 25 == 0:
            _check_whole_pods(s, step)
    _check_whole_pods(s, 0)
    assert (s.room_block >= 0).any() and (s.room_block < 8).any()  # blocks were counted, some skipped


@pytest.mark.parametrize("seed", range(8))
def test_gangs_leave_the_blocks_true(seed):
    """A gang kernel binds its pods on the arrays and undoes them: blocks it counted while bound must
    be counted again (the undone binds give room back)."""
    rng = np.random.default_rng(50 + seed)
    s = _cluster(rng)
    for _ in range(120):  # a busy pool
        req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=int(rng.choice([1, 2, 4, 8])))
        p = place(s, req, "best-fit", rng)
        if p is not None:
            s.bind(req, p)
    for _ in range(6):
        req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=int(rng.choice([2, 4, 8])))
        reqs = [req] * int(rng.integers(2, 30))
        for policy in DETERMINISTIC:
            place_gang(s, reqs, policy, rng)  # placed, then undone: nothing bound
            assert_blocks_hold(s)
        _check_whole_pods(s, seed)


@pytest.mark.parametrize("seed", range(8))
def test_a_gang_that_counts_blocks_while_bound_leaves_them_true(seed):
    """Gangs whose first pods take shares (no block skipping for them) and whose later pods ask for
    whole GPUs count blocks with the first pods bound on the arrays; every figure must hold once the
    kernel has undone its binds (the case where it would not is pinned in the next test)."""
    rng = np.random.default_rng(80 + seed)
    s = _cluster(rng)
    bound = []
    for _ in range(150):
        req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=int(rng.choice([1, 2, 4, 8])))
        p = place(s, req, "best-fit", rng)
        if p is not None:
            s.bind(req, p)
            bound.append((req, p))
    for _ in range(10):
        for req, p in [bound.pop(int(rng.integers(len(bound)))) for _ in range(min(6, len(bound)))]:
            s.release(req, p)  # room given back
        share = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=500)
        whole = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=int(rng.choice([1, 2, 4])))
        reqs = [share] * int(rng.integers(1, 6)) + [whole, share] * int(rng.integers(1, 4))
        s.room_block[:] = -1  # every block to be counted by the gang's whole pods, its shares bound
        place_gang(s, reqs, "spread", rng)  # shares on the emptiest nodes: those a block's figure counts
        assert_blocks_hold(s)
        _check_whole_pods(s, seed)
        for req, p in bound[:6]:
            s.release(req, p)
        del bound[:6]
        s.room_block[:] = -1
        place_gang(s, reqs, "spread", rng)
        assert_blocks_hold(s)


def test_a_gang_undoing_its_binds_marks_their_blocks():
    """Block 0: 63 full nodes and one empty. A gang of a share (it can go only to the empty node) and
    an 8-GPU pod counts block 0 with the share bound (7 wholly free GPUs at most): once the gang is
    undone the empty node has 8 again, and an 8-GPU pod must find it."""
    s = ClusterState()
    s.add_nodes("a", 64, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    whole8 = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=8)
    for n in range(1, 64):
        s.bind(whole8, Placement(n, tuple(range(8 * n, 8 * n + 8))))
    share = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=500)
    assert s.room_block[0] == -1
    for policy in DETERMINISTIC:
        assert place_gang(s, [share, whole8], policy, np.random.default_rng(0)) is None, policy
        assert_blocks_hold(s)
        assert place(s, whole8, policy, np.random.default_rng(0)) == Placement(0, tuple(range(8))), policy


def test_added_nodes_and_a_new_block_are_counted():
    s = ClusterState()
    s.add_nodes("a", 64, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    whole8 = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=8)
    for n in range(64):  # fill block 0
        s.bind(whole8, Placement(n, tuple(range(8 * n, 8 * n + 8))))
    assert place(s, whole8, "best-fit", np.random.default_rng(0)) is None
    assert s.room_block.tolist() == [0]  # counted: nothing wholly free
    s.add_nodes("a", 3, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    assert s.room_block.tolist() == [0, -1]
    assert place(s, whole8, "best-fit", np.random.default_rng(0)).node == 64
    s.release(whole8, Placement(5, tuple(range(40, 48))))
    assert s.room_block[0] == -1
    assert place(s, whole8, "best-fit", np.random.default_rng(0)).node == 5
    assert_blocks_hold(s)


@pytest.mark.parametrize("seed", range(8))
def test_blocks_of_empty_nodes_alike_choose_as_the_reference(seed):
    """Pools of empty nodes alike over several blocks (a whole block of them is passed once one like
    them was looked at), filled pod by pod and by gangs, against the reference's choices."""
    rng = np.random.default_rng(200 + seed)
    s = ClusterState()
    s.add_nodes("a", 300, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("b", 100, cpu_milli=64000, memory_mib=256 * 1024, gpus=4, gpu_model="nvidia-a100-80gb")
    s.add_nodes("a", 90, cpu_milli=96000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    bound = []
    passed_whole = False
    for step in range(120):
        if rng.random() < 0.3:
            gpus = int(rng.choice([1, 2, 4, 8]))
            req = s.make_request(cpu_milli=int(rng.integers(1, 24)) * 1000, memory_mib=4096, gpus=gpus)
            reqs = [req] * int(rng.integers(2, 90))
            policy = DETERMINISTIC[step % len(DETERMINISTIC)]
            got = place_gang(s, reqs, policy, rng)
            if got is not None:
                for r, p in zip(reqs, got, strict=True):
                    s.bind(r, p)
                    bound.append((r, p))
        else:
            req = _random_request(s, rng)
            for policy in DETERMINISTIC:
                got = place(s, req, policy, np.random.default_rng(step))
                assert got == REFERENCE_POLICIES[policy](s, req, np.random.default_rng(step)), (policy, req)
            p = place(s, req, "best-fit", rng)
            if p is not None:
                s.bind(req, p)
                bound.append((req, p))
        if bound and rng.random() < 0.3:
            for r, p in [bound.pop(int(rng.integers(len(bound)))) for _ in range(min(20, len(bound)))]:
                s.release(r, p)
        assert_blocks_hold(s)
        passed_whole |= bool(((s.room_block >= 0) & (s.room_shape >= 0)).any())
    assert passed_whole  # whole blocks of empty nodes alike were counted as such
