"""A tiny scenario for sweep, report and notebook tests."""

from tests.conftest import small_scenario


def tiny_scenario(**over) -> dict:
    """The shared tiny scenario (tests/conftest.py), named for the sweep tests."""
    return small_scenario(**{"name": "tiny-sweep", **over})


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
