"""AMD compute partitions (MI300X class): each physical GPU split into logical GPUs."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from gpusim.sharing.base import ConfigModel, LayoutError, Offer, SharingMode, gpu_fraction
from gpusim.sharing.registry import register


class AmdPartition(ConfigModel):
    """AMD compute/memory partitioning (set out of band by the Device Config Manager; the AMD device
    plugin reports the partitions as GPUs).
    """

    profile: str = Field(description="Partition profile <compute>_<memory> in lower case, e.g. cpx_nps4, dpx_nps1.")
    strategy: Literal["single", "mixed"] = Field(
        "single",
        description="Device plugin resource_naming_strategy: single advertises partitions as amd.com/gpu, mixed "
        "as amd.com/<profile>.",
    )


def amd_profile(gpu, name: str):
    """The GPU model's partition profile `name` (LayoutError if it has none such)."""
    if gpu.amd_partitions is None:
        raise LayoutError(f"GPU model {gpu.id} has no AMD compute partitions")
    for p in gpu.amd_partitions.profiles:
        if p.name == name:
            return p
    names = ", ".join(p.name for p in gpu.amd_partitions.profiles)
    raise LayoutError(f"{gpu.id} has no partition profile {name!r}; its profiles: {names}")


@register
class AmdPartitionedGpu(SharingMode):
    """AMD partitions: each GPU is `count` logical GPUs of the profile's compute and memory."""

    tag = "amd-partition"
    key = "amdPartition"
    whole_device_units = False

    amdPartition: AmdPartition = Field(description="AMD Instinct compute partitions (MI300X class).")

    def unit(self) -> str:
        return f"amd-{self.amdPartition.profile}"

    def devices(self, gpus_per_node: int, gpu) -> tuple[int, float]:
        prof = amd_profile(gpu, self.amdPartition.profile)
        return gpus_per_node * prof.count, prof.memory_gib

    def _resource(self, gpu, prof) -> str:
        return prof.resource_name if self.amdPartition.strategy == "mixed" else gpu.resource_name

    def _offer(self, gpu, resource: str, count: int) -> Offer | str:
        prof = amd_profile(gpu, self.amdPartition.profile)
        name = self._resource(gpu, prof)
        if resource != name:
            return f"AMD {prof.name} partitions advertised as {name}"
        return self._make_offer(compute_fraction=prof.compute_fraction)

    @classmethod
    def unit_share(cls, gpu, offer: Offer):
        from gpusim.hardware import performance as perf

        return perf.partition_share(amd_profile(gpu, offer.unit[len("amd-") :]))

    def check(self, gpu, catalog):
        try:
            amd_profile(gpu, self.amdPartition.profile)
        except LayoutError as e:
            return [(("amdPartition", "profile"), str(e))]
        return []

    def allocatable(self, gpu, n: int) -> dict[str, float]:
        if gpu.amd_partitions is None:
            return {gpu.resource_name: n}
        prof = gpu.amd_partitions.profile(self.amdPartition.profile)
        return {self._resource(gpu, prof): n * prof.count}

    def trace_request(self, gpus, gpu_milli, gpu, gpu_memory_mib=0):
        f, whole = gpu_fraction(gpu_milli)
        if gpu.amd_partitions is None:
            raise ValueError(f"{gpu.id} has no AMD partitions")
        prof = gpu.amd_partitions.profile(self.amdPartition.profile)
        c = prof.count
        k = gpus * c if (whole or gpus > 1) else max(1, math.ceil(f * c - 1e-9))
        return self._resource(gpu, prof), k, f"{gpus} x {f:g} GPU -> {k} of {c} partitions per GPU"

    def label(self) -> str:
        return f"amd:{self.amdPartition.profile}"
