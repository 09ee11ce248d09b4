"""Placement: choose a node (and its GPUs) for a pod, or say it is unschedulable.

One entry point, `place(state, request, policy, rng)`, is what the engine calls. Policies are
declared once in `registry.POLICY_REGISTRY` (name, kernel id, reference twin, paper name) and
dispatched by name through `POLICIES`; each is a function
``(state: ClusterState, req: PodRequest, rng: numpy.random.Generator) -> Placement | None``
running a compiled kernel (`_kernels.py`): one feasibility pass, then the policy's score pass.
Ties always break on the lowest node index, then the lowest GPU index, so results never depend
on iteration order or threads. `reference.REFERENCE_POLICIES` holds the plain-Python twin of
every policy; see `reference.py` for what each policy prefers.

`place_gang` places the pods of a multi-pod job all together or not at all.

FGD needs the workload it defends against: set ``state.set_target_workload(TargetWorkload...)``
(from `gpusim.placement.fgd`); without one it uses the pod being placed as the only shape.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

import numpy as np

from gpusim.cluster.state import SHARING_NONE, ClusterState, Placement, PodRequest
from gpusim.placement import _kernels as K
from gpusim.placement import reference
from gpusim.placement.fgd import TargetWorkload
from gpusim.placement.registry import KERNEL_ID, POLICY_REGISTRY, Policy, paper_policies

PolicyFn = Callable[[ClusterState, PodRequest, np.random.Generator], Placement | None]

POLICY_IDS: dict[str, int] = dict(KERNEL_ID)
"""Policy name -> kernel id (from `registry.POLICY_REGISTRY`, where every policy is declared)."""

_EMPTY_T = (np.zeros((0, 5), np.int64), np.zeros(0, np.float64))
_NO_CACHE = (np.zeros(0, np.int64), np.zeros(0, np.int64))
_U64 = 0xFFFFFFFFFFFFFFFF


def state_arrays(state: ClusterState) -> tuple:
    """The cluster arrays a kernel reads, in the order `_kernels` documents as ``S``."""
    s = state
    return (
        s.node_state, s.node_labels, s.node_taints, s.node_gpu_model, s.node_sharing,
        s.node_cpu_free, s.node_mem_free, s.node_cpu_total, s.node_mem_total,
        s.node_gpu_start, s.node_gpu_count, s.node_affinity, s.node_version,
        s.gpu_free_milli, s.gpu_tenants, s.gpu_ts_capacity, s.gpu_mig_mem_used,
        s.gpu_mig_compute_used, s.node_pods, s.node_shape, s.node_gpus_idle, s.room,
    )  # fmt: skip


@lru_cache(maxsize=4096)
def request_tuple(req: PodRequest) -> tuple:
    """The request as fixed-dtype scalars (``R`` in `_kernels`)."""
    i = np.int64
    return (
        i(req.cpu_milli), i(req.memory_mib), i(req.gpus), i(req.gpu_milli),
        np.uint64(req.gpu_model_mask & _U64), np.uint64(req.selector_mask & _U64),
        np.uint64(req.toleration_mask & _U64), i(req.sharing), i(req.mig_compute),
        i(req.mig_memory), i(req.mig_starts_mask), i(req.affinity_tag),
    )  # fmt: skip


def fgd_inputs(state: ClusterState, req: PodRequest) -> tuple[tuple, np.ndarray, np.ndarray]:
    """Typical-pod arrays and the per-node fragmentation cache of the state's target workload."""
    workload = state.target_workload
    if workload is None:
        return (
            TargetWorkload.single(req).arrays,
            np.zeros(state.n_nodes, dtype=np.int64),
            np.full(state.n_nodes, -1, dtype=np.int64),
        )
    key = id(workload)
    entry = state._derived_caches.get(key)
    if entry is None or entry[0] is not workload:
        entry = (workload, np.zeros(state.n_nodes, dtype=np.int64), np.full(state.n_nodes, -1, dtype=np.int64))
        state._derived_caches[key] = entry
    _, val, ver = entry
    if len(val) != state.n_nodes:  # nodes were added: grow the cache, new nodes unknown
        val = np.concatenate([val, np.zeros(state.n_nodes - len(val), dtype=np.int64)])
        ver = np.concatenate([ver, np.full(state.n_nodes - len(ver), -1, dtype=np.int64)])
        state._derived_caches[key] = (workload, val, ver)
    return workload.arrays, val, ver


def candidates(state: ClusterState, req: PodRequest) -> np.ndarray:
    """The nodes the kernels look for room for `req` among: those not gone that pass the one static
    predicate (`ClusterState.static_fit_nodes`: selector, taints, GPU model and sharing mode), in
    index order. A node never changes those, so the list is kept per static request and made again
    only when nodes were added or a node changed state (`ClusterState.node_states_version`); a pod
    asking for one pool's nodes is then looked for among that pool's live nodes, not every node
    ever created.
    """
    gpu = req.gpus > 0
    key = ("candidates", gpu, req.gpu_model_mask if gpu else 0, req.selector_mask, req.toleration_mask,
           req.sharing if gpu else 0)  # fmt: skip
    stamp = (state.n_nodes, state.node_states_version)
    hit = state._derived_caches.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    cand = state.static_fit_nodes(req).astype(np.int64)
    state._derived_caches[key] = (stamp, cand)
    return cand


def draws_on_every_attempt(policy: str, fidelity: str = "exact") -> bool:
    """Whether `place` draws random numbers even when no node can take the pod (`random`, and the
    artifact fidelity): a filter that skipped more hopeless attempts would change what it draws.
    """
    return POLICY_IDS.get(policy) == K.RANDOM or fidelity == "artifact"


def _gang_candidates(state: ClusterState, reqs: list[PodRequest]) -> np.ndarray:
    """`candidates` of a gang's pods: one list when its pods ask alike (a gang is one request
    repeated), else each distinct request's, merged.
    """
    distinct = {id(r): r for r in reqs}.values()  # looked up once per request, not once per pod
    lists = list({id(c): c for c in (candidates(state, r) for r in distinct)}.values())
    return lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists))


def _max_gpus_per_node(state: ClusterState) -> int:
    return state.max_gpus_per_node


FIDELITIES = ("exact", "artifact")


def _place_kernel(
    state: ClusterState,
    req: PodRequest,
    rng: np.random.Generator | None,
    *,
    policy: str,
    fidelity: str = "exact",
):
    pid = POLICY_IDS[policy]
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {FIDELITIES}, not {fidelity!r}")
    artifact = fidelity == "artifact"
    u1 = u2 = 0.0
    if draws_on_every_attempt(policy, fidelity):
        u1, u2 = (float(x) for x in rng.random(2))
    if state.n_nodes == 0:
        return None
    if pid == K.FGD:
        t, cache_val, cache_ver = fgd_inputs(state, req)
    else:
        t, (cache_val, cache_ver) = _EMPTY_T, _NO_CACHE
    out = np.empty(max(req.gpus, 1), dtype=np.int64)
    node, mig = K.place_one(
        pid, artifact, u1, u2, state_arrays(state), request_tuple(req), t, cache_val, cache_ver,
        state.max_gpus_per_node, out, candidates(state, req),
    )  # fmt: skip
    if node < 0:
        return None
    return Placement(int(node), tuple(out[: req.gpus].tolist()), int(mig))


POLICIES: dict[str, PolicyFn] = {name: partial(_place_kernel, policy=name) for name in POLICY_IDS}


def policy_names() -> list[str]:
    return sorted(POLICY_REGISTRY)


def place(
    state: ClusterState, req: PodRequest, policy: str, rng: np.random.Generator, *, fidelity: str = "exact"
) -> Placement | None:
    """Return where `req` goes under `policy`, or None if no ready node can take it now.

    Does not change the state; the caller binds the placement with ``state.bind``.
    ``fidelity="artifact"`` reproduces the FGD artifact's scheduler for the paper's policies:
    scores rounded to Kubernetes' 0-100 integers and a uniform choice among the best-scoring
    nodes (one extra draw from `rng`), instead of exact scores with lowest-index ties.
    """
    try:
        fn = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown placement policy {policy!r}; known: {', '.join(policy_names())}") from None
    return fn(state, req, rng, fidelity=fidelity)


def place_gang(
    state: ClusterState, reqs: list[PodRequest], policy: str, rng: np.random.Generator
) -> list[Placement] | None:
    """Place all pods of a gang (multi-pod job) or none.

    Each pod is placed and tentatively bound in order, so later pods see the earlier ones; on
    the first pod that fits nowhere every tentative bind is rolled back and None is returned.
    On success the binds are rolled back too and the placements returned: the state is never
    left holding part of a gang, and the caller binds the returned placements in order (they
    are jointly feasible by construction).
    """
    pid = POLICY_IDS.get(policy)
    if (
        pid is not None
        and pid not in _GANG_SLOW_POLICIES
        and state.n_nodes
        and all(r.sharing == SHARING_NONE for r in reqs)
    ):
        return _place_gang_kernel(state, reqs, pid)
    done: list[tuple[PodRequest, Placement]] = []
    result: list[Placement] | None = []
    try:
        for req in reqs:
            p = place(state, req, policy, rng)
            if p is None:
                result = None
                break
            state.bind(req, p)
            done.append((req, p))
            result.append(p)
    finally:
        for req, p in reversed(done):
            state.release(req, p)
    return result


_GANG_SLOW_POLICIES = (K.RANDOM, K.FGD)
"""Policies whose gangs are placed pod by pod in Python: `random` draws numbers for every pod it
tries, FGD's target workload may be the pod being placed."""


def _place_gang_kernel(state: ClusterState, reqs: list[PodRequest], pid: int) -> list[Placement] | None:
    """`place_gang` for whole and fractional GPUs in one compiled call (`_kernels.gang_sequence`):
    the same placements, binds and rollbacks as the loop below, without a Python round trip per pod
    (release hooks only watch MIG pods, so skipping them here changes nothing).
    """
    k = len(reqs)
    ints = np.array([(r.cpu_milli, r.memory_mib, r.gpus, r.gpu_milli, r.sharing, r.mig_compute, r.mig_memory,
                      r.mig_starts_mask, r.affinity_tag) for r in reqs], dtype=np.int64)  # fmt: skip
    masks = np.array([(r.gpu_model_mask & _U64, r.selector_mask & _U64, r.toleration_mask & _U64) for r in reqs],
                     dtype=np.uint64)  # fmt: skip
    gpu_mem = np.array([r.gpu_memory_mib for r in reqs], dtype=np.int64)
    max_g = _max_gpus_per_node(state)
    out_nodes = np.full(k, -1, dtype=np.int64)
    out_gpus = np.zeros((k, max(max_g, 1)), dtype=np.int64)
    out_mig = np.full(k, -1, dtype=np.int64)
    s = state
    placed = K.gang_sequence(
        pid, state_arrays(s), s.node_pods, s.node_gpus_idle, s.node_tag_counts, s.gpu_mem_committed, ints, masks,
        gpu_mem, _EMPTY_T, _NO_CACHE[0], _NO_CACHE[1], max_g, _gang_candidates(s, reqs), out_nodes, out_gpus, out_mig,
    )  # fmt: skip
    nodes = out_nodes[:placed].tolist()
    for n in nodes:  # a bind and a release each, as ClusterState counts them
        s.pool_version[s.node_pool[n]] += 2
    if placed < k:
        return None
    gpus = out_gpus.tolist()
    mig = out_mig.tolist()
    return [Placement(n, tuple(gpus[i][: reqs[i].gpus]), mig[i]) for i, n in enumerate(nodes)]


def bind_gang(state: ClusterState, reqs: list[PodRequest], placements: list[Placement]) -> None:
    """Bind a gang's placements in order; all or nothing (rolls back if one bind raises)."""
    bound = []
    try:
        for req, p in zip(reqs, placements, strict=True):
            state.bind(req, p)
            bound.append((req, p))
    except Exception:
        for req, p in reversed(bound):
            state.release(req, p)
        raise


def fits_anywhere_empty(state: ClusterState, req: PodRequest) -> bool:
    """Could `req` fit on some node if that node were empty? (static feasibility)."""
    return reference.fits_empty(state, req)


__all__ = [
    "POLICIES",
    "POLICY_IDS",
    "POLICY_REGISTRY",
    "Policy",
    "paper_policies",
    "TargetWorkload",
    "bind_gang",
    "fits_anywhere_empty",
    "place",
    "place_gang",
    "policy_names",
]
