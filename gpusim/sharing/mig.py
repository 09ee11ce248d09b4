"""MIG: NVIDIA Multi-Instance GPU, static layouts and dynamic (on-demand) instances.

Static MIG layouts are placed the way NVIDIA's worked example places a 3-2-1-1 geometry
(1g@0, 1g@1, 2g@2, 3g@4): largest instance first, each at the highest allowed start that does
not overlap instances already placed. In dynamic mode (`config: dynamic`) any profile may be
created on a GPU; the run's dynamic-MIG tenancy (gpusim.sim.tenancy.DynamicMig) drains and
re-partitions a GPU when a pod needs an instance that does not exist there.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from gpusim.cluster.state import MIG_COMPUTE_SLICES, MIG_MEMORY_SLICES, SHARING_MIG, mig_masks
from gpusim.sharing.base import MIG_PREFIX, ConfigModel, LayoutError, Offer, SharingMode, gpu_fraction
from gpusim.sharing.registry import register
from gpusim.units import Duration

MAX_INSTANCES_PER_PROFILE = MIG_COMPUTE_SLICES
"""Most instances of one profile a layout may ask (one per compute slice)."""


class Mig(ConfigModel):
    """NVIDIA GPU operator MIG configuration (mig-manager's `nvidia.com/mig.config`)."""

    strategy: Literal["mixed", "single"] = Field(
        "mixed",
        description="Device plugin MIG strategy: mixed advertises nvidia.com/mig-<profile>; single advertises every "
        "instance as nvidia.com/gpu (all instances must be one profile).",
    )
    config: str | dict[str, int] = Field(
        "all-balanced",
        description="Static layout per GPU: a mig-parted name (all-1g.10gb, all-2g.20gb, all-3g.40gb, all-balanced, "
        "... with the GPU's profile names), a map profile -> count, or 'dynamic' (instances created on demand).",
    )
    reconfigure_time: Duration = Field(
        60.0,
        ge=0,
        description="Dynamic mode: time to create a new instance before the pod can start (seconds). No published "
        "measurement exists (hardware-facts 1.4); mig-manager sleeps 30 s when the mode changes.",
    )


def mig_layout(gpu, config: str | dict[str, int]) -> list[tuple[str, int]] | None:
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
                raise LayoutError(
                    f"MIG layout {counts} does not fit one {gpu.id} "
                    f"({MIG_COMPUTE_SLICES} compute and {MIG_MEMORY_SLICES} memory slices)"
                )
    return instances


@register
class MigGpu(SharingMode):
    """MIG instances: a pod takes one instance (compute and memory slices) of a static layout, or
    of any profile in dynamic mode.
    """

    tag = "multi-instance"
    key = "mig"
    kind = SHARING_MIG
    whole_device_units = False

    mig: Mig = Field(description="Multi-Instance GPU partitioning (A100/H100/H200/B200 class).")

    def unit(self) -> str:
        return "mig"

    def label(self) -> str:
        cfg = self.mig.config
        return f"mig:{cfg}" if isinstance(cfg, str) else "mig"

    @property
    def dynamic(self) -> bool:
        return self.mig.config == "dynamic"

    @property
    def reconfigure_time(self) -> float | None:
        return self.mig.reconfigure_time if self.dynamic else None

    def layout(self, gpu) -> list[tuple[str, int]] | None:
        return mig_layout(gpu, self.mig.config)

    def sizing_units(self, gpus_per_node: int, gpu, resource: str | None = None) -> int | None:
        """Instances per node of an all-<profile> layout, or of `resource`'s profile in a map layout."""
        cfg = self.mig.config
        if isinstance(cfg, str) and cfg.startswith("all-") and cfg != "all-balanced" and gpu.mig is not None:
            return gpus_per_node * gpu.mig.profile(cfg[4:]).max_count
        if isinstance(cfg, dict) and resource:
            return gpus_per_node * int(cfg.get(resource.split("mig-")[-1], 0))
        return None

    def _offer(self, gpu, resource: str, count: int) -> Offer | str:
        layout = self.layout(gpu)
        if self.mig.strategy == "single":
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
        return Offer(SHARING_MIG, profile, p.compute_slices, p.memory_slices, starts, p.compute_fraction,
                     self.unit(), mode=self.tag)  # fmt: skip

    @classmethod
    def unit_share(cls, gpu, offer: Offer):
        from gpusim.hardware import performance as perf

        return perf.mig_share(gpu.mig.profile(offer.mig_profile))

    def node_units(self, gpus: int, replicas: int) -> int:
        return gpus * MIG_COMPUTE_SLICES  # a pod takes compute slices

    def pod_units(self, req) -> int:
        return req.mig_compute if req.gpus else 0

    def pods_per_node(self, gpus: int, replicas: int, req) -> int:
        return gpus * MIG_COMPUTE_SLICES // max(req.mig_compute, 1)

    def check_config(self):
        out = []
        if isinstance(self.mig.config, dict):
            if not self.mig.config:
                out.append((("mig", "config"),
                            "an empty MIG layout; give profile -> count (each 1..7) or a name such as all-balanced"))  # fmt: skip
            for name, n in self.mig.config.items():
                if not 1 <= n <= MAX_INSTANCES_PER_PROFILE:
                    out.append((("mig", "config", name), f"MIG instance count must be 1..7; got {n}"))
        return out

    def check(self, gpu, catalog):
        if gpu.mig is None:
            capable = sorted(g.id for g in catalog.gpu_models.values() if g.mig is not None)
            return [(("mig",), f"GPU model {gpu.id} cannot do MIG; MIG-capable models: {', '.join(capable)}")]
        try:
            layout = self.layout(gpu)
        except LayoutError as e:
            return [(("mig", "config"), str(e))]
        if self.mig.strategy == "single" and (layout is None or len({n for n, _ in layout}) != 1):
            return [
                (("mig", "strategy"), "the single strategy needs a static layout of one profile (e.g. all-1g.10gb)")
            ]
        return []

    def allocatable(self, gpu, n: int) -> dict[str, float]:
        if gpu.mig is None:
            return {gpu.resource_name: n}
        layout = self.layout(gpu)
        if layout is None:  # dynamic: any profile, up to its count per GPU
            counts = {p.name: p.max_count for p in gpu.mig.profiles if p.resource_name}
        else:
            counts = {}
            for name, _start in layout:
                counts[name] = counts.get(name, 0) + 1
        out: dict[str, float] = {}
        for name, k in counts.items():
            p = gpu.mig.profile(name)
            res = gpu.resource_name if self.mig.strategy == "single" else p.resource_name
            out[res] = out.get(res, 0) + n * k
        return out

    def trace_request(self, gpus, gpu_milli, gpu, gpu_memory_mib=0):
        f, whole = gpu_fraction(gpu_milli)
        base = gpu.resource_name
        if gpu.mig is None:
            raise ValueError(f"{gpu.id} has no MIG profiles")
        if self.mig.strategy == "single":
            k = math.ceil(gpus * f - 1e-9)
            return base, k, "" if k == gpus else f"{gpus} x {f:g} GPU -> {k} MIG instance(s) as {base}"
        profiles = [p for p in gpu.mig.profiles if p.resource_name]
        if gpus > 1 or whole:
            full = max(profiles, key=lambda p: (p.compute_slices, p.memory_gib))
            return full.resource_name, gpus, f"{gpus} whole GPU(s) -> {gpus} x {full.name} (MIG never spans GPUs)"
        need_mem = gpu_memory_mib / 1024.0
        fits = [p for p in profiles if p.compute_slices / MIG_COMPUTE_SLICES >= f - 1e-9 and p.memory_gib >= need_mem]
        if not fits:
            full = max(profiles, key=lambda p: (p.compute_slices, p.memory_gib))
            return full.resource_name, 1, f"{f:g} GPU -> {full.name} (no smaller profile fits)"
        best = min(fits, key=lambda p: (p.compute_slices, p.memory_gib))
        return best.resource_name, 1, f"{f:g} GPU -> {best.name}"
