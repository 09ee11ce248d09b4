"""What a node pool's GPUs offer to pods, given its sharing configuration.

One place decides which Kubernetes resource names a pool serves and how: whole GPUs, milli-GPU
shares (GPU-share plugin), time-slice replicas (NVIDIA device plugin `sharing.timeSlicing`) or
MIG instances (mixed strategy: `nvidia.com/mig-<profile>`; single strategy: `nvidia.com/gpu`).
Both the scenario checks and the engine use it, so they can never disagree.

Static MIG layouts are placed the way NVIDIA's worked example places a 3-2-1-1 geometry
(1g@0, 1g@1, 2g@2, 3g@4): largest instance first, each at the highest allowed start that does
not overlap instances already placed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpusim.cluster.state import SHARING_MIG, SHARING_NONE, SHARING_TIMESLICE, mig_masks
from gpusim.hardware import GpuModel
from gpusim.scenario.models import GPU_MILLI_RESOURCE, NodePool

MIG_PREFIX = "nvidia.com/mig-"


UNIT_LABEL = "gpusim.io/gpu-unit"
"""Label gpusim puts on every GPU node: what one advertised GPU is there (whole, fractional,
time-slice, mig, amd-<profile>, intel-shared). Each GPU request selects the kind it was resolved
for, so e.g. a plain amd.com/gpu pod never lands on a partitioned node that advertises the same
resource name."""


@dataclass(frozen=True)
class Offer:
    """How a pool serves one pod's GPU request: the sharing kind, the unit kind and, for MIG, the
    instance; `compute_fraction` is the share of a whole GPU's speed one unit delivers.
    """

    sharing: int
    mig_profile: str | None = None
    mig_compute: int = 0
    mig_memory: int = 0
    mig_starts: tuple[int, ...] = ()
    compute_fraction: float = 1.0
    unit: str = "whole"


class LayoutError(ValueError):
    """A MIG layout that the GPU model cannot hold."""


def pool_unit(pool: NodePool) -> str:
    """The kind of GPU unit the pool advertises (value of UNIT_LABEL)."""
    s = pool.sharing
    if s.fractional:
        return "fractional"
    if s.timeSlicing is not None:
        return "time-slice"
    if s.mig is not None:
        return "mig"
    if s.amdPartition is not None:
        return f"amd-{s.amdPartition.profile}"
    if s.intel is not None:
        return "intel-shared"
    return "whole"


def units_and_memory(pool: NodePool, gpu: GpuModel | None) -> tuple[int, float]:
    """(devices per node as the cluster state holds them, GiB per device): AMD partitions split
    each physical GPU into logical GPUs.
    """
    if gpu is None:
        return pool.gpus_per_node, 0.0
    if pool.sharing.amdPartition is not None:
        prof = amd_profile(gpu, pool.sharing.amdPartition.profile)
        return pool.gpus_per_node * prof.count, prof.memory_gib
    return pool.gpus_per_node, gpu.memory_gib


def amd_profile(gpu: GpuModel, name: str):
    if gpu.amd_partitions is None:
        raise LayoutError(f"GPU model {gpu.id} has no AMD compute partitions")
    for p in gpu.amd_partitions.profiles:
        if p.name == name:
            return p
    names = ", ".join(p.name for p in gpu.amd_partitions.profiles)
    raise LayoutError(f"{gpu.id} has no partition profile {name!r}; its profiles: {names}")


def pool_sharing(pool: NodePool) -> int:
    if pool.sharing.timeSlicing is not None or pool.sharing.intel is not None:
        return SHARING_TIMESLICE
    if pool.sharing.mig is not None:
        return SHARING_MIG
    return SHARING_NONE


def mig_layout(gpu: GpuModel, config: str | dict[str, int]) -> list[tuple[str, int]] | None:
    """Instances (profile name, start) of a static layout, or None for dynamic mode."""
    if gpu.mig is None:
        raise LayoutError(f"GPU model {gpu.id} does not support MIG")
    names = [p.name for p in gpu.mig.profiles if p.resource_name]
    if config == "dynamic":
        return None
    if isinstance(config, str):
        if config == "all-balanced":
            # GPU operator default config: 2x 1g, 1x 2g, 1x 3g (e.g. A100-40GB: 1g.5gb x2, 2g.10gb, 3g.20gb)
            small = [p for p in gpu.mig.profiles if p.resource_name]
            by_shape = {}
            for p in small:
                key = (p.compute_slices, p.memory_slices)
                by_shape.setdefault(key, p.name)
            try:
                counts = {by_shape[(1, 1)]: 2, by_shape[(2, 2)]: 1, by_shape[(3, 4)]: 1}
            except KeyError:
                raise LayoutError(f"{gpu.id} has no all-balanced geometry") from None
        elif config.startswith("all-") and config[4:] in names:
            p = gpu.mig.profile(config[4:])
            counts = {p.name: p.max_count}
        else:
            allowed = ", ".join(["all-balanced", "dynamic"] + [f"all-{n}" for n in names])
            raise LayoutError(
                f"unknown MIG config {config!r} for {gpu.id}; allowed: {allowed}, or a map profile -> count"
            )
    else:
        counts = dict(config)
    for name in counts:
        if name not in names:
            raise LayoutError(f"{gpu.id} has no MIG profile {name!r}; its profiles: {', '.join(names)}")
    instances: list[tuple[str, int]] = []
    mem_used = comp_used = 0
    profiles = sorted(
        counts, key=lambda n: (gpu.mig.profile(n).memory_slices, gpu.mig.profile(n).compute_slices), reverse=True
    )
    for name in profiles:
        p = gpu.mig.profile(name)
        if counts[name] > p.max_count:
            raise LayoutError(f"{gpu.id} holds at most {p.max_count} x {name}, not {counts[name]}")
        for _ in range(counts[name]):
            for start in sorted(p.placements, reverse=True):
                m, c = mig_masks(p.compute_slices, p.memory_slices, start)
                if not (m & mem_used or c & comp_used):
                    instances.append((name, start))
                    mem_used |= m
                    comp_used |= c
                    break
            else:
                raise LayoutError(f"MIG layout {counts} does not fit one {gpu.id} (7 compute and 8 memory slices)")
    return instances


def offer(pool: NodePool, gpu: GpuModel | None, resource: str, count: int) -> Offer | str:
    """How `pool` serves `count` of `resource` per pod, or a reason why it does not."""
    if gpu is None:
        return "no GPUs"
    s = pool.sharing
    unit = pool_unit(pool)
    if resource == GPU_MILLI_RESOURCE:
        return Offer(SHARING_NONE, unit=unit) if s.fractional else "no GPU sharing (sharing.fractional is false)"
    if s.amdPartition is not None:
        prof = amd_profile(gpu, s.amdPartition.profile)
        name = prof.resource_name if s.amdPartition.strategy == "mixed" else gpu.resource_name
        if resource != name:
            return f"AMD {prof.name} partitions advertised as {name}"
        return Offer(SHARING_NONE, compute_fraction=prof.compute_fraction, unit=unit)
    if s.intel is not None:
        if resource != gpu.resource_name:
            return f"offers {gpu.resource_name}"
        return Offer(SHARING_TIMESLICE, unit=unit)
    if s.timeSlicing is not None:
        name = "nvidia.com/gpu.shared" if s.timeSlicing.renameByDefault else "nvidia.com/gpu"
        if resource != name:
            return f"time-sliced GPUs advertised as {name}"
        return Offer(SHARING_TIMESLICE, unit=unit)
    if s.mig is not None:
        layout = mig_layout(gpu, s.mig.config)
        if s.mig.strategy == "single":
            if resource != "nvidia.com/gpu":
                return "MIG single strategy advertises instances as nvidia.com/gpu"
            profile = layout[0][0] if layout else None
            if profile is None:
                return "MIG single strategy needs a static layout"
        else:
            if not resource.startswith(MIG_PREFIX):
                return f"MIG mixed strategy advertises {MIG_PREFIX}<profile> resources"
            profile = resource[len(MIG_PREFIX) :]
            known = [p.name for p in gpu.mig.profiles if p.resource_name]
            if profile not in known or (layout is not None and profile not in {n for n, _ in layout}):
                return f"no {profile} instances (layout: {', '.join(sorted({n for n, _ in layout})) if layout else 'dynamic'})"
        if count != 1:
            return "gpusim gives each pod one MIG instance (ask for 1)"
        p = gpu.mig.profile(profile)
        starts = tuple(sorted({st for n, st in layout if n == profile})) if layout else tuple(p.placements)
        return Offer(SHARING_MIG, profile, p.compute_slices, p.memory_slices, starts, p.compute_fraction, unit)
    if resource != gpu.resource_name:
        return f"offers {gpu.resource_name}"
    return Offer(SHARING_NONE, unit=unit)


def replicas(pool: NodePool) -> int:
    """Pods that can share one device (time-slice replicas, Intel sharedDevNum), else 1."""
    if pool.sharing.timeSlicing is not None:
        return pool.sharing.timeSlicing.resources[0].replicas
    if pool.sharing.intel is not None:
        return pool.sharing.intel.sharedDevNum
    return 1


def switch_overhead(pool: NodePool) -> float:
    if pool.sharing.timeSlicing is not None:
        return pool.sharing.timeSlicing.context_switch_overhead
    if pool.sharing.intel is not None:
        return pool.sharing.intel.context_switch_overhead
    return 0.0


def units_per_node(pool: NodePool, gpu: GpuModel | None = None) -> int:
    """GPU units one pod could take from an empty node of the pool (replicas on shared devices,
    logical GPUs on AMD partitions).
    """
    n = units_and_memory(pool, gpu)[0] if gpu is not None else pool.gpus_per_node
    return n * replicas(pool)


def offer_share(gpu: GpuModel, offer: Offer):
    """The part of one device a unit of `offer` gets (performance-model Share): the MIG instance,
    the AMD partition, or the whole device (time-slice co-tenancy is applied by the caller).
    """
    from gpusim.hardware import performance as perf

    if offer.sharing == SHARING_MIG:
        return perf.mig_share(gpu.mig.profile(offer.mig_profile))
    if offer.unit.startswith("amd-"):
        return perf.partition_share(amd_profile(gpu, offer.unit[4:]))
    return perf.WHOLE
