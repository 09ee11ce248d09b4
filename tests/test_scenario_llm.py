"""The LLM service blocks (gpusim.scenario.llm): validation against the catalog, the derived replica
(KV capacity by hand, speeds, concurrency / batch_slowdown), and lengths from the Azure trace."""

import csv
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from gpusim.dataplane.llm import LlmReplica
from gpusim.errors import InputError
from gpusim.hardware import llm
from gpusim.scenario.llm import (
    LlmEngineBlock,
    LlmModelBlock,
    LlmSlo,
    check_llm_service,
    derive_replica,
    workload_from_azure_trace,
)

AZURE_CONV = (
    Path(__file__).resolve().parents[2] / "shared" / "traces" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv"
)

# Llama-2-70B by hand (config.json: 80 layers, hidden 8192, 64 heads of 128, 8 KV heads, ffn 28672,
# vocab 32000): 80 x (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 28672) + 2 x 32000 x 8192
PARAMS_70B = 80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 2 * 32000 * 8192
KV_VALUES_70B = 2 * 80 * 8 * 128  # K and V, 80 layers, 8 KV heads of 128
GIB = 2**30


def test_kv_capacity_by_hand_fp8_one_h200():
    """141 GiB x 0.9 - 68.98 GB of FP8 weights, over 163,840 bytes per token, in whole 16-token blocks."""
    assert PARAMS_70B == 68_975_329_280
    free = 141 * GIB * 0.9 - PARAMS_70B * 1
    tokens = math.floor(free / (KV_VALUES_70B * 1))
    assert tokens == 410_659  # 67,282,508,185.6 / 163,840
    p = derive_replica(LlmModelBlock(id="llama-2-70b", precision="fp8"), LlmEngineBlock(), "nvidia-h200-141gb", 1)
    assert p.kv_blocks == tokens // 16 == 25_666
    assert p.kv_capacity_tokens == 25_666 * 16 == 410_656


def test_kv_capacity_by_hand_bf16_two_h100_and_block_size():
    """BF16 over TP=2 H100s: 2 x 80 GiB x 0.95 - 137.95 GB, 2 bytes per KV value, 32-token blocks."""
    free = 2 * 80 * GIB * 0.95 - PARAMS_70B * 2
    tokens = math.floor(free / (KV_VALUES_70B * 2))
    p = derive_replica(
        LlmModelBlock(id="llama-2-70b", precision="bf16", tensor_parallel=2),
        LlmEngineBlock(block_size=32, gpu_memory_utilization=0.95),
        "nvidia-h100-80gb",
        2,
    )
    assert p.kv_blocks == tokens // 32
    assert p.kv_capacity_tokens == (tokens // 32) * 32
    assert p.replica.tp == 2 and p.replica.kv_bytes_per_token == KV_VALUES_70B * 2


def test_kv_cache_dtype_fp8_doubles_bf16_room():
    """BF16 weights over two H200s; an FP8 KV cache stores twice the tokens of a BF16 one."""
    m2 = {"id": "llama-2-70b", "precision": "bf16", "tensor_parallel": 2}
    bf16 = derive_replica(LlmModelBlock(**m2), LlmEngineBlock(), "nvidia-h200-141gb", 2)
    fp8kv = derive_replica(LlmModelBlock(**m2, kv_cache_dtype="fp8"), LlmEngineBlock(), "nvidia-h200-141gb", 2)
    free = 2 * 141 * GIB * 0.9 - PARAMS_70B * 2
    assert bf16.kv_capacity_tokens == (math.floor(free / (KV_VALUES_70B * 2)) // 16) * 16
    assert fp8kv.kv_capacity_tokens == (math.floor(free / KV_VALUES_70B) // 16) * 16


def test_vllm_defaults_and_derived_token_budget():
    e = LlmEngineBlock()
    assert (e.max_num_seqs, e.block_size, e.gpu_memory_utilization, e.enable_chunked_prefill) == (256, 16, 0.9, False)
    m = LlmModelBlock(id="llama-2-70b")
    plain = derive_replica(m, e, "nvidia-h200-141gb", 1)
    assert plain.replica.max_num_batched_tokens == 4096  # max(max_model_len 4096, 2048)
    chunked = derive_replica(m, LlmEngineBlock(enable_chunked_prefill=True), "nvidia-h200-141gb", 1)
    assert chunked.replica.max_num_batched_tokens == 2048 and chunked.chunked_prefill
    assert plain.replica.max_num_seqs == 256


def test_speeds_and_queue_equivalents_follow_the_replica_model():
    w = llm.Workload(1000.0, 200.0, ttft_limit_s=2.0, tpot_limit_s=0.1)
    p = derive_replica(
        LlmModelBlock(id="llama-2-70b"),
        LlmEngineBlock(max_num_seqs=1024),
        "nvidia-h200-141gb",
        1,
        slo=LlmSlo(ttft="2s", tpot="100ms"),
        workload=w,
    )
    r = p.replica
    assert p.prefill_tokens_per_s == pytest.approx(1000.0 / r.prefill_s(1000.0), rel=1e-12)
    ctx = 1000.0 + 100.0
    assert p.decode_tokens_per_s_alone == pytest.approx(1.0 / (r.fixed_s + r.per_token_s + r.per_ctx_s * ctx))
    op = llm.server_point(r, w)
    assert p.concurrency == op.batch
    # the mean TPOT at that batch keeps the p99 headroom under the 100 ms limit
    assert llm.operating_point(r, w, p.concurrency).tpot_s <= 0.1 / llm.engine_settings().tpot_p99_over_mean
    b = p.concurrency
    assert r.cycle_s(b, w) == pytest.approx(p.service_time_alone_s * (1 + p.batch_slowdown * (b - 1)), rel=1e-12)
    # a tighter TPOT limit allows fewer sequences
    tight = derive_replica(
        LlmModelBlock(id="llama-2-70b"),
        LlmEngineBlock(max_num_seqs=1024),
        "nvidia-h200-141gb",
        1,
        slo=LlmSlo(tpot="40ms"),
        workload=w,
    )
    assert 1 <= tight.concurrency < p.concurrency


def test_derived_replica_runs_in_the_compiled_kernel():
    """The derived ReplicaModel drives LlmReplica: one request alone gets TTFT = prefill_s."""
    p = derive_replica(LlmModelBlock(id="llama-2-70b"), LlmEngineBlock(), "nvidia-h200-141gb", 1)
    rep = LlmReplica(p.replica, chunked_prefill=p.chunked_prefill, record=1)
    rep.serve(100.0, [1.0], [500], [20])
    arr, first, _ = rep.records[0]
    assert first - arr == pytest.approx(p.replica.prefill_s(500), rel=1e-12)


def test_unknown_model_and_precision_list_what_is_allowed():
    with pytest.raises(ValidationError) as e:
        LlmModelBlock(id="llama-9-900b")
    msg = str(e.value)
    assert "unknown model 'llama-9-900b'" in msg and "llama-2-70b" in msg and "llama-3-8b" in msg
    with pytest.raises(ValidationError) as e:
        LlmModelBlock(id="llama-2-70b", precision="fp7")
    assert "fp8" in str(e.value) and "bf16" in str(e.value)
    with pytest.raises(ValidationError):
        LlmModelBlock(id="llama-2-70b", tensor_pararell=2)  # unknown field
    with pytest.raises(ValidationError) as e:
        LlmSlo(percentile=99)
    assert "at least one of ttft, tpot, e2e" in str(e.value)
    assert LlmSlo(ttft="2s", tpot="200ms").tpot == pytest.approx(0.2)


def test_catalog_problems_are_located_and_list_what_is_allowed():
    m = LlmModelBlock(id="llama-2-70b")
    ((path, msg),) = check_llm_service(m, LlmEngineBlock(), "nvidia-h900", 1)
    assert path == ("pod", "gpu_model") and "nvidia-h200-141gb" in msg
    probs = dict(
        check_llm_service(LlmModelBlock(id="llama-2-70b", stack="tensorrt"), LlmEngineBlock(), "nvidia-h100-80gb", 1)
    )
    assert "allowed: trtllm" in probs[("model", "stack")]
    probs = dict(
        check_llm_service(LlmModelBlock(id="llama-2-70b", tensor_parallel=3), LlmEngineBlock(), "nvidia-h100-80gb", 3)
    )
    assert "allowed: 1, 2, 4, 8" in probs[("model", "tensor_parallel")]
    probs = dict(
        check_llm_service(LlmModelBlock(id="llama-2-70b", tensor_parallel=2), LlmEngineBlock(), "nvidia-h100-80gb", 4)
    )
    assert "must equal the replica's GPU count 4" in probs[("model", "tensor_parallel")]
    probs = dict(check_llm_service(m, LlmEngineBlock(max_num_batched_tokens=1024), "nvidia-h100-80gb", 1))
    assert "below max_model_len 4096" in probs[("engine", "max_num_batched_tokens")]
    probs = dict(check_llm_service(m, LlmEngineBlock(max_model_len=8192), "nvidia-h100-80gb", 1))
    assert "context of 4096" in probs[("engine", "max_model_len")]
    # 138 GB of BF16 weights on one 80 GiB H100 do not fit
    probs = dict(
        check_llm_service(LlmModelBlock(id="llama-2-70b", precision="bf16"), LlmEngineBlock(), "nvidia-h100-80gb", 1)
    )
    assert "use more GPUs" in probs[("engine", "gpu_memory_utilization")]
    with pytest.raises(InputError, match="engine.gpu_memory_utilization"):
        derive_replica(LlmModelBlock(id="llama-2-70b", precision="bf16"), LlmEngineBlock(), "nvidia-h100-80gb", 1)
    assert check_llm_service(m, LlmEngineBlock(), "nvidia-h100-80gb", 1) == []


def test_mean_lengths_from_the_azure_conversation_trace():
    if not AZURE_CONV.exists():
        pytest.skip(f"Azure LLM trace not present at {AZURE_CONV} (see ../shared/traces/PROVENANCE.md)")
    with AZURE_CONV.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 19_366  # PROVENANCE.md: 19,366 conversation requests
    w = workload_from_azure_trace(AZURE_CONV, tpot_limit_s=0.1)
    assert w.prompt_tokens == pytest.approx(sum(int(r["ContextTokens"]) for r in rows) / len(rows), rel=1e-12)
    assert w.output_tokens == pytest.approx(sum(int(r["GeneratedTokens"]) for r in rows) / len(rows), rel=1e-12)
    assert w.tpot_limit_s == 0.1
