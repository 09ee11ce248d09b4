"""Random clusters and requests for the placement tests (plain builders + hypothesis strategies)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from gpusim.cluster.state import (
    MIG_COMPUTE_SLICES,
    SHARING_MIG,
    SHARING_NONE,
    SHARING_TIMESLICE,
    ClusterState,
    mig_masks,
    mig_valid_starts,
)
from gpusim.placement.fgd import TargetWorkload
from gpusim.placement.reference import REFERENCE_POLICIES

MODELS = ["T4", "A100", "V100"]
MIG_PROFILES = [(1, 1), (1, 2), (2, 2), (3, 4), (4, 4), (7, 8)]
POLICIES = sorted(REFERENCE_POLICIES)


def random_request(state: ClusterState, rng: np.random.Generator):
    """A random pod: CPU-only, whole GPUs, a fraction, time-slice replicas or a MIG instance."""
    kind = rng.integers(6)
    cpu = int(rng.choice([0, 500, 2000, 8000, 30000]))
    mem = int(rng.choice([0, 1000, 16000, 100000]))
    models = None
    if rng.random() < 0.2:
        models = list(rng.choice(MODELS + ["H100"], size=int(rng.integers(1, 3)), replace=False))
    selector = {"zone": str(rng.choice(["a", "b", "c"]))} if rng.random() < 0.15 else None
    tolerations = [{"key": "gpu", "operator": "Exists"}] if rng.random() < 0.5 else None
    common = dict(cpu_milli=cpu, memory_mib=mem, gpu_models=models, node_selector=selector, tolerations=tolerations)
    if kind == 0:
        return state.make_request(**common)
    if kind == 1:
        return state.make_request(gpus=int(rng.choice([1, 1, 2, 4])), **common)
    if kind in (2, 3):
        return state.make_request(gpus=1, gpu_milli=int(rng.choice([100, 250, 300, 500, 700, 999])), **common)
    if kind == 4:
        return state.make_request(gpus=int(rng.integers(1, 5)), sharing=SHARING_TIMESLICE, **common)
    c, m = MIG_PROFILES[int(rng.integers(len(MIG_PROFILES)))]
    return state.make_request(sharing=SHARING_MIG, mig_compute=c, mig_memory=m, **common)


def random_cluster(rng: np.random.Generator, max_pools: int = 5) -> ClusterState:
    """A small cluster of random pools (all sharing modes), partly filled by random pods."""
    state = ClusterState()
    for p in range(int(rng.integers(1, max_pools + 1))):
        sharing = int(rng.choice([SHARING_NONE, SHARING_NONE, SHARING_TIMESLICE, SHARING_MIG]))
        gpus = int(rng.choice([0, 1, 2, 4, 8]))
        state.add_nodes(
            f"pool{p}", int(rng.integers(1, 4)),
            cpu_milli=int(rng.choice([8000, 32000, 96000])),
            memory_mib=int(rng.choice([32000, 256000])),
            gpus=gpus, gpu_model=str(rng.choice(MODELS)) if gpus else None,
            labels={"zone": str(rng.choice(["a", "b"]))},
            taints=[("gpu", "present", "NoSchedule")] if rng.random() < 0.3 else None,
            sharing=sharing if gpus else SHARING_NONE,
            ts_replicas=int(rng.choice([2, 3, 4])),
        )  # fmt: skip
    if rng.random() < 0.2 and state.n_nodes > 1:
        state.node_state[int(rng.integers(state.n_nodes))] = 0  # provisioning: filtered out
    if rng.random() < 0.7:
        workload = [random_request(state, rng) for _ in range(int(rng.integers(1, 12)))]
        state.set_target_workload(TargetWorkload.from_requests(workload, popularity=float(rng.choice([0.6, 1.0]))))
    fill = REFERENCE_POLICIES["first-fit"]
    for _ in range(int(rng.integers(0, 25))):
        req = random_request(state, rng)
        p = fill(state, req, rng)
        if p is not None:
            state.bind(req, p)
    return state


@st.composite
def cluster_and_requests(draw, n_requests: int = 4):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    state = random_cluster(rng)
    return state, [random_request(state, rng) for _ in range(n_requests)], seed


def check_invariants(state: ClusterState, bound: list) -> None:
    """No milli-GPU, replica, MIG slice, CPU or memory double-booked; views agree with the pods."""
    assert (state.node_cpu_free >= 0).all() and (state.node_cpu_free <= state.node_cpu_total).all()
    assert (state.node_mem_free >= 0).all() and (state.node_mem_free <= state.node_mem_total).all()
    assert (state.gpu_free_milli >= 0).all() and (state.gpu_free_milli <= 1000).all()
    ts = state.gpu_ts_capacity > 0
    assert (state.gpu_tenants[ts] <= state.gpu_ts_capacity[ts]).all()
    mem = np.zeros(state.n_gpus, dtype=np.int64)
    comp = np.zeros(state.n_gpus, dtype=np.int64)
    milli = np.zeros(state.n_gpus, dtype=np.int64)
    tenants = np.zeros(state.n_gpus, dtype=np.int64)
    cpu = np.zeros(state.n_nodes, dtype=np.int64)
    for req, p in bound:
        cpu[p.node] += req.cpu_milli
        for g in p.gpus:
            assert state.gpu_node[g] == p.node
            tenants[g] += 1
            if req.sharing == SHARING_NONE:
                milli[g] += req.gpu_milli
        if req.sharing == SHARING_NONE:
            assert len(set(p.gpus)) == len(p.gpus)
        if req.sharing == SHARING_MIG:
            g = p.gpus[0]
            assert (
                p.mig_start in mig_valid_starts(req.mig_compute, req.mig_memory)
                or (req.mig_starts_mask >> p.mig_start) & 1
            )
            m, c = mig_masks(req.mig_compute, req.mig_memory, p.mig_start)
            assert not (mem[g] & m) and not (comp[g] & c), "MIG instances overlap"
            assert m < 256 and c < (1 << MIG_COMPUTE_SLICES)
            mem[g] |= m
            comp[g] |= c
    assert (state.node_cpu_total - state.node_cpu_free == cpu).all()
    assert (state.gpu_tenants == tenants).all()
    assert (state.gpu_mig_mem_used.astype(np.int64) == mem).all()
    assert (state.gpu_mig_compute_used.astype(np.int64) == comp).all()
    plain = state.node_sharing[state.gpu_node] == SHARING_NONE
    assert (1000 - state.gpu_free_milli[plain] == milli[plain]).all()


def check_whole_gpu_pods_as_reference(state: ClusterState, seed: int) -> None:
    """Pods of 1, 2, 4 and 8 whole GPUs: the kernels' feasible nodes are the reference's `fits`
    nodes, and every policy that draws no random numbers chooses as its reference does."""
    from gpusim.placement import K, candidates, place, policy_names, request_tuple, state_arrays
    from gpusim.placement.reference import fits

    for gpus in (1, 2, 4, 8):
        req = state.make_request(cpu_milli=1000, memory_mib=1024, gpus=gpus)
        cand = candidates(state, req)
        idx = np.empty(cand.shape[0], dtype=np.int64)
        cnt = K.feasible_nodes(state_arrays(state), request_tuple(req), False, idx, cand, False)
        assert idx[:cnt].tolist() == [n for n in range(state.n_nodes) if fits(state, n, req)], gpus
        for policy in (p for p in policy_names() if p != "random"):
            got = place(state, req, policy, np.random.default_rng(seed))
            assert got == REFERENCE_POLICIES[policy](state, req, np.random.default_rng(seed)), (policy, gpus)
