"""The scheduler's compiled `largest_free` scan against the masked numpy reductions it replaced, over
every node and over a subset (a pod's candidate nodes)."""

import numpy as np
import pytest

from gpusim.cluster._scan import largest_free
from gpusim.cluster.state import NODE_GONE, NODE_PROVISIONING, NODE_READY


def masked_numpy(state, idle, cpu, mem, start, count, free_milli, n_nodes, n_gpus):
    """The scheduler's former formula: np.max with where= over Ready nodes and their GPUs."""
    ready = state[:n_nodes] == NODE_READY
    if not ready.any():
        return (0, 0, 0, 0)
    gpu_node = np.repeat(np.arange(n_nodes), count[:n_nodes])
    gpu_ready = ready[gpu_node[:n_gpus]]
    share = int(np.max(free_milli[:n_gpus], where=gpu_ready, initial=0)) if gpu_ready.any() else 0
    return (
        int(np.max(idle[:n_nodes], where=ready, initial=np.iinfo(np.int32).min)),
        share,
        int(np.max(cpu[:n_nodes], where=ready, initial=np.iinfo(np.int64).min)),
        int(np.max(mem[:n_nodes], where=ready, initial=np.iinfo(np.int64).min)),
    )


@pytest.mark.parametrize("seed", range(40))
def test_largest_free_equals_masked_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    cap = n + int(rng.integers(0, 5))  # arrays have spare rows past n_nodes, as the cluster's do
    state = rng.choice([NODE_READY, NODE_PROVISIONING, NODE_GONE], size=cap, p=[0.6, 0.2, 0.2]).astype(np.int8)
    if seed % 7 == 0:
        state[:] = NODE_PROVISIONING  # no Ready node
    count = rng.integers(0, 9, size=cap).astype(np.int32)  # CPU-only nodes too
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    n_gpus = int(count[:n].sum())
    free_milli = rng.integers(0, 1001, size=int(count.sum()) + 3).astype(np.int32)
    idle = rng.integers(0, 9, size=cap).astype(np.int32)
    cpu = rng.integers(0, 96_000, size=cap).astype(np.int64)
    mem = rng.integers(0, 1 << 20, size=cap).astype(np.int64)
    got = largest_free(state, idle, cpu, mem, start, count, free_milli, np.arange(n), NODE_READY)
    assert tuple(got) == masked_numpy(state, idle, cpu, mem, start, count, free_milli, n, n_gpus)


@pytest.mark.parametrize("seed", range(30))
def test_largest_free_with_idle_gpus_equals_masked_numpy(seed):
    """Many GPUs wholly free (the walk stops at the first one), or none: the same answer."""
    from gpusim.cluster import _scan
    from gpusim.cluster.state import MILLI

    assert _scan.MILLI == MILLI
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 30))
    state = rng.choice([NODE_READY, NODE_PROVISIONING, NODE_GONE], size=n, p=[0.6, 0.2, 0.2]).astype(np.int8)
    count = rng.integers(0, 9, size=n).astype(np.int32)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    n_gpus = int(count.sum())
    free_milli = rng.integers(0, MILLI, size=n_gpus).astype(np.int32)
    free_milli[rng.random(n_gpus) < [0.0, 0.05, 0.5][seed % 3]] = MILLI
    idle = rng.integers(0, 9, size=n).astype(np.int32)
    cpu = rng.integers(0, 96_000, size=n).astype(np.int64)
    mem = rng.integers(0, 1 << 20, size=n).astype(np.int64)
    got = largest_free(state, idle, cpu, mem, start, count, free_milli, np.arange(n), NODE_READY)
    assert tuple(got) == masked_numpy(state, idle, cpu, mem, start, count, free_milli, n, n_gpus)


@pytest.mark.parametrize("seed", range(30))
def test_largest_free_over_candidates_equals_masked_numpy_of_those_nodes(seed):
    """Over a subset of the nodes: what the masked reductions give with every other node not Ready."""
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(1, 30))
    state = rng.choice([NODE_READY, NODE_PROVISIONING, NODE_GONE], size=n, p=[0.6, 0.2, 0.2]).astype(np.int8)
    count = rng.integers(0, 9, size=n).astype(np.int32)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    n_gpus = int(count.sum())
    free_milli = rng.integers(0, 1001, size=n_gpus).astype(np.int32)
    idle = rng.integers(0, 9, size=n).astype(np.int32)
    cpu = rng.integers(0, 96_000, size=n).astype(np.int64)
    mem = rng.integers(0, 1 << 20, size=n).astype(np.int64)
    cand = np.flatnonzero(rng.random(n) < 0.5)
    outside = np.ones(n, dtype=bool)
    outside[cand] = False
    hidden = state.copy()
    hidden[outside] = NODE_PROVISIONING
    got = largest_free(state, idle, cpu, mem, start, count, free_milli, cand, NODE_READY)
    assert tuple(got) == masked_numpy(hidden, idle, cpu, mem, start, count, free_milli, n, n_gpus)
