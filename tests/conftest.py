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
