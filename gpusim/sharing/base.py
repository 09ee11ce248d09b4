"""The base of every sharing mode: what a mode class owns, and the facts shared by all of them.

A sharing mode is the device plugin's configuration of a pool's GPUs. Its class is at once the
pydantic model of the pool's `sharing:` block (one variant of the discriminated union built by
`gpusim.sharing.registry`) and the object the rest of gpusim asks about that pool:

- its unit (`unit`, the value of `UNIT_LABEL`), devices per node (`devices`) and pods per
  device (`replicas`);
- how it serves a pod's GPU request (`offer`: an `Offer`, or the reason it does not);
- the speed of one unit (`unit_share`, a performance-model Share) and the slowdown of
  co-tenants (`tenant_rate`);
- the Cluster Autoscaler's capacity of a new node (`node_units`, `pod_units`) and the most
  pods of one shape an empty node holds (`pods_per_node`);
- its scenario checks (`check_config` without the catalog, `check` with the pool's GPU model);
- what an empty node advertises (`allocatable`) and how a trace pod's request maps onto it
  (`trace_request`).

This package sits below both the scenario and the simulator: it imports only gpusim.units,
gpusim.hardware and gpusim.cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_serializer

from gpusim.cluster.state import MILLI, SHARING_NONE

GPU_MILLI_RESOURCE = "alibabacloud.com/gpu-milli"
"""Alibaba's GPU-sharing resource (as in the openb trace and the FGD authors' simulator): a share
of one GPU in 1/1000; served by node pools with `sharing: {fractional: true}`."""

MIG_PREFIX = "nvidia.com/mig-"

UNIT_LABEL = "gpusim.io/gpu-unit"
"""Label gpusim puts on every GPU node: what one advertised GPU is there (whole, fractional,
time-slice, mig, amd-<profile>, intel-shared). Each GPU request selects the kind it was resolved
for, so e.g. a plain amd.com/gpu pod never lands on a partitioned node that advertises the same
resource name."""


def gpu_fraction(gpu_milli: int) -> tuple[float, bool]:
    """(share of one GPU in 0..1, whether it is a whole GPU) of a trace pod's milli-GPU."""
    return min(max(gpu_milli, 1), MILLI) / MILLI, gpu_milli >= MILLI


@dataclass(frozen=True)
class Offer:
    """How a pool serves one pod's GPU request: the sharing kind, the unit kind and, for MIG, the
    instance; `compute_fraction` is the share of a whole GPU's speed one unit delivers; `mode` is
    the union tag of the sharing mode that made it (not part of equality).
    """

    sharing: int
    mig_profile: str | None = None
    mig_compute: int = 0
    mig_memory: int = 0
    mig_starts: tuple[int, ...] = ()
    compute_fraction: float = 1.0
    unit: str = "whole"
    mode: str = field(default="whole", compare=False)


class LayoutError(ValueError):
    """A sharing layout (MIG geometry, AMD partition profile) that the GPU model cannot hold."""


class ConfigModel(BaseModel):
    """A sharing block's configuration: unknown keys rejected, frozen (as every scenario model)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, allow_inf_nan=False)


class SharingMode(ConfigModel):
    """One sharing mode; subclasses are registered with `gpusim.sharing.registry.register`.

    Class attributes: `tag` (its name in the union, e.g. "time-slicing"), `key` (the YAML key of
    its block under `sharing:`, None for whole GPUs), `kind` (the cluster state's SHARING_*
    constant of its nodes), `needs_gpu` (the pool must have a GPU model), `whole_device_units`
    (a pod's unit holds a whole device's memory: the LLM-fit check applies) and
    `remaps_trace_pods` (trace pods' requests are rewritten for it, `trace_request`).
    """

    tag: ClassVar[str]
    key: ClassVar[str | None] = None
    unset_value: ClassVar[Any] = None  # what its key reads when another mode is set (legacy dump)
    kind: ClassVar[int] = SHARING_NONE
    needs_gpu: ClassVar[bool] = True
    whole_device_units: ClassVar[bool] = True
    remaps_trace_pods: ClassVar[bool] = True

    # ------------------------------------------------------------------ the block
    @property
    def config(self):
        """The mode's own block (e.g. the `timeSlicing:` mapping), None for whole GPUs."""
        return getattr(self, self.key) if self.key else None

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        """Dumped in the shape users write, every registered key present (one set, the others
        unset), so a dumped scenario reads back and earlier results compare equal.
        """
        from gpusim.sharing.registry import mode_classes

        body = handler(self)
        out = {}
        for cls in mode_classes():
            if cls.key is not None:
                out[cls.key] = body.get(cls.key) if cls is type(self) else cls.unset_value
        return out

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        """The JSON Schema of this variant also takes the other modes' keys, unset (null, or
        `fractional: false`), as the loader does.
        """
        from gpusim.sharing.registry import mode_classes

        js = handler(core_schema)
        props = handler.resolve_ref_schema(js).setdefault("properties", {})
        for other in mode_classes():
            if other.key is not None and other is not cls:
                unset = {"const": other.unset_value} if other.unset_value is not None else {"type": "null"}
                props[other.key] = {**unset, "description": "Unset here (one sharing mode per pool)."}
        return js

    # ------------------------------------------------------------------ units
    def unit(self) -> str:
        """The kind of GPU unit a node of this pool advertises (value of UNIT_LABEL)."""
        return self.tag

    def devices(self, gpus_per_node: int, gpu) -> tuple[int, float]:
        """(devices per node as the cluster state holds them, GiB per device)."""
        return gpus_per_node, gpu.memory_gib

    def replicas(self) -> int:
        """Pods that can share one device (1 unless devices are shared)."""
        return 1

    def units_per_node(self, gpus_per_node: int, gpu) -> int:
        """GPU units one pod could take from an empty node (devices x replicas)."""
        n = self.devices(gpus_per_node, gpu)[0] if gpu is not None else gpus_per_node
        return n * self.replicas()

    def advertised_name(self, gpu) -> str:
        """The resource name a pod asks for one unit by default (the vendor's GPU resource)."""
        return gpu.resource_name

    def sizing_units(self, gpus_per_node: int, gpu, resource: str | None = None) -> int | None:
        """Units one node offers to replicas asking `resource` (the sizing experiment), None if
        that cannot be derived from the block alone.
        """
        return self.units_per_node(gpus_per_node, gpu)

    def capacity_unit_name(self, resource: str) -> str:
        """How `gpusim check` names the units when a node has too few."""
        return resource

    # ------------------------------------------------------------------ offers
    def offer(self, gpu, resource: str, count: int) -> Offer | str:
        """How this pool serves `count` of `resource` per pod, or a reason why it does not."""
        if resource == GPU_MILLI_RESOURCE:
            return "no GPU sharing (sharing.fractional is false)"
        return self._offer(gpu, resource, count)

    def _offer(self, gpu, resource: str, count: int) -> Offer | str:
        if resource != gpu.resource_name:
            return f"offers {gpu.resource_name}"
        return self._make_offer()

    def _make_offer(self, **kw) -> Offer:
        return Offer(self.kind, unit=self.unit(), mode=self.tag, **kw)

    # ------------------------------------------------------------------ speed
    @classmethod
    def unit_share(cls, gpu, offer: Offer):
        """The part of one device a unit of `offer` gets alone (performance-model Share)."""
        from gpusim.hardware import performance as perf

        return perf.WHOLE

    switch_overhead: ClassVar[float] = 0.0
    fail_gt_one: ClassVar[bool] = False

    def tenant_rate(self, speed: float, tenants: int) -> float:
        """A pod's rate with `tenants` active pods on its device (only shared devices slow down)."""
        return speed

    @property
    def reconfigure_time(self) -> float | None:
        """Seconds to re-partition a device for a new instance (dynamic MIG), else None."""
        return None

    # ------------------------------------------------------------------ Cluster Autoscaler
    def node_units(self, gpus: int, replicas: int) -> int:
        """An empty new node's room in pod units, given its devices and replicas per device."""
        return gpus

    def pod_units(self, req) -> int:
        """Units one pod takes of `node_units` (0 for a CPU-only pod)."""
        return req.gpus

    def pods_per_node(self, gpus: int, replicas: int, req) -> int:
        """Most pods of the request's shape one empty node's devices hold (GPUs only)."""
        return gpus // req.gpus

    # ------------------------------------------------------------------ checks
    def check_config(self) -> list[tuple[tuple, str]]:
        """Problems in the block alone, as (path below `sharing`, message)."""
        return []

    def check(self, gpu, catalog) -> list[tuple[tuple, str]]:
        """Problems of this mode on the pool's GPU model, as (path below `sharing`, message)."""
        return []

    # ------------------------------------------------------------------ what a node advertises
    def allocatable(self, gpu, n: int) -> dict[str, float]:
        """GPU resources one empty node with `n` devices advertises, as the device plugin names them."""
        return {gpu.resource_name: n}

    def trace_request(self, gpus: int, gpu_milli: int, gpu, gpu_memory_mib: int = 0) -> tuple[str, int, str]:
        """(resource, count, note) a trace pod of `gpus` x `gpu_milli` asks here (replay.SHARING_MAPPING)."""
        import math

        f, whole = gpu_fraction(gpu_milli)
        k = math.ceil(gpus * f - 1e-9)
        return gpu.resource_name, k, "" if (whole and k == gpus) else f"{gpus} x {f:g} GPU -> {k} whole GPU(s)"

    def label(self) -> str:
        """Short name in tables (the sizing experiment's `sharing` column)."""
        return self.tag
