"""Compiled bind and release of a whole-GPU or fractional pod (`SHARING_NONE`) on the cluster arrays.

`ClusterState.bind`/`release` run these for the common case instead of one numpy scalar read and
write per field and GPU (the Python loop cost ~30 us for an 8-GPU pod). They do the same integer
updates in the same order and return what the running counters change by. `bind_none` first
validates as `ClusterState.bind` does for this mode; when it finds the pod does not fit it changes
nothing and `bind` runs the Python path, whose checks raise the precise error. Time-slicing and MIG stay in Python.
"""

from __future__ import annotations

import numba
import numpy as np

MILLI = 1000


@numba.njit(cache=True, nogil=True, error_model="numpy")  # the placement kernels' options (placement/_numba.py)
def bind_none(n, gpus, milli, gpu_mem, cpu, mem, tag, n_gpus, node_sharing, gpu_node, node_cpu_free, node_mem_free,
              node_pods, node_version, node_tag_counts, node_affinity, node_gpus_idle, gpu_tenants, gpu_mem_committed,
              gpu_free_milli):  # fmt: skip
    """Bind on the arrays if the pod fits as placed (CPU, memory; GPUs on node `n`, distinct, each
    with `milli` free, on a node without a sharing mode); returns (bound, change of allocated
    milli-GPU, change of busy GPUs). Changes nothing when it does not fit.
    """
    if node_cpu_free[n] < cpu or node_mem_free[n] < mem:
        return False, 0, 0
    k = gpus.shape[0]
    if k > 0 and node_sharing[n] != 0:
        return False, 0, 0
    for i in range(k):
        g = gpus[i]
        if g < 0 or g >= n_gpus or gpu_node[g] != n:
            return False, 0, 0
        for j in range(i):
            if gpus[j] == g:
                return False, 0, 0
        if gpu_free_milli[g] < milli:
            return False, 0, 0
    node_cpu_free[n] -= cpu
    node_mem_free[n] -= mem
    node_pods[n] += 1
    node_version[n] += 1
    if tag >= 0:
        node_tag_counts[n, tag] += 1
        node_affinity[n] |= np.uint64(1) << np.uint64(tag)
    d_alloc = 0
    d_busy = 0
    for i in range(k):
        g = gpus[i]
        was = np.int64(gpu_free_milli[g])
        if gpu_tenants[g] == 0:
            node_gpus_idle[n] -= 1
        gpu_tenants[g] += 1
        gpu_mem_committed[g] += gpu_mem
        gpu_free_milli[g] -= milli
        now = np.int64(gpu_free_milli[g])
        d_alloc += was - now
        d_busy += np.int64(now < MILLI) - np.int64(was < MILLI)
    return True, d_alloc, d_busy


@numba.njit(cache=True, nogil=True, error_model="numpy")
def release_none(n, gpus, milli, gpu_mem, cpu, mem, tag, node_cpu_free, node_mem_free, node_pods, node_version,
                 node_tag_counts, node_affinity, node_gpus_idle, gpu_tenants, gpu_mem_committed, gpu_free_milli):  # fmt: skip
    """Release on the arrays (the inverse of `bind_none`); returns (released, the counters' changes).
    Changes nothing, and says so, when a GPU index is out of range (the Python path handles it).
    """
    k = gpus.shape[0]
    for i in range(k):
        if gpus[i] < 0 or gpus[i] >= gpu_tenants.shape[0]:
            return False, 0, 0
    node_cpu_free[n] += cpu
    node_mem_free[n] += mem
    node_pods[n] -= 1
    node_version[n] += 1
    if tag >= 0:
        node_tag_counts[n, tag] -= 1
        if node_tag_counts[n, tag] == 0:
            node_affinity[n] &= ~(np.uint64(1) << np.uint64(tag))
    d_alloc = 0
    d_busy = 0
    for i in range(k):
        g = gpus[i]
        was = np.int64(gpu_free_milli[g])
        gpu_tenants[g] -= 1
        gpu_mem_committed[g] -= gpu_mem
        gpu_free_milli[g] += milli
        if gpu_tenants[g] == 0:
            node_gpus_idle[n] += 1
        now = np.int64(gpu_free_milli[g])
        d_alloc += was - now
        d_busy += np.int64(now < MILLI) - np.int64(was < MILLI)
    return True, d_alloc, d_busy
