"""Data-plane benchmark: compiled kernel vs one SimPy process per request, and memory vs request count.

    python benchmarks/bench_dataplane.py            # speed ratio + memory for 1M / 10M / 100M requests
    python benchmarks/bench_dataplane.py --quick    # speed ratio + memory for 1M / 10M

1. Speed: the same M/M/c workload (c servers, rho = 0.9, shared FCFS queue) served by a plain SimPy
   model (a process per request holding a `simpy.Resource`) and by `DataPlane.serve` in windows;
   both get pre-drawn arrival and service times, so only the queueing is timed. Prints requests/s of
   each, the ratio, and both mean waits against Erlang-C as a sanity check.
2. Memory: N requests streamed through `serve` in windows (arrivals drawn per window), each size
   in a fresh subprocess; prints peak RSS (resource.getrusage) and the tracemalloc peak of the
   Python-visible allocations. Memory should not grow with N.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import simpy

from gpusim.dataplane import DataPlane

C, MU, RHO = 8, 1.0, 0.9
LAM = RHO * C * MU


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


def draw(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1.0 / LAM, n)), rng.exponential(1.0 / MU, n)


def run_simpy(arrivals: np.ndarray, work: np.ndarray) -> tuple[float, float]:
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=C)
    waits = []

    def request(w):
        t = env.now
        with servers.request() as req:
            yield req
            waits.append(env.now - t)
            yield env.timeout(w)

    def source():
        last = 0.0
        for a, w in zip(arrivals.tolist(), work.tolist(), strict=True):
            yield env.timeout(a - last)
            last = a
            env.process(request(w))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0, float(np.mean(waits))


def run_dataplane(arrivals: np.ndarray, work: np.ndarray, window_s: float) -> tuple[float, float]:
    dp = DataPlane(C, 1, "shared-queue")
    for _ in range(C):
        dp.add_replica(0.0)
    horizon = arrivals[-1] + 1.0
    cuts = np.arange(window_s, horizon + window_s, window_s)
    idx = np.searchsorted(arrivals, np.concatenate([[0.0], cuts]))
    wait_sum, served = 0.0, 0
    t0 = time.perf_counter()
    for k, t_end in enumerate(cuts):
        m = dp.serve(arrivals[idx[k] : idx[k + 1]], work[idx[k] : idx[k + 1]], float(t_end))
        wait_sum += m.wait.sum_s
        served += m.served
    m = dp.serve(arrivals[:0], work[:0], float(cuts[-1]) + 1e6)  # drain
    wait_sum += m.wait.sum_s
    served += m.served
    elapsed = time.perf_counter() - t0
    assert served == len(arrivals) and dp.conservation_gap() == 0
    return elapsed, wait_sum / served


def speed(n_simpy: int, n_dp: int, repeats: int = 3) -> dict:
    """Best of `repeats` timings of each (a shared machine only ever slows a run down)."""
    DataPlane(1).serve(np.zeros(0), np.zeros(0), 0.0)  # load the compiled kernels first
    arr_s, work_s = draw(n_simpy, 1)
    runs = [run_simpy(arr_s, work_s) for _ in range(repeats)]
    t_simpy, w_simpy = min(r[0] for r in runs), runs[0][1]
    arr_d, work_d = draw(n_dp, 2)
    out = {"simpy_rps": n_simpy / t_simpy, "erlang_c_wait_s": erlang_c_wait(C, LAM, MU), "simpy_wait_s": w_simpy}
    for window_s in (1.0, 15.0, 300.0):
        runs = [run_dataplane(arr_d, work_d, window_s) for _ in range(repeats)]
        out[f"dataplane_rps_window_{window_s:g}s"] = n_dp / min(r[0] for r in runs)
        out[f"dataplane_wait_s_window_{window_s:g}s"] = runs[0][1]
    return out


def memory_child(n_total: int, window_s: float) -> dict:
    """Stream n_total M/M/c requests through serve in windows; report peak memory."""
    dp = DataPlane(C, 1, "shared-queue")
    for _ in range(C):
        dp.add_replica(0.0)
    dp.serve(np.zeros(0), np.zeros(0), 0.0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    rng = np.random.default_rng(3)
    t, done = 0.0, 0
    t0 = time.perf_counter()
    lat = None
    while done < n_total:
        n = min(int(rng.poisson(LAM * window_s)), n_total - done)
        a = t + np.sort(rng.random(n)) * window_s
        m = dp.serve(a, rng.exponential(1.0 / MU, n), t + window_s)
        lat = m.latency if lat is None else lat + m.latency  # merged histogram, fixed size
        done += n
        t += window_s
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "requests": done,
        "seconds": elapsed,
        "requests_per_s": done / elapsed,
        "tracemalloc_peak_mib": peak / 2**20,
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mib": rss_before / 1024,
        "p99_latency_s": lat.quantile(0.99),
        "mean_latency_s": lat.mean,
        "heap_capacity": int(dp._hf.shape[0]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="memory for 1M and 10M only")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--window", type=float, default=60.0, help="window length for the memory runs (s)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(memory_child(args.child, args.window)))
        return

    n_simpy, n_dp = 200_000, 2_000_000
    print(f"M/M/{C}, rho={RHO}, shared FCFS queue; SimPy {n_simpy:,} requests, data plane {n_dp:,} (best of 3)")
    s = speed(n_simpy, n_dp)
    print(f"  Erlang-C mean wait {s['erlang_c_wait_s']:.4f} s; SimPy {s['simpy_wait_s']:.4f} s")
    print(f"  SimPy, one process per request: {s['simpy_rps']:>12,.0f} requests/s")
    for window_s in (1.0, 15.0, 300.0):
        r = s[f"dataplane_rps_window_{window_s:g}s"]
        print(
            f"  DataPlane.serve, {window_s:>5g} s windows ({LAM * window_s:>6,.0f} req/window): {r:>12,.0f} requests/s"
            f"  = {r / s['simpy_rps']:6.0f} x SimPy   (mean wait {s[f'dataplane_wait_s_window_{window_s:g}s']:.4f} s)"
        )

    sizes = [1_000_000, 10_000_000] + ([] if args.quick else [100_000_000])
    print(
        f"\nMemory, requests streamed through serve in {args.window:g} s windows "
        f"({LAM * args.window:,.0f} requests/window), one subprocess per size:"
    )
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--window", str(args.window)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {r['requests']:>12,} requests: {r['seconds']:7.1f} s ({r['requests_per_s']:,.0f}/s), "
            f"peak RSS {r['rss_peak_mib']:7.1f} MiB (after import+compile {r['rss_before_mib']:.1f}), "
            f"tracemalloc peak {r['tracemalloc_peak_mib']:6.2f} MiB, heap rows {r['heap_capacity']}, "
            f"p99 {r['p99_latency_s']:.3f} s"
        )


if __name__ == "__main__":
    main()
