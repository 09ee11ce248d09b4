"""The per-phase LLM roofline (gpusim.hardware.llm) against hand-computed cases."""

import math

import pytest

from gpusim.hardware import llm, load_catalog

GIB = 2.0**30


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_llama2_70b_shape():
    a = llm.llm_arch("llama-2-70b")
    # 80 x (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 28672) + 2 x 32000 x 8192
    assert a.params == 80 * (2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 2 * 32000 * 8192
    assert a.params == pytest.approx(68.98e9, rel=1e-3)
    assert a.kv_values_per_token == 2 * 80 * 8 * 128 == 163_840


def test_kv_capacity_by_hand(catalog):
    """H200, FP8: (141 GiB x 0.9 - 68.98 GB) / 163,840 B per token (FP8 KV cache)."""
    gpu = catalog.gpu("nvidia-h200-141gb")
    arch = llm.llm_arch("llama-2-70b")
    r = llm.replica_model(gpu, arch, "fp8", 1)
    free = 141 * GIB * 0.9 - arch.params
    assert r.kv_capacity_tokens == int(free // 163_840)
    # TP 2 doubles the memory; BF16 doubles weights and KV bytes
    r2 = llm.replica_model(gpu, arch, "bf16", 2)
    assert r2.kv_capacity_tokens == int((2 * 141 * GIB * 0.9 - 2 * arch.params) // (2 * 163_840))
    # too small: the weights alone do not fit
    assert llm.replica_model(catalog.gpu("nvidia-l4"), arch, "fp8", 1).kv_capacity_tokens == 0


def test_kv_replicated_beyond_kv_heads(catalog):
    """Llama-2-70B has 8 KV heads: at TP 16 each KV head lives on two GPUs (capacity per byte halves)."""
    gpu = catalog.gpu("nvidia-h100-80gb")
    arch = llm.llm_arch("llama-2-70b")
    r8 = llm.replica_model(gpu, arch, "fp8", 8)
    r16 = llm.replica_model(gpu, arch, "fp8", 16)
    free16 = 16 * 80 * GIB * 0.9 - arch.params
    assert r16.kv_capacity_tokens == int(free16 // (163_840 * 2))
    assert r8.kv_capacity_tokens == int((8 * 80 * GIB * 0.9 - arch.params) // 163_840)


def test_one_request_alone_ttft_and_tpot_by_hand(catalog):
    """One request alone on one H100 (TP 1, no communication), efficiencies given explicitly."""
    gpu = catalog.gpu("nvidia-h100-80gb")
    arch = llm.llm_arch("llama-3-8b")
    eff = llm.Efficiency(compute=0.5, memory=0.8)
    r = llm.replica_model(gpu, arch, "bf16", 1, efficiency=eff)
    F = 989.4e12 * 0.5
    B = 3.35e12 * 0.8
    W = arch.params * 2
    kv = arch.kv_values_per_token * 2
    attn = 4 * 32 * 32 * 128
    p, o = 1000, 200
    # prefill: one chunk (1000 <= 8192): weights once + 2 P p / F + causal attention pairs
    ttft = W / B + 2 * arch.params * p / F + attn * p * (p + 1) / 2 / F
    assert r.prefill_s(p) == pytest.approx(ttft, rel=1e-12)
    # decode step at context c: weights + KV of c tokens + one token's matmuls and attention
    c = p + o / 2
    step = W / B + 2 * arch.params / F + c * (kv / B + attn / F)
    assert r.decode_step_s(1, c) == pytest.approx(step, rel=1e-12)
    # decode of a small model at batch 1 is memory-bound, prefill of 1000 tokens compute-bound
    assert W / B > 2 * arch.params / F
    assert 2 * arch.params * p / F > W / B


def test_prefill_chunks_read_weights_once_each(catalog):
    gpu = catalog.gpu("nvidia-h100-80gb")
    r = llm.replica_model(gpu, llm.llm_arch("llama-3-8b"), "bf16", 1)
    c = r.max_num_batched_tokens
    # crossing a chunk boundary adds one weight read (fixed_s) on top of the per-token cost
    jump = r.prefill_s(c + 1) - r.prefill_s(c)
    assert jump == pytest.approx(r.fixed_s + r.per_token_s + r.per_pair_s * (c + 1), rel=1e-9)


def test_tensor_parallel_communication_over_the_link(catalog):
    """All-reduce cost per token: 2 L all-reduces x 2 (tp-1)/tp x h x 2 bytes over link x 0.8."""
    arch = llm.llm_arch("llama-2-70b")
    eff = llm.Efficiency(1.0, 1.0)
    settings = llm.engine_settings(tp_efficiency_per_doubling=1.0)
    for gpu_id, gbps in (("nvidia-h100-80gb", 450), ("amd-mi300x", 448), ("intel-gaudi2", 262.5), ("nvidia-l4", 32)):
        gpu = catalog.gpu(gpu_id)
        r1 = llm.replica_model(gpu, arch, "fp8", 1, efficiency=eff, settings=settings)
        r4 = llm.replica_model(gpu, arch, "fp8", 4, efficiency=eff, settings=settings)
        comm = 160 * 2 * 3 / 4 * 8192 * 2 / (gbps * 1e9 * 0.8)
        assert r4.per_token_s - r1.per_token_s / 4 == pytest.approx(comm, rel=1e-9), gpu_id
        assert r4.fixed_s - r1.fixed_s / 4 == pytest.approx(160 * 1e-5, rel=1e-9), gpu_id
    assert llm.link_of("nvidia-b200-180gb").kind == "nvlink5"
    assert llm.link_of("amd-mi325x").kind == "infinity-fabric"
    assert llm.link_of("some-unknown-gpu").kind == "pcie4"


def test_little_law_in_steady_state(catalog):
    """Throughput = batch / TPOT (Little's law: L sequences in decode, each leaving after o tokens)."""
    gpu = catalog.gpu("nvidia-h200-141gb")
    r = llm.replica_model(gpu, llm.llm_arch("llama-2-70b"), "fp8", 1)
    _, w = llm.mlperf_workload()
    for b in (1, 16, 256, r.max_batch(w)):
        op = llm.operating_point(r, w, b)
        assert op.tokens_per_s == pytest.approx(b / op.tpot_s, rel=1e-12)
        # and requests/s x time in system = batch
        assert (op.tokens_per_s / w.output_tokens) * (op.tpot_s * w.output_tokens) == pytest.approx(b, rel=1e-12)


def test_throughput_grows_and_tpot_grows_with_batch(catalog):
    r = llm.replica_model(catalog.gpu("amd-mi300x"), llm.llm_arch("llama-2-70b"), "fp8", 1)
    _, w = llm.mlperf_workload()
    pts = [llm.operating_point(r, w, b) for b in (1, 2, 8, 64, 512)]
    assert all(a.tokens_per_s < b.tokens_per_s for a, b in zip(pts, pts[1:], strict=False))
    assert all(a.tpot_s < b.tpot_s for a, b in zip(pts, pts[1:], strict=False))


def test_server_point_is_the_largest_batch_meeting_limits(catalog):
    r = llm.replica_model(catalog.gpu("nvidia-h200-141gb"), llm.llm_arch("llama-2-70b"), "fp8", 1)
    _, w = llm.mlperf_workload()
    s = llm.engine_settings()
    op = llm.server_point(r, w, s)
    target = w.tpot_limit_s / s.tpot_p99_over_mean
    assert op.tpot_s <= target and op.ttft_s <= w.ttft_limit_s
    nxt = llm.operating_point(r, w, op.batch + 1)
    assert nxt.tpot_s > target or nxt.ttft_s > w.ttft_limit_s or op.batch == r.max_batch(w)


def test_predict_system_picks_replicas(catalog):
    p = llm.predict_system(catalog.gpu("nvidia-h100-80gb"), 8, precision="fp8")
    assert p.tp == 2 and p.replicas == 4  # 70B FP8 does not fit one 80 GB H100 with the reserve
    assert llm.predict_system(catalog.gpu("nvidia-l4"), 1, precision="fp8") is None
    one = llm.predict_system(catalog.gpu("nvidia-h200-141gb"), 1)
    eight = llm.predict_system(catalog.gpu("nvidia-h200-141gb"), 8)
    assert eight.tokens_per_s == pytest.approx(8 * one.tokens_per_s)
    assert math.isfinite(eight.ttft_s)


def test_bad_arguments_are_input_errors(catalog):
    from gpusim.errors import InputError

    gpu = catalog.gpu("nvidia-h100-80gb")
    with pytest.raises(InputError, match="known: llama-2-70b"):
        llm.llm_arch("gpt-5")
    with pytest.raises(InputError, match="scenario"):
        llm.predict_system(gpu, 8, scenario="batch")
    with pytest.raises(InputError, match="precision"):
        llm.replica_model(gpu, llm.llm_arch("llama-2-70b"), "fp2", 1)


def test_derived_queue_params_reproduce_the_batch_time(catalog):
    """The simple data plane's T(1) (1 + alpha (b - 1)) equals the roofline's time in a batch of b."""
    r = llm.replica_model(catalog.gpu("nvidia-h200-141gb"), llm.llm_arch("llama-2-70b"), "fp8", 1)
    _, w = llm.mlperf_workload()
    d = llm.derived_queue_params(r, w)
    assert d.concurrency == llm.server_point(r, w).batch
    assert d.service_time_alone_s == pytest.approx(
        r.prefill_s(w.prompt_tokens)
        + sum(r.decode_step_s(1, w.prompt_tokens + w.output_tokens / 2) for _ in range(int(w.output_tokens))),
        rel=1e-9,
    )
    b = d.concurrency
    assert d.service_time_alone_s * (1 + d.batch_slowdown * (b - 1)) == pytest.approx(r.cycle_s(b, w), rel=1e-12)
    # throughput in the simple model at full batch = the roofline's Server throughput
    simple = b * w.output_tokens / (d.service_time_alone_s * (1 + d.batch_slowdown * (b - 1)))
    assert simple == pytest.approx(llm.server_point(r, w).tokens_per_s, rel=1e-12)
    assert 0 < d.batch_slowdown < 1
