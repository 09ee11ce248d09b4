"""The scenario surface of an LLM service: its ``model:``, ``engine:`` and ``slo:`` blocks, checked
against the catalog, and the replica they describe.

Not wired into `gpusim.scenario.models.InferenceWorkload` yet (issue 14, items 1 and 5): these
models and `derive_replica` are what that wiring reads. A service would say::

    model:  {id: llama-2-70b, precision: fp8, tensor_parallel: 1, stack: trtllm}
    engine: {max_num_seqs: 256, enable_chunked_prefill: true, gpu_memory_utilization: 0.9}
    slo:    {ttft: 2s, tpot: 200ms, percentile: 99}

``engine:`` uses vLLM's engine-argument names and defaults (``vllm serve --help``; the Engine
Arguments page of docs.vllm.ai, v0.8): ``max_num_seqs`` 256, ``max_num_batched_tokens`` derived,
``enable_chunked_prefill`` off (vLLM V0's default below 32k context; V1 always chunks),
``block_size`` 16, ``gpu_memory_utilization`` 0.9, ``max_model_len`` the model's context,
``kv_cache_dtype`` auto. Without chunked prefill vLLM derives ``max_num_batched_tokens`` as
``max(max_model_len, 2048)`` and with it 2048 (vLLM V0 ``SchedulerConfig``; recalled, not in the
corpus).

`derive_replica` turns the blocks and a GPU (model, count per replica) into the compiled replica's
`gpusim.hardware.llm.ReplicaModel` (KV capacity in whole blocks) plus the figures a user checks: KV
tokens and blocks, prefill and decode speeds, and the old ``concurrency`` / ``batch_slowdown``
equivalents (`gpusim.hardware.llm.derived_queue_params`). Mean request lengths default to the
MLPerf Llama-2-70B workload; `workload_from_azure_trace` takes them from an Azure LLM trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gpusim.errors import InputError
from gpusim.hardware import llm
from gpusim.units import Duration

PRECISIONS = tuple(llm.BYTES_PER_VALUE)
KV_CACHE_DTYPES = ("auto", "bf16", "fp16", "fp8")
BLOCK_SIZES = (1, 8, 16, 32, 64, 128)  # vLLM's --block-size choices (CUDA)
VLLM_DEFAULT_BATCHED_TOKENS = 2048  # vLLM V0 _DEFAULT_MAX_NUM_BATCHED_TOKENS (recalled)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, allow_inf_nan=False)


class LlmModelBlock(_Model):
    """What a replica serves: a catalog model in one precision, over ``tensor_parallel`` GPUs."""

    id: str = Field(description="Model id, one of `gpusim catalog predict --list` (e.g. llama-2-70b).")
    precision: Literal["bf16", "fp16", "fp8", "int8", "fp4", "int4"] = Field(
        "fp8", description="Weight precision (bf16, fp16, fp8, int8, fp4, int4)."
    )
    tensor_parallel: int | None = Field(
        None, ge=1, le=64, description="GPUs one replica shards the model over (default: the pod's GPU count)."
    )
    stack: str | None = Field(
        None,
        description="Software stack whose fitted efficiencies apply (e.g. trtllm, vllm-rocm-v5.0, habana-pt); "
        "default: the vendor's newest MLPerf stack.",
    )
    kv_cache_dtype: Literal["auto", "bf16", "fp16", "fp8"] = Field(
        "auto",
        description="KV-cache precision; auto: as the weights, at least 1 byte per value (how the MLPerf rows "
        "ran; vLLM's own auto keeps the activation dtype, give bf16 for that).",
    )

    @field_validator("id")
    @classmethod
    def _known_model(cls, v: str) -> str:
        known = llm.known_models()
        if v not in known:
            raise ValueError(f"unknown model {v!r}; allowed: {', '.join(known)}")
        return v


class LlmEngineBlock(_Model):
    """Serving-engine settings, with vLLM's names and defaults."""

    max_num_seqs: int = Field(256, ge=1, le=100_000, description="Most sequences in one iteration (vLLM: 256).")
    max_num_batched_tokens: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Token budget of one iteration (vLLM: max(max_model_len, 2048), or 2048 with chunked prefill).",
    )
    enable_chunked_prefill: bool = Field(
        False, description="Chunked prefill (Sarathi-Serve): decodes never wait behind a long prompt (vLLM V0: off)."
    )
    block_size: Literal[1, 8, 16, 32, 64, 128] = Field(16, description="Tokens per KV-cache block (vLLM: 16).")
    gpu_memory_utilization: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Share of each GPU's memory the engine may use: weights, activations, KV (vLLM: 0.9).",
    )
    max_model_len: int | None = Field(
        None, ge=1, le=10_000_000, description="Longest prompt + output a request may have (default: the model's)."
    )


class LlmSlo(_Model):
    """Latency objectives of an LLM service: time to first token, time per output token, end to end."""

    ttft: Duration | None = Field(None, gt=0, description="Time to first token limit (seconds).")
    tpot: Duration | None = Field(None, gt=0, description="Time per output token limit (seconds).")
    e2e: Duration | None = Field(None, gt=0, description="End-to-end latency limit (seconds).")
    percentile: float = Field(99.0, gt=0, lt=100, description="Percent of requests that must meet every limit.")

    @model_validator(mode="after")
    def _one_limit(self):
        if self.ttft is None and self.tpot is None and self.e2e is None:
            raise ValueError("give at least one of ttft, tpot, e2e (or `latency` alone: an end-to-end objective)")
        return self


# --------------------------------------------------------------------------- checks


def allowed_stacks(vendor: str) -> list[str]:
    """Stacks with fitted efficiencies for ``vendor`` (`gpusim.hardware.llm.LLM_EFFICIENCY`)."""
    return sorted({k.split("/")[1] for k in llm.LLM_EFFICIENCY if k.split("/")[0] == vendor})


def check_llm_service(
    model: LlmModelBlock, engine: LlmEngineBlock, gpu_model: str, gpu_count: int, catalog=None
) -> list[tuple[tuple, str]]:
    """Problems of a service's blocks against the catalog, as ``(field path, message)`` pairs.

    Paths start at ``model``, ``engine`` or ``pod`` (for the GPU), as a scenario loader locates
    them. An empty list means `derive_replica` will succeed.
    """
    from gpusim.hardware import UnknownIdError, load_catalog

    catalog = catalog or load_catalog()
    out: list[tuple[tuple, str]] = []
    try:
        gpu = catalog.gpu(gpu_model)
    except UnknownIdError as e:
        return [(("pod", "gpu_model"), f"unknown GPU model {gpu_model!r}; allowed: {', '.join(e.known)}")]
    if gpu_count < 1:
        return [(("pod", "gpus"), f"an LLM replica needs at least one GPU, got {gpu_count}")]
    arch = llm.llm_arch(model.id)
    tp = model.tensor_parallel or gpu_count
    if tp != gpu_count:
        out.append(
            (("model", "tensor_parallel"), f"tensor_parallel {tp} must equal the replica's GPU count {gpu_count}")
        )
    if arch.heads % tp:
        divisors = [d for d in range(1, min(arch.heads, 64) + 1) if arch.heads % d == 0]
        out.append(
            (
                ("model", "tensor_parallel"),
                f"{arch.name} has {arch.heads} attention heads, which tensor_parallel {tp} does not divide; "
                f"allowed: {', '.join(map(str, divisors))}",
            )
        )
    if gpu.peak_tflops(llm.COMPUTE_PRECISION[model.precision]) is None or gpu.hbm_tbps is None:
        out.append((("model", "precision"), f"{gpu.id} has no peak compute or memory bandwidth in the catalog"))
    if gpu.software_efficiency is None and model.stack is not None:
        stacks = allowed_stacks(gpu.vendor)
        if model.stack not in stacks:
            out.append(
                (
                    ("model", "stack"),
                    f"no fitted efficiencies for {gpu.vendor} stack {model.stack!r}; "
                    f"allowed: {', '.join(stacks) or '(none: give no stack)'}",
                )
            )
    max_len = engine.max_model_len or arch.max_context_tokens
    if max_len > arch.max_context_tokens:
        out.append(
            (
                ("engine", "max_model_len"),
                f"{max_len} exceeds {arch.name}'s context of {arch.max_context_tokens} tokens",
            )
        )
    mbt = engine.max_num_batched_tokens
    if mbt is not None and not engine.enable_chunked_prefill and mbt < max_len:
        out.append(
            (
                ("engine", "max_num_batched_tokens"),
                f"{mbt} is below max_model_len {max_len}: without chunked prefill a prompt must fit one "
                f"iteration (vLLM refuses this too); raise it or set enable_chunked_prefill",
            )
        )
    if mbt is not None and mbt < engine.max_num_seqs:
        out.append(
            (
                ("engine", "max_num_batched_tokens"),
                f"{mbt} is below max_num_seqs {engine.max_num_seqs} (each sequence decodes one token per iteration)",
            )
        )
    if out:
        return out
    r = _replica(model, engine, gpu, tp)
    if r.kv_capacity_tokens < max_len:
        out.append(
            (
                ("engine", "gpu_memory_utilization"),
                f"{arch.name} in {model.precision} on {tp} x {gpu.id} leaves KV room for {max(r.kv_capacity_tokens, 0):,} "
                f"tokens at gpu_memory_utilization {engine.gpu_memory_utilization}, less than one request of "
                f"max_model_len {max_len} (weights {r.weight_bytes / 2**30:.1f} GiB of "
                f"{tp * gpu.memory_gib:.0f} GiB); use more GPUs, a lower precision or a shorter max_model_len",
            )
        )
    return out


# --------------------------------------------------------------------------- derivation


@dataclass(frozen=True)
class ReplicaParams:
    """What one replica of the service is, as the compiled replica and the simple data plane see it."""

    replica: llm.ReplicaModel  # the kernel's coefficients; kv_capacity_tokens in whole blocks
    chunked_prefill: bool
    block_size: int
    kv_blocks: int
    max_model_len: int
    prefill_tokens_per_s: float  # one mean prompt alone: prompt / TTFT
    decode_tokens_per_s_alone: float  # one sequence alone at the mean context (1 / TPOT)
    batch_tokens_per_s: float  # output tokens/s at the concurrency below
    concurrency: int  # the old InferenceWorkload.concurrency equivalent
    batch_slowdown: float  # the old InferenceWorkload.batch_slowdown equivalent
    service_time_alone_s: float  # one request alone: prefill + decode

    @property
    def kv_capacity_tokens(self) -> int:
        return self.replica.kv_capacity_tokens


def _batched_tokens(engine: LlmEngineBlock, max_len: int) -> int:
    if engine.max_num_batched_tokens is not None:
        return engine.max_num_batched_tokens
    if engine.enable_chunked_prefill:
        return max(VLLM_DEFAULT_BATCHED_TOKENS, engine.max_num_seqs)
    return max(max_len, VLLM_DEFAULT_BATCHED_TOKENS)


def _replica(model: LlmModelBlock, engine: LlmEngineBlock, gpu, tp: int) -> llm.ReplicaModel:
    arch = llm.llm_arch(model.id)
    max_len = engine.max_model_len or arch.max_context_tokens
    settings = llm.engine_settings(
        max_num_seqs=engine.max_num_seqs,
        max_num_batched_tokens=_batched_tokens(engine, max_len),
        memory_reserve_fraction=1.0 - engine.gpu_memory_utilization,
    )
    eff = llm.efficiency_of(gpu, model.precision, model.stack)
    kv = None if model.kv_cache_dtype == "auto" else model.kv_cache_dtype
    r = llm.replica_model(gpu, arch, model.precision, tp, efficiency=eff, settings=settings, kv_precision=kv)
    blocks = max(r.kv_capacity_tokens, 0) // engine.block_size
    return replace(r, kv_capacity_tokens=blocks * engine.block_size)


def derive_replica(
    model: LlmModelBlock,
    engine: LlmEngineBlock,
    gpu_model: str,
    gpu_count: int,
    *,
    slo: LlmSlo | None = None,
    workload: llm.Workload | None = None,
    catalog=None,
) -> ReplicaParams:
    """The replica of ``gpu_count`` ``gpu_model`` GPUs that the blocks describe.

    ``workload`` gives the mean prompt and output lengths (default: MLPerf Llama-2-70B's); the
    SLO's ttft / tpot, when given, replace its limits for the ``concurrency`` derivation (the
    largest batch meeting them, `gpusim.hardware.llm.server_point`). InputError listing every
    problem of `check_llm_service` when the blocks do not fit the catalog.
    """
    from gpusim.hardware import load_catalog

    catalog = catalog or load_catalog()
    problems = check_llm_service(model, engine, gpu_model, gpu_count, catalog)
    if problems:
        raise InputError("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems))
    gpu = catalog.gpu(gpu_model)
    arch = llm.llm_arch(model.id)
    r = _replica(model, engine, gpu, model.tensor_parallel or gpu_count)
    w = workload or llm.mlperf_workload()[1]
    if slo is not None:
        w = replace(
            w,
            ttft_limit_s=slo.ttft if slo.ttft is not None else math.inf,
            tpot_limit_s=slo.tpot if slo.tpot is not None else math.inf,
        )
    q = llm.derived_queue_params(r, w)
    op = llm.operating_point(r, w, q.concurrency)
    ctx = w.prompt_tokens + w.output_tokens / 2.0
    return ReplicaParams(
        replica=r,
        chunked_prefill=engine.enable_chunked_prefill,
        block_size=engine.block_size,
        kv_blocks=r.kv_capacity_tokens // engine.block_size,
        max_model_len=engine.max_model_len or arch.max_context_tokens,
        prefill_tokens_per_s=w.prompt_tokens / r.prefill_s(w.prompt_tokens),
        decode_tokens_per_s_alone=1.0 / r.decode_step_s(1, ctx),
        batch_tokens_per_s=op.tokens_per_s,
        concurrency=q.concurrency,
        batch_slowdown=q.batch_slowdown,
        service_time_alone_s=q.service_time_alone_s,
    )


def workload_from_azure_trace(path: str | Path, **limits) -> llm.Workload:
    """Mean prompt and output lengths of an Azure LLM inference trace (`gpusim.traces.azure_llm`)
    as a `gpusim.hardware.llm.Workload` (``limits``: ttft_limit_s, tpot_limit_s).
    """
    from gpusim.traces.azure_llm import read_azure_llm

    df, _ = read_azure_llm(path)
    if df.empty:
        raise InputError(f"{path}: no requests")
    return llm.Workload(float(df["prompt_tokens"].mean()), float(df["output_tokens"].mean()), **limits)
