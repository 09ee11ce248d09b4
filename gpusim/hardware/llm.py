"""LLM serving speed: a per-phase roofline of one replica, with tensor parallelism over the interconnect.

A replica is ``tp`` accelerators of one GPU model serving one model in one precision. Every engine
iteration (one forward pass over the batch: some decode sequences, one token each, plus a chunk of
prefill tokens) takes, with no overlap of compute, memory and communication::

    iteration_s = fixed_s + per_token_s * (decode_seqs + prefill_tokens)
                          + per_ctx_s   * (context tokens the decode sequences attend to)
                          + per_pair_s  * (prefill (query, key) pairs, causal)

    fixed_s     = W / B  +  2 L * alpha * [tp > 1]             weights read once per iteration
    per_token_s = 2 P / F  +  2 L * 2 (tp - 1) / tp * h * a / (link * link_eff)   matmuls + all-reduce
    per_ctx_s   = kv / B  +  4 L H d / F                       KV read + attention FLOPs (decode)
    per_pair_s  = 4 L H d / F                                  attention FLOPs (prefill)

    F = tp * peak(precision) * e_compute,   B = tp * hbm * e_memory

with P parameters, W weight bytes, L layers, h hidden size, H heads of dimension d, kv the KV-cache
bytes per token, a activation bytes, alpha the all-reduce latency and link the GPU's one-way
scale-up bandwidth (NVLink, Infinity Fabric, Gaudi RoCE or PCIe; ``data/llm.yaml``). Prefill is
therefore compute-bound (per_token_s dominates a long chunk) and decode memory-bound at small batch
(fixed_s and per_ctx_s dominate). ``e_compute`` and ``e_memory`` are separate delivered / peak
factors per vendor and software stack (`LLM_EFFICIENCY`), fitted on MLPerf Inference Llama-2-70B
Offline rows by `gpusim.hardware.calibration.calibrate_llm` (``gpusim catalog calibration``).
Because the iteration time is linear in its token counts, the compiled replica kernel
(`gpusim.dataplane.llm`) takes just these four coefficients.

KV-cache capacity in tokens: ``(tp * memory * (1 - reserve) - W) / (kv * tp / min(tp, kv_heads))``
(a KV head is replicated when tp exceeds the KV heads, as vLLM does).

Steady state with ``b`` sequences of ``p`` prompt and ``o`` output tokens (continuous batching,
prefill in chunks of ``max_num_batched_tokens``): over one turnover of the batch the replica runs
``o`` decode iterations and prefills ``b p`` tokens, so

    cycle_s(b) = o * decode_iteration(b, mean context p + o/2) + prefill of b p tokens in chunks
    tokens/s   = b o / cycle_s(b),          TPOT(b) = cycle_s(b) / o

Offline runs at the largest batch the KV cache (mean contexts p + o/2) and ``max_num_seqs`` allow;
Server at the largest batch whose mean TPOT stays ``tpot_p99_over_mean`` below the TPOT limit and
whose TTFT (half an iteration of waiting plus the prefill iteration) stays under the TTFT limit.
A system of N accelerators runs N // tp replicas, with the tp in (1, 2, 4, 8) that gives the most
tokens/s per accelerator (as an MLPerf submitter chooses).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from importlib import resources

from gpusim.errors import InputError
from gpusim.hardware.catalog import GpuModel

BYTES_PER_VALUE = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5}
"""Bytes per weight of each serving precision."""

COMPUTE_PRECISION = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "fp8", "fp4": "fp4", "int4": "fp4"}
"""Tensor-core peak each weight precision runs at."""

TP_CHOICES = (1, 2, 4, 8)
SCENARIOS = ("offline", "server")
GIB = 2.0**30


@dataclass(frozen=True)
class Efficiency:
    """Delivered / peak factors of one vendor's software stack: matmul FLOP/s and HBM byte/s."""

    compute: float
    memory: float


LLM_EFFICIENCY: dict[str, Efficiency] = {
    "amd/vllm-rocm-v4.1/fp8": Efficiency(compute=0.3418, memory=0.8428),
    "amd/vllm-rocm-v5.0/fp8": Efficiency(compute=0.4971, memory=0.8513),
    "intel/habana-pt/fp8": Efficiency(compute=0.3777, memory=0.8428),
    "nvidia/trtllm/fp4": Efficiency(compute=0.4387, memory=0.8344),
    "nvidia/trtllm/fp8": Efficiency(compute=0.6791, memory=0.8428),
}
"""Delivered / peak factors per ``vendor/software stack/compute precision``, fitted by
`gpusim.hardware.calibration.calibrate_llm` on the MLPerf Llama-2-70B Offline rows;
tests/hardware/test_llm_calibration.py recomputes them and fails if these drift."""

DEFAULT_STACK = {"nvidia": "trtllm", "amd": "vllm-rocm-v5.0", "intel": "habana-pt"}
"""The stack a GPU is modelled with when none is named: each vendor's newest MLPerf stack."""


def efficiency_key(vendor: str, precision: str, stack: str | None = None) -> str:
    """The `LLM_EFFICIENCY` key a (vendor, precision, stack) is read from.

    BF16/FP16 and INT8 run on the FP8 entry (no MLPerf row measures them: an assumption); a
    precision without an entry of its own falls back to the stack's FP8 entry.
    """
    stack = stack or DEFAULT_STACK.get(vendor, "")
    pc = COMPUTE_PRECISION.get(precision, "bf16")
    key = f"{vendor}/{stack}/{pc}"
    return key if key in LLM_EFFICIENCY else f"{vendor}/{stack}/fp8"


# --------------------------------------------------------------------------- data


@functools.cache
def llm_data() -> dict:
    """``data/llm.yaml`` parsed (cached; treat as read-only)."""
    text = resources.files("gpusim.hardware").joinpath("data/llm.yaml").read_text(encoding="utf-8")
    from gpusim.hardware.catalog import load_data_yaml

    return load_data_yaml(text)


@dataclass(frozen=True)
class LlmArch:
    """A decoder-only transformer's shape (what the roofline needs)."""

    id: str
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_context_tokens: int

    @property
    def params(self) -> float:
        """Parameters: attention (q, o: h x h; k, v: h x kv_heads d), gated MLP (3 h x ffn), embeddings in and out."""
        h, kvd = self.hidden, self.kv_heads * self.head_dim
        per_layer = 2 * h * self.heads * self.head_dim + 2 * h * kvd + 3 * h * self.ffn
        return float(self.layers * per_layer + 2 * self.vocab * h)

    @property
    def kv_values_per_token(self) -> int:
        """K and V values cached per token over all layers."""
        return 2 * self.layers * self.kv_heads * self.head_dim

    @property
    def attention_flops_per_pair(self) -> float:
        """FLOPs of one (query, key) pair over all layers: QK^T and AV, 2 FLOPs per multiply-add."""
        return 4.0 * self.layers * self.heads * self.head_dim


def known_models() -> tuple[str, ...]:
    """Ids of the models `llm_arch` knows."""
    return tuple(llm_data()["models"])


def llm_arch(model_id: str) -> LlmArch:
    """The shape of a known model; InputError listing the known ones otherwise."""
    models = llm_data()["models"]
    if model_id not in models:
        raise InputError(f"unknown model {model_id!r}; known: {', '.join(models)}")
    m = models[model_id]
    return LlmArch(
        id=model_id, name=m["name"], layers=int(m["layers"]), hidden=int(m["hidden"]), heads=int(m["heads"]),
        kv_heads=int(m["kv_heads"]), head_dim=int(m["head_dim"]), ffn=int(m["ffn"]), vocab=int(m["vocab"]),
        max_context_tokens=int(m["max_context_tokens"]),
    )  # fmt: skip


@dataclass(frozen=True)
class EngineSettings:
    """Serving-engine knobs the speed model assumes (defaults from ``data/llm.yaml``)."""

    max_num_seqs: int
    max_num_batched_tokens: int
    memory_reserve_fraction: float
    activation_bytes: float
    tpot_p99_over_mean: float
    link_efficiency: float = 0.8  # assumption: collectives reach about 80 % of link peak
    tp_efficiency_per_doubling: float = 0.9  # as performance.TP_EFFICIENCY_PER_DOUBLING (assumption)


def engine_settings(**overrides) -> EngineSettings:
    """The shipped engine defaults, with ``overrides`` applied."""
    e = llm_data()["engine"]
    base = EngineSettings(
        max_num_seqs=int(e["max_num_seqs"]),
        max_num_batched_tokens=int(e["max_num_batched_tokens"]),
        memory_reserve_fraction=float(e["memory_reserve_fraction"]),
        activation_bytes=float(e["activation_bytes"]),
        tpot_p99_over_mean=float(e["tpot_p99_over_mean"]),
    )
    return replace(base, **overrides)


@dataclass(frozen=True)
class Link:
    """A GPU's scale-up link for tensor parallelism."""

    kind: str
    bytes_per_s: float  # one way, per GPU
    latency_s: float  # per all-reduce


def link_of(gpu_id: str) -> Link:
    """The interconnect tensor parallelism uses on ``gpu_id`` (PCIe Gen 4 when not listed)."""
    d = llm_data()
    e = d["interconnects"].get(gpu_id, d["interconnects"]["default"])
    return Link(e["kind"], float(e["gbps_unidirectional"]) * 1e9, float(d["interconnect_latency_s"]))


@dataclass(frozen=True)
class Workload:
    """Mean request shape and the Server latency limits."""

    prompt_tokens: float
    output_tokens: float
    ttft_limit_s: float = 2.0
    tpot_limit_s: float = 0.2


def mlperf_workload() -> tuple[str, Workload]:
    """(model id, workload) of MLPerf Inference Llama-2-70B."""
    w = llm_data()["mlperf_llama2_70b"]
    return w["model"], Workload(
        float(w["prompt_tokens"]), float(w["output_tokens"]), float(w["ttft_limit_s"]), float(w["tpot_limit_s"])
    )


# --------------------------------------------------------------------------- one replica


def efficiency_of(gpu: GpuModel, precision: str = "fp8", stack: str | None = None) -> Efficiency:
    """The fitted factors of the GPU's vendor and stack (a catalog ``software_efficiency`` sets both)."""
    if gpu.software_efficiency is not None:
        return Efficiency(float(gpu.software_efficiency), float(gpu.software_efficiency))
    key = efficiency_key(gpu.vendor, precision, stack)
    if key not in LLM_EFFICIENCY:
        raise InputError(f"no LLM efficiency for {gpu.vendor!r} stack {stack!r}; known: {', '.join(LLM_EFFICIENCY)}")
    return LLM_EFFICIENCY[key]


@dataclass(frozen=True)
class ReplicaModel:
    """Linear iteration-time coefficients and KV capacity of one replica (see the module docstring)."""

    gpu_id: str
    model_id: str
    precision: str
    tp: int
    fixed_s: float
    per_token_s: float
    per_ctx_s: float
    per_pair_s: float
    kv_bytes_per_token: float
    weight_bytes: float
    kv_capacity_tokens: int
    max_num_seqs: int
    max_num_batched_tokens: int

    @property
    def fits(self) -> bool:
        return self.kv_capacity_tokens > 0

    def iteration_s(self, decode_seqs, decode_ctx_tokens, prefill_tokens=0.0, prefill_pairs=0.0):
        """One engine iteration (works elementwise on numpy arrays)."""
        return (
            self.fixed_s
            + self.per_token_s * (decode_seqs + prefill_tokens)
            + self.per_ctx_s * decode_ctx_tokens
            + self.per_pair_s * prefill_pairs
        )

    def prefill_s(self, prompt_tokens: float) -> float:
        """Time to first token of one request alone on the replica (prefill in chunks, no queueing)."""
        c = self.max_num_batched_tokens
        n_chunks = max(1, math.ceil(prompt_tokens / c))
        return n_chunks * self.fixed_s + self.per_token_s * prompt_tokens + self.per_pair_s * _pairs(prompt_tokens)

    def decode_step_s(self, batch: float, mean_context_tokens: float) -> float:
        """One decode iteration of ``batch`` sequences attending to ``mean_context_tokens`` each."""
        return self.iteration_s(batch, batch * mean_context_tokens)

    def cycle_s(self, batch: float, w: Workload) -> float:
        """Time to turn over a batch: ``o`` decode iterations plus the prefill of ``batch`` prompts."""
        p, o = w.prompt_tokens, w.output_tokens
        prefill_tokens = batch * p
        n_chunks = max(1.0, math.ceil(prefill_tokens / self.max_num_batched_tokens))
        prefill = n_chunks * self.fixed_s + self.per_token_s * prefill_tokens + self.per_pair_s * batch * _pairs(p)
        return o * self.decode_step_s(batch, p + o / 2.0) + prefill

    def max_batch(self, w: Workload) -> int:
        """Most sequences whose mean contexts (p + o/2: paged KV blocks grow with the output) fit
        the KV cache, capped at ``max_num_seqs``.
        """
        per_seq = max(w.prompt_tokens + w.output_tokens / 2.0, 1.0)
        return int(min(self.max_num_seqs, self.kv_capacity_tokens // per_seq))


def _pairs(p: float) -> float:
    return p * (p + 1.0) / 2.0


def replica_model(
    gpu: GpuModel,
    arch: LlmArch,
    precision: str,
    tp: int,
    *,
    efficiency: Efficiency | None = None,
    settings: EngineSettings | None = None,
    kv_precision: str | None = None,
) -> ReplicaModel:
    """The replica of ``tp`` ``gpu`` serving ``arch`` in ``precision`` (weights; KV cache at least 1 byte)."""
    if precision not in BYTES_PER_VALUE:
        raise InputError(f"unknown precision {precision!r}; allowed: {', '.join(BYTES_PER_VALUE)}")
    if tp < 1:
        raise InputError(f"tensor-parallel degree must be >= 1, got {tp}")
    s = settings or engine_settings()
    eff = efficiency or efficiency_of(gpu, precision)
    peak = gpu.peak_tflops(COMPUTE_PRECISION[precision])
    if peak is None or gpu.hbm_tbps is None:
        raise InputError(f"{gpu.id!r} has no {'peak TFLOPS' if peak is None else 'hbm_tbps'} in the catalog")
    scale = tp * s.tp_efficiency_per_doubling ** math.log2(tp)
    flops = scale * peak * 1e12 * eff.compute
    bw = scale * gpu.hbm_tbps * 1e12 * eff.memory
    link = link_of(gpu.id)
    weight_bytes = arch.params * BYTES_PER_VALUE[precision]
    kv_bytes = arch.kv_values_per_token * (
        BYTES_PER_VALUE[kv_precision] if kv_precision else max(BYTES_PER_VALUE[precision], 1.0)
    )
    n_ar = 2 * arch.layers  # all-reduces per forward pass (after attention and after the MLP)
    if tp > 1:
        comm_fixed = n_ar * link.latency_s
        comm_per_token = (
            n_ar * 2.0 * (tp - 1) / tp * arch.hidden * s.activation_bytes / (link.bytes_per_s * s.link_efficiency)
        )
    else:
        comm_fixed = comm_per_token = 0.0
    attn = arch.attention_flops_per_pair / flops
    free = tp * gpu.memory_gib * GIB * (1.0 - s.memory_reserve_fraction) - weight_bytes
    kv_replication = tp / min(tp, arch.kv_heads)
    capacity = int(free // (kv_bytes * kv_replication)) if free > 0 else 0
    return ReplicaModel(
        gpu_id=gpu.id, model_id=arch.id, precision=precision, tp=tp,
        fixed_s=weight_bytes / bw + comm_fixed,
        per_token_s=2.0 * arch.params / flops + comm_per_token,
        per_ctx_s=kv_bytes / bw + attn,
        per_pair_s=attn,
        kv_bytes_per_token=kv_bytes, weight_bytes=weight_bytes, kv_capacity_tokens=max(capacity, 0),
        max_num_seqs=s.max_num_seqs, max_num_batched_tokens=s.max_num_batched_tokens,
    )  # fmt: skip


@dataclass(frozen=True)
class OperatingPoint:
    """Steady state of one replica at a batch: throughput and per-request latencies."""

    batch: int
    tokens_per_s: float
    ttft_s: float
    tpot_s: float


def operating_point(r: ReplicaModel, w: Workload, batch: int) -> OperatingPoint:
    """Throughput, TTFT and TPOT of replica ``r`` holding ``batch`` sequences of workload ``w``."""
    cycle = r.cycle_s(batch, w)
    step = r.decode_step_s(batch, w.prompt_tokens + w.output_tokens / 2.0)
    # TTFT: wait for the running iteration to end (half of one on average), then the iteration that
    # carries this prompt's prefill next to the batch's decode tokens.
    n_chunks = max(1, math.ceil(w.prompt_tokens / r.max_num_batched_tokens))
    ttft = 0.5 * step + n_chunks * step + r.per_token_s * w.prompt_tokens + r.per_pair_s * _pairs(w.prompt_tokens)
    return OperatingPoint(batch, batch * w.output_tokens / cycle, ttft, cycle / w.output_tokens)


def offline_point(r: ReplicaModel, w: Workload) -> OperatingPoint | None:
    """Offline: the largest batch memory allows. None when the model does not fit."""
    b = r.max_batch(w)
    return operating_point(r, w, b) if b > 0 else None


def server_point(r: ReplicaModel, w: Workload, settings: EngineSettings | None = None) -> OperatingPoint | None:
    """Server: the largest batch meeting the TTFT limit and the TPOT limit (with p99 headroom).

    None when the model does not fit or even one sequence misses a limit.
    """
    s = settings or engine_settings()
    tpot_target = w.tpot_limit_s / s.tpot_p99_over_mean

    def ok(b: int) -> bool:
        op = operating_point(r, w, b)
        return op.tpot_s <= tpot_target and op.ttft_s <= w.ttft_limit_s

    hi = r.max_batch(w)
    if hi <= 0 or not ok(1):
        return None
    lo = 1  # ok(lo) holds; TPOT and TTFT grow with the batch, so bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return operating_point(r, w, lo)


SERVER_MODELS = ("analytic", "replica", "replica-chunked")
"""How `predict_system` finds the Server operating point: `server_point` (mean-field, the default)
or `server_point_replica` (Poisson arrivals through the compiled replica; prefill first, or chunked)."""


def replica_server_run(
    r: ReplicaModel, w: Workload, rate: float, *, chunked_prefill: bool = False, requests: int = 6000, seed: int = 0
) -> tuple[float, float, float, float]:
    """Poisson arrivals at ``rate`` requests/s of requests of the workload's mean lengths through the
    compiled replica (`gpusim.dataplane.llm.LlmReplica`), the first quarter discarded as warm-up.

    Returns (p99 TTFT, p99 TPOT, first tokens/s, mean sequences held) after warm-up: quantiles from
    the replica's histograms (1 % relative error); first tokens/s is the rate requests are admitted
    and served (it equals ``rate`` when the replica keeps up).
    """
    import numpy as np

    from gpusim.dataplane.llm import LlmReplica

    rng = np.random.default_rng(seed)
    span = requests / rate
    n = int(rng.poisson(rate * span))
    arr = np.sort(rng.random(n)) * span
    p = np.full(n, max(1, round(w.prompt_tokens)), dtype=np.int64)
    o = np.full(n, max(1, round(w.output_tokens)), dtype=np.int64)
    rep = LlmReplica(r, chunked_prefill=chunked_prefill, queue_capacity=max(1 << 12, n + 1))
    t_warm = 0.25 * span
    k = int(np.searchsorted(arr, t_warm))
    rep.serve(t_warm, arr[:k], p[:k], o[:k])
    m = rep.serve(span, arr[k:], p[k:], o[k:])
    if m.first_tokens == 0 or m.tpot.count == 0:
        return math.inf, math.inf, 0.0, 0.0
    return (
        m.ttft.quantile(0.99),
        m.tpot.quantile(0.99),
        m.first_tokens / (span - t_warm),
        m.seq_seconds / (span - t_warm),
    )


def server_point_replica(
    r: ReplicaModel, w: Workload, *, chunked_prefill: bool = False, requests: int = 6000, seed: int = 0
) -> OperatingPoint | None:
    """Server as MLPerf measures it: the highest Poisson arrival rate whose p99 TTFT and p99 TPOT
    meet the workload's limits, found by bisection over `replica_server_run` (deterministic for a
    seed). The point's ``ttft_s`` / ``tpot_s`` are p99s, ``batch`` the mean sequences held.

    None when the model does not fit or even 2 % of the Offline rate misses a limit.
    """
    off = offline_point(r, w)
    if off is None:
        return None
    top = off.tokens_per_s / w.output_tokens

    def run(rate):
        return replica_server_run(r, w, rate, chunked_prefill=chunked_prefill, requests=requests, seed=seed)

    def ok(res):
        return res[0] <= w.ttft_limit_s and res[1] <= w.tpot_limit_s

    lo = 0.02 * top
    best = run(lo)
    if not ok(best):
        return None
    hi = 1.05 * top
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        res = run(mid)
        if ok(res):
            lo, best = mid, res
        else:
            hi = mid
    ttft, tpot, _, held = best
    return OperatingPoint(max(1, round(held)), lo * w.output_tokens, ttft, tpot)


@dataclass(frozen=True)
class SystemPrediction:
    """A system of ``count`` accelerators: replicas of ``tp``, and the replica's operating point."""

    gpu_id: str
    count: int
    precision: str
    scenario: str
    tp: int
    replicas: int
    batch: int
    tokens_per_s: float
    ttft_s: float
    tpot_s: float


def predict_system(
    gpu: GpuModel,
    count: int,
    *,
    model_id: str | None = None,
    precision: str = "fp8",
    scenario: str = "offline",
    workload: Workload | None = None,
    efficiency: Efficiency | None = None,
    stack: str | None = None,
    settings: EngineSettings | None = None,
    tp_choices: tuple[int, ...] = TP_CHOICES,
    server_model: str = "analytic",
) -> SystemPrediction | None:
    """Output tokens/s of ``count`` ``gpu`` serving the model (MLPerf Llama-2-70B by default).

    None when no tensor-parallel degree up to ``count`` holds the model (or meets the Server limits).
    ``server_model`` picks how the Server point is found (`SERVER_MODELS`).
    """
    if scenario not in SCENARIOS:
        raise InputError(f"unknown scenario {scenario!r}; allowed: {', '.join(SCENARIOS)}")
    if server_model not in SERVER_MODELS:
        raise InputError(f"unknown server model {server_model!r}; allowed: {', '.join(SERVER_MODELS)}")
    if count < 1:
        raise InputError(f"count must be >= 1, got {count}")
    default_model, default_w = mlperf_workload()
    arch = llm_arch(model_id or default_model)
    w = workload or default_w
    s = settings or engine_settings()
    eff = efficiency or efficiency_of(gpu, precision, stack)
    best: tuple[float, int, OperatingPoint] | None = None
    for tp in tp_choices:
        if tp > count:
            break
        r = replica_model(gpu, arch, precision, tp, efficiency=eff, settings=s)
        if scenario == "offline":
            op = offline_point(r, w)
        elif server_model == "analytic":
            op = server_point(r, w, s)
        else:
            op = server_point_replica(r, w, chunked_prefill=server_model == "replica-chunked")
        if op is None:
            continue
        per_acc = op.tokens_per_s / tp
        if best is None or per_acc > best[0] * (1 + 1e-12):
            best = (per_acc, tp, op)
    if best is None:
        return None
    _, tp, op = best
    replicas = count // tp
    return SystemPrediction(
        gpu_id=gpu.id, count=count, precision=precision, scenario=scenario, tp=tp, replicas=replicas,
        batch=op.batch, tokens_per_s=op.tokens_per_s * replicas, ttft_s=op.ttft_s, tpot_s=op.tpot_s,
    )  # fmt: skip


@dataclass(frozen=True)
class DerivedQueueParams:
    """``concurrency`` and ``batch_slowdown`` of the simple data plane, derived from the roofline."""

    concurrency: int
    batch_slowdown: float
    service_time_alone_s: float


def derived_queue_params(r: ReplicaModel, w: Workload, settings: EngineSettings | None = None) -> DerivedQueueParams:
    """What `gpusim.dataplane.DataPlane`'s ``concurrency`` and ``batch_slowdown`` should be for replica ``r``.

    concurrency = the Server batch (largest meeting the TTFT/TPOT limits; the KV-cache batch if
    none does); batch_slowdown = alpha with ``T(b) = T(1) (1 + alpha (b - 1))``, where ``T(b) =
    cycle_s(b)`` is a request's time in a batch of ``b`` (prefill + decode, see `ReplicaModel`).
    These are the derived defaults a scenario's explicit values override (issue 14, item 5).
    """
    op = server_point(r, w, settings) or offline_point(r, w)
    if op is None:
        raise InputError(f"{r.model_id} in {r.precision} does not fit {r.tp} x {r.gpu_id}")
    b = op.batch
    t1 = r.cycle_s(1, w)
    alpha = 0.0 if b <= 1 else (r.cycle_s(b, w) / t1 - 1.0) / (b - 1)
    return DerivedQueueParams(concurrency=b, batch_slowdown=alpha, service_time_alone_s=t1)
