"""Placement speed: compiled kernel vs plain-Python reference, and placements per second.

Run: ``python benchmarks/bench_placement.py [--quick] [--against REV]``. Prints plain numbers
(not a test).

1. Speed ratio reference / kernel for every policy on a 10,000-GPU cluster (1,250 nodes of
   8 GPUs, half full), per call of the public `place()` (so the kernel figure includes Python
   dispatch), and per call of the bare kernel.
2. Placements per second of `place()` on 1,000, 10,000 and 60,000 GPUs per policy, with the
   cluster half full (random openb-like pods), placing without binding so the state is steady.
3. With ``--against REV`` (a git revision, e.g. ``main``): the bare kernel of this tree against
   `_kernels.py` as it is at REV, loaded side by side in this process, on the same clusters and
   pods, exact and artifact fidelity: placements per second of each and the speed ratio
   (this / REV, the median over ABBA-interleaved rounds of CPU time, so load from other
   processes cancels). Both must place every pod alike (checked). Target: no policy and size
   below ~0.9.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from gpusim import placement
from gpusim.cluster.state import ClusterState
from gpusim.placement import (
    POLICY_IDS,
    _kernels,
    fgd_inputs,
    place,
    policy_names,
    request_tuple,
    state_arrays,
)
from gpusim.placement.fgd import TargetWorkload
from gpusim.placement.reference import REFERENCE_POLICIES

SHAPES = [  # (cpu, memory, gpus, milli): openb-like mix
    (4000, 16384, 1, 500), (8000, 30000, 1, 1000), (12000, 48000, 1, 460), (3000, 5600, 1, 250),
    (16000, 65536, 2, 1000), (32000, 131072, 4, 1000), (64000, 262144, 8, 1000), (6000, 12288, 0, 1000),
]  # fmt: skip


def build(n_gpus: int, rng: np.random.Generator) -> tuple[ClusterState, list]:
    state = ClusterState()
    state.add_nodes("g2", n_gpus // 8 - 1, cpu_milli=96000, memory_mib=393216, gpus=8, gpu_model="G2")
    # the last node carries a label: first-fit's worst case (only it matches) walks every node
    state.add_nodes("g2", 1, cpu_milli=96000, memory_mib=393216, gpus=8, gpu_model="G2", labels={"slot": "last"})
    reqs = [state.make_request(cpu_milli=c, memory_mib=m, gpus=g, gpu_milli=ml) for c, m, g, ml in SHAPES]
    state.set_target_workload(TargetWorkload.from_requests(reqs, popularity=1.0))
    target = 0.5 * n_gpus * 1000
    while state.gpu_milli_allocated() < target:  # fill to half with random pods
        req = reqs[int(rng.integers(len(reqs)))]
        p = place(state, req, "random", rng)
        if p is None:
            break
        state.bind(req, p)
    return state, reqs


def per_call(fn, n: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main(quick: bool = False) -> None:
    rng = np.random.default_rng(0)
    print("== kernel vs reference (10,000 GPUs, half full), seconds per placement ==")
    state, reqs = build(10_000, rng)
    ratios = []
    print(f"{'policy':18s} {'reference':>10s} {'place()':>10s} {'kernel':>10s} {'ratio':>7s} {'ratio(kernel)':>13s}")
    last = state.make_request(cpu_milli=1000, memory_mib=1000, gpus=1, gpu_milli=500, node_selector={"slot": "last"})
    for policy in policy_names() + ["first-fit (worst case)"]:
        req = last if policy.endswith("(worst case)") else reqs[0]
        policy = policy.split(" ")[0]
        r = per_call(partial(REFERENCE_POLICIES[policy], state, req, rng), 1 if quick else 3)
        k = per_call(partial(place, state, req, policy, rng), 20 if quick else 200)
        S, R = state_arrays(state), request_tuple(req)
        if policy == "fgd":
            t_arrays, cv, cr = fgd_inputs(state, req)
        else:
            t_arrays, cv, cr = (np.zeros((0, 5), np.int64), np.zeros(0)), np.zeros(0, np.int64), np.zeros(0, np.int64)
        out = np.empty(8, np.int64)
        pid = POLICY_IDS[policy]
        kb = per_call(
            partial(place_one, _kernels, pid, False, 0.3, 0.6, S, R, t_arrays, cv, cr, 8, out), 20 if quick else 200
        )
        ratios.append((policy, r / k))
        label = policy if req is reqs[0] else "first-fit (worst)"
        print(f"{label:18s} {r:10.2e} {k:10.2e} {kb:10.2e} {r / k:7.0f} {r / kb:13.0f}")
    best_case_ff = [x for p, x in ratios[:-1] if p != "first-fit"] + [ratios[-1][1]]
    print(f"min ratio via place() (first-fit in its worst case): {min(best_case_ff):.0f}x (target >= 100x)")

    print("\n== placements per second via place() (cluster half full, no bind) ==")
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 60_000]
    print(f"{'policy':18s} " + " ".join(f"{s:>10,d}" for s in sizes))
    states = {s: build(s, np.random.default_rng(s)) for s in sizes}
    for policy in policy_names():
        row = []
        for s in sizes:
            st, rq = states[s]
            cycle = itertools.cycle(rq)
            one = partial(lambda c, st, pol: place(st, next(c), pol, rng), cycle, st, policy)
            row.append(1.0 / per_call(one, 20 if quick else 100))
        print(f"{policy:18s} " + " ".join(f"{x:10,.0f}" for x in row))


def kernels_at(rev: str, tmp: Path):
    """`gpusim/placement/_kernels.py` as it is at git revision `rev`, imported as its own module."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{rev}:gpusim/placement/_kernels.py"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    name = "_kernels_at_" + "".join(c if c.isalnum() else "_" for c in rev)
    path = tmp / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # numba's cache looks the module up by name
    spec.loader.exec_module(mod)
    return mod


def kernel_calls(pid: int, st: ClusterState, reqs: list) -> list[tuple]:
    calls = []
    for req in reqs:
        if pid == POLICY_IDS["fgd"]:
            t, cv, cr = fgd_inputs(st, req)
        else:
            t, cv, cr = (np.zeros((0, 5), np.int64), np.zeros(0)), np.zeros(0, np.int64), np.zeros(0, np.int64)
        calls.append((request_tuple(req), t, cv, cr))
    return calls


def place_one(mod, pid, artifact, u1, u2, S, R, tt, cv, cr, max_g, out):
    """`mod.place_one` over every node (the bare kernel: kernels before the candidate lists, as a
    `--against` revision may have, take no `cand`)."""
    S = S[: _s_len(mod)]
    if not _takes_cand(mod):
        return mod.place_one(pid, artifact, u1, u2, S, R, tt, cv, cr, max_g, out)
    return mod.place_one(pid, artifact, u1, u2, S, R, tt, cv, cr, max_g, out, _every(S[0].shape[0]))


@lru_cache
def _takes_cand(mod) -> bool:
    return "cand" in inspect.signature(getattr(mod.place_one, "py_func", mod.place_one)).parameters


@lru_cache
def _s_len(mod) -> int:
    """How many cluster arrays `mod`'s kernels take as ``S`` (18 before the node shapes were added, 20
    before the idle-GPU counts, 21 before the room blocks)."""
    src = inspect.getsource(mod)
    return 22 if "count_block" in src else 21 if "node_idle" in src else 20 if "node_shape" in src else 18


@lru_cache
def _every(n: int) -> np.ndarray:
    return np.arange(n)


def cpu_per_call(mod, pid: int, artifact: bool, S: tuple, calls: list, reps: int, out: np.ndarray) -> float:
    t = time.process_time()
    for _ in range(reps):
        for R, tt, cv, cr in calls:
            place_one(mod, pid, artifact, 0.3, 0.6, S, R, tt, cv, cr, 8, out)
    return (time.process_time() - t) / (reps * len(calls))


def place_cpu_per_call(mod, st: ClusterState, reqs: list, policy: str, reps: int) -> float:
    """CPU seconds per `place()` call with `mod` as the kernel module `place` dispatches to."""
    saved, placement.K = placement.K, mod
    arrays = placement.state_arrays
    placement.state_arrays = lambda state: arrays(state)[: _s_len(mod)]
    try:
        rng = np.random.default_rng(0)
        t = time.process_time()
        for _ in range(reps):
            for req in reqs:
                place(st, req, policy, rng)
        return (time.process_time() - t) / (reps * len(reqs))
    finally:
        placement.K = saved
        placement.state_arrays = arrays


def abba(time_old, time_new, rounds: int) -> tuple[float, float, float]:
    """(best old s/call, best new s/call, median speed ratio old/new) over ABBA rounds."""
    t_old, t_new, ratios = [], [], []
    for _ in range(rounds):  # drift in the machine's load cancels within a round
        a1, b1, b2, a2 = time_old(), time_new(), time_new(), time_old()
        t_old += [a1, a2]
        t_new += [b1, b2]
        ratios.append((a1 + a2) / (b1 + b2))
    return min(t_old), min(t_new), statistics.median(ratios)


def against(rev: str, quick: bool) -> None:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 60_000]
    rounds = 3 if quick else 9
    states = {s: build(s, np.random.default_rng(s)) for s in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        old = kernels_at(rev, Path(tmp))
        for mode in ("exact", "artifact", "place()"):
            artifact = mode == "artifact"
            what = "place(), exact fidelity" if mode == "place()" else f"bare kernel, {mode} fidelity"
            print(f"\n== this tree vs {rev}: {what}, placements per second (CPU time) ==")
            print(f"{'policy':18s} {'GPUs':>7s} {rev + ' pl/s':>12s} {'this pl/s':>12s} {'ratio':>6s}")
            worst = None
            for policy in policy_names():
                pid = POLICY_IDS[policy]
                for s in sizes:
                    st, reqs = states[s]
                    S = state_arrays(st)
                    calls = kernel_calls(pid, st, reqs)
                    for R, tt, cv, cr in calls:  # compile, and check both place alike
                        out_a, out_b = np.full(8, -1, np.int64), np.full(8, -1, np.int64)
                        a = place_one(old, pid, artifact, 0.3, 0.6, S, R, tt, cv, cr, 8, out_a)
                        b = place_one(_kernels, pid, artifact, 0.3, 0.6, S, R, tt, cv, cr, 8, out_b)
                        if a != b or (a[0] >= 0 and not np.array_equal(out_a[: R[2]], out_b[: R[2]])):
                            raise SystemExit(f"{policy} at {s} GPUs: {rev} places {a} {out_a}, this tree {b} {out_b}")
                    reps = max(2, int(40_000 / s))
                    out = np.empty(8, np.int64)
                    if mode == "place()":
                        t_old, t_new, r = abba(
                            partial(place_cpu_per_call, old, st, reqs, policy, reps),
                            partial(place_cpu_per_call, _kernels, st, reqs, policy, reps),
                            rounds,
                        )
                    else:
                        t_old, t_new, r = abba(
                            partial(cpu_per_call, old, pid, artifact, S, calls, reps, out),
                            partial(cpu_per_call, _kernels, pid, artifact, S, calls, reps, out),
                            rounds,
                        )
                    worst = r if worst is None else min(worst, r)
                    print(f"{policy:18s} {s:7,d} {1 / t_old:12,.0f} {1 / t_new:12,.0f} {r:6.2f}", flush=True)
            print(f"lowest ratio: {worst:.2f} (target >= ~0.9)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--against", metavar="REV", help="also compare the bare kernel with _kernels.py at git revision REV"
    )
    args = ap.parse_args()
    main(args.quick)
    if args.against:
        against(args.against, args.quick)
