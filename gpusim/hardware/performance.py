"""The performance model: every speed the engine needs, from catalog specs. Pure functions, no I/O.

Devices are `GpuModel` records or `CpuDevice` (a CPU node, or some of its vCPUs). A `Share`
says what part of a device a workload gets (a MIG slice, an AMD partition, a time-slice).

Effective capabilities (the roofline inputs)::

    F  = peak_tflops(precision) * 1e12 * eff * share.compute   * n * tp(n)     [FLOP/s]
    B  = hbm_tbps               * 1e12 * eff * share.bandwidth * n * tp(n)     [byte/s]
    M  = (share.memory_gib or memory_gib) * 2^30 * n                           [byte]
    tp(n) = tp_efficiency_per_doubling ** log2(n)         (tensor / data parallel loss)

``eff`` is the software efficiency (delivered / peak): the device's ``software_efficiency`` if set,
else the vendor factor `VENDOR_EFFICIENCY` calibrated against MLPerf Inference Llama-2-70B
(see `gpusim.hardware.calibration` and ``gpusim catalog calibration``), or `CPU_EFFICIENCY`.

Shares: MIG profile (c compute slices, m memory slices) -> compute c/7, bandwidth m/8, memory of
the profile; AMD partition with k logical GPUs -> 1/k of compute and bandwidth, the profile's
memory; time-slicing with n tenants -> compute and bandwidth ``TIMESLICE_EFFICIENCY / n`` each
(context-switch loss, hardware-facts.md 2.2), memory not isolated.

Training (work in reference-GPU-seconds: seconds the job would need on the reference GPU)::

    time on target per reference-second = f * F_ref / F + (1 - f) * B_ref / B
    rate = n * s ** log2(n) / that           (reference-seconds of work per second)

with f = the job's compute-bound fraction on the reference GPU (the rest is memory-bound),
s = the job's scaling efficiency per doubling of GPUs, and F, B the single-GPU effective values.

LLM inference (P parameters, W = P * bytes_per_weight, kv = KV-cache bytes per token)::

    prefill_s(p)          = 2 P p / F + W / B                      compute-bound
    decode_step_s(b, ctx) = 2 P b / F + (W + b * kv * ctx) / B     memory-bound at small b
    service_s(p, o, b)    = prefill_s(p) + o * decode_step_s(b, p + o / 2)
    max_batch(ctx)        = floor((M * (1 - reserve) - W) / (kv * ctx))
    throughput(p, o, b)   = b * o / (b * prefill_s(p) + o * decode_step_s(b, p + o / 2))

Compute and memory time add (no overlap) rather than taking the roofline maximum: against the
MLPerf v4.1 rows the sum narrows the errors among NVIDIA's H100, H200 and B200 from -18..+30 % to
-10..+21 % (the maximum makes large-batch decode purely compute-bound, so H200 would gain
nothing from its bandwidth, while MLPerf shows +28 % per GPU over H100). A request decoded in a batch of b shares every
decode step with b - 1 others; its prefill runs alone (chunked prefill is not modelled).
KV values per token default to the GQA fit ``20480 * sqrt(params_b)`` (Llama-3-8B,
Llama-2/3-70B within 12 %) when the architecture is not given.

Other inference: a measured per-model service-time table (`ServiceTimeTable`) per device; a
device not in the table scales from a listed one of the same kind by effective compute F.

CPU: `cpu_device` turns a node type's CPU peak (``cpu_bf16_tflops``, ``cpu_memory_tbps``) into a
device, in proportion to the vCPUs given, so the same LLM and table functions compare GPU and CPU.

Units are in the names: ``_s`` seconds, ``_gib`` GiB, ``_tflops`` 10^12 FLOP/s, ``_tbps`` 10^12
byte/s, ``_b`` billions. Functions taking token counts accept numpy arrays and then return arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gpusim.errors import InputError
from gpusim.hardware.catalog import AmdPartitionProfile, GpuModel, MigProfile, NodeType

# Calibrated against MLPerf Inference Llama-2-70B Offline (data/calibration.yaml); the test
# tests/hardware/test_hardware_calibration.py recomputes them and fails if these drift.
VENDOR_EFFICIENCY: dict[str, float] = {"nvidia": 0.8268, "amd": 0.6177, "intel": 0.5356}
"""Delivered / peak factor per vendor (geometric-mean fit over that vendor's MLPerf rows)."""

CPU_EFFICIENCY = 0.8112
"""Delivered / peak factor of CPUs: reproduces MLPerf v4.1 GPT-J's 2 x Xeon 6980P / 8 x H100 ratio."""

TIMESLICE_EFFICIENCY = 0.8
"""Aggregate throughput of a time-sliced GPU relative to exclusive use (assumption: the middle of
the 0.76-0.85 range measured in hardware-facts.md 2.2 [S7], [S8])."""

TP_EFFICIENCY_PER_DOUBLING = 0.9
"""Throughput kept per doubling of GPUs in tensor parallel (assumption, not calibrated)."""

TRAINING_SCALING_PER_DOUBLING = 0.95
"""Default multi-GPU training efficiency per doubling of GPUs (assumption, not calibrated)."""

DEFAULT_MAX_BATCH = 256
"""Concurrent sequences a serving engine runs when not told otherwise (assumption: vLLM's
``max_num_seqs`` default, recalled); `llm_throughput_tokens_s` caps the KV-cache limit at it."""

MEMORY_RESERVE_FRACTION = 0.1
"""Device memory kept free for activations, CUDA graphs and allocator slack (assumption)."""

BYTES_PER_VALUE = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5}
_COMPUTE_PRECISION = {
    "fp32": "bf16",
    "bf16": "bf16",
    "fp16": "bf16",
    "fp8": "fp8",
    "int8": "fp8",
    "fp4": "fp4",
    "int4": "fp4",
}

GIB = 2.0**30


class Device(Protocol):
    """What the performance model reads from a device (a `GpuModel` or a `CpuDevice`)."""

    id: str
    vendor: str
    memory_gib: float
    bf16_tflops: float | None
    hbm_tbps: float | None
    software_efficiency: float | None

    def peak_tflops(self, precision: str = "bf16") -> float | None: ...


@dataclass(frozen=True)
class CpuDevice:
    """The CPUs of a node (or ``fraction`` of them) as a device for the performance model."""

    id: str
    node_id: str
    fraction: float
    memory_gib: float
    bf16_tflops: float
    hbm_tbps: float
    vendor: str = "cpu"
    software_efficiency: float | None = None

    def peak_tflops(self, precision: str = "bf16") -> float | None:
        # AMX and AVX-512 run INT8 faster, but BF16 is what LLM serving on CPUs uses.
        return self.bf16_tflops


def cpu_device(node: NodeType, vcpus: float | None = None) -> CpuDevice:
    """A CPU node's throughput model, for ``vcpus`` of its vCPUs (all of them by default).

    Compute, memory bandwidth and memory scale with the vCPU fraction (assumption: a pod's share
    of the memory controllers follows its share of cores).
    """
    if node.cpu_bf16_tflops is None or node.cpu_memory_tbps is None:
        raise InputError(
            f"node type {node.id!r} has no CPU throughput (cpu_bf16_tflops, cpu_memory_tbps); "
            "set them in the scenario's catalog block"
        )
    frac = 1.0 if vcpus is None else float(vcpus) / node.vcpu
    if not 0 < frac <= 1:
        raise InputError(f"vcpus must be in (0, {node.vcpu}] for node type {node.id!r}, got {vcpus}")
    return CpuDevice(
        id=f"cpu:{node.id}",
        node_id=node.id,
        fraction=frac,
        memory_gib=node.memory_gib * frac,
        bf16_tflops=node.cpu_bf16_tflops * frac,
        hbm_tbps=node.cpu_memory_tbps * frac,
    )


# --------------------------------------------------------------------------- shares


@dataclass(frozen=True)
class Share:
    """The part of one device a workload gets: fractions of compute and bandwidth, and memory."""

    compute: float = 1.0
    bandwidth: float = 1.0
    memory_gib: float | None = None  # None: the whole device's memory (not isolated)

    def __post_init__(self):
        if not (0 < self.compute <= 1 and 0 < self.bandwidth <= 1):
            raise ValueError(f"share fractions must be in (0, 1], got {self}")


WHOLE = Share()


def mig_share(profile: MigProfile) -> Share:
    """A MIG instance: c/7 of the compute, m/8 of the bandwidth, the profile's memory."""
    return Share(profile.compute_fraction, profile.bandwidth_fraction, profile.memory_gib)


def partition_share(profile: AmdPartitionProfile) -> Share:
    """An AMD compute partition: 1/k of compute and bandwidth (assumption), the profile's memory."""
    return Share(profile.compute_fraction, profile.bandwidth_fraction, profile.memory_gib)


def timeslice_share(tenants: int, efficiency: float = TIMESLICE_EFFICIENCY) -> Share:
    """One of ``tenants`` active time-sliced tenants: an equal slice of what is left after switching."""
    if tenants < 1:
        raise ValueError("tenants must be >= 1")
    if tenants == 1:
        return WHOLE
    f = efficiency / tenants
    return Share(f, f, None)


def shared_fraction_share(fraction: float) -> Share:
    """A fractional GPU (openb ``gpu_milli`` / 1000) treated as that fraction of compute and bandwidth."""
    return Share(fraction, fraction, None)


def share_for_resource(gpu: GpuModel, resource_name: str, tenants: int = 1) -> Share:
    """The share a container gets from one unit of ``resource_name`` on ``gpu``.

    ``nvidia.com/mig-3g.40gb`` -> the MIG instance; ``amd.com/cpx_nps4`` -> the partition; the
    whole-device resource (``nvidia.com/gpu``, ``amd.com/gpu``, ...) -> the device, or one of
    ``tenants`` time-slices / shared-device tenants when it is shared.
    """
    if resource_name in (gpu.resource_name, gpu.resource_name + ".shared"):
        return timeslice_share(tenants)
    if gpu.mig is not None:
        for p in gpu.mig.profiles:
            if p.resource_name == resource_name:
                return mig_share(p)
    if gpu.amd_partitions is not None:
        for p in gpu.amd_partitions.profiles:
            if p.resource_name == resource_name:
                return partition_share(p)
    raise InputError(f"GPU model {gpu.id!r} offers no resource {resource_name!r}")


ShareLike = Share | float | int


def _as_share(share: ShareLike) -> Share:
    if isinstance(share, Share):
        return share
    s = float(share)
    return Share(s, s, None)


# --------------------------------------------------------------------------- device capabilities


def efficiency(device: Device) -> float:
    """Software efficiency (delivered / peak) of a device: its own factor, else its vendor's."""
    if device.software_efficiency is not None:
        return float(device.software_efficiency)
    if device.vendor == "cpu":
        return CPU_EFFICIENCY
    return VENDOR_EFFICIENCY[device.vendor]


def parallel_efficiency(n: int, per_doubling: float) -> float:
    """Throughput kept when spreading over ``n`` devices: per_doubling ** log2(n)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    return per_doubling ** math.log2(n)


def _need(device: Device, precision: str) -> tuple[float, float]:
    peak = device.peak_tflops(precision)
    if peak is None or device.hbm_tbps is None:
        raise InputError(
            f"{device.id!r} has no {'bf16_tflops' if peak is None else 'hbm_tbps'} in the catalog; "
            "add it in the scenario's catalog block to get speeds for it"
        )
    return peak, device.hbm_tbps


@dataclass(frozen=True)
class Capability:
    """Effective (delivered) capability of a device share or a group of devices."""

    flops: float  # FLOP/s
    bytes_per_s: float  # byte/s
    memory_bytes: float  # byte


def capability(
    device: Device,
    share: ShareLike = 1.0,
    n_devices: int = 1,
    precision: str = "bf16",
    tp_efficiency_per_doubling: float = TP_EFFICIENCY_PER_DOUBLING,
) -> Capability:
    """Delivered FLOP/s, byte/s and memory of ``n_devices`` shares of ``device`` working together."""
    sh = _as_share(share)
    peak, bw = _need(device, _COMPUTE_PRECISION.get(precision, "bf16"))
    scale = n_devices * parallel_efficiency(n_devices, tp_efficiency_per_doubling)
    eff = efficiency(device)
    mem = (sh.memory_gib if sh.memory_gib is not None else device.memory_gib) * GIB * n_devices
    return Capability(
        flops=peak * 1e12 * eff * sh.compute * scale,
        bytes_per_s=bw * 1e12 * eff * sh.bandwidth * scale,
        memory_bytes=mem,
    )


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingProfile:
    """How a training job uses a GPU, relative to the reference GPU its work is measured on.

    ``compute_fraction``: share of a step's time on the reference GPU that is compute-bound
    (the rest is memory-bandwidth-bound). ``reference``: the GPU model of the work unit
    (default `REFERENCE_GPU`, the A100-SXM4-40GB).
    """

    compute_fraction: float = 0.7
    scaling_efficiency_per_doubling: float = TRAINING_SCALING_PER_DOUBLING
    precision: str = "bf16"
    reference: GpuModel | None = None

    def __post_init__(self):
        if not 0 <= self.compute_fraction <= 1:
            raise ValueError("compute_fraction must be in [0, 1]")


REFERENCE_GPU = GpuModel(
    id="nvidia-a100-40gb",
    vendor="nvidia",
    memory_gib=40.0,
    resource_name="nvidia.com/gpu",
    name="NVIDIA A100-SXM4-40GB",
    bf16_tflops=312.0,
    hbm_tbps=1.555,
)
"""Default reference GPU of training work (same numbers as the catalog entry, [S68])."""


def training_rate(gpu: Device, job: TrainingProfile, n_gpus: int = 1, share: ShareLike = 1.0) -> float:
    """Reference-GPU-seconds of work done per second by ``n_gpus`` (shares of) ``gpu``."""
    ref = job.reference or REFERENCE_GPU
    r = capability(ref, 1.0, 1, job.precision)
    t = capability(gpu, share, 1, job.precision)
    per_ref_s = job.compute_fraction * r.flops / t.flops + (1 - job.compute_fraction) * r.bytes_per_s / t.bytes_per_s
    return n_gpus * parallel_efficiency(n_gpus, job.scaling_efficiency_per_doubling) / per_ref_s


def training_duration_s(work_ref_s: float, rate: float) -> float:
    """Seconds to finish ``work_ref_s`` reference-GPU-seconds at ``rate``."""
    return work_ref_s / rate


# --------------------------------------------------------------------------- LLM inference


def default_kv_values_per_token(params_b: float) -> float:
    """K+V values cached per token over all layers for a GQA model of ``params_b`` billion parameters.

    Fit ``20480 * sqrt(params_b)``: Llama-3-8B 65,536 (fit 57,926), Llama-2/3-70B 163,840 (fit
    171,346). Multi-head-attention models (GPT-J, Llama-2-7B) cache 3-4x more: give it explicitly.
    """
    return 20480.0 * math.sqrt(params_b)


@dataclass(frozen=True)
class LlmSpec:
    """A served LLM: size, precision, KV-cache shape."""

    params_b: float
    precision: str = "bf16"
    kv_values_per_token: float | None = None
    kv_precision: str | None = None  # default: the weight precision, but at least 1 byte

    def __post_init__(self):
        if self.precision not in BYTES_PER_VALUE:
            raise ValueError(f"unknown precision {self.precision!r}; allowed: {', '.join(BYTES_PER_VALUE)}")
        if self.params_b <= 0:
            raise ValueError("params_b must be > 0")

    @property
    def weight_bytes(self) -> float:
        return self.params_b * 1e9 * BYTES_PER_VALUE[self.precision]

    @property
    def kv_bytes_per_token(self) -> float:
        values = self.kv_values_per_token or default_kv_values_per_token(self.params_b)
        kv_bytes = (
            BYTES_PER_VALUE[self.kv_precision] if self.kv_precision else max(BYTES_PER_VALUE[self.precision], 1.0)
        )
        return values * kv_bytes

    @property
    def flops_per_token(self) -> float:
        return 2.0 * self.params_b * 1e9


LlmLike = LlmSpec | float | int


def _as_llm(model: LlmLike, precision: str, kv_values_per_token: float | None) -> LlmSpec:
    if isinstance(model, LlmSpec):
        return model
    return LlmSpec(float(model), precision, kv_values_per_token)


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def llm_weights_gib(model: LlmLike, precision: str = "bf16") -> float:
    """Memory the weights take, GiB."""
    return _as_llm(model, precision, None).weight_bytes / GIB


def llm_fits(gpu: Device, model: LlmLike, *, share: ShareLike = 1.0, n_gpus: int = 1, precision: str = "bf16") -> bool:
    """Whether the weights fit (leaving the reserve) in ``n_gpus`` shares of ``gpu``."""
    return llm_max_batch(gpu, model, 1, share=share, n_gpus=n_gpus, precision=precision) > 0


def llm_max_batch(
    gpu: Device,
    model: LlmLike,
    context_tokens: float,
    *,
    share: ShareLike = 1.0,
    n_gpus: int = 1,
    precision: str = "bf16",
    kv_values_per_token: float | None = None,
    memory_reserve_fraction: float = MEMORY_RESERVE_FRACTION,
    max_batch: int | None = None,
) -> int:
    """Most sequences of ``context_tokens`` whose KV cache fits beside the weights (0: does not fit)."""
    m = _as_llm(model, precision, kv_values_per_token)
    sh = _as_share(share)
    mem = (sh.memory_gib if sh.memory_gib is not None else gpu.memory_gib) * GIB * n_gpus
    free = mem * (1.0 - memory_reserve_fraction) - m.weight_bytes
    if free <= 0:
        return 0
    b = int(free // (m.kv_bytes_per_token * max(float(context_tokens), 1.0)))
    return min(b, max_batch) if max_batch is not None else b


def llm_prefill_time_s(
    gpu: Device,
    model: LlmLike,
    prompt_tokens,
    *,
    share: ShareLike = 1.0,
    n_gpus: int = 1,
    precision: str = "bf16",
    kv_values_per_token: float | None = None,
):
    """Time to process a prompt (time to first token, queueing excluded), seconds."""
    m = _as_llm(model, precision, kv_values_per_token)
    c = capability(gpu, share, n_gpus, m.precision)
    p = np.asarray(prompt_tokens, dtype=float)
    return _out(m.flops_per_token * p / c.flops + m.weight_bytes / c.bytes_per_s)


def llm_decode_step_time_s(
    gpu: Device,
    model: LlmLike,
    batch,
    context_tokens,
    *,
    share: ShareLike = 1.0,
    n_gpus: int = 1,
    precision: str = "bf16",
    kv_values_per_token: float | None = None,
):
    """Time of one decode step producing one token for each of ``batch`` sequences, seconds."""
    m = _as_llm(model, precision, kv_values_per_token)
    c = capability(gpu, share, n_gpus, m.precision)
    b = np.asarray(batch, dtype=float)
    ctx = np.asarray(context_tokens, dtype=float)
    compute = m.flops_per_token * b / c.flops
    memory = (m.weight_bytes + b * m.kv_bytes_per_token * ctx) / c.bytes_per_s
    return _out(compute + memory)


def llm_service_time_s(
    gpu: Device,
    model_params_b: LlmLike,
    prompt_tokens,
    output_tokens,
    batch=1,
    share: ShareLike = 1.0,
    *,
    n_gpus: int = 1,
    precision: str = "bf16",
    kv_values_per_token: float | None = None,
):
    """Service time of a request (prefill + its decode steps in a batch of ``batch``), seconds.

    Vectorised: ``prompt_tokens``, ``output_tokens`` and ``batch`` may be numpy arrays.
    ``inf`` when the weights do not fit the memory of the share (check `llm_fits` first; the
    KV-cache limit on ``batch`` is `llm_max_batch`'s job).
    """
    kw = dict(share=share, n_gpus=n_gpus, precision=precision, kv_values_per_token=kv_values_per_token)
    p = np.asarray(prompt_tokens, dtype=float)
    o = np.asarray(output_tokens, dtype=float)
    prefill = llm_prefill_time_s(gpu, model_params_b, p, **kw)
    step = llm_decode_step_time_s(gpu, model_params_b, batch, p + o / 2.0, **kw)
    total = np.asarray(prefill) + o * np.asarray(step)
    if not llm_fits(gpu, _as_llm(model_params_b, precision, kv_values_per_token), share=share, n_gpus=n_gpus):
        total = np.full_like(total, np.inf)
    return _out(total)


def llm_service_times_s(
    gpu: Device, model_params_b: LlmLike, prompt_tokens, output_tokens, batch=1, share: ShareLike = 1.0, **kw
) -> np.ndarray:
    """`llm_service_time_s` that always returns a float64 array (for per-request use)."""
    return np.atleast_1d(
        np.asarray(
            llm_service_time_s(gpu, model_params_b, prompt_tokens, output_tokens, batch, share, **kw), dtype=np.float64
        )
    )


def llm_throughput_tokens_s(
    gpu: Device,
    model: LlmLike,
    prompt_tokens: float,
    output_tokens: float,
    batch: int | None = None,
    *,
    share: ShareLike = 1.0,
    n_gpus: int = 1,
    precision: str = "bf16",
    kv_values_per_token: float | None = None,
    max_batch: int | None = None,
) -> float:
    """Steady-state output tokens/s of one replica (``n_gpus`` shares) with ``batch`` sequences.

    ``batch=None`` uses the largest batch the KV cache allows, capped at ``max_batch``
    (default `DEFAULT_MAX_BATCH`); 0.0 when the model does not fit.
    """
    if max_batch is None:
        max_batch = DEFAULT_MAX_BATCH
    kw = dict(share=share, n_gpus=n_gpus, precision=precision, kv_values_per_token=kv_values_per_token)
    ctx = prompt_tokens + output_tokens / 2.0
    if batch is None:
        batch = llm_max_batch(gpu, model, prompt_tokens + output_tokens, max_batch=max_batch, **kw)
    if batch <= 0:
        return 0.0
    prefill = llm_prefill_time_s(gpu, model, prompt_tokens, **kw)
    step = llm_decode_step_time_s(gpu, model, batch, ctx, **kw)
    return batch * output_tokens / (batch * prefill + output_tokens * step)


# --------------------------------------------------------------------------- other inference


@dataclass(frozen=True)
class ServiceTimeTable:
    """Measured device-seconds per request of one model on some devices.

    Keys are GPU model ids or ``cpu:<node type id>`` (a whole node's CPUs).
    """

    model: str
    seconds_by_device: Mapping[str, float] = field(default_factory=dict)


def table_service_time_s(
    table: ServiceTimeTable,
    device: Device,
    share: ShareLike = 1.0,
    devices: Mapping[str, Device] | None = None,
) -> float:
    """Service time of one request of ``table.model`` on (a share of) ``device``, seconds.

    A device in the table uses its measured time; otherwise the time of a listed device of the
    same kind (GPU or CPU) found in ``devices`` is scaled by the ratio of effective compute.
    """
    sh = _as_share(share)
    key = f"cpu:{device.node_id}" if isinstance(device, CpuDevice) else device.id
    frac = device.fraction if isinstance(device, CpuDevice) else 1.0
    if key in table.seconds_by_device:
        return table.seconds_by_device[key] / (frac * sh.compute)
    want_cpu = isinstance(device, CpuDevice)
    for ref_key, seconds in table.seconds_by_device.items():
        if ref_key.startswith("cpu:") != want_cpu or devices is None or ref_key not in devices:
            continue
        ref = devices[ref_key]
        return seconds * capability(ref).flops / capability(device, sh).flops
    raise InputError(
        f"no service time for model {table.model!r} on {device.id!r} and no comparable device to scale "
        f"from; known: {', '.join(table.seconds_by_device)}"
    )
