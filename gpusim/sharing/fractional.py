"""Fractional GPUs: Alibaba's GPU-share device plugin (milli-GPU shares of one GPU)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from gpusim.cluster.state import MILLI
from gpusim.sharing.base import GPU_MILLI_RESOURCE, Offer, SharingMode
from gpusim.sharing.registry import register


@register
class FractionalGpu(SharingMode):
    """GPU-share device plugin: pods may ask a share of one GPU in milli-GPU, or whole GPUs."""

    tag = "gpu-share"
    key = "fractional"
    unset_value: ClassVar = False
    remaps_trace_pods = False

    fractional: bool = Field(
        description="GPU-share device plugin: pods may ask a share of one GPU in milli-GPU "
        f"({GPU_MILLI_RESOURCE}), as in Alibaba's GPU-sharing clusters.",
        json_schema_extra={"const": True},
    )

    @field_validator("fractional")
    @classmethod
    def _set(cls, v: bool) -> bool:
        if not v:
            raise ValueError("must be true (for whole GPUs leave `fractional` out)")
        return v

    def unit(self) -> str:
        return "fractional"

    def label(self) -> str:
        return "fractional"

    def offer(self, gpu, resource: str, count: int) -> Offer | str:
        if resource == GPU_MILLI_RESOURCE:
            return self._make_offer()
        return self._offer(gpu, resource, count)

    def pod_units(self, req) -> int:
        if req.gpus and req.gpu_milli < MILLI:
            return 1  # a share of one GPU
        return req.gpus

    def pods_per_node(self, gpus: int, replicas: int, req) -> int:
        if req.gpu_milli < MILLI:
            return gpus * (MILLI // max(req.gpu_milli, 1)) // req.gpus
        return gpus // req.gpus

    def check(self, gpu, catalog):
        if gpu.vendor != "nvidia":
            return [((self.key,), "milli-GPU sharing (Alibaba's GPU-share plugin) is modelled for NVIDIA GPUs; "
                                  f"{gpu.id} is {gpu.vendor}")]  # fmt: skip
        return []

    def allocatable(self, gpu, n: int) -> dict[str, float]:
        return {gpu.resource_name: n, GPU_MILLI_RESOURCE: float(MILLI) * n}

    def trace_request(self, gpus, gpu_milli, gpu, gpu_memory_mib=0):
        return ("gpu-milli" if gpu_milli < MILLI else gpu.resource_name), gpus, ""
