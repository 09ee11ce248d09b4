"""Private placement kernels: one feasibility pass over the nodes, then the policy's score pass.

Called only through `gpusim.placement.place` (and the FGD experiment's batch loop), which pack
the `ClusterState` arrays into the tuple ``S`` and the request into the tuple ``R`` with fixed
dtypes. `place_one` lists the feasible nodes with `feasible_nodes` (reference.fits) among the
pod's candidate nodes (`placement.candidates`: those whose fixed properties can take it), scores
them with the policy's ``score_<name>`` (reference.score_*; `score_nodes` dispatches) and keeps
the best with `best_node`; `select_gpus` then picks the GPUs. Each has an obviously-correct
plain-Python twin in `reference.py`; the tests compare them on random clusters. Scores are "higher is better";
ties keep the lowest node index (and the lowest GPU index), so results never depend on
iteration order.

Every function here that loops over nodes takes the cluster arrays once per placement, never
once per node: a called function counts references to the arrays it uses, and numba prunes
those counts only in small straight functions (such as `free_milli`), so a per-node call of a
check or score with branches costs more than the work (a node-by-node split ran 6-30x slower,
inlined with ``inline="always"`` or not; a per-node call of the GPU-room check alone, 4x).

S = (node_state, node_labels, node_taints, node_model, node_sharing, node_cpu_free,
     node_mem_free, node_cpu_total, node_mem_total, node_gpu_start, node_gpu_count,
     node_affinity, node_version, gpu_free, gpu_tenants, gpu_ts_cap, gpu_mig_mem, gpu_mig_comp,
     node_pods, node_shape, node_idle, room)   (`ClusterState.node_gpus_idle`, `.room`)
R = (cpu, mem, gpus, milli, model_mask u64, selector u64, tolerations u64, sharing,
     mig_compute, mig_memory, mig_starts_mask, affinity_tag)
T = (t_int, t_freq): the FGD target workload's typical pods, rows (cpu, milli per GPU, GPUs,
     model mask bits as int64, integer weight) and their frequencies (float, informative).
"""

from __future__ import annotations

import numpy as np

from gpusim.cluster.state import (
    MIG_COMPUTE_SLICES,
    MIG_MEMORY_SLICES,
    MIG_SLICE_MILLI,
    NODE_READY,
    ROOM_BLOCK_SHIFT,
    SHARING_NONE,
    SHARING_TIMESLICE,
)
from gpusim.placement._numba import njit
from gpusim.placement.registry import KERNEL_ID

# policy ids, declared in the registry (numba freezes them as constants)
FIRST_FIT = KERNEL_ID["first-fit"]
BEST_FIT = KERNEL_ID["best-fit"]
SPREAD = KERNEL_ID["spread"]
RANDOM = KERNEL_ID["random"]
DOT_PRODUCT = KERNEL_ID["dot-product"]
GPU_PACKING = KERNEL_ID["gpu-packing"]
GPU_CLUSTERING = KERNEL_ID["gpu-clustering"]
FGD = KERNEL_ID["fgd"]
WEIGHTED_BEST_FIT = KERNEL_ID["weighted-best-fit"]

MILLI = 1000
MAX_SPEC_CPU = 128000.0  # FGD artifact's normalisers (open-gpu-share utils MaxSpecCpu/MaxSpecGpu)
MAX_SPEC_GPU = 8000.0
U1 = np.uint64(1)


@njit
def mig_start(mem_used, comp_used, c, m, starts_mask):
    """Lowest allowed start where a (c, m) instance fits next to the used slices, or -1."""
    for s in range(MIG_MEMORY_SLICES):
        if (starts_mask >> s) & 1 == 0 or s + m > MIG_MEMORY_SLICES:
            continue
        mem = ((1 << m) - 1) << s
        hi = min(s + c, MIG_COMPUTE_SLICES)
        comp = (((1 << (hi - s)) - 1) << s) if hi > s else 0
        if (mem & mem_used) == 0 and (comp & comp_used) == 0:
            return s
    return -1


@njit
def select_gpus(n, policy, u2, S, R, out):
    """GPUs of node `n` the pod takes (written to `out`); returns the MIG start or -1.

    Whole GPUs: the lowest-index idle ones. A fractional share: the fitting GPU with the least
    free milli-GPU (best fit, the FGD artifact's default), or a uniform one under `random`.
    Time-slice replicas: one at a time from the GPU with the most free replicas (the NVIDIA
    device plugin's distributed allocation: distinct GPUs while they last). MIG: the GPU with
    the most memory slices already used that still fits, at its lowest allowed free start.
    """
    (
        node_state,
        node_labels,
        node_taints,
        node_model,
        node_sharing,
        node_cpu_free,
        node_mem_free,
        node_cpu_total,
        node_mem_total,
        node_gpu_start,
        node_gpu_count,
        node_affinity,
        node_version,
        gpu_free,
        gpu_tenants,
        gpu_ts_cap,
        gpu_mig_mem,
        gpu_mig_comp,
        node_pods_,
        node_shape,
        node_idle,
        room,
    ) = S
    (r_cpu, r_mem, r_gpus, r_milli, r_model_mask, r_sel, r_tol, r_sharing, r_mig_c, r_mig_m, r_mig_starts, r_tag) = R
    if r_gpus == 0:
        return -1
    s = node_gpu_start[n]
    c = node_gpu_count[n]
    if r_sharing == SHARING_NONE:
        if r_milli >= MILLI:
            k = 0
            for g in range(s, s + c):
                if k < r_gpus and gpu_free[g] == MILLI:
                    out[k] = g
                    k += 1
            return -1
        if policy == RANDOM:
            cnt = 0
            for g in range(s, s + c):
                if gpu_free[g] >= r_milli:
                    cnt += 1
            k = int(u2 * cnt)
            if k >= cnt:
                k = cnt - 1
            for g in range(s, s + c):
                if gpu_free[g] >= r_milli:
                    if k == 0:
                        out[0] = g
                        return -1
                    k -= 1
            return -1
        best = -1
        for g in range(s, s + c):
            if gpu_free[g] >= r_milli and (best < 0 or gpu_free[g] < gpu_free[best]):
                best = g
        out[0] = best
        return -1
    if r_sharing == SHARING_TIMESLICE:
        taken = np.zeros(c, dtype=np.int64)
        for j in range(r_gpus):
            best = -1
            best_free = 0
            for i in range(c):
                free = gpu_ts_cap[s + i] - gpu_tenants[s + i] - taken[i]
                if free > best_free:
                    best = i
                    best_free = free
            taken[best] += 1
            out[j] = s + best
        return -1
    best = -1
    best_used = -1
    best_start = -1
    for g in range(s, s + c):
        mem_used = np.int64(gpu_mig_mem[g])
        st = mig_start(mem_used, np.int64(gpu_mig_comp[g]), r_mig_c, r_mig_m, r_mig_starts)
        if st < 0:
            continue
        used = 0
        for b in range(MIG_MEMORY_SLICES):
            used += (mem_used >> b) & 1
        if used > best_used:
            best = g
            best_used = used
            best_start = st
    out[0] = best
    return best_start


@njit
def frag_amount(cpu_left, free, c, model, t_int):
    """FGD's fragmentation of one node: free milli-GPU the target workload cannot use, weighted.

    For each typical pod (weight w = its count in the workload): if the node can host it
    (enough GPUs with room, CPU, GPU model), the GPUs too small for it count as fragment;
    otherwise all free GPU does (CPU-only typical pods never use GPUs, so all free GPU counts).
    As the artifact's `NodeGpuShareFragAmountScore` times the total weight: integers, so equal
    fragmentation compares equal and ties break on the lowest index, not on rounding noise.
    `t_int` rows: (cpu, milli per GPU, GPUs, model mask bits, weight).
    """
    total = 0
    for i in range(c):
        total += free[i]
    if total == 0:
        return 0
    frag = 0
    for t in range(t_int.shape[0]):
        w = t_int[t, 4]
        k = t_int[t, 2]
        if k == 0:
            frag += w * total
            continue
        mk = t_int[t, 3]
        if model < 0 or (mk != 0 and ((mk >> model) & 1) == 0):
            frag += w * total
            continue
        m = t_int[t, 1]
        cnt = 0
        part = 0
        for i in range(c):
            if free[i] >= m:
                cnt += 1
            else:
                part += free[i]
        if cnt >= k and cpu_left >= t_int[t, 0]:
            frag += w * part
        else:
            frag += w * total
    return frag


@njit
def fgd_plain(
    n,
    node_cpu_free,
    node_gpu_start,
    node_gpu_count,
    node_model,
    node_version,
    gpu_free,
    t_int,
    cache_val,
    cache_ver,
    buf,
    r_cpu,
    r_gpus,
    r_milli,
    qw,
):
    """`fgd_node` for whole-GPU, fractional and CPU-only pods, taking only the arrays it reads
    (each array argument costs a reference count per call, and this runs once per node).

    ``qw > 0`` (the workload's total weight) selects the artifact's integer score
    ``int(100 sigmoid(delta / qw / 1000))``, and a share's GPU is then the first one reaching
    the best integer score, as in the artifact.
    """
    s = node_gpu_start[n]
    c = node_gpu_count[n]
    model = node_model[n]
    if cache_ver[n] == node_version[n]:
        before = cache_val[n]
    else:
        for i in range(c):
            buf[i] = gpu_free[s + i]
        before = frag_amount(node_cpu_free[n], buf, c, model, t_int)
        cache_val[n] = before
        cache_ver[n] = node_version[n]
    cpu_after = node_cpu_free[n] - r_cpu
    if r_gpus == 1 and r_milli < MILLI:
        best_score = 0
        best_g = -1
        for i in range(c):
            fi = gpu_free[s + i]
            if fi < r_milli:
                continue
            dup = False
            for j in range(i):
                if gpu_free[s + j] == fi:
                    dup = True
                    break
            if dup:  # same free milli-GPU as an earlier GPU: same score, earlier index wins
                continue
            for j in range(c):
                buf[j] = gpu_free[s + j]
            buf[i] -= r_milli
            sc = before - frag_amount(cpu_after, buf, c, model, t_int)
            if qw > 0:
                sc = fgd_quantised(sc, qw)
            if best_g < 0 or sc > best_score:
                best_score = sc
                best_g = s + i
        return float(best_score), best_g
    k = 0
    for j in range(c):
        buf[j] = gpu_free[s + j]
        if k < r_gpus and buf[j] == MILLI:  # whole GPUs: the lowest-index idle ones
            buf[j] = 0
            k += 1
    sc = before - frag_amount(cpu_after, buf, c, model, t_int)
    if qw > 0:
        sc = fgd_quantised(sc, qw)
    return float(sc), -1


@njit
def fgd_quantised(delta, qw):
    """The artifact's FGD node score: int64(sigmoid(fragmentation decrease / 1000) * 100)."""
    return np.int64(100.0 / (1.0 + np.exp(-(delta / qw) / 1000.0)))


@njit
def fgd_node(n, S, R, T, cache_val, cache_ver, buf):
    """FGD score of node `n` (fragmentation before minus after) and, for a share, its GPU.

    The fragmentation before placement is cached per node, keyed by the node's version counter
    (bumped by every bind/release), so it is computed once per change of the node.
    """
    (
        node_state,
        node_labels,
        node_taints,
        node_model,
        node_sharing,
        node_cpu_free,
        node_mem_free,
        node_cpu_total,
        node_mem_total,
        node_gpu_start,
        node_gpu_count,
        node_affinity,
        node_version,
        gpu_free,
        gpu_tenants,
        gpu_ts_cap,
        gpu_mig_mem,
        gpu_mig_comp,
        node_pods_,
        node_shape,
        node_idle,
        room,
    ) = S
    (r_cpu, r_mem, r_gpus, r_milli, r_model_mask, r_sel, r_tol, r_sharing, r_mig_c, r_mig_m, r_mig_starts, r_tag) = R
    t_int = T[0]
    s = node_gpu_start[n]
    c = node_gpu_count[n]
    model = node_model[n]
    if cache_ver[n] == node_version[n]:
        before = cache_val[n]
    else:
        for i in range(c):
            buf[i] = gpu_free[s + i]
        before = frag_amount(node_cpu_free[n], buf, c, model, t_int)
        cache_val[n] = before
        cache_ver[n] = node_version[n]
    cpu_after = node_cpu_free[n] - r_cpu
    if r_gpus == 1 and r_sharing == SHARING_NONE and r_milli < MILLI:
        best_score = 0
        best_g = -1
        for i in range(c):
            fi = gpu_free[s + i]
            if fi < r_milli:
                continue
            dup = False
            for j in range(i):
                if gpu_free[s + j] == fi:
                    dup = True
                    break
            if dup:  # same free milli-GPU as an earlier GPU: same score, earlier index wins
                continue
            for j in range(c):
                buf[j] = gpu_free[s + j]
            buf[i] -= r_milli
            sc = before - frag_amount(cpu_after, buf, c, model, t_int)
            if best_g < 0 or sc > best_score:
                best_score = sc
                best_g = s + i
        return float(best_score), best_g
    for j in range(c):
        buf[j] = gpu_free[s + j]
    if r_gpus > 0:
        sel = np.empty(r_gpus, dtype=np.int64)
        select_gpus(n, FGD, 0.0, S, R, sel)
        if r_sharing == SHARING_NONE:
            for j in range(r_gpus):
                buf[sel[j] - s] -= r_milli
        elif r_sharing == SHARING_TIMESLICE:
            for j in range(r_gpus):
                taken = 0
                for q in range(r_gpus):
                    if sel[q] == sel[j]:
                        taken += 1
                buf[sel[j] - s] = MILLI - (MILLI * (gpu_tenants[sel[j]] + taken)) // gpu_ts_cap[sel[j]]
        else:
            buf[sel[0] - s] -= MIG_SLICE_MILLI * r_mig_m
    return float(before - frag_amount(cpu_after, buf, c, model, t_int)), -1


# ---- feasibility and scores: each one pass over the nodes, called once per placement (see the
# module docstring for why not once per node).


@njit
def feasible_nodes(S, R, first_only, idx, cand, alike):
    """Write the nodes of `cand` that can take the pod now to `idx`, in index order; return their
    count (`feasible_in` over all of `cand`). `cand`: node indices in increasing order, holding every
    node that can take the pod (all nodes, or the pod's `placement.candidates`).
    """
    return feasible_in(S, R, first_only, idx, cand, 0, cand.shape[0], alike)


@njit
def feasible_in(S, R, first_only, idx, cand, lo, hi, alike):
    """Write the nodes ``cand[lo:hi]`` that can take the pod now to `idx`, in their order; return
    their count.

    ``alike``: of the nodes with no pods that were added alike (one `ClusterState.node_shape`, of
    the first 64 shapes), list only the first, for a pod on whole or fractional GPUs. Such nodes
    pass or fail every check together (their state is checked first) and every score reads only
    its node, so the first of them is the only one that can be chosen (the first best wins ties):
    for every policy that draws no random numbers among its feasible nodes, the choice is the
    same. A 7,000-node pool that is mostly empty is then a few nodes to score, not thousands.

    reference.fits: ready, selector and taints (bitmasks), CPU and memory free, and for a GPU
    pod its GPU model and sharing mode (`ClusterState.static_fit`) and room on the node's GPUs
    (enough idle GPUs for whole ones, one GPU with the share free, enough free time-slice
    replicas, or a free MIG placement). For whole GPUs on a node without shares the idle count is
    read first (in a busy pool most nodes have no room), every other room check comes after the
    node's numbers: a node passes all of them or is left out, so the order changes only how soon
    a node is left out.
    ``first_only`` stops at the first feasible node.
    """
    (
        node_state,
        node_labels,
        node_taints,
        node_model,
        node_sharing,
        node_cpu_free,
        node_mem_free,
        node_cpu_total,
        node_mem_total,
        node_gpu_start,
        node_gpu_count,
        node_affinity,
        node_version,
        gpu_free,
        gpu_tenants,
        gpu_ts_cap,
        gpu_mig_mem,
        gpu_mig_comp,
        node_pods_,
        node_shape,
        node_idle,
        room,
    ) = S
    (r_cpu, r_mem, r_gpus, r_milli, r_model_mask, r_sel, r_tol, r_sharing, r_mig_c, r_mig_m, r_mig_starts, r_tag) = R
    whole = r_milli >= MILLI
    plain_gpus = r_gpus > 0 and r_sharing == SHARING_NONE  # whole GPUs or a fractional share
    dedupe = alike and plain_gpus
    seen = np.uint64(0)  # bit s: an empty node of shape s was looked at (shapes 0-63; others always are)
    blocks = plain_gpus and whole  # skip the blocks of 64 nodes where no node has r_gpus wholly free GPUs
    cur_b = -1
    skip_b = False
    cnt = 0
    k = lo
    while k < hi:
        n = cand[k]
        k += 1
        if blocks:
            b = n >> ROOM_BLOCK_SHIFT
            if b != cur_b:
                cur_b = b
                if room[b, 0] < 0:
                    count_block(b, node_affinity, node_idle, node_gpu_start, node_gpu_count, gpu_free, node_pods_,
                                node_shape, room)  # fmt: skip
                skip_b = room[b, 0] < r_gpus
                if dedupe and not skip_b and room[b, 1] >= 0:
                    # every node of the block empty and alike: passed whole once one like them was seen
                    skip_b = (seen & (U1 << np.uint64(room[b, 1]))) != 0
            if skip_b:  # on to the first candidate past the block (the block's others follow this one)
                k += np.searchsorted(cand[k : min(k + (1 << ROOM_BLOCK_SHIFT) - 1, hi)], (b + 1) << ROOM_BLOCK_SHIFT)
                continue
        if node_state[n] != NODE_READY:
            continue
        if dedupe and node_pods_[n] == 0 and node_shape[n] < 64:
            bit = U1 << np.uint64(node_shape[n])
            if seen & bit:
                continue  # an empty node like one already looked at (see above)
            seen |= bit
        share_free = (node_affinity[n] & U1) == 0  # no pod holds a share of a GPU here (affinity tag 0)
        if blocks and share_free and node_idle[n] < r_gpus:
            # whole GPUs first, from two reads: on a node without shares a GPU is wholly free
            # exactly when it has no tenant, and in a busy pool most nodes fail here (every check
            # below is one more condition of the same AND)
            continue
        if (node_labels[n] & r_sel) != r_sel or (node_taints[n] & ~r_tol) != 0:
            continue
        if node_cpu_free[n] < r_cpu or node_mem_free[n] < r_mem:
            continue
        if r_gpus > 0:
            model = node_model[n]
            if model < 0 or node_sharing[n] != r_sharing:
                continue
            if r_model_mask != 0 and ((r_model_mask >> np.uint64(model)) & U1) == 0:
                continue
            s = node_gpu_start[n]
            c = node_gpu_count[n]
            ok = False
            if r_sharing == SHARING_NONE:
                if whole and share_free:
                    ok = True  # the idle count, above
                elif whole:
                    idle = 0
                    for g in range(s, s + c):
                        if gpu_free[g] == MILLI:
                            idle += 1
                    ok = idle >= r_gpus
                else:
                    for g in range(s, s + c):
                        if gpu_free[g] >= r_milli:
                            ok = True
                            break
            elif r_sharing == SHARING_TIMESLICE:
                slots = 0
                for g in range(s, s + c):
                    slots += gpu_ts_cap[g] - gpu_tenants[g]
                ok = slots >= r_gpus
            else:
                for g in range(s, s + c):
                    if (
                        mig_start(np.int64(gpu_mig_mem[g]), np.int64(gpu_mig_comp[g]), r_mig_c, r_mig_m, r_mig_starts)
                        >= 0
                    ):
                        ok = True
                        break
            if not ok:
                continue
        idx[cnt] = n
        cnt += 1
        if first_only:
            break
    return cnt


@njit
def count_block(b, node_affinity, node_idle, node_gpu_start, node_gpu_count, gpu_free, node_pods, node_shape, room):
    """Count block `b` (nodes ``b << ROOM_BLOCK_SHIFT`` on, of every state) into `ClusterState.room`:
    ``room[b, 0]``, the most wholly free GPUs on any of its nodes (a node's idle count where no pod
    holds a share of a GPU, see `feasible_in`, else its GPUs with all their milli-GPU free), and
    ``room[b, 1]``, the node shape they all share if none has a pod (shapes below 64), else -1.
    """
    best = 0
    lo = b << ROOM_BLOCK_SHIFT
    shape = node_shape[lo] if node_shape[lo] < 64 else -1
    for n in range(lo, min(lo + (1 << ROOM_BLOCK_SHIFT), node_idle.shape[0])):
        if node_pods[n] != 0 or node_shape[n] != shape:
            shape = -1
        if (node_affinity[n] & U1) == 0:
            w = node_idle[n]
        else:
            w = 0
            s = node_gpu_start[n]
            for g in range(s, s + node_gpu_count[n]):
                if gpu_free[g] == MILLI:
                    w += 1
        if w > best:
            best = w
    room[b, 0] = best
    room[b, 1] = shape


@njit
def free_milli(gpu_free, s, c):
    """Free milli-GPU summed over GPUs ``s .. s+c-1`` (one node's). Small enough that numba
    inlines it without counting references per call, unlike a call passing the cluster arrays.
    """
    left = 0
    for g in range(s, s + c):
        left += gpu_free[g]
    return left


# Score functions (reference.score_*): one per policy, ``score_<name>`` as the registry names it,
# each writing the score of node ``idx[k]`` to ``s1[k]`` (and best-fit a tie-breaker to ``s2[k]``)
# for the `cnt` feasible nodes. Higher is better.


@njit
def score_best_fit(S, R, idx, cnt, s1, s2):
    """Least free milli-GPU left, then least CPU left (CPU, then memory, for CPU-only pods)."""
    node_cpu_free, node_mem_free, node_gpu_start, node_gpu_count, gpu_free = S[5], S[6], S[9], S[10], S[13]
    r_cpu, r_mem, r_gpus, r_milli = R[0], R[1], R[2], R[3]
    r_total = r_gpus * r_milli
    for k in range(cnt):
        n = idx[k]
        if r_gpus > 0:
            left = free_milli(gpu_free, node_gpu_start[n], node_gpu_count[n])
            s1[k] = -float(left - r_total)
            s2[k] = -float(node_cpu_free[n] - r_cpu)
        else:
            s1[k] = -float(node_cpu_free[n] - r_cpu)
            s2[k] = -float(node_mem_free[n] - r_mem)


@njit
def score_spread(S, R, idx, cnt, s1):
    """Most CPU and memory left, as fractions of the node's (Kubernetes' LeastAllocated)."""
    node_cpu_free, node_mem_free, node_cpu_total, node_mem_total = S[5], S[6], S[7], S[8]
    r_cpu, r_mem = R[0], R[1]
    for k in range(cnt):
        n = idx[k]
        a = 0.0
        if node_cpu_total[n] > 0:
            a = (node_cpu_free[n] - r_cpu) / node_cpu_total[n]
        b = 0.0
        if node_mem_total[n] > 0:
            b = (node_mem_free[n] - r_mem) / node_mem_total[n]
        s1[k] = 0.5 * a + 0.5 * b


@njit
def score_dot_product(S, R, artifact, idx, cnt, s1):
    """Least dot product of free and asked CPU and GPU (Tetris), normalised as the FGD artifact;
    ``artifact``: its integer ``int64(100 (1 - dot / 2))``.
    """
    node_cpu_free, node_gpu_start, node_gpu_count, gpu_free = S[5], S[9], S[10], S[13]
    r_cpu, r_total = R[0], R[2] * R[3]
    for k in range(cnt):
        n = idx[k]
        left = free_milli(gpu_free, node_gpu_start[n], node_gpu_count[n])
        dot = (node_cpu_free[n] / MAX_SPEC_CPU) * (r_cpu / MAX_SPEC_CPU) + (left / MAX_SPEC_GPU) * (
            r_total / MAX_SPEC_GPU
        )
        s1[k] = float(np.int64(100.0 * (1.0 - dot / 2.0))) if artifact else -dot


@njit
def score_weighted_best_fit(S, R, artifact, idx, cnt, s1):
    """Least CPU and GPU left, weighted half and half (the FGD artifact's BestFit); ``artifact``:
    its integer ``int64(100 (1 - leftover))``.
    """
    node_cpu_free, node_gpu_start, node_gpu_count, gpu_free = S[5], S[9], S[10], S[13]
    r_cpu, r_total = R[0], R[2] * R[3]
    for k in range(cnt):
        n = idx[k]
        left = free_milli(gpu_free, node_gpu_start[n], node_gpu_count[n])
        v = (node_cpu_free[n] - r_cpu) / MAX_SPEC_CPU * 0.5 + (left - r_total) / MAX_SPEC_GPU * 0.5
        s1[k] = float(np.int64((1.0 - v) * 100.0)) if artifact else -v


@njit
def score_gpu_packing(S, R, idx, cnt, order, s1):
    """The FGD artifact's GpuPacking (reference.score_gpu_packing), integer: shared GPUs first,
    then idle GPUs of used nodes, then idle nodes with few GPUs. `order`: scratch for one node.
    """
    node_gpu_start, node_gpu_count, gpu_free = S[9], S[10], S[13]
    r_gpus = R[2]
    pack_milli = R[3] if R[7] == SHARING_NONE else 1
    for k in range(cnt):
        n = idx[k]
        s = node_gpu_start[n]
        c = node_gpu_count[n]
        if r_gpus == 0:
            q = 0
        else:
            ff = 0
            for g in range(s, s + c):
                if gpu_free[g] == MILLI:
                    ff += 1
            if ff == c:
                q = max(33 - ff, ff)
            elif r_gpus == 1:  # the fullest GPU that fits: no sort needed
                bg = -1
                for g in range(s, s + c):
                    if gpu_free[g] >= pack_milli and (bg < 0 or gpu_free[g] < gpu_free[bg]):
                        bg = g
                if bg < 0:
                    q = 0
                elif gpu_free[bg] == MILLI:
                    q = 49
                else:
                    q = max(100 - (gpu_free[bg] * 100 // MILLI) // 10, 50)
            elif pack_milli >= MILLI:  # several whole GPUs: all idle ones
                q = max(50 - r_gpus, 33) if ff >= r_gpus else 0
            else:
                for i in range(c):
                    order[i] = i
                for i in range(1, c):
                    v = order[i]
                    j = i - 1
                    while j >= 0 and gpu_free[s + order[j]] > gpu_free[s + v]:
                        order[j + 1] = order[j]
                        j -= 1
                    order[j + 1] = v
                need = r_gpus
                ff_use = 0
                pct = 0
                for i in range(c):
                    if need == 0:
                        break
                    f = gpu_free[s + order[i]]
                    if pack_milli <= f:
                        need -= 1
                        if f == MILLI:
                            ff_use += 1
                        pct += f * 100 // MILLI
                if need != 0:
                    q = 0
                elif ff_use > 0:
                    q = max(50 - ff_use, 33)
                else:
                    q = max(100 - pct // 10, 50)
        s1[k] = float(q)


@njit
def score_gpu_clustering(S, R, artifact, idx, cnt, s1):
    """Nodes running only the pod's GPU shape first, then mixed ones with it, then empty, then
    others; within a tier the least free milli-GPU (the FGD artifact's GpuClustering;
    ``artifact``: its Go integer arithmetic).
    """
    node_gpu_start, node_gpu_count, node_affinity, gpu_free = S[9], S[10], S[11], S[13]
    r_tag = R[11]
    tag_bit = U1 << np.uint64(max(r_tag, 0))
    for k in range(cnt):
        if r_tag < 0:
            s1[k] = 0.0
            continue
        n = idx[k]
        left = free_milli(gpu_free, node_gpu_start[n], node_gpu_count[n])
        mask = node_affinity[n]
        if mask == tag_bit:
            tier = 3
        elif (mask & tag_bit) != 0:
            tier = 2
        elif mask == 0:
            tier = 1
        else:
            tier = 0
        if artifact:  # Go integer arithmetic, truncating toward zero
            num = 25 * (8000 - left)
            q = num // 8000 if num >= 0 else -((-num) // 8000)
            s1[k] = float(q + 25 * tier)
        else:
            s1[k] = float(tier * 8000 + 8000 - left)


@njit
def score_fgd(S, R, T, cache_val, cache_ver, qw, idx, cnt, buf, s1):
    """FGD: the decrease of each node's fragmentation against the target workload `T`
    (`fgd_plain` for whole, fractional and CPU-only pods, `fgd_node` for replicas and MIG).
    """
    node_model, node_cpu_free, node_gpu_start, node_gpu_count = S[3], S[5], S[9], S[10]
    node_version, gpu_free = S[12], S[13]
    r_cpu, r_gpus, r_milli, r_sharing = R[0], R[2], R[3], R[7]
    t_int = T[0]
    for k in range(cnt):
        n = idx[k]
        if r_sharing == SHARING_NONE:
            sc, _g = fgd_plain(
                n,
                node_cpu_free,
                node_gpu_start,
                node_gpu_count,
                node_model,
                node_version,
                gpu_free,
                t_int,
                cache_val,
                cache_ver,
                buf,
                r_cpu,
                r_gpus,
                r_milli,
                qw,
            )
        else:
            sc, _g = fgd_node(n, S, R, T, cache_val, cache_ver, buf)
        s1[k] = sc


@njit
def best_node(idx, cnt, s1, s2, draw, u1):
    """The node with the best score: the first with the highest ``(s1, s2)``; with ``draw``, one
    of the nodes with the highest `s1`, drawn uniformly with `u1` (kube-scheduler's selectHost).
    """
    best = 0
    for k in range(1, cnt):
        if s1[k] > s1[best] or (not draw and s1[k] == s1[best] and s2[k] > s2[best]):
            best = k
    if not draw:
        return idx[best]
    top = s1[best]
    ties = 0
    for k in range(cnt):
        if s1[k] == top:
            ties += 1
    j = min(int(u1 * ties), ties - 1)
    for k in range(cnt):
        if s1[k] == top:
            if j == 0:
                return idx[k]
            j -= 1
    return idx[best]


@njit
def place_one(policy, artifact, u1, u2, S, R, T, cache_val, cache_ver, max_g, out, cand):
    """Choose the node (and GPUs, MIG start) for one pod: returns (node, mig_start), node -1 if none.

    `feasible_nodes` lists the nodes of `cand` (see there) that can take the pod, the policy's
    score function (`score_nodes` dispatches on the kernel id `registry.POLICY_REGISTRY` declares)
    scores them, and
    `best_node` keeps the first best. ``artifact`` (FGD-paper policies only) rounds scores to
    the Kubernetes 0-100 integers as the FGD artifact does and picks uniformly (with `u1`) among
    the nodes sharing the best score, like kube-scheduler's selectHost, instead of exact scores
    with lowest-index ties. `random` picks uniformly among all feasible nodes; `first-fit` takes
    the first.
    """
    idx = np.empty(1 if policy == FIRST_FIT else cand.shape[0], dtype=np.int64)
    cnt = feasible_nodes(S, R, policy == FIRST_FIT, idx, cand, policy != RANDOM and not artifact)
    return place_among(policy, artifact, u1, u2, S, R, T, cache_val, cache_ver, max_g, out, idx, cnt)


@njit
def place_among(policy, artifact, u1, u2, S, R, T, cache_val, cache_ver, max_g, out, idx, cnt):
    """`place_one` once the feasible nodes are known: ``idx[:cnt]``, in index order."""
    if cnt == 0:
        return -1, -1
    buf = np.empty(max(max_g, 1), dtype=np.int64)
    qw = fgd_weight(policy, artifact, T)
    if policy == FIRST_FIT or policy == RANDOM:
        s1 = s2 = np.empty(0, dtype=np.float64)
    else:
        s1 = np.empty(cnt, dtype=np.float64)
        s2 = np.empty(cnt, dtype=np.float64) if policy == BEST_FIT else s1  # s1 as s2: ties stay ties
        score_nodes(policy, artifact, S, R, T, cache_val, cache_ver, qw, idx, cnt, buf, s1, s2)
    return choose(policy, artifact, u1, u2, S, R, T, cache_val, cache_ver, qw, buf, out, idx, cnt, s1, s2)


@njit
def fgd_weight(policy, artifact, T):
    """The FGD artifact's total integer weight of the target workload (0 unless FGD at artifact fidelity)."""
    qw = 0.0
    if policy == FGD and artifact:
        for t in range(T[0].shape[0]):
            qw += T[0][t, 4]
    return qw


@njit
def score_nodes(policy, artifact, S, R, T, cache_val, cache_ver, qw, idx, cnt, buf, s1, s2):
    """The policy's scores of the nodes ``idx[:cnt]`` into ``s1[:cnt]`` (and ``s2``, best-fit's second
    key); dispatched on the kernel id `registry.POLICY_REGISTRY` declares. Each node's score reads
    only that node (and the request), so a score stays valid until its node changes.
    """
    if policy == BEST_FIT:
        score_best_fit(S, R, idx, cnt, s1, s2)
    elif policy == SPREAD:
        score_spread(S, R, idx, cnt, s1)
    elif policy == DOT_PRODUCT:
        score_dot_product(S, R, artifact, idx, cnt, s1)
    elif policy == WEIGHTED_BEST_FIT:
        score_weighted_best_fit(S, R, artifact, idx, cnt, s1)
    elif policy == GPU_PACKING:
        score_gpu_packing(S, R, idx, cnt, buf, s1)
    elif policy == GPU_CLUSTERING:
        score_gpu_clustering(S, R, artifact, idx, cnt, s1)
    elif policy == FGD:
        score_fgd(S, R, T, cache_val, cache_ver, qw, idx, cnt, buf, s1)


@njit
def choose(policy, artifact, u1, u2, S, R, T, cache_val, cache_ver, qw, buf, out, idx, cnt, s1, s2):
    """The node among ``idx[:cnt]`` (``cnt > 0``) with the best scores ``s1, s2`` (`score_nodes`; unread
    by first-fit and random), its GPUs written to `out`: returns (node, mig_start).
    """
    r_gpus, r_milli, r_sharing = R[2], R[3], R[7]
    if policy == FIRST_FIT:
        best = idx[0]
    elif policy == RANDOM:
        best = idx[min(int(u1 * cnt), cnt - 1)]
    else:
        best = best_node(idx, cnt, s1, s2, artifact, u1)
    if policy == FGD and r_gpus == 1 and r_sharing == SHARING_NONE and r_milli < MILLI:
        sc, g = fgd_plain(
            best, S[5], S[9], S[10], S[3], S[12], S[13], T[0], cache_val, cache_ver, buf, R[0], r_gpus, r_milli, qw
        )
        out[0] = g
        return best, -1
    ms = select_gpus(best, policy, u2, S, R, out)
    return best, ms


@njit
def pack_sequence(
    policy,
    artifact,
    S,
    node_pods,
    node_gpus_idle,
    tag_counts,
    cpu,
    mem,
    gpus,
    milli,
    model_mask,
    tag,
    u1s,
    u2s,
    T,
    cache_val,
    cache_ver,
    max_g,
    placed,
):
    """Place pods one after another (whole or fractional GPUs), binding each success in place.

    The FGD packing experiment's inner loop: pod i is placed with `place_one` and bound like
    `ClusterState.bind`; ``placed[i]`` gets its node or -1. No departures.
    """
    (
        node_state,
        node_labels,
        node_taints,
        node_model,
        node_sharing,
        node_cpu_free,
        node_mem_free,
        node_cpu_total,
        node_mem_total,
        node_gpu_start,
        node_gpu_count,
        node_affinity,
        node_version,
        gpu_free,
        gpu_tenants,
        gpu_ts_cap,
        gpu_mig_mem,
        gpu_mig_comp,
        node_pods_,
        node_shape,
        node_idle,
        room,
    ) = S
    out = np.empty(max(max_g, 1), dtype=np.int64)
    zero = np.uint64(0)
    every = np.arange(node_state.shape[0])
    for i in range(cpu.shape[0]):
        R = (
            cpu[i],
            mem[i],
            gpus[i],
            milli[i],
            model_mask[i],
            zero,
            zero,
            np.int64(0),
            np.int64(0),
            np.int64(0),
            np.int64(0),
            tag[i],
        )
        n, ms = place_one(policy, artifact, u1s[i], u2s[i], S, R, T, cache_val, cache_ver, max_g, out, every)
        placed[i] = n
        if n < 0:
            continue
        room[n >> ROOM_BLOCK_SHIFT, 0] = -1  # as ClusterState.bind marks it
        node_cpu_free[n] -= cpu[i]
        node_mem_free[n] -= mem[i]
        node_pods[n] += 1
        node_version[n] += 1
        if tag[i] >= 0:
            tag_counts[n, tag[i]] += 1
            node_affinity[n] |= U1 << np.uint64(tag[i])
        for j in range(gpus[i]):
            g = out[j]
            if gpu_tenants[g] == 0:
                node_gpus_idle[n] -= 1
            gpu_tenants[g] += 1
            gpu_free[g] -= milli[i]


@njit
def _same_row(ints, masks, gpu_mem, i):
    """Whether gang pod ``i`` asks for exactly what pod ``i - 1`` asked for."""
    for c in range(ints.shape[1]):
        if ints[i, c] != ints[i - 1, c]:
            return False
    for c in range(masks.shape[1]):
        if masks[i, c] != masks[i - 1, c]:
            return False
    return gpu_mem[i] == gpu_mem[i - 1]


@njit
def _drop_at(idx, s1, s2, two, cnt, p):
    """Remove entry `p` of ``idx[:cnt]`` and of its scores ``s1`` (and ``s2`` when `two`, else ``s2`` is
    ``s1``) keeping the order; return the new count.
    """
    for j in range(p, cnt - 1):
        idx[j] = idx[j + 1]
        s1[j] = s1[j + 1]
        if two:
            s2[j] = s2[j + 1]
    return cnt - 1


@njit
def _insert_at(idx, s1, s2, two, cnt, p, node, v1, v2):
    """Insert `node` with scores (v1, v2) at entry `p` of ``idx[:cnt]`` keeping the order (the arrays
    have room: they are as long as the candidates); return the new count.
    """
    for j in range(cnt, p, -1):
        idx[j] = idx[j - 1]
        s1[j] = s1[j - 1]
        if two:
            s2[j] = s2[j - 1]
    idx[p] = node
    s1[p] = v1
    if two:
        s2[p] = v2
    return cnt + 1


@njit
def _next_alike(cand, after, node_state, node_pods, node_shape, sh):
    """The first ready node with no pods and shape `sh` in ``cand`` after position `after`, or -1."""
    for j in range(after + 1, cand.shape[0]):
        m = cand[j]
        if node_state[m] == NODE_READY and node_pods[m] == 0 and node_shape[m] == sh:
            return m
    return -1


@njit
def gang_sequence(policy, S, node_pods, node_gpus_idle, tag_counts, gpu_mem_committed, ints, masks, gpu_mem, T,
                  cache_val, cache_ver, max_g, cand, out_nodes, out_gpus, out_mig):  # fmt: skip
    """A gang's pods (whole or fractional GPUs) placed one after another with `place_one`, each bound
    like `ClusterState.bind` so later pods see it, then every bind undone in reverse order like
    `ClusterState.release` (node versions bumped by both, as there). Returns how many pods were
    placed before the first that fits nowhere (all of them on success); pod i's node, GPUs and MIG
    start are written to ``out_nodes[i]``, ``out_gpus[i, :gpus]``, ``out_mig[i]``. Policies that draw
    no random numbers only (`u1 = u2 = 0`).

    ``ints[i]``: (cpu, mem, gpus, milli, sharing, mig_compute, mig_memory, mig_starts_mask,
    affinity_tag); ``masks[i]``: (model mask, selector, tolerations); ``gpu_mem[i]``: GPU memory MiB.
    ``cand``: the nodes every pod is looked for among (`feasible_nodes`).
    """
    node_cpu_free, node_mem_free, node_affinity, node_version, gpu_free, gpu_tenants, room = (
        S[5], S[6], S[11], S[12], S[13], S[14], S[21],
    )  # fmt: skip
    out = np.empty(max(max_g, 1), dtype=np.int64)
    buf = np.empty(max(max_g, 1), dtype=np.int64)
    qw = fgd_weight(policy, False, T)
    k = ints.shape[0]
    placed = 0
    idx = np.empty(cand.shape[0], dtype=np.int64)
    two = policy == BEST_FIT
    s1 = np.empty(cand.shape[0], dtype=np.float64)
    s2 = np.empty(cand.shape[0], dtype=np.float64) if two else s1
    t1 = np.empty(1, dtype=np.float64)
    t2 = np.empty(1, dtype=np.float64) if two else t1
    one = np.empty(1, dtype=np.int64)
    at = np.empty(1, dtype=np.int64)
    cnt = 0
    for i in range(k):
        R = (
            ints[i, 0], ints[i, 1], ints[i, 2], ints[i, 3], masks[i, 0], masks[i, 1], masks[i, 2],
            ints[i, 4], ints[i, 5], ints[i, 6], ints[i, 7], ints[i, 8],
        )  # fmt: skip
        if policy == FIRST_FIT:
            n, ms = place_one(policy, False, 0.0, 0.0, S, R, T, cache_val, cache_ver, max_g, out, cand)
        else:
            # Feasibility and scores are per node and binding pod i-1 changed only its node: the
            # same request's feasible nodes and scores are the last ones with that node's again.
            prev = out_nodes[i - 1] if i > 0 else -1
            if prev < 0 or not _same_row(ints, masks, gpu_mem, i):
                cnt = feasible_nodes(S, R, False, idx, cand, True)
                score_nodes(policy, False, S, R, T, cache_val, cache_ver, qw, idx, cnt, buf, s1, s2)
            else:
                at[0] = prev
                p = np.searchsorted(idx[:cnt], prev)  # idx is in index order and holds prev
                if feasible_in(S, R, False, one, at, 0, 1, False) == 0:
                    cnt = _drop_at(idx, s1, s2, two, cnt, p)
                else:
                    score_nodes(policy, False, S, R, T, cache_val, cache_ver, qw, at, 1, buf, t1, t2)
                    s1[p] = t1[0]
                    s2[p] = t2[0]
                shapes = S[19]
                if node_pods[prev] == 1 and R[2] > 0 and R[7] == SHARING_NONE and shapes[prev] < 64:
                    # prev was empty and stood for the empty nodes added alike (`feasible_in`): the
                    # next of them stands for them now
                    m = _next_alike(cand, np.searchsorted(cand, prev), S[0], node_pods, shapes, shapes[prev])
                    if m >= 0:
                        at[0] = m
                        if feasible_in(S, R, False, one, at, 0, 1, False) == 1:
                            score_nodes(policy, False, S, R, T, cache_val, cache_ver, qw, at, 1, buf, t1, t2)
                            q = np.searchsorted(idx[:cnt], m)
                            cnt = _insert_at(idx, s1, s2, two, cnt, q, m, t1[0], t2[0])
            if cnt == 0:
                break
            n, ms = choose(policy, False, 0.0, 0.0, S, R, T, cache_val, cache_ver, qw, buf, out, idx, cnt, s1, s2)
        if n < 0:
            break
        out_nodes[i] = n
        out_mig[i] = ms
        room[n >> ROOM_BLOCK_SHIFT, 0] = -1  # a pod on it now: count the block again
        node_cpu_free[n] -= ints[i, 0]
        node_mem_free[n] -= ints[i, 1]
        node_pods[n] += 1
        node_version[n] += 1
        tag = ints[i, 8]
        if tag >= 0:
            tag_counts[n, tag] += 1
            node_affinity[n] |= U1 << np.uint64(tag)
        for j in range(ints[i, 2]):
            g = out[j]
            out_gpus[i, j] = g
            if gpu_tenants[g] == 0:
                node_gpus_idle[n] -= 1
            gpu_tenants[g] += 1
            gpu_mem_committed[g] += gpu_mem[i]
            gpu_free[g] -= ints[i, 3]
        placed += 1
    for i in range(placed - 1, -1, -1):
        n = out_nodes[i]
        room[n >> ROOM_BLOCK_SHIFT, 0] = -1  # room given back: count the block again
        node_cpu_free[n] += ints[i, 0]
        node_mem_free[n] += ints[i, 1]
        node_pods[n] -= 1
        node_version[n] += 1
        tag = ints[i, 8]
        if tag >= 0:
            tag_counts[n, tag] -= 1
            if tag_counts[n, tag] == 0:
                node_affinity[n] &= ~(U1 << np.uint64(tag))
        for j in range(ints[i, 2]):
            g = out_gpus[i, j]
            gpu_tenants[g] -= 1
            gpu_mem_committed[g] -= gpu_mem[i]
            gpu_free[g] += ints[i, 3]
            if gpu_tenants[g] == 0:
                node_gpus_idle[n] += 1
    return placed
