"""Pydantic models for a scenario's inline ``catalog:`` block.

A scenario adds GPU models and node types, or overrides fields of shipped ones by id::

    catalog:
      gpu_models:
        - id: nvidia-h100-80gb          # known id: only the given fields change
          software_efficiency: 0.5
        - id: my-inference-card         # new id: vendor, memory_gib, resource_name required
          proxy: nvidia-l4              #   (or a proxy GPU model to copy the specs from)
          memory_gib: 48
      node_types:
        - id: azure-nd96isr-mi300x-v5
          on_demand_usd_per_hour: 48.0
          price_date: "2026-05"

Every field is optional here because an override may change one field only; whether a new id
has everything it needs is checked by `gpusim.hardware.load_catalog`, which the scenario
loader calls as ``load_catalog(scenario.catalog.model_dump(exclude_none=True))``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")

SourceMap = dict[str, list[str]]
AssumptionMap = dict[str, str]


class MigProfileSpec(BaseModel):
    model_config = _STRICT

    name: str = Field(description="MIG profile name, e.g. '3g.40gb' (<compute slices>g.<memory GB>gb).")
    compute_slices: int = Field(ge=1, le=7, description="Compute (SM) slices of 7, count.")
    memory_slices: int = Field(ge=1, le=8, description="Memory slices of 8, count.")
    memory_gib: float = Field(gt=0, description="Memory of one instance, GiB.")
    max_count: int = Field(ge=1, le=7, description="Most instances of this profile per GPU, count.")
    placements: list[int] = Field(
        description="Allowed start indices on the 8-wide memory-slice axis (nvidia-smi mig -lgipp)."
    )
    resource_name: str | None = Field(
        default=None, description="Kubernetes resource under the mixed strategy, e.g. nvidia.com/mig-3g.40gb."
    )
    count_limit: str | None = Field(
        default=None, description="Why max_count is below what the placements allow (hardware limit), text."
    )


class MigSpec(BaseModel):
    model_config = _STRICT

    profiles: list[MigProfileSpec] = Field(description="The MIG profiles the GPU model supports.")


class AmdComputeModeSpec(BaseModel):
    model_config = _STRICT

    name: str = Field(description="Compute partition mode: SPX, DPX, QPX or CPX.")
    partitions: int = Field(ge=1, description="Logical GPUs per physical GPU in this mode, count.")
    support: str = Field(default="ga", description="Support level: ga or beta.")


class AmdMemoryModeSpec(BaseModel):
    model_config = _STRICT

    name: str = Field(description="Memory (NUMA) mode: NPS1, NPS2 or NPS4.")
    numa_partitions: int = Field(ge=1, description="Memory partitions per GPU, count.")
    only_with: list[str] = Field(default_factory=list, description="Compute modes this memory mode requires.")


class AmdPartitionProfileSpec(BaseModel):
    model_config = _STRICT

    name: str = Field(description="Profile name, e.g. cpx_nps4.")
    compute_mode: str = Field(description="Compute mode name (SPX, DPX, QPX, CPX).")
    memory_mode: str = Field(description="Memory mode name (NPS1, NPS2, NPS4).")
    count: int = Field(ge=1, description="Logical GPUs per physical GPU, count.")
    memory_gib: float = Field(gt=0, description="Memory per logical GPU, GiB.")
    resource_name: str = Field(description="Kubernetes resource under the mixed strategy, e.g. amd.com/cpx_nps4.")


class AmdPartitionSpec(BaseModel):
    model_config = _STRICT

    xcds: int = Field(default=8, ge=1, description="Accelerator complex dies per GPU, count.")
    compute_modes: list[AmdComputeModeSpec] = Field(default_factory=list, description="Supported compute modes.")
    memory_modes: list[AmdMemoryModeSpec] = Field(default_factory=list, description="Supported memory modes.")
    profiles: list[AmdPartitionProfileSpec] = Field(default_factory=list, description="Usable combinations.")
    reconfigure_requires_drain: bool = Field(default=True, description="Re-partitioning drains the node (bool).")
    mixed_resource_pattern: str = Field(default="amd.com/<compute>_<memory>", description="Resource naming pattern.")


class IntelSharingSpec(BaseModel):
    model_config = _STRICT

    default_shared_dev_num: int = Field(default=1, ge=1, description="Containers per device (-shared-dev-num), count.")
    allocation_policies: list[str] = Field(
        default_factory=lambda: ["none", "balanced", "packed"], description="Policies."
    )
    suitable_for_time_critical: bool = Field(default=False, description="Whether sharing suits latency-critical work.")


class GpuModelOverride(BaseModel):
    """A GPU model to add, or fields of a shipped one to override (matched by id)."""

    model_config = _STRICT

    id: str = Field(description="GPU model id, e.g. nvidia-h100-80gb; a new id adds a model.")
    name: str | None = Field(default=None, description="Display name, text.")
    vendor: Literal["nvidia", "amd", "intel"] | None = Field(default=None, description="Vendor.")
    proxy: str | None = Field(
        default=None, description="GPU model id to copy missing specs from (flagged as assumptions)."
    )
    memory_gib: float | None = Field(default=None, gt=0, description="Device memory, GiB.")
    resource_name: str | None = Field(
        default=None, description="Kubernetes extended resource, e.g. nvidia.com/gpu, amd.com/gpu, habana.ai/gaudi."
    )
    bf16_tflops: float | None = Field(default=None, gt=0, description="Dense BF16 tensor peak, TFLOPS (10^12 FLOP/s).")
    fp8_tflops: float | None = Field(default=None, gt=0, description="Dense FP8 tensor peak, TFLOPS.")
    fp4_tflops: float | None = Field(default=None, gt=0, description="Dense FP4 tensor peak, TFLOPS.")
    hbm_tbps: float | None = Field(default=None, gt=0, description="Memory bandwidth, TB/s (10^12 bytes/s).")
    tdp_w: float | None = Field(default=None, gt=0, description="Thermal design power, W.")
    timeslicing: bool | None = Field(default=None, description="Device plugin supports time-slicing replicas (bool).")
    mig: MigSpec | None = Field(default=None, description="MIG geometry (replaces the shipped one entirely).")
    amd_partitions: AmdPartitionSpec | None = Field(default=None, description="AMD compute/memory partitioning.")
    intel_shared: IntelSharingSpec | None = Field(default=None, description="Intel shared-device settings.")
    software_efficiency: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Delivered / peak speed factor, fraction (default: calibrated per vendor).",
    )
    usd_per_gpu_hour: float | None = Field(
        default=None, ge=0, description="Price of one GPU, USD per GPU-hour (on-demand list or amortised on-premises)."
    )
    price_basis: Literal["cloud-list", "amortised"] | None = Field(
        default=None,
        description="Where usd_per_gpu_hour comes from: a public on-demand list price or an amortised estimate.",
    )
    sources: SourceMap | None = Field(default=None, description="Field name -> source keys or URLs.")
    assumptions: AssumptionMap | None = Field(default=None, description="Field name -> why the value is assumed.")


class NodeTypeOverride(BaseModel):
    """A node type to add, or fields of a shipped one to override (matched by id)."""

    model_config = _STRICT

    id: str = Field(description="Node type id, e.g. aws-p5.48xlarge; a new id adds a node type.")
    name: str | None = Field(default=None, description="Display name, text.")
    provider: str | None = Field(default=None, description="aws, gcp, azure, onprem, alibaba or any label.")
    kind: Literal["cloud", "onprem", "trace"] | None = Field(default=None, description="Kind of node.")
    gpu_model: str | None = Field(default=None, description="GPU model id of its GPUs (omit for CPU-only).")
    gpus: int | None = Field(default=None, ge=0, description="GPUs per node, count.")
    vcpu: float | None = Field(default=None, gt=0, description="Logical CPUs per node, count.")
    memory_gib: float | None = Field(default=None, gt=0, description="Node memory, GiB.")
    on_demand_usd_per_hour: float | None = Field(default=None, ge=0, description="On-demand price, USD per node-hour.")
    spot_usd_per_hour: float | None = Field(default=None, ge=0, description="Spot price, USD per node-hour.")
    price_date: str | None = Field(default=None, description="Date of the price, e.g. 2026-03.")
    region: str | None = Field(default=None, description="Region of the price, text.")
    provisioning_s: float | None = Field(
        default=None, ge=0, description="Request-to-Ready time of a new node, seconds."
    )
    purchase_usd: float | None = Field(default=None, ge=0, description="Purchase price of the node (on-premises), USD.")
    amortisation_years: float | None = Field(default=None, gt=0, description="Depreciation period, years.")
    power_kw: float | None = Field(default=None, ge=0, description="Node power at load, kW.")
    electricity_usd_per_kwh: float | None = Field(default=None, ge=0, description="Energy price, USD per kWh.")
    pue: float | None = Field(default=None, ge=1, description="Power usage effectiveness, ratio.")
    cpu_model: str | None = Field(default=None, description="Host CPU, text.")
    cpu_bf16_tflops: float | None = Field(default=None, gt=0, description="Host CPU BF16 peak (all cores), TFLOPS.")
    cpu_memory_tbps: float | None = Field(default=None, gt=0, description="Host memory bandwidth, TB/s.")
    price_unknown: bool | None = Field(
        default=None, description="The price is not known: cost results print as unknown instead of failing (bool)."
    )
    sources: SourceMap | None = Field(default=None, description="Field name -> source keys or URLs.")
    assumptions: AssumptionMap | None = Field(default=None, description="Field name -> why the value is assumed.")


class CatalogOverrides(BaseModel):
    """The ``catalog:`` block of a scenario: GPU models and node types to add or override."""

    model_config = _STRICT

    gpu_models: list[GpuModelOverride] | None = Field(
        default=None, description="GPU models to add or override, matched by id."
    )
    node_types: list[NodeTypeOverride] | None = Field(
        default=None, description="Node types to add or override, matched by id."
    )
