"""Plain-Python placement policies: the obviously-correct references.

They walk the `ClusterState` node by node with ordinary Python, one small function per rule. The
compiled kernels in `_kernels.py` must return exactly what these return on any cluster and
request (the tests check it on random clusters), including the float scores: both sides use
the same IEEE double operations in the same order (numba runs with fastmath off).

Policies (higher score wins, ties keep the lowest node index, then the lowest GPU index):

- ``first-fit``: the lowest-index node that fits.
- ``best-fit``: bin-packing: the fewest free milli-GPU left on the node, then the least CPU left
  (CPU-only pods: least CPU, then memory left).
- ``spread``: Kubernetes' default least-allocated scoring: the most free CPU and memory fraction
  left, equally weighted.
- ``random``: uniform among feasible nodes, from one uniform draw (and one more for the GPU of a
  fractional share).
- ``dot-product`` (Tetris; the FGD artifact's DotProd with ``merge`` dimensions and ``max``
  normalisation): the least dot product of the node's free (CPU, GPU) and the pod's request,
  both divided by (128 CPUs, 8 GPUs).
- ``weighted-best-fit`` (the FGD artifact's BestFit): the least ``0.5 cpu_left/128000 +
  0.5 gpu_left/8000`` after placement.
- ``gpu-packing`` (artifact's GpuPacking, integer scores): prefer already shared GPUs, then idle
  GPUs on used nodes, then idle nodes with few GPUs.
- ``gpu-clustering`` (artifact's GpuClustering): prefer nodes running only pods of the same GPU
  shape (share / k whole GPUs), then mixed nodes including it, then idle nodes, then others;
  within a tier the fewest free GPUs.
- ``fgd``: fragmentation gradient descent against the state's target workload.

The artifact rounds scores to the Kubernetes 0-100 integers and breaks ties at random; here
scores keep full precision and ties break on the lowest index (reproducible, thread-free).
"""

from __future__ import annotations

import math

import numpy as np

from gpusim.cluster.state import (
    MIG_SLICE_MILLI,
    MILLI,
    NODE_GONE,
    SHARING_MIG,
    SHARING_NONE,
    SHARING_TIMESLICE,
    ClusterState,
    Placement,
    PodRequest,
    mig_masks,
)
from gpusim.placement.registry import POLICY_REGISTRY

MAX_SPEC_CPU = 128000.0
MAX_SPEC_GPU = 8000.0


# ---------------------------------------------------------------------------- filter
def _node_gpus(state: ClusterState, node: int) -> range:
    start = int(state.node_gpu_start[node])
    return range(start, start + int(state.node_gpu_count[node]))


def mig_start_for(req: PodRequest, mem_used: int, comp_used: int) -> int:
    """Lowest allowed start where the MIG instance fits beside the used slices, or -1."""
    for s in range(8):
        if not (req.mig_starts_mask >> s) & 1 or s + req.mig_memory > 8:
            continue
        mem, comp = mig_masks(req.mig_compute, req.mig_memory, s)
        if not (mem & mem_used) and not (comp & comp_used):
            return s
    return -1


def gpus_fit(state: ClusterState, node: int, req: PodRequest) -> bool:
    """Do the node's GPUs have room for the request right now?"""
    gpus = _node_gpus(state, node)
    if req.sharing == SHARING_NONE:
        if req.gpu_milli >= MILLI:
            return sum(1 for g in gpus if state.gpu_free_milli[g] == MILLI) >= req.gpus
        return any(state.gpu_free_milli[g] >= req.gpu_milli for g in gpus)
    if req.sharing == SHARING_TIMESLICE:
        return sum(int(state.gpu_ts_capacity[g]) - int(state.gpu_tenants[g]) for g in gpus) >= req.gpus
    return any(
        mig_start_for(req, int(state.gpu_mig_mem_used[g]), int(state.gpu_mig_compute_used[g])) >= 0 for g in gpus
    )


def fits(state: ClusterState, node: int, req: PodRequest) -> bool:
    """Filter one node: static constraints, CPU and memory, and GPU room."""
    if not state.node_eligible(node, req):
        return False
    if state.node_cpu_free[node] < req.cpu_milli or state.node_mem_free[node] < req.memory_mib:
        return False
    return req.gpus == 0 or gpus_fit(state, node, req)


# ---------------------------------------------------------------------------- GPU choice
def gpus_for(
    state: ClusterState, node: int, req: PodRequest, *, u2: float | None = None
) -> tuple[tuple[int, ...], int] | None:
    """(GPUs, MIG start) the pod takes on `node`, or None if they do not fit.

    Whole GPUs: the lowest-index idle ones. A fractional share: the fitting GPU with the least
    free milli-GPU (lowest index on ties), or, given the uniform `u2` (policy random), the
    ``floor(u2 * k)``-th of the k fitting GPUs. Time-slice replicas: each from the GPU with the
    most free replicas (distinct GPUs while they last, like the NVIDIA device plugin's
    distributed allocation). MIG: the GPU with the most memory slices used that still fits, at
    its lowest free allowed start.
    """
    if req.gpus == 0:
        return (), -1
    gpus = list(_node_gpus(state, node))
    free = {g: int(state.gpu_free_milli[g]) for g in gpus}
    if req.sharing == SHARING_NONE:
        if req.gpu_milli >= MILLI:
            idle = [g for g in gpus if free[g] == MILLI]
            return (tuple(idle[: req.gpus]), -1) if len(idle) >= req.gpus else None
        fitting = [g for g in gpus if free[g] >= req.gpu_milli]
        if not fitting:
            return None
        if u2 is not None:
            return (fitting[min(int(u2 * len(fitting)), len(fitting) - 1)],), -1
        return (min(fitting, key=lambda g: (free[g], g)),), -1
    if req.sharing == SHARING_TIMESLICE:
        slots = {g: int(state.gpu_ts_capacity[g]) - int(state.gpu_tenants[g]) for g in gpus}
        chosen = []
        for _ in range(req.gpus):
            g = max(gpus, key=lambda g: (slots[g], -g))
            if slots[g] <= 0:
                return None
            slots[g] -= 1
            chosen.append(g)
        return tuple(chosen), -1
    best = None
    for g in gpus:
        mem_used = int(state.gpu_mig_mem_used[g])
        st = mig_start_for(req, mem_used, int(state.gpu_mig_compute_used[g]))
        if st >= 0 and (best is None or mem_used.bit_count() > best[2]):
            best = (g, st, mem_used.bit_count())
    return None if best is None else ((best[0],), best[1])


# ---------------------------------------------------------------------------- scores
def _free_total(state: ClusterState, node: int) -> int:
    return sum(int(state.gpu_free_milli[g]) for g in _node_gpus(state, node))


def score_best_fit(state, n, req) -> tuple[float, float]:
    cpu_left = int(state.node_cpu_free[n]) - req.cpu_milli
    if req.gpus:
        return -float(_free_total(state, n) - req.gpus * req.gpu_milli), -float(cpu_left)
    return -float(cpu_left), -float(int(state.node_mem_free[n]) - req.memory_mib)


def score_spread(state, n, req) -> tuple[float, float]:
    ct, mt = int(state.node_cpu_total[n]), int(state.node_mem_total[n])
    a = (int(state.node_cpu_free[n]) - req.cpu_milli) / ct if ct > 0 else 0.0
    b = (int(state.node_mem_free[n]) - req.memory_mib) / mt if mt > 0 else 0.0
    return 0.5 * a + 0.5 * b, 0.0


def score_dot_product(state, n, req) -> tuple[float, float]:
    cpu, left, total = int(state.node_cpu_free[n]), _free_total(state, n), req.gpus * req.gpu_milli
    dot = (cpu / MAX_SPEC_CPU) * (req.cpu_milli / MAX_SPEC_CPU) + (left / MAX_SPEC_GPU) * (total / MAX_SPEC_GPU)
    return -dot, 0.0


def score_weighted_best_fit(state, n, req) -> tuple[float, float]:
    cpu_left = int(state.node_cpu_free[n]) - req.cpu_milli
    gpu_left = _free_total(state, n) - req.gpus * req.gpu_milli
    return -(cpu_left / MAX_SPEC_CPU * 0.5 + gpu_left / MAX_SPEC_GPU * 0.5), 0.0


def score_gpu_packing(state, n, req) -> tuple[float, float]:
    if req.gpus == 0:
        return 0.0, 0.0
    free = [int(state.gpu_free_milli[g]) for g in _node_gpus(state, n)]
    need_milli = req.gpu_milli if req.sharing == SHARING_NONE else 1
    idle = sum(1 for f in free if f == MILLI)
    if idle == len(free):  # case 3: an idle node, fewer GPUs first
        return float(max(33 - idle, idle)), 0.0
    used = [f for f in sorted(free) if need_milli <= f][: req.gpus]
    if len(used) < req.gpus:
        return 0.0, 0.0
    idle_used = sum(1 for f in used if f == MILLI)
    if idle_used:  # case 2: idle GPUs of a used node
        return float(max(50 - idle_used, 33)), 0.0
    pct = sum(f * 100 // MILLI for f in used)  # case 1: shared GPUs, fuller first
    return float(max(100 - pct // 10, 50)), 0.0


def _clustering_tier(state, n, tag) -> int:
    mask = int(state.node_affinity[n])
    if mask == 1 << tag:
        return 3  # only pods of the same shape
    if mask & (1 << tag):
        return 2  # mixed, including the same shape
    if mask == 0:
        return 1  # no GPU pods yet
    return 0


def score_gpu_clustering(state, n, req) -> tuple[float, float]:
    tag = req.affinity_tag
    if tag < 0:
        return 0.0, 0.0
    return float(_clustering_tier(state, n, tag) * 8000 + 8000 - _free_total(state, n)), 0.0


# ---------------------------------------------------------------------------- FGD
def frag_amount(cpu_left: int, free: list[int], model: int, workload) -> int:
    """Free milli-GPU of one node the target workload cannot use, weighted by pod counts (fgd.py).

    Integer weights (the typical pods' counts) keep the sum exact, so equal fragmentation
    compares equal; divide by ``workload.weight.sum()`` for the paper's expected milli-GPU.
    """
    total = sum(free)
    if total == 0:
        return 0
    frag = 0
    for t in range(len(workload)):
        w = int(workload.weight[t])
        k = int(workload.gpus[t])
        mask = int(workload.model_mask[t])
        if k == 0 or model < 0 or (mask and not (mask >> model) & 1):
            frag += w * total
            continue
        m = int(workload.gpu_milli[t])
        hostable = sum(1 for x in free if x >= m) >= k and cpu_left >= int(workload.cpu_milli[t])
        frag += w * (sum(x for x in free if x < m) if hostable else total)
    return frag


def _free_after(state: ClusterState, n: int, req: PodRequest, chosen: tuple[int, ...], mig_start: int) -> list[int]:
    gpus = list(_node_gpus(state, n))
    free = {g: int(state.gpu_free_milli[g]) for g in gpus}
    if req.sharing == SHARING_NONE:
        for g in chosen:
            free[g] -= req.gpu_milli
    elif req.sharing == SHARING_TIMESLICE:
        for g in set(chosen):
            tenants = int(state.gpu_tenants[g]) + chosen.count(g)
            free[g] = MILLI - (MILLI * tenants) // int(state.gpu_ts_capacity[g])
    elif chosen:
        free[chosen[0]] -= MIG_SLICE_MILLI * req.mig_memory
    return [free[g] for g in gpus]


def fgd_node(state: ClusterState, n: int, req: PodRequest, workload) -> tuple[float, tuple[int, ...], int]:
    """FGD score of node n (fragmentation decrease; higher is better) and the GPUs it implies."""
    model = int(state.node_gpu_model[n])
    gpus = list(_node_gpus(state, n))
    free = [int(state.gpu_free_milli[g]) for g in gpus]
    before = frag_amount(int(state.node_cpu_free[n]), free, model, workload)
    cpu_after = int(state.node_cpu_free[n]) - req.cpu_milli
    if req.gpus == 1 and req.sharing == SHARING_NONE and req.gpu_milli < MILLI:
        best = None
        for i, g in enumerate(gpus):  # try each GPU with room; the first best one wins
            if free[i] < req.gpu_milli:
                continue
            after = list(free)
            after[i] -= req.gpu_milli
            sc = before - frag_amount(cpu_after, after, model, workload)
            if best is None or sc > best[0]:
                best = (sc, (g,))
        return float(best[0]), best[1], -1
    chosen, ms = gpus_for(state, n, req)
    after = _free_after(state, n, req, chosen, ms)
    return float(before - frag_amount(cpu_after, after, model, workload)), chosen, ms


def target_workload(state: ClusterState, req: PodRequest):
    from gpusim.placement.fgd import TargetWorkload

    return state.target_workload if state.target_workload is not None else TargetWorkload.single(req)


# ---------------------------------------------------------------------------- policies
def _argmax(state, req, score) -> Placement | None:
    best, best_score = None, None
    for n in range(state.n_nodes):
        if not fits(state, n, req):
            continue
        s = score(state, n, req)
        if best_score is None or s > best_score:
            best, best_score = n, s
    if best is None:
        return None
    chosen, ms = gpus_for(state, best, req)
    return Placement(best, chosen, ms)


# ---------------------------------------------------------------------------- artifact fidelity
def q_dot_product(state, n, req) -> float:
    """DotProd as the artifact scores it: int64(100 (1 - dot / 2))."""
    cpu, left, total = int(state.node_cpu_free[n]), _free_total(state, n), req.gpus * req.gpu_milli
    dot = (cpu / MAX_SPEC_CPU) * (req.cpu_milli / MAX_SPEC_CPU) + (left / MAX_SPEC_GPU) * (total / MAX_SPEC_GPU)
    return float(int(100.0 * (1.0 - dot / 2.0)))


def q_weighted_best_fit(state, n, req) -> float:
    """BestFit as the artifact scores it: int64(100 (1 - weighted leftover))."""
    cpu_left = int(state.node_cpu_free[n]) - req.cpu_milli
    gpu_left = _free_total(state, n) - req.gpus * req.gpu_milli
    return float(int((1.0 - (cpu_left / MAX_SPEC_CPU * 0.5 + gpu_left / MAX_SPEC_GPU * 0.5)) * 100.0))


def q_gpu_clustering(state, n, req) -> float:
    """GpuClustering in the artifact's integer arithmetic: 25 tier + 25 (8000 - left) / 8000."""
    if req.affinity_tag < 0:
        return 0.0
    num = 25 * (8000 - _free_total(state, n))
    q = num // 8000 if num >= 0 else -((-num) // 8000)  # Go truncates toward zero
    return float(q + 25 * _clustering_tier(state, n, req.affinity_tag))


def q_fgd(delta: int, total_weight: float) -> int:
    """The artifact's FGD score: int64(sigmoid(fragmentation decrease / 1000) * 100)."""
    return int(100.0 / (1.0 + math.exp(-(delta / total_weight) / 1000.0)))


def _fgd_node_artifact(state, n, req, workload, total_weight):
    if not (req.gpus == 1 and req.sharing == SHARING_NONE and req.gpu_milli < MILLI):
        sc, chosen, ms = fgd_node(state, n, req, workload)
        if req.sharing == SHARING_NONE:
            sc = float(q_fgd(int(sc), total_weight))
        return sc, chosen, ms
    model = int(state.node_gpu_model[n])
    gpus = list(_node_gpus(state, n))
    free = [int(state.gpu_free_milli[g]) for g in gpus]
    before = frag_amount(int(state.node_cpu_free[n]), free, model, workload)
    best = None
    for i, g in enumerate(gpus):  # first GPU reaching the best integer score
        if free[i] < req.gpu_milli:
            continue
        after = list(free)
        after[i] -= req.gpu_milli
        sc = q_fgd(
            before - frag_amount(int(state.node_cpu_free[n]) - req.cpu_milli, after, model, workload), total_weight
        )
        if best is None or sc > best[0]:
            best = (sc, (g,))
    return float(best[0]), best[1], -1


def artifact_place(state: ClusterState, req: PodRequest, policy: str, u1: float, u2: float) -> Placement | None:
    """The FGD artifact's choice: integer 0-100 scores, uniform among the best-scoring nodes.

    Only the paper's policies change (dot-product, weighted-best-fit, gpu-packing (already
    integer), gpu-clustering, fgd for whole/fractional GPUs); others keep their exact primary
    score but also draw among ties.
    """
    if policy == "first-fit":
        return first_fit(state, req, None)
    feasible = [n for n in range(state.n_nodes) if fits(state, n, req)]
    if not feasible:
        return None
    if policy == "random":
        n = feasible[min(int(u1 * len(feasible)), len(feasible) - 1)]
        chosen, ms = gpus_for(state, n, req, u2=u2)
        return Placement(n, chosen, ms)
    workload = target_workload(state, req) if policy == "fgd" else None
    total_weight = float(sum(int(w) for w in workload.weight)) if workload is not None else 0.0
    scored = []
    for n in feasible:
        if policy == "fgd":
            sc, chosen, ms = _fgd_node_artifact(state, n, req, workload, total_weight)
            scored.append((sc, n, (chosen, ms)))
            continue
        score = {
            "dot-product": q_dot_product,
            "weighted-best-fit": q_weighted_best_fit,
            "gpu-clustering": q_gpu_clustering,
            "gpu-packing": lambda st, k, r: score_gpu_packing(st, k, r)[0],
            "best-fit": lambda st, k, r: score_best_fit(st, k, r)[0],
            "spread": lambda st, k, r: score_spread(st, k, r)[0],
        }[policy]
        scored.append((score(state, n, req), n, None))
    top = max(sc for sc, _, _ in scored)
    ties = [(n, extra) for sc, n, extra in scored if sc == top]
    n, extra = ties[min(int(u1 * len(ties)), len(ties) - 1)]
    if policy == "fgd" and req.gpus == 1 and req.sharing == SHARING_NONE and req.gpu_milli < MILLI:
        return Placement(n, extra[0], -1)
    chosen, ms = gpus_for(state, n, req)
    return Placement(n, chosen, ms)


def _with_fidelity(policy: str, exact):
    def fn(state: ClusterState, req: PodRequest, rng, fidelity: str = "exact") -> Placement | None:
        if fidelity == "artifact":
            u1, u2 = rng.random(2)
            return artifact_place(state, req, policy, float(u1), float(u2))
        return exact(state, req, rng)

    fn.__name__ = exact.__name__
    fn.__doc__ = exact.__doc__
    return fn


def first_fit(state: ClusterState, req: PodRequest, rng: np.random.Generator) -> Placement | None:
    """The lowest-index node that fits."""
    for n in range(state.n_nodes):
        if fits(state, n, req):
            chosen, ms = gpus_for(state, n, req)
            return Placement(n, chosen, ms)
    return None


def best_fit(state, req, rng):
    return _argmax(state, req, score_best_fit)


def spread(state, req, rng):
    return _argmax(state, req, score_spread)


def dot_product(state, req, rng):
    return _argmax(state, req, score_dot_product)


def weighted_best_fit(state, req, rng):
    return _argmax(state, req, score_weighted_best_fit)


def gpu_packing(state, req, rng):
    return _argmax(state, req, score_gpu_packing)


def gpu_clustering(state, req, rng):
    return _argmax(state, req, score_gpu_clustering)


def random_fit(state: ClusterState, req: PodRequest, rng: np.random.Generator) -> Placement | None:
    """Uniform among feasible nodes: u1 picks the node, u2 the GPU of a fractional share."""
    u1, u2 = rng.random(2)
    feasible = [n for n in range(state.n_nodes) if fits(state, n, req)]
    if not feasible:
        return None
    n = feasible[min(int(u1 * len(feasible)), len(feasible) - 1)]
    chosen, ms = gpus_for(state, n, req, u2=float(u2))
    return Placement(n, chosen, ms)


def fgd(state: ClusterState, req: PodRequest, rng: np.random.Generator) -> Placement | None:
    """Fragmentation gradient descent: the node (and GPU) whose fragmentation grows least."""
    workload = target_workload(state, req)
    best = None
    for n in range(state.n_nodes):
        if not fits(state, n, req):
            continue
        sc, chosen, ms = fgd_node(state, n, req, workload)
        if best is None or sc > best[0]:
            best = (sc, Placement(n, chosen, ms))
    return None if best is None else best[1]


REFERENCE_POLICIES = {name: _with_fidelity(name, globals()[p.reference]) for name, p in POLICY_REGISTRY.items()}
"""Policy name -> its plain-Python twin (the registry names the function)."""


# ---------------------------------------------------------------------------- static feasibility
def fits_empty(state: ClusterState, req: PodRequest) -> bool:
    """Could the pod fit some node (any state but gone) if that node were empty?"""
    for n in range(state.n_nodes):
        if state.node_state[n] == NODE_GONE or not state.static_fit(n, req):
            continue
        if state.node_cpu_total[n] < req.cpu_milli or state.node_mem_total[n] < req.memory_mib:
            continue
        if req.gpus:
            if req.sharing == SHARING_NONE and state.node_gpu_count[n] < req.gpus:
                continue
            if (
                req.sharing == SHARING_TIMESLICE
                and sum(int(state.gpu_ts_capacity[g]) for g in _node_gpus(state, n)) < req.gpus
            ):
                continue
            if req.sharing == SHARING_MIG and (state.node_gpu_count[n] == 0 or mig_start_for(req, 0, 0) < 0):
                continue
        return True
    return False
