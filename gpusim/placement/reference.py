"""Plain-Python placement policies: the obviously-correct references.

They walk the `ClusterState` arrays node by node. The compiled kernels must return exactly what
these return on any cluster and request.
"""

from __future__ import annotations

import numpy as np

from gpusim.cluster.state import MILLI, ClusterState, Placement, PodRequest


def gpus_for(state: ClusterState, node: int, req: PodRequest) -> tuple[int, ...] | None:
    """The GPUs of `node` the pod would use, lowest index first, or None if they do not fit.

    Whole GPUs (gpu_milli == 1000) take idle GPUs. A fractional share takes the GPU with the
    least free milli-GPU that still fits it (packing shares together), lowest index on ties.
    """
    if req.gpus == 0:
        return ()
    start = int(state.node_gpu_start[node])
    free = state.gpu_free_milli[start : start + int(state.node_gpu_count[node])]
    if req.gpu_milli >= MILLI:
        idle = np.flatnonzero(free == MILLI)
        if idle.size < req.gpus:
            return None
        return tuple(int(start + g) for g in idle[: req.gpus])
    best, best_free = -1, MILLI + 1
    for g in range(free.size):
        f = int(free[g])
        if req.gpu_milli <= f < best_free:
            best, best_free = g, f
    if best < 0:
        return None
    return (start + best,)


def fits_node(state: ClusterState, node: int, req: PodRequest) -> tuple[int, ...] | None:
    """Filter one node: static constraints and free resources. Returns its GPUs or None."""
    if not state.node_eligible(node, req):
        return None
    if state.node_cpu_free[node] < req.cpu_milli or state.node_mem_free[node] < req.memory_mib:
        return None
    return gpus_for(state, node, req)


def first_fit(state: ClusterState, req: PodRequest, rng: np.random.Generator) -> Placement | None:
    """The lowest-index node that fits."""
    for n in range(state.n_nodes):
        gpus = fits_node(state, n, req)
        if gpus is not None:
            return Placement(n, gpus)
    return None


def best_fit(state: ClusterState, req: PodRequest, rng: np.random.Generator) -> Placement | None:
    """Bin-packing: the node left with the fewest free GPUs (milli), then least free CPU.

    For CPU-only pods the score is the CPU left, then memory left.
    """
    best: Placement | None = None
    best_score: tuple[int, int] | None = None
    for n in range(state.n_nodes):
        gpus = fits_node(state, n, req)
        if gpus is None:
            continue
        start, count = int(state.node_gpu_start[n]), int(state.node_gpu_count[n])
        gpu_left = int(state.gpu_free_milli[start : start + count].sum()) - req.gpu_milli_total
        cpu_left = int(state.node_cpu_free[n]) - req.cpu_milli
        score = (gpu_left, cpu_left) if req.gpus else (cpu_left, int(state.node_mem_free[n]) - req.memory_mib)
        if best_score is None or score < best_score:
            best, best_score = Placement(n, gpus), score
    return best


def fits_empty(state: ClusterState, req: PodRequest) -> bool:
    """Could the pod fit some node (any state but gone) if that node were empty?"""
    for n in range(state.n_nodes):
        if state.node_state[n] == 3:
            continue
        sel = np.uint64(req.selector_mask)
        if (state.node_labels[n] & sel) != sel or int(state.node_taints[n]) & ~req.toleration_mask:
            continue
        if state.node_cpu_total[n] < req.cpu_milli or state.node_mem_total[n] < req.memory_mib:
            continue
        if req.gpus:
            model = int(state.node_gpu_model[n])
            if model < 0 or (req.gpu_model_mask and not (req.gpu_model_mask >> model) & 1):
                continue
            if state.node_gpu_count[n] < req.gpus:
                continue
        return True
    return False
