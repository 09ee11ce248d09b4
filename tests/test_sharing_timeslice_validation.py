"""Time-slicing slowdown against published measurements of co-located jobs.

gpusim's model (gpusim/sim/engine.py, TimeSlicing.context_switch_overhead, default 0.2): with n
tenants active on a time-sliced GPU each runs at (1 - 0.2) / n of the GPU, so together they get
0.8 of what one job alone gets. Measurements:

* [S8] A100-80GB, Llama-3.1-8B on vLLM, 4 pods 4-way time-sliced against 1 pod: aggregate 38
  against 45 requests/s, 0.844 (damionas.com, "Time-slicing vs MIG for bursty LLM inference
  traffic on AKS GPU node pools"; /work/shared/catalog/hardware-facts.md 2.2).
* [S7] NVIDIA, A100, ASR+TTS+LLM voice pipeline on 2 GPUs: time-slicing 0.76 requests/s per GPU
  against 1.00 with MIG (developer.nvidia.com blog "Maximize AI infrastructure throughput by
  consolidating underutilized GPU workloads"; hardware-facts 2.2).
* Gavel (Narayanan et al., OSDI 2020; stanford-futuredata/gavel scheduler/oracle_throughputs.json,
  P100): two ResNet-50 training jobs on one GPU, batch 16: 5.665 and 5.619 iterations/s against
  8.108 alone (together 1.392x); batch 64: 1.628 and 1.649 against 2.038 (1.608x).
"""

from __future__ import annotations

import numpy as np
import pytest

import gpusim
from tests.conftest import SCENARIOS, small_scenario


def aggregate_speed(n: int, overhead: float | None = None) -> float:
    """Simulated throughput of n identical jobs sharing one time-sliced GPU, relative to one
    job alone: n x duration / time until all finish."""
    ts = {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}
    if overhead is not None:
        ts["context_switch_overhead"] = overhead
    data = small_scenario(
        cluster={
            "node_pools": [
                {
                    "name": "ts",
                    "count": 1,
                    "gpu_model": "nvidia-a100-80gb",
                    "gpus_per_node": 1,
                    "vcpu": 32,
                    "memory": "256Gi",
                    "sharing": {"timeSlicing": ts},
                }
            ]
        },  # fmt: skip
        workloads=[
            {
                "name": "w",
                "pod": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"nvidia.com/gpu": 1}}},
                "jobs": [{"arrival": 0.0, "duration": 3600.0} for _ in range(n)],
            }
        ],
        duration=100 * 3600.0,
        drain=True,
    )
    jobs = gpusim.simulate(data).jobs
    assert (jobs["start_s"] == 0).all() and jobs["gpu_ids"].nunique() == 1  # all on the one GPU at once
    return n * 3600.0 / float(jobs["end_s"].max())


def test_time_sliced_throughput_matches_inference_measurements():
    alone = aggregate_speed(1)
    assert alone == pytest.approx(1.0)  # a single tenant runs at full speed
    four = aggregate_speed(4)
    two = aggregate_speed(2)
    assert four == pytest.approx(0.8) and two == pytest.approx(0.8)
    # [S8]: 4-way time-slicing keeps 0.844 of the exclusive throughput
    assert abs(four - 38 / 45) / (38 / 45) < 0.10  # measured 5.2% low
    # [S7]: time-slicing 0.76 of MIG's per-GPU throughput on saturating inference tenants
    assert abs(two - 0.76) / 0.76 < 0.10  # measured 5.3% high


def test_overhead_parameter_moves_the_aggregate():
    assert aggregate_speed(2, overhead=0.0) == pytest.approx(1.0)
    assert aggregate_speed(3, overhead=0.3) == pytest.approx(0.7)


@pytest.mark.xfail(
    strict=True,
    reason="model gap: co-located training jobs that do not saturate the GPU gain throughput "
    "(Gavel P100 ResNet-50 pairs 1.39x-1.61x of one job alone); the model's tenants always "
    "split one GPU (0.8x). It needs a per-job GPU utilisation, e.g. tenant speed = "
    "(1 - overhead) / max(1, sum of co-tenants' solo utilisations)",
)
def test_time_sliced_training_pairs_match_gavel():
    two = aggregate_speed(2)
    for alone, pair in ((8.108, (5.665, 5.619)), (2.038, (1.628, 1.649))):
        measured = sum(pair) / alone
        assert abs(two - measured) / measured < 0.25


def test_sharing_training_scenario_shows_co_tenancy():
    r = gpusim.simulate(gpusim.load_scenario(SCENARIOS / "sharing-training.yaml"))
    jobs = r.jobs.dropna(subset=["start_s"])
    ts = jobs[jobs["workload"] == "on-timesliced"]
    events = []
    for _, j in ts.iterrows():
        events += [(j["start_s"], 1, j["gpu_ids"]), (j["end_s"], -1, j["gpu_ids"])]
    level: dict = {}
    shared = 0.0
    last = 0.0
    for t, d, g in sorted(events, key=lambda e: (e[0], e[1])):
        shared += (t - last) * sum(v >= 2 for v in level.values())
        last = t
        level[g] = level.get(g, 0) + d
    assert shared / 3600 > 5  # GPU-hours with two or more tenants
    # co-tenants run slower than their duration; alone they run at full speed
    slow = ts["end_s"] - ts["start_s"] - ts["duration_s"]
    assert (slow >= -1e-6).all() and (slow > 1).any()
    whole = jobs[jobs["workload"] == "on-whole"]
    assert np.allclose(whole["end_s"] - whole["start_s"], whole["duration_s"])
