"""Time-slicing: the NVIDIA device plugin's `sharing.timeSlicing` (each GPU advertised as replicas)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gpusim.sharing.base import ConfigModel, Offer
from gpusim.sharing.registry import register
from gpusim.sharing.shared import SharedDevices


class TimeSlicingResource(ConfigModel):
    """One resource the device plugin advertises as time-sliced replicas."""

    name: Literal["nvidia.com/gpu"] = Field("nvidia.com/gpu", description="Resource to share (whole GPUs).")
    replicas: int = Field(ge=2, description="Replicas advertised per GPU (pods that can share one GPU), count.")


class TimeSlicing(ConfigModel):
    """NVIDIA device plugin `sharing.timeSlicing` configuration."""

    renameByDefault: bool = Field(
        False, description="Advertise the replicas as <name>.shared (e.g. nvidia.com/gpu.shared) instead of <name>."
    )
    failRequestsGreaterThanOne: bool = Field(
        False,
        description="A pod asking more than one replica fails admission (UnexpectedAdmissionError), as the plugin does.",
    )
    resources: list[TimeSlicingResource] = Field(min_length=1, max_length=1, description="The shared resource.")
    context_switch_overhead: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Throughput lost to time-slice context switches once a GPU has 2+ active tenants (fraction). "
        "Default 0.2: measured time-sliced throughput is 0.75-0.85x exclusive (hardware-facts 2.2, [S7] [S8]).",
    )


@register
class TimeSlicedGpu(SharedDevices):
    """Time-slicing: each GPU advertised as replicas; co-tenants share time and memory."""

    tag = "time-slicing"
    key = "timeSlicing"

    timeSlicing: TimeSlicing = Field(description="Time-slicing: each GPU advertised as replicas.")

    def unit(self) -> str:
        return "time-slice"

    def replicas(self) -> int:
        return self.timeSlicing.resources[0].replicas

    @property
    def switch_overhead(self) -> float:
        return self.timeSlicing.context_switch_overhead

    @property
    def fail_gt_one(self) -> bool:
        return self.timeSlicing.failRequestsGreaterThanOne

    def advertised_name(self, gpu) -> str:
        return f"{gpu.resource_name}.shared" if self.timeSlicing.renameByDefault else gpu.resource_name

    def _offer(self, gpu, resource: str, count: int) -> Offer | str:
        name = "nvidia.com/gpu.shared" if self.timeSlicing.renameByDefault else "nvidia.com/gpu"
        if resource != name:
            return f"time-sliced GPUs advertised as {name}"
        return self._make_offer()

    def check(self, gpu, catalog):
        if gpu.vendor != "nvidia":
            return [((self.key,), f"time-slicing is an NVIDIA device plugin feature; {gpu.id} is {gpu.vendor}")]
        return []

    def label(self) -> str:
        return f"ts:{self.replicas()}"
