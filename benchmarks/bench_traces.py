"""Throughput of the trace readers (rows/s) and arrival generators (arrivals/s).

A plain script, not a test: ``python benchmarks/bench_traces.py [--rows N]``. Besides the shipped
files it writes a synthetic Azure-format file of N rows (default 2,000,000) in a temporary folder
to measure the chunked reader at a size where per-call overhead does not dominate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _synthetic_azure(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    t0 = np.datetime64("2024-05-10T00:00:00", "ns")
    gaps = rng.exponential(0.05, rows)
    ts = t0 + (np.cumsum(gaps) * 1e9).astype("timedelta64[ns]")
    text = np.datetime_as_string(ts, unit="ns")
    # Seven fractional digits, space separator, as the 2023 files write them.
    stamps = np.char.replace(np.char.add(np.char.ljust(text, 29).astype("U29"), ""), "T", " ")
    stamps = np.array([s[:27] for s in stamps])
    prompt = rng.integers(1, 8000, rows)
    out = rng.integers(1, 500, rows)
    with open(path, "w") as fh:
        fh.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for i in range(0, rows, 100_000):
            block = [
                f"{s},{p},{o}"
                for s, p, o in zip(stamps[i : i + 100_000], prompt[i : i + 100_000], out[i : i + 100_000], strict=True)
            ]
            fh.write("\n".join(block) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the synthetic Azure file")
    args = ap.parse_args()

    from gpusim.traces import generators as g
    from gpusim.traces.azure_llm import iter_azure_llm, read_azure_llm
    from gpusim.traces.openb import read_openb_nodes, read_openb_pods

    print("readers (rows/s, best of 3)")
    azure = "shipped:azure-llm-2023/AzureLLMInferenceTrace_"
    openb = "shipped:alibaba-gpu-v2023/openb_"
    cases = [
        ("azure-llm code (shipped)", lambda: read_azure_llm(azure + "code.csv"), 8819),
        ("azure-llm conv (shipped)", lambda: read_azure_llm(azure + "conv.csv"), 19366),
        ("openb pods default (shipped)", lambda: read_openb_pods(openb + "pod_list_default.csv"), 8152),
        ("openb nodes gpu (shipped)", lambda: read_openb_nodes(openb + "node_list_gpu_node.csv"), 1213),
    ]
    for name, fn, n in cases:
        dt = _best(fn)
        print(f"  {name:40s} {n / dt:14,.0f} rows/s")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "azure_synthetic.csv"
        _synthetic_azure(path, args.rows)

        def chunked() -> None:
            for _ in iter_azure_llm(path, chunk_rows=1_000_000):
                pass

        dt = _best(chunked, repeat=2)
        print(f"  {f'azure-llm synthetic, chunked ({args.rows} rows)':40s} {args.rows / dt:14,.0f} rows/s")

    print("generators (arrivals/s, best of 3; about 1e6 arrivals each)")
    T = 100_000.0
    gens = [
        ("poisson", lambda r: g.poisson(r, 10.0, 0.0, T)),
        ("gamma cv=4", lambda r: g.gamma_renewal(r, 10.0, 4.0, 0.0, T)),
        ("mmpp on/off", lambda r: g.mmpp(r, [50.0, 0.0], [20.0, 80.0], 0.0, T)),
        ("diurnal sinusoid", lambda r: g.diurnal(r, 10.0, 0.0, T)),
        (
            "flash crowd",
            lambda r: g.flash_crowd(r, 8.0, 400.0, 5000.0, 0.0, T, ramp_s=60, decay_s=600),
        ),
    ]
    for name, fn in gens:
        rng = np.random.default_rng(0)
        n = len(fn(rng))
        dt = _best(lambda fn=fn, rng=rng: fn(rng))
        print(f"  {name:40s} {n / dt:14,.0f} arrivals/s  ({n:,} arrivals)")


if __name__ == "__main__":
    main()
