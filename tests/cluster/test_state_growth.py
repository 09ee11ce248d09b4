"""ClusterState's arrays grow in place: node additions append to buffers that double when full.

The arrays a kernel reads are views of the buffers' used rows. These tests add nodes one pool at a
time (the Cluster Autoscaler's pattern) and compare every array with the same cluster built by
concatenation, check that binds made between additions survive the next addition, and that a
deep copy or a pickle keeps the arrays tied to their buffers.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np

from gpusim.cluster.state import MAX_TAG, NODE_GONE, SHARING_TIMESLICE, ClusterState
from gpusim.placement import bind_gang, place

FIELDS = (*ClusterState._NODE_FIELDS, "node_tag_counts", *ClusterState._GPU_FIELDS)


def _grow(s: ClusterState, rng) -> list[tuple]:
    """Add nodes in 12 random steps; returns the steps (pool, count, gpus, kwargs)."""
    steps = []
    for i in range(12):
        count, gpus = int(rng.integers(1, 9)), int(rng.choice([0, 1, 4, 8]))
        kw = {"cpu_milli": int(rng.integers(1, 64)) * 1000, "memory_mib": int(rng.integers(1, 512)) * 1024}
        if gpus:
            kw.update(gpus=gpus, gpu_model="nvidia-h100-80gb", gpu_memory_mib=81920)
            if i % 3 == 0:
                kw.update(sharing=SHARING_TIMESLICE, ts_replicas=4)
        if i % 5 == 4:
            kw["state"] = NODE_GONE
        steps.append((f"p{i % 4}", count, kw))
        s.add_nodes(f"p{i % 4}", count, **kw)
    return steps


def _expected(s: ClusterState, steps) -> dict:
    """The arrays written out from the steps, node by node (what a build from scratch holds)."""
    ref = {name: [] for name in FIELDS}
    start = 0
    shapes: dict = {}  # nodes added alike share a shape id, numbered in order of first appearance
    for pool, count, kw in steps:
        gpus = kw.get("gpus", 0)
        shape = shapes.setdefault((pool, tuple(sorted((k, v) for k, v in kw.items() if k != "state"))), len(shapes))
        ts = kw.get("sharing", 0) == SHARING_TIMESLICE
        for _ in range(count):
            node = len(ref["node_pool"])
            row = {"node_pool": s.pool_names.index(pool), "node_cpu_total": kw["cpu_milli"],
                   "node_cpu_free": kw["cpu_milli"], "node_mem_total": kw["memory_mib"],
                   "node_mem_free": kw["memory_mib"], "node_gpu_start": start, "node_gpu_count": gpus,
                   "node_gpus_idle": gpus, "node_state": kw.get("state", 1), "node_sharing": kw.get("sharing", 0),
                   "node_gpu_model": s.gpu_model_ids.index(kw["gpu_model"]) if gpus else -1,
                   "node_shape": shape}  # fmt: skip
            for name in s._NODE_FIELDS:
                ref[name].append(row.get(name, 0))
            ref["node_tag_counts"].append([0] * (MAX_TAG + 1))
            for _ in range(gpus):
                g = {"gpu_node": node, "gpu_free_milli": 1000, "gpu_mem_total": kw["gpu_memory_mib"],
                     "gpu_ts_capacity": kw.get("ts_replicas", 0) if ts else 0}  # fmt: skip
                for name in s._GPU_FIELDS:
                    ref[name].append(g.get(name, 0))
            start += gpus
    return {k: np.array(v) for k, v in ref.items()}


def test_arrays_equal_a_concatenated_build_with_fixed_dtypes():
    rng = np.random.default_rng(11)
    s = ClusterState()
    steps = _grow(s, rng)
    want = _expected(s, steps)
    assert s.n_nodes == sum(c for _, c, _ in steps)
    assert s.n_gpus == sum(c * kw.get("gpus", 0) for _, c, kw in steps)
    for name in FIELDS:
        got = getattr(s, name)
        dtype = np.int32 if name == "node_tag_counts" else {**s._NODE_FIELDS, **s._GPU_FIELDS}[name]
        assert got.dtype == dtype, name
        assert got.flags.c_contiguous, name
        assert got.shape[0] == (s.n_gpus if name.startswith("gpu_") else s.n_nodes), name
        np.testing.assert_array_equal(got, want[name], err_msg=name)
    assert s.node_tag_counts.shape == (s.n_nodes, MAX_TAG + 1)
    # the GPU ranges of consecutive nodes tile the GPU arrays
    np.testing.assert_array_equal(s.gpu_node, np.repeat(np.arange(s.n_nodes), s.node_gpu_count))


def test_state_bound_before_an_addition_is_kept_after_it():
    from gpusim.cluster.state import PodRequest

    s = ClusterState()
    s.add_nodes("a", 3, cpu_milli=64000, memory_mib=512 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    req = PodRequest(cpu_milli=4000, memory_mib=1024, gpus=2)
    rng = np.random.default_rng(0)
    bound = []
    for _ in range(5):
        p = place(s, req, "best-fit", rng)
        bind_gang(s, [req], [p])
        bound.append(p)
        before = {name: getattr(s, name).copy() for name in FIELDS}
        n, g = s.n_nodes, s.n_gpus
        s.add_nodes("b", 2, cpu_milli=32000, memory_mib=256 * 1024, gpus=4, gpu_model="nvidia-h100-80gb")
        for name in FIELDS:
            k = g if name.startswith("gpu_") else n
            np.testing.assert_array_equal(getattr(s, name)[:k], before[name], err_msg=name)
    for p in bound:
        s.release(req, p)
    assert int(s.node_cpu_free.sum()) == int(s.node_cpu_total.sum())
    assert int(s.node_gpus_idle.sum()) == s.n_gpus


def test_deep_copy_and_pickle_keep_arrays_tied_to_their_buffers():
    s = ClusterState()
    _grow(s, np.random.default_rng(5))
    for t in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(t, name), getattr(s, name), err_msg=name)
        t.node_cpu_free[0] -= 1000  # a write to the copy's array ...
        t.add_nodes("new", 3, cpu_milli=1000, memory_mib=1024)  # ... survives its next addition
        assert t.node_cpu_free[0] == s.node_cpu_free[0] - 1000
        assert t.n_nodes == s.n_nodes + 3
        assert s.node_cpu_free.shape[0] == s.n_nodes  # the original is untouched
