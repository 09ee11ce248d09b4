"""Control-plane speed: SimPy events per second on a larger synthetic scenario, and the
quickstart's wall time in a fresh process (cold: first run after install, compiles and caches;
warm: second run). Prints numbers; not a test.

    python benchmarks/bench_engine.py [--nodes 100] [--days 7]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def large_scenario(nodes: int, days: float, policy: str) -> dict:
    gpus = nodes * 8
    # ~75% offered load: rate * E[gpus] * E[duration] = 0.75 * gpus
    mean_gpus = 0.5 * 1 + 0.25 * 2 + 0.15 * 4 + 0.1 * 8
    mean_h = 1.0
    rate_per_h = 0.75 * gpus / (mean_gpus * mean_h)
    return {
        "name": "bench-large",
        "seed": 1,
        "duration": f"{days}d",
        "drain": True,
        "cluster": {
            "node_pools": [
                {
                    "name": "gpu",
                    "count": nodes,
                    "gpu_model": "nvidia-h100-80gb",
                    "gpus_per_node": 8,
                    "vcpu": 192,
                    "memory": "2Ti",
                }
            ]
        },
        "workloads": [
            {
                "name": "jobs",
                "pod": {"resources": {"requests": {"cpu": "4", "memory": "32Gi"}, "limits": {"nvidia.com/gpu": 1}}},
                "generator": {
                    "arrival": {"process": "poisson", "rate": rate_per_h / 3600},
                    "gpus": {"distribution": "choice", "values": [1, 2, 4, 8], "weights": [0.5, 0.25, 0.15, 0.1]},
                    "duration": {"distribution": "exponential", "mean": f"{mean_h}h"},
                },
            }
        ],
        "scheduler": {"policy": policy},
        "output": {"timeseries_interval": "1m"},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--days", type=float, default=7)
    args = ap.parse_args()

    import gpusim

    for policy in ("first-fit", "best-fit"):
        s = large_scenario(args.nodes, args.days, policy)
        t0 = time.perf_counter()
        r = gpusim.simulate(s)
        wall = time.perf_counter() - t0
        info = r.run_info
        print(
            f"{policy:10s} {args.nodes} nodes x 8 GPUs, {args.days:g} days: {r.summary['jobs_arrived']} jobs, "
            f"{info['events']} events in {wall:.2f} s -> {info['events'] / wall:,.0f} events/s "
            f"(utilisation {r.summary['gpu_utilisation']:.1%})"
        )

    # inference end to end: synthetic Poisson traffic, HPA + Cluster Autoscaler, per-15 s windows
    svc = {
        "name": "bench-inference", "seed": 1, "duration": "6h",
        "cluster": {"node_pools": [{"name": "gpu", "count": 2, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 8,
                                    "vcpu": 192, "memory": "2Ti", "node_type": "aws-p5.48xlarge",
                                    "autoscaling": {"min": 1, "max": 20}}]},
        "workloads": [{"type": "inference", "name": "svc", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
                       "model": {"service_time": {"distribution": "exponential", "mean": "200ms"}},
                       "arrivals": {"process": {"process": "diurnal", "mean_rate": 200, "period": "6h", "amplitude": 0.8}},
                       "replicas": 8, "concurrency": 4, "routing": "least-outstanding", "slo": {"latency": "1s"},
                       "autoscaling": {"hpa": {"min_replicas": 2, "max_replicas": 120,
                                               "metrics": [{"name": "concurrency", "target": 3}]}}}],
    }  # fmt: skip
    gpusim.simulate({**svc, "duration": "10m"})  # compile
    t0 = time.perf_counter()
    r = gpusim.simulate(svc)
    wall = time.perf_counter() - t0
    s = r.summary
    print(
        f"inference 6 h diurnal, HPA + CA: {s['requests']:,} requests in {wall:.2f} s -> "
        f"{s['requests'] / wall:,.0f} simulated requests/s of wall time "
        f"(replicas up to {r.services['ready_replicas'].max()}, nodes added {s['nodes_added']}, SLO {s['slo_attainment']:.1%})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        for label in ("first", "second"):
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gpusim.cli",
                    "run",
                    str(ROOT / "scenarios/quickstart.yaml"),
                    "--quiet",
                    "--out",
                    f"{tmp}/q",
                ],
                check=True,
                capture_output=True,
            )
            print(f"quickstart via CLI, {label} run: {time.perf_counter() - t0:.2f} s wall")


if __name__ == "__main__":
    main()
