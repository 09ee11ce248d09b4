"""Compiled scans over the cluster arrays that the control plane runs on every scheduling cycle.

`largest_free` is the scheduler's necessary-condition filter (the most idle whole GPUs, the
largest free share of one GPU, the most free CPU and memory on any Ready node among a pod's
candidate nodes) in one pass over those nodes and their GPUs, instead of four masked numpy
reductions per cycle. A GPU never has more than `MILLI` free, so the GPU walk stops once the
largest share is a whole GPU.
`empty_clock` is the Cluster Autoscaler's empty-node clock of one pool in one pass (tested against
the numpy recomputation in tests/test_ca_skips.py).
"""

from __future__ import annotations

import numba
import numpy as np

MILLI = 1000  # milli-GPU in one GPU (gpusim.cluster.state.MILLI): no GPU has more free


@numba.njit(cache=True, nogil=True, error_model="numpy")  # the placement kernels' options (placement/_numba.py)
def largest_free(node_state, node_gpus_idle, node_cpu_free, node_mem_free, node_gpu_start, node_gpu_count,
                 gpu_free_milli, cand, ready_state):  # fmt: skip
    """(idle GPUs, free milli-GPU of one GPU, free CPU milli, free memory MiB): the largest of each
    over the Ready nodes among `cand` (node indices); all zero when none is Ready.
    """
    idle = -(2**31)
    share = 0
    cpu = -(2**63)
    mem = -(2**63)
    any_ready = False
    for k in range(cand.shape[0]):
        n = cand[k]
        if node_state[n] != ready_state:
            continue
        any_ready = True
        if node_gpus_idle[n] > idle:
            idle = node_gpus_idle[n]
        if node_cpu_free[n] > cpu:
            cpu = node_cpu_free[n]
        if node_mem_free[n] > mem:
            mem = node_mem_free[n]
        if share < MILLI:  # no GPU has more than a whole GPU free: once one has, stop looking
            g0 = node_gpu_start[n]
            for g in range(g0, g0 + node_gpu_count[n]):
                if gpu_free_milli[g] > share:
                    share = gpu_free_milli[g]
    if not any_ready:
        return 0, 0, 0, 0
    return int(idle), int(share), int(cpu), int(mem)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def empty_clock(idx, node_state, node_pods, empty_since, now, ready_state):
    """The Cluster Autoscaler's empty-node clock over the nodes `idx`, in one pass: a Ready node with
    no pods keeps its clock (or starts it at `now`), every other node has none (NaN); returns the
    earliest clock (inf when no node is empty).
    """
    earliest = np.inf
    for k in range(idx.shape[0]):
        i = idx[k]
        if node_state[i] == ready_state and node_pods[i] == 0:
            if np.isnan(empty_since[i]):
                empty_since[i] = now
            if empty_since[i] < earliest:
                earliest = empty_since[i]
        else:
            empty_since[i] = np.nan
    return earliest
