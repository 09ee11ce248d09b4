"""A tiny scenario for sweep, report and notebook tests (explicit distribution forms only)."""


def tiny_scenario(**over) -> dict:
    base = {
        "name": "tiny-sweep",
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


TINY_YAML = """\
name: planned
seed: 10
duration: 1h
cluster:
  node_pools:
    - name: gpu
      count: 2
      gpu_model: nvidia-a100-80gb
      gpus_per_node: 4
      vcpu: 32
      memory: 256Gi
workloads:
  - name: train
    pod:
      resources:
        limits: {nvidia.com/gpu: 1}
    generator:
      arrival: {process: poisson, rate: 10/h}
      gpus: {distribution: constant, value: 1}
      duration: {distribution: constant, value: 10m}
sweep:
  factors:
    scheduler.policy: [first-fit, best-fit]
    cluster.node_pools.0.count: [1, 2, 3]
  replications: 2
"""
