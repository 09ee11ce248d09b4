"""The hardware catalog: GPU models and node types shipped as data files inside the package.

The data lives in ``gpusim/hardware/data/*.yaml`` (one entry per GPU model or node type, every
number with its source key or an explicit assumption). `load_catalog` reads those files once per
process (cached), applies a scenario's inline ``catalog:`` block (entries with a known id override
it field by field, new ids are added) and returns a fresh `Catalog` of immutable records.

Records:

- `GpuModel`: one schedulable accelerator as Kubernetes sees it (id, vendor, memory, peak BF16 /
  FP8 / FP4 TFLOPS, memory bandwidth, TDP, extended-resource name, sharing capabilities: NVIDIA
  time-slicing and MIG geometry, AMD compute partitions, Intel shared devices).
- `NodeType`: a machine shape (GPUs, vCPU, memory, on-demand and spot $/hour with the price date,
  provisioning time; on-premises entries derive $/hour from purchase price and power).

Scenario values carry the source ``scenario`` unless the override names its own sources.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from gpusim.errors import InputError

VENDORS = ("nvidia", "amd", "intel")
"""Accelerator vendors the catalog knows."""

VENDOR_RESOURCE_PREFIXES = {
    "nvidia": ("nvidia.com/",),
    "amd": ("amd.com/",),
    "intel": ("habana.ai/", "gpu.intel.com/"),
}
"""Kubernetes extended-resource prefixes each vendor's device plugin advertises ([S2], [S17], [S25], [S26])."""

OPENB_MODEL_MAP = {
    "P100": "nvidia-p100",
    "T4": "nvidia-t4",
    "V100M16": "nvidia-v100-16gb",
    "V100M32": "nvidia-v100-32gb",
    "A10": "nvidia-a10",
    "G2": "alibaba-g2",
    "G3": "alibaba-g3",
}
"""GPU model codes of Alibaba's openb trace (column ``model``) -> catalog GPU model ids.

G2 and G3 are undisclosed in the trace; their catalog entries are documented assumptions.
"""

MIG_COMPUTE_SLICES = 7
MIG_MEMORY_SLICES = 8

SPEC_FIELDS = ("memory_gib", "bf16_tflops", "fp8_tflops", "fp4_tflops", "hbm_tbps", "tdp_w", "usd_per_gpu_hour")
"""Numeric GPU model fields that must carry a source or an assumption when present."""

NODE_NUMBER_FIELDS = (
    "gpus",
    "vcpu",
    "memory_gib",
    "on_demand_usd_per_hour",
    "spot_usd_per_hour",
    "provisioning_s",
    "purchase_usd",
    "amortisation_years",
    "power_kw",
    "electricity_usd_per_kwh",
    "pue",
    "cpu_bf16_tflops",
    "cpu_memory_tbps",
)
"""Numeric node type fields that must carry a source or an assumption when present."""

HOURS_PER_YEAR = 8760.0
SCENARIO_SOURCE = "scenario"


def closest_ids(key: str, known: list[str], n: int = 5) -> list[str]:
    """Known ids most like ``key``: ids containing it first, then difflib's closest."""
    low = key.lower()
    contains = sorted((k for k in known if low and low in k.lower()), key=len)
    close = difflib.get_close_matches(key, known, n=n, cutoff=0.3)
    out: list[str] = []
    for k in contains + close:
        if k not in out:
            out.append(k)
    return out[:n]


class UnknownIdError(KeyError, InputError):
    """An id that is not in the catalog; carries the closest known ids."""

    def __init__(self, kind: str, key: str, known: list[str]):
        self.kind = kind
        self.key = key
        self.suggestions = closest_ids(str(key), known)
        self.known = known
        super().__init__(key)

    def __reduce__(self):  # picklable across worker processes (sweeps)
        return (type(self), (self.kind, self.key, self.known))

    def __str__(self) -> str:
        hint = ", ".join(self.suggestions) if self.suggestions else ", ".join(self.known[:10])
        return f"unknown {self.kind} {self.key!r}; closest known ids: {hint}"


# --------------------------------------------------------------------------- sharing geometry


@dataclass(frozen=True)
class MigProfile:
    """One MIG GPU-instance profile: ``<compute>g.<memory>gb`` on the 7 x 8 slice grid."""

    name: str
    compute_slices: int
    memory_slices: int
    memory_gib: float
    max_count: int
    placements: tuple[int, ...]
    resource_name: str | None
    count_limit: str | None = None

    def memory_mask(self, start: int) -> int:
        """Bitmask of memory slices [start, start + memory_slices) on the 8-wide axis."""
        return ((1 << self.memory_slices) - 1) << start

    def compute_mask(self, start: int) -> int:
        """Bitmask of compute slices [start, min(start + compute_slices, 7))."""
        end = min(start + self.compute_slices, MIG_COMPUTE_SLICES)
        return ((1 << max(end - start, 0)) - 1) << start

    @property
    def compute_fraction(self) -> float:
        return self.compute_slices / MIG_COMPUTE_SLICES

    @property
    def bandwidth_fraction(self) -> float:
        return self.memory_slices / MIG_MEMORY_SLICES


def mig_placement_count(profile: MigProfile) -> int:
    """Most instances of one profile that fit together on a GPU, from its placements alone."""
    best = 0
    starts = list(profile.placements)

    def grow(i: int, mem: int, comp: int, n: int) -> None:
        nonlocal best
        best = max(best, n)
        for j in range(i, len(starts)):
            s = starts[j]
            m, c = profile.memory_mask(s), profile.compute_mask(s)
            if not (m & mem) and not (c & comp):
                grow(j + 1, mem | m, comp | c, n + 1)

    grow(0, 0, 0, 0)
    return best


@dataclass(frozen=True)
class MigGeometry:
    """The MIG profiles a GPU model supports (7 compute slices, 8 memory slices)."""

    profiles: tuple[MigProfile, ...]
    compute_slices_total: int = MIG_COMPUTE_SLICES
    memory_slices_total: int = MIG_MEMORY_SLICES

    def profile(self, name: str) -> MigProfile:
        """The profile called ``name`` (``3g.40gb``) or with resource ``nvidia.com/mig-3g.40gb``."""
        for p in self.profiles:
            if name in (p.name, p.resource_name):
                return p
        raise UnknownIdError("MIG profile", name, [p.name for p in self.profiles])

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.profiles]


@dataclass(frozen=True)
class AmdComputeMode:
    name: str
    partitions: int
    support: str = "ga"


@dataclass(frozen=True)
class AmdMemoryMode:
    name: str
    numa_partitions: int
    only_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class AmdPartitionProfile:
    """One (compute mode, memory mode) combination: ``count`` logical GPUs per physical GPU."""

    name: str
    compute_mode: str
    memory_mode: str
    count: int
    memory_gib: float
    resource_name: str

    @property
    def compute_fraction(self) -> float:
        return 1.0 / self.count

    @property
    def bandwidth_fraction(self) -> float:
        return 1.0 / self.count


@dataclass(frozen=True)
class AmdPartitioning:
    """AMD Instinct compute/memory partitioning (set out of band; re-partitioning drains the node)."""

    xcds: int
    compute_modes: tuple[AmdComputeMode, ...]
    memory_modes: tuple[AmdMemoryMode, ...]
    profiles: tuple[AmdPartitionProfile, ...]
    reconfigure_requires_drain: bool = True
    mixed_resource_pattern: str = "amd.com/<compute>_<memory>"

    def profile(self, name: str) -> AmdPartitionProfile:
        for p in self.profiles:
            if name in (p.name, p.resource_name):
                return p
        raise UnknownIdError("AMD partition profile", name, [p.name for p in self.profiles])


@dataclass(frozen=True)
class IntelSharing:
    """Intel GPU plugin device sharing (``-shared-dev-num``): containers per device."""

    default_shared_dev_num: int = 1
    allocation_policies: tuple[str, ...] = ("none", "balanced", "packed")
    suitable_for_time_critical: bool = False


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class GpuModel:
    """One GPU model (a schedulable accelerator as Kubernetes counts it).

    Spec fields are ``None`` where unknown; performance functions then raise `InputError`.
    ``sources`` maps a field name to source keys (see ``data/sources.yaml``); ``assumptions``
    maps a field name to the reason its value is assumed.
    """

    id: str
    vendor: str
    memory_gib: float
    resource_name: str
    name: str = ""
    bf16_tflops: float | None = None
    fp8_tflops: float | None = None
    fp4_tflops: float | None = None
    hbm_tbps: float | None = None
    tdp_w: float | None = None
    timeslicing: bool = False
    mig: MigGeometry | None = None
    amd_partitions: AmdPartitioning | None = None
    intel_shared: IntelSharing | None = None
    proxy: str | None = None
    software_efficiency: float | None = None
    usd_per_gpu_hour: float | None = None
    price_basis: str | None = None
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    assumptions: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def mig_capable(self) -> bool:
        return self.mig is not None

    def is_assumed(self, name: str) -> bool:
        """Whether the value of field ``name`` is an assumption rather than sourced."""
        return name in self.assumptions

    def peak_tflops(self, precision: str = "bf16") -> float | None:
        """Dense tensor peak for ``precision`` (bf16, fp8, fp4), falling back to the next wider one."""
        if precision == "fp4" and self.fp4_tflops:
            return self.fp4_tflops
        if precision in ("fp4", "fp8") and self.fp8_tflops:
            return self.fp8_tflops
        return self.bf16_tflops


@dataclass(frozen=True)
class NodeType:
    """A node shape: GPUs, CPU, memory, price and provisioning time."""

    id: str
    provider: str
    kind: str
    gpu_model: str | None
    gpus: int
    vcpu: float
    memory_gib: float
    name: str = ""
    on_demand_usd_per_hour: float | None = None
    spot_usd_per_hour: float | None = None
    price_date: str | None = None
    region: str | None = None
    provisioning_s: float | None = None
    purchase_usd: float | None = None
    amortisation_years: float | None = None
    power_kw: float | None = None
    electricity_usd_per_kwh: float | None = None
    pue: float | None = None
    cpu_model: str | None = None
    cpu_bf16_tflops: float | None = None
    cpu_memory_tbps: float | None = None
    price_history: tuple[dict, ...] = field(default=(), compare=False, repr=False)
    price_unknown: bool = False
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    assumptions: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def cpu_only(self) -> bool:
        return self.gpus == 0 or self.gpu_model is None

    @property
    def autoscalable(self) -> bool:
        return self.provisioning_s is not None

    def is_assumed(self, name: str) -> bool:
        return name in self.assumptions


@dataclass
class Catalog:
    """GPU models and node types by id."""

    gpu_models: dict[str, GpuModel]
    node_types: dict[str, NodeType] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def gpu(self, model_id: str) -> GpuModel:
        try:
            return self.gpu_models[model_id]
        except KeyError:
            raise UnknownIdError("GPU model", model_id, sorted(self.gpu_models)) from None

    def node_type(self, type_id: str) -> NodeType:
        try:
            return self.node_types[type_id]
        except KeyError:
            raise UnknownIdError("node type", type_id, sorted(self.node_types)) from None

    def openb_model_map(self) -> dict[str, str]:
        """Openb trace GPU codes (P100, T4, V100M16, V100M32, A10, G2, G3) -> GPU model ids."""
        return dict(OPENB_MODEL_MAP)

    def openb_gpu(self, code: str) -> GpuModel:
        """The GPU model for an openb trace code such as ``V100M32``."""
        try:
            return self.gpu(OPENB_MODEL_MAP[code])
        except KeyError:
            raise UnknownIdError("openb GPU code", code, sorted(OPENB_MODEL_MAP)) from None

    def get(self, entry_id: str) -> GpuModel | NodeType:
        """A GPU model or node type by id (for ``gpusim catalog show``)."""
        if entry_id in self.gpu_models:
            return self.gpu_models[entry_id]
        if entry_id in self.node_types:
            return self.node_types[entry_id]
        raise UnknownIdError("GPU model or node type", entry_id, sorted(self.gpu_models) + sorted(self.node_types))

    def source_text(self, key: str) -> str:
        if key == SCENARIO_SOURCE:
            return "value given in the scenario's catalog block"
        return self.sources.get(key, "(unknown source key)")


# --------------------------------------------------------------------------- loading


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (about 9x faster on the shipped data files, which
tests/hardware/test_data_yaml.py checks it reads alike), else the pure-Python one."""


def load_data_yaml(text: str):
    """A shipped data file's YAML (safe: plain data only)."""
    return yaml.load(text, Loader=SAFE_LOADER)


def _read_data(name: str) -> dict:
    text = resources.files("gpusim.hardware").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return load_data_yaml(text) or {}


@functools.lru_cache(maxsize=1)
def _shipped_raw() -> dict:
    """Parsed shipped data files (cached; callers deep-copy before changing anything)."""
    gpus = _read_data("gpu_models.yaml")
    nodes = _read_data("node_types.yaml")
    srcs = _read_data("sources.yaml")
    return {
        "gpu_models": gpus.get("gpu_models", []),
        "node_types": nodes.get("node_types", []),
        "sources": {str(k): str(v) for k, v in (srcs.get("sources") or {}).items()},
    }


@functools.lru_cache(maxsize=1)
def calibration_data() -> dict:
    """The reference measurements of ``data/calibration.yaml`` (MLPerf rows, service times)."""
    return _read_data("calibration.yaml")


def _as_source_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(",") if s.strip())
    return tuple(str(v) for v in value)


def _merge_entry(base: dict, override: dict) -> dict:
    """Field-by-field override; sources/assumptions merge, overridden values lose old provenance."""
    merged = copy.deepcopy(base)
    srcs = dict(merged.get("sources") or {})
    assum = dict(merged.get("assumptions") or {})
    for key, value in override.items():
        if key in ("sources", "assumptions", "id"):
            continue
        merged[key] = copy.deepcopy(value)
        # A value given in the scenario is sourced from the scenario, unless it says otherwise.
        srcs[key] = [SCENARIO_SOURCE]
        for akey in list(assum):
            if akey == key or akey.startswith(key + "."):
                del assum[akey]
    for key, value in (override.get("sources") or {}).items():
        srcs[key] = value
    for key, value in (override.get("assumptions") or {}).items():
        assum[key] = value
        if srcs.get(key) == [SCENARIO_SOURCE]:
            del srcs[key]
    merged["sources"] = srcs
    merged["assumptions"] = assum
    return merged


def _apply_overrides(entries: list[dict], overrides: list[dict] | None) -> list[dict]:
    by_id = {e["id"]: i for i, e in enumerate(entries)}
    out = list(entries)
    for ov in overrides or []:
        if not isinstance(ov, Mapping) or "id" not in ov:
            raise InputError(f"catalog override entry needs an 'id': {ov!r}")
        ov = dict(ov)
        if ov["id"] in by_id:
            out[by_id[ov["id"]]] = _merge_entry(out[by_id[ov["id"]]], ov)
        else:
            new = _merge_entry({"id": ov["id"]}, ov)
            by_id[ov["id"]] = len(out)
            out.append(new)
    return out


def _fill_from_proxy(raw: dict, raw_by_id: dict[str, dict]) -> dict:
    proxy_id = raw.get("proxy")
    if not proxy_id:
        return raw
    if proxy_id not in raw_by_id:
        raise UnknownIdError("GPU model (proxy)", proxy_id, sorted(raw_by_id))
    proxy = raw_by_id[proxy_id]
    assum = dict(raw.get("assumptions") or {})
    for key in (*SPEC_FIELDS, "vendor", "resource_name", "timeslicing", "price_basis"):
        if raw.get(key) is None and proxy.get(key) is not None:
            raw[key] = proxy[key]
            assum.setdefault(key, f"copied from the proxy {proxy_id}")
    raw["assumptions"] = assum
    return raw


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _build_mig(raw: dict | None) -> MigGeometry | None:
    if not raw:
        return None
    profiles = tuple(
        MigProfile(
            name=str(p["name"]),
            compute_slices=int(p["compute_slices"]),
            memory_slices=int(p["memory_slices"]),
            memory_gib=float(p["memory_gib"]),
            max_count=int(p["max_count"]),
            placements=tuple(int(s) for s in p["placements"]),
            resource_name=p.get("resource_name"),
            count_limit=p.get("count_limit"),
        )
        for p in raw.get("profiles", [])
    )
    return MigGeometry(profiles=profiles)


def _build_amd(raw: dict | None) -> AmdPartitioning | None:
    if not raw:
        return None
    return AmdPartitioning(
        xcds=int(raw.get("xcds", 8)),
        compute_modes=tuple(
            AmdComputeMode(str(m["name"]), int(m["partitions"]), str(m.get("support", "ga")))
            for m in raw.get("compute_modes", [])
        ),
        memory_modes=tuple(
            AmdMemoryMode(str(m["name"]), int(m["numa_partitions"]), tuple(m.get("only_with") or ()))
            for m in raw.get("memory_modes", [])
        ),
        profiles=tuple(
            AmdPartitionProfile(
                name=str(p["name"]),
                compute_mode=str(p["compute_mode"]),
                memory_mode=str(p["memory_mode"]),
                count=int(p["count"]),
                memory_gib=float(p["memory_gib"]),
                resource_name=str(p["resource_name"]),
            )
            for p in raw.get("profiles", [])
        ),
        reconfigure_requires_drain=bool(raw.get("reconfigure_requires_drain", True)),
        mixed_resource_pattern=str(raw.get("mixed_resource_pattern", "amd.com/<compute>_<memory>")),
    )


def _build_intel(raw: dict | None) -> IntelSharing | None:
    if not raw:
        return None
    return IntelSharing(
        default_shared_dev_num=int(raw.get("default_shared_dev_num", 1)),
        allocation_policies=tuple(raw.get("allocation_policies") or ("none", "balanced", "packed")),
        suitable_for_time_critical=bool(raw.get("suitable_for_time_critical", False)),
    )


_GPU_KNOWN = {
    "id", "name", "vendor", "memory_gib", "resource_name", "bf16_tflops", "fp8_tflops",
    "fp4_tflops", "hbm_tbps", "tdp_w", "timeslicing", "mig", "amd_partitions", "intel_shared",
    "proxy", "software_efficiency", "usd_per_gpu_hour", "price_basis", "sources", "assumptions",
}  # fmt: skip


def _build_gpu(raw: dict) -> GpuModel:
    missing = [k for k in ("vendor", "memory_gib", "resource_name") if raw.get(k) is None]
    if missing:
        raise InputError(
            f"GPU model {raw['id']!r} is new but lacks {', '.join(missing)} "
            "(give them, or a 'proxy' GPU model id to copy them from)"
        )
    vendor = str(raw["vendor"]).lower()
    if vendor not in VENDORS:
        raise InputError(f"GPU model {raw['id']!r}: vendor {vendor!r} is not one of {', '.join(VENDORS)}")
    return GpuModel(
        id=str(raw["id"]),
        vendor=vendor,
        memory_gib=float(raw["memory_gib"]),
        resource_name=str(raw["resource_name"]),
        name=str(raw.get("name") or raw["id"]),
        bf16_tflops=_opt_float(raw.get("bf16_tflops")),
        fp8_tflops=_opt_float(raw.get("fp8_tflops")),
        fp4_tflops=_opt_float(raw.get("fp4_tflops")),
        hbm_tbps=_opt_float(raw.get("hbm_tbps")),
        tdp_w=_opt_float(raw.get("tdp_w")),
        timeslicing=bool(raw.get("timeslicing", False)),
        mig=_build_mig(raw.get("mig")),
        amd_partitions=_build_amd(raw.get("amd_partitions")),
        intel_shared=_build_intel(raw.get("intel_shared")),
        proxy=raw.get("proxy"),
        software_efficiency=_opt_float(raw.get("software_efficiency")),
        usd_per_gpu_hour=_opt_float(raw.get("usd_per_gpu_hour")),
        price_basis=raw.get("price_basis"),
        sources={k: _as_source_list(v) for k, v in (raw.get("sources") or {}).items()},
        assumptions={k: str(v) for k, v in (raw.get("assumptions") or {}).items()},
        extra={k: v for k, v in raw.items() if k not in _GPU_KNOWN},
    )


_NODE_KNOWN = {
    "id", "name", "provider", "kind", "gpu_model", "gpus", "vcpu", "memory_gib",
    "on_demand_usd_per_hour", "spot_usd_per_hour", "price_date", "region", "provisioning_s",
    "purchase_usd", "amortisation_years", "power_kw", "electricity_usd_per_kwh", "pue",
    "cpu_model", "cpu_bf16_tflops", "cpu_memory_tbps", "price_history", "price_unknown", "sources", "assumptions",
}  # fmt: skip


def _build_node(raw: dict, gpu_models: dict[str, GpuModel]) -> NodeType:
    missing = [k for k in ("vcpu", "memory_gib") if raw.get(k) is None]
    if missing:
        raise InputError(f"node type {raw['id']!r} is new but lacks {', '.join(missing)}")
    gpu_model = raw.get("gpu_model")
    gpus = int(raw.get("gpus") or 0)
    if gpu_model is not None and gpu_model not in gpu_models:
        raise UnknownIdError(f"GPU model (in node type {raw['id']!r})", gpu_model, sorted(gpu_models))
    if gpus > 0 and gpu_model is None:
        raise InputError(f"node type {raw['id']!r} has {gpus} GPUs but no gpu_model")
    assumptions = {k: str(v) for k, v in (raw.get("assumptions") or {}).items()}
    on_demand = _opt_float(raw.get("on_demand_usd_per_hour"))
    amortised = _amortised_usd_per_hour(raw)
    if on_demand is None and amortised is not None:
        on_demand = amortised
        assumptions.setdefault(
            "on_demand_usd_per_hour",
            "derived: purchase_usd / (amortisation_years x 8760 h) + power_kw x pue x electricity",
        )
    gpu_price = gpu_models[gpu_model].usd_per_gpu_hour if gpu_model is not None else None
    if on_demand is None and gpus > 0 and gpu_price is not None and not raw.get("price_unknown"):
        on_demand = gpus * gpu_price
        assumptions.setdefault(
            "on_demand_usd_per_hour",
            f"derived: {gpus} GPUs x {gpu_price:g} USD per GPU-hour of {gpu_model} (see that GPU model's price source)",
        )
    return NodeType(
        id=str(raw["id"]),
        provider=str(raw.get("provider") or "custom"),
        kind=str(raw.get("kind") or "cloud"),
        gpu_model=gpu_model,
        gpus=gpus,
        vcpu=float(raw["vcpu"]),
        memory_gib=float(raw["memory_gib"]),
        name=str(raw.get("name") or raw["id"]),
        on_demand_usd_per_hour=on_demand,
        spot_usd_per_hour=_opt_float(raw.get("spot_usd_per_hour")),
        price_date=None if raw.get("price_date") is None else str(raw["price_date"]),
        region=raw.get("region"),
        provisioning_s=_opt_float(raw.get("provisioning_s")),
        purchase_usd=_opt_float(raw.get("purchase_usd")),
        amortisation_years=_opt_float(raw.get("amortisation_years")),
        power_kw=_opt_float(raw.get("power_kw")),
        electricity_usd_per_kwh=_opt_float(raw.get("electricity_usd_per_kwh")),
        pue=_opt_float(raw.get("pue")),
        cpu_model=raw.get("cpu_model"),
        cpu_bf16_tflops=_opt_float(raw.get("cpu_bf16_tflops")),
        cpu_memory_tbps=_opt_float(raw.get("cpu_memory_tbps")),
        price_history=tuple(dict(p) for p in raw.get("price_history") or ()),
        price_unknown=bool(raw.get("price_unknown", False)),
        sources={k: _as_source_list(v) for k, v in (raw.get("sources") or {}).items()},
        assumptions=assumptions,
        extra={k: v for k, v in raw.items() if k not in _NODE_KNOWN},
    )


def _amortised_usd_per_hour(raw: dict) -> float | None:
    """Purchase price spread over the amortisation period plus energy, USD per node-hour."""
    price, years = raw.get("purchase_usd"), raw.get("amortisation_years")
    if price is None or not years:
        return None
    hourly = float(price) / (float(years) * HOURS_PER_YEAR)
    if raw.get("power_kw") is not None and raw.get("electricity_usd_per_kwh") is not None:
        hourly += float(raw["power_kw"]) * float(raw.get("pue") or 1.0) * float(raw["electricity_usd_per_kwh"])
    return hourly


def _normalise_overrides(overrides: Any) -> dict:
    if overrides is None:
        return {}
    if hasattr(overrides, "model_dump"):
        overrides = overrides.model_dump(exclude_none=True)
    if not isinstance(overrides, Mapping):
        raise InputError(f"catalog overrides must be a mapping, got {type(overrides).__name__}")
    unknown = set(overrides) - {"gpu_models", "node_types"}
    if unknown:
        raise InputError(f"unknown catalog key(s) {', '.join(sorted(unknown))}; allowed: gpu_models, node_types")
    return dict(overrides)


def load_catalog(overrides: Mapping | None = None) -> Catalog:
    """Read the shipped catalog and apply a scenario's inline ``catalog:`` block.

    ``overrides`` is ``{"gpu_models": [...], "node_types": [...]}`` (plain dicts, or a
    `gpusim.hardware.schema.CatalogOverrides`). An entry whose id exists overrides it field by
    field; a new id is added (a new GPU model may name a ``proxy`` to copy missing specs from).
    Raises `InputError` (or its subclass `UnknownIdError`) for bad overrides.
    """
    ov = _normalise_overrides(overrides)
    raw = _shipped_raw()
    gpu_raw = _apply_overrides(copy.deepcopy(raw["gpu_models"]), ov.get("gpu_models"))
    raw_by_id = {e["id"]: e for e in gpu_raw}
    gpu_models: dict[str, GpuModel] = {}
    for entry in gpu_raw:
        gpu_models[entry["id"]] = _build_gpu(_fill_from_proxy(entry, raw_by_id))
    node_raw = _apply_overrides(copy.deepcopy(raw["node_types"]), ov.get("node_types"))
    node_types = {e["id"]: _build_node(e, gpu_models) for e in node_raw}
    return Catalog(gpu_models=gpu_models, node_types=node_types, sources=dict(raw["sources"]))


# --------------------------------------------------------------------------- prices of pools

CPU_PRICE_REFERENCE = "aws-m7i.48xlarge"
"""Node type whose on-demand price per vCPU bills CPU-only pools that name no node type or price."""


def pool_price(pool: Any, catalog: Catalog) -> tuple[float | None, str]:
    """USD per node-hour of a scenario node pool, and where it comes from.

    In order: the pool's ``price_per_hour``; ``None`` when the pool says ``price_unknown: true``;
    its node type's on-demand (or spot, with ``spot: true``) price; its GPUs x the GPU model's
    ``usd_per_gpu_hour``; for a CPU-only pool, its vCPUs x the per-vCPU on-demand price of
    `CPU_PRICE_REFERENCE`. ``None`` (with the reason) when none of these is known: the scenario
    checks report that as an error unless the pool says the price is unknown.
    """
    if pool.price_per_hour is not None:
        return float(pool.price_per_hour), "price_per_hour of the pool"
    if getattr(pool, "price_unknown", False):
        return None, "price_unknown: true"
    if pool.node_type is not None:
        nt = catalog.node_type(pool.node_type)
        p = nt.spot_usd_per_hour if pool.spot else nt.on_demand_usd_per_hour
        if p is not None:
            return float(p), f"node type {nt.id} ({'spot' if pool.spot else 'on-demand'})"
        return None, f"node type {nt.id} has no {'spot' if pool.spot else 'on-demand'} price in the catalog"
    if pool.gpu_model is not None and pool.gpus_per_node > 0:
        g = catalog.gpu(pool.gpu_model)
        if g.usd_per_gpu_hour is not None:
            return (
                pool.gpus_per_node * g.usd_per_gpu_hour,
                f"{pool.gpus_per_node} x {g.id} at {g.usd_per_gpu_hour:g} $/GPU-h",
            )
        return None, f"GPU model {g.id} has no usd_per_gpu_hour in the catalog"
    ref = catalog.node_types.get(CPU_PRICE_REFERENCE)
    if ref is not None and ref.on_demand_usd_per_hour is not None and ref.vcpu > 0:
        vcpu = pool.vcpu / 1000.0
        return vcpu * ref.on_demand_usd_per_hour / ref.vcpu, f"{vcpu:g} vCPU at the {ref.id} on-demand rate per vCPU"
    return None, "no price_per_hour, node type or GPU model price"
