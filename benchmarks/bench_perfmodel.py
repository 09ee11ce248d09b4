"""Throughput of the performance model on the calls the engine makes per request.

    python benchmarks/bench_perfmodel.py [N]

Prints requests per second for the vectorised LLM service time (one call per control-plane
window with all of its requests) and for scalar calls (one per request), plus catalog load time.
"""

import sys
import time

import numpy as np

from gpusim.hardware import load_catalog
from gpusim.hardware import performance as P


def main(n: int = 1_000_000) -> None:
    t0 = time.perf_counter()
    catalog = load_catalog()
    t_load = time.perf_counter() - t0
    gpu = catalog.gpu("nvidia-h100-80gb")
    share = P.mig_share(gpu.mig.profile("3g.40gb"))
    rng = np.random.default_rng(0)
    prompt = rng.integers(1, 4096, n)
    out = rng.integers(1, 1024, n)
    batch = rng.integers(1, 64, n)

    t0 = time.perf_counter()
    times = P.llm_service_times_s(gpu, 8, prompt, out, batch, share)
    t_vec = time.perf_counter() - t0
    assert times.shape == (n,)

    m = min(n, 20_000)
    t0 = time.perf_counter()
    for i in range(m):
        P.llm_service_time_s(gpu, 8, int(prompt[i]), int(out[i]), int(batch[i]), share)
    t_scalar = (time.perf_counter() - t0) / m

    print(f"catalog load (first, uncached): {t_load * 1e3:.1f} ms")
    print(f"vectorised llm_service_times_s: {n / t_vec:,.0f} requests/s ({n:,} requests in {t_vec:.3f} s)")
    print(f"scalar llm_service_time_s:      {1 / t_scalar:,.0f} calls/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
