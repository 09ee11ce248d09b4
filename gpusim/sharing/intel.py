"""Intel shared devices: the Intel GPU device plugin's `-shared-dev-num`."""

from __future__ import annotations

from pydantic import Field

from gpusim.sharing.base import ConfigModel
from gpusim.sharing.registry import register
from gpusim.sharing.shared import SharedDevices


class IntelSharedDevices(ConfigModel):
    """Intel GPU device plugin sharing (-shared-dev-num)."""

    sharedDevNum: int = Field(ge=2, description="Containers that can share one GPU device, count.")
    context_switch_overhead: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Throughput lost once a device has 2+ active containers (fraction). Assumption: no Intel "
        "measurement exists; the NVIDIA time-slicing figure is used (hardware-facts 2.2).",
    )


@register
class IntelSharedGpu(SharedDevices):
    """Intel device sharing: each device shared by up to `sharedDevNum` containers."""

    tag = "intel-shared"
    key = "intel"

    intel: IntelSharedDevices = Field(description="Intel GPU device sharing between containers.")

    def replicas(self) -> int:
        return self.intel.sharedDevNum

    @property
    def switch_overhead(self) -> float:
        return self.intel.context_switch_overhead

    def check(self, gpu, catalog):
        if gpu.vendor != "intel":
            return [((self.key,), f"Intel device sharing needs an Intel GPU; {gpu.id} is {gpu.vendor}")]
        return []
