from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHARED_TRACES = ROOT.parent / "shared" / "traces"


def small_scenario(**over) -> dict:
    """A tiny valid scenario as a dict; keyword arguments replace top-level keys."""
    base = {
        "name": "tiny",
        "seed": 1,
        "duration": "2h",
        "cluster": {
            "node_pools": [
                {
                    "name": "gpu",
                    "count": 2,
                    "gpu_model": "nvidia-a100-80gb",
                    "gpus_per_node": 4,
                    "vcpu": 32,
                    "memory": "256Gi",
                }
            ]
        },
        "workloads": [
            {
                "name": "train",
                "pod": {"resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"nvidia.com/gpu": 1}}},
                "generator": {
                    "arrival": {"process": "poisson", "rate": "10/h"},
                    "gpus": {"distribution": "choice", "values": [1, 2, 4]},
                    "duration": {"distribution": "exponential", "mean": "30m"},
                },
            }
        ],
    }
    base.update(over)
    return base


@pytest.fixture
def tiny():
    return small_scenario()


def gpu_pool(**over) -> dict:
    """One pool of 8-GPU A100 nodes (a dict for `small_scenario`'s cluster); keyword arguments replace keys."""
    return {"name": "gpu", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 64,
            "memory": "512Gi", **over}  # fmt: skip


def trace_workload(csv, pod_limits=None, columns=None) -> dict:
    """A training workload read from the generic trace `csv` (columns t, d, p, g by default)."""
    return {
        "name": "t",
        "pod": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": pod_limits or {"nvidia.com/gpu": 1}}},
        "trace": {"format": "generic", "path": str(csv),
                  "columns": columns or {"arrival": "t", "duration": "d", "num_pods": "p", "gpus": "g"}},
    }  # fmt: skip
