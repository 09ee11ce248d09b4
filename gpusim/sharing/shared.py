"""What time-slicing (NVIDIA) and Intel's shared devices have in common: each device is advertised
as R replicas, pods on one device share its time (no memory isolation) and slow each other down.
"""

from __future__ import annotations

import math

from gpusim.cluster.state import SHARING_TIMESLICE
from gpusim.sharing.base import SharingMode, gpu_fraction


class SharedDevices(SharingMode):
    """A device advertised as `replicas()` units; its active tenants split its time equally, minus
    the context-switch overhead once there are two or more.
    """

    kind = SHARING_TIMESLICE
    whole_device_units = True

    def capacity_unit_name(self, resource: str) -> str:
        return "shared-device replicas"

    def tenant_rate(self, speed: float, tenants: int) -> float:
        if tenants > 1:  # equal time slices, minus the context-switch overhead
            return speed * (1.0 - self.switch_overhead) / tenants
        return speed

    def node_units(self, gpus: int, replicas: int) -> int:
        return gpus * replicas if gpus else gpus

    def pods_per_node(self, gpus: int, replicas: int, req) -> int:
        return gpus * replicas // req.gpus

    def allocatable(self, gpu, n: int) -> dict[str, float]:
        return {self.advertised_name(gpu): n * self.replicas()}

    def trace_request(self, gpus, gpu_milli, gpu, gpu_memory_mib=0):
        f, whole = gpu_fraction(gpu_milli)
        reps = self.replicas()
        resource = self.advertised_name(gpu)
        k = gpus * reps if (whole or gpus > 1) else max(1, math.ceil(f * reps - 1e-9))
        note = f"{gpus} x {f:g} GPU -> {k} of {reps} replicas per GPU"
        if self.fail_gt_one and k > 1:
            return resource, 1, note + "; capped at 1 (failRequestsGreaterThanOne)"
        return resource, k, note
