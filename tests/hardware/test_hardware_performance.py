"""Performance-model properties: monotonicity, shares, vectorisation, CPU vs GPU, training."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpusim.errors import InputError
from gpusim.hardware import load_catalog
from gpusim.hardware import performance as P
from gpusim.hardware.calibration import service_time_tables

CATALOG = load_catalog()
SPEC_GPUS = [g for g in CATALOG.gpu_models.values() if g.bf16_tflops and g.hbm_tbps]
MIG_GPUS = [g for g in CATALOG.gpu_models.values() if g.mig]

gpus = st.sampled_from(SPEC_GPUS)
params_b = st.floats(0.5, 80)
tokens = st.integers(1, 8192)
batches = st.integers(1, 512)
precisions = st.sampled_from(["bf16", "fp8", "fp4"])


@settings(max_examples=200, deadline=None)
@given(gpus, params_b, batches, tokens, st.floats(1.01, 4.0), precisions)
def test_more_bandwidth_never_makes_decode_slower(gpu, p, b, ctx, factor, prec):
    faster = dataclasses.replace(gpu, hbm_tbps=gpu.hbm_tbps * factor)
    kw = dict(precision=prec)
    assert P.llm_decode_step_time_s(faster, p, b, ctx, **kw) <= P.llm_decode_step_time_s(gpu, p, b, ctx, **kw)
    assert P.llm_service_time_s(faster, p, ctx, 100, b, **kw) <= P.llm_service_time_s(gpu, p, ctx, 100, b, **kw)


@settings(max_examples=200, deadline=None)
@given(gpus, params_b, tokens, st.floats(1.01, 4.0))
def test_more_compute_never_makes_prefill_slower(gpu, p, prompt, factor):
    faster = dataclasses.replace(gpu, bf16_tflops=gpu.bf16_tflops * factor)
    assert P.llm_prefill_time_s(faster, p, prompt) <= P.llm_prefill_time_s(gpu, p, prompt)
    job = P.TrainingProfile(compute_fraction=0.6)
    assert P.training_rate(faster, job) >= P.training_rate(gpu, job)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MIG_GPUS), params_b, tokens, st.integers(1, 2048), batches, st.floats(0, 1))
def test_mig_3g_never_faster_than_4g(gpu, p, prompt, out, b, cf):
    s3 = P.mig_share(next(x for x in gpu.mig.profiles if x.name.startswith("3g.")))
    s4 = P.mig_share(next(x for x in gpu.mig.profiles if x.name.startswith("4g.")))
    assert P.llm_service_time_s(gpu, p, prompt, out, b, s3) >= P.llm_service_time_s(gpu, p, prompt, out, b, s4)
    job = P.TrainingProfile(compute_fraction=cf)
    assert P.training_rate(gpu, job, share=s3) <= P.training_rate(gpu, job, share=s4)
    assert P.llm_max_batch(gpu, p, prompt + out, share=s3) <= P.llm_max_batch(gpu, p, prompt + out, share=s4)


@pytest.mark.parametrize("gpu", MIG_GPUS, ids=lambda g: g.id)
def test_bigger_mig_slices_are_never_slower(gpu):
    """Profiles ordered by (compute, memory) slices: a superset of slices is never slower."""
    profiles = [p for p in gpu.mig.profiles if "+me" not in p.name]
    for a in profiles:
        for b in profiles:
            if a.compute_slices <= b.compute_slices and a.memory_slices <= b.memory_slices:
                sa, sb = P.mig_share(a), P.mig_share(b)
                assert P.llm_service_time_s(gpu, 1, 500, 100, 4, sa) >= P.llm_service_time_s(gpu, 1, 500, 100, 4, sb)
                assert P.training_rate(gpu, P.TrainingProfile(), share=sa) <= P.training_rate(
                    gpu, P.TrainingProfile(), share=sb
                )
    whole = P.llm_service_time_s(gpu, 1, 500, 100, 4)
    seven = P.mig_share(gpu.mig.profile(next(p.name for p in gpu.mig.profiles if p.name.startswith("7g."))))
    assert P.llm_service_time_s(gpu, 1, 500, 100, 4, seven) == pytest.approx(whole, rel=0.02)


@settings(max_examples=100, deadline=None)
@given(gpus, st.integers(1, 16), st.floats(0, 1))
def test_time_slicing_shares(gpu, n, cf):
    job = P.TrainingProfile(compute_fraction=cf)
    whole = P.training_rate(gpu, job)
    one = P.training_rate(gpu, job, share=P.timeslice_share(n))
    assert one <= whole * (1 + 1e-12)
    assert n * one <= whole * (1 + 1e-9)  # switching never creates capacity
    if n > 1:
        assert one >= P.training_rate(gpu, job, share=P.timeslice_share(n + 1))


@settings(max_examples=200, deadline=None)
@given(gpus, params_b, tokens, st.integers(1, 2048), batches)
def test_service_time_monotone_in_tokens_and_batch(gpu, p, prompt, out, b):
    t = P.llm_service_time_s(gpu, p, prompt, out, b)
    assert P.llm_service_time_s(gpu, p, prompt + 1, out, b) >= t
    assert P.llm_service_time_s(gpu, p, prompt, out + 1, b) >= t
    assert P.llm_service_time_s(gpu, p, prompt, out, b + 1) >= t
    if math.isfinite(t):
        assert t > 0
        # Throughput grows with batch even though each request gets slower.
        assert P.llm_throughput_tokens_s(gpu, p, prompt, out, b + 1) >= P.llm_throughput_tokens_s(
            gpu, p, prompt, out, b
        )


def test_vectorised_equals_scalar():
    gpu = CATALOG.gpu("nvidia-h100-80gb")
    rng = np.random.default_rng(1)
    prompt = rng.integers(1, 4000, 50)
    out = rng.integers(1, 500, 50)
    batch = rng.integers(1, 64, 50)
    vec = P.llm_service_times_s(gpu, 8, prompt, out, batch)
    assert vec.dtype == np.float64 and vec.shape == (50,)
    for i in range(50):
        assert vec[i] == pytest.approx(P.llm_service_time_s(gpu, 8, int(prompt[i]), int(out[i]), int(batch[i])))
    assert isinstance(P.llm_service_time_s(gpu, 8, 100, 10), float)


def test_weights_that_do_not_fit():
    l4 = CATALOG.gpu("nvidia-l4")
    assert P.llm_max_batch(l4, 70, 1000) == 0
    assert not P.llm_fits(l4, 70)
    assert P.llm_service_time_s(l4, 70, 100, 10) == math.inf
    assert P.llm_throughput_tokens_s(l4, 70, 100, 10) == 0.0
    # Eight H100s in tensor parallel hold 70B in BF16.
    assert P.llm_max_batch(CATALOG.gpu("nvidia-h100-80gb"), 70, 1000, n_gpus=8) > 0
    a100 = CATALOG.gpu("nvidia-a100-80gb")
    small = P.mig_share(a100.mig.profile("1g.10gb"))
    assert P.llm_max_batch(a100, 8, 1000, share=small) == 0
    assert P.llm_max_batch(a100, 8, 1000, share=P.mig_share(a100.mig.profile("3g.40gb"))) > 0


def test_memory_limits_batch():
    h100, h200 = CATALOG.gpu("nvidia-h100-80gb"), CATALOG.gpu("nvidia-h200-141gb")
    assert P.llm_max_batch(h200, 8, 2000) > P.llm_max_batch(h100, 8, 2000)
    assert P.llm_max_batch(h100, 8, 4000) < P.llm_max_batch(h100, 8, 2000)
    assert P.llm_max_batch(h100, 8, 2000, max_batch=16) == 16
    spec = P.LlmSpec(70, "fp8", kv_values_per_token=163840)
    assert spec.kv_bytes_per_token == 163840
    assert P.llm_weights_gib(70, "bf16") == pytest.approx(140e9 / 2**30)


def test_training_rate_reference_and_scaling():
    ref = CATALOG.gpu("nvidia-a100-40gb")
    assert (ref.bf16_tflops, ref.hbm_tbps, ref.memory_gib) == (
        P.REFERENCE_GPU.bf16_tflops,
        P.REFERENCE_GPU.hbm_tbps,
        P.REFERENCE_GPU.memory_gib,
    )
    job = P.TrainingProfile()
    assert P.training_rate(ref, job) == pytest.approx(1.0)
    h100 = CATALOG.gpu("nvidia-h100-80gb")
    assert P.training_rate(h100, job) > 2.0  # H100 ~3x the A100 BF16 peak, 2.2x the bandwidth
    r1, r8 = P.training_rate(h100, job, 1), P.training_rate(h100, job, 8)
    assert r1 < r8 < 8 * r1
    assert r8 == pytest.approx(8 * r1 * 0.95**3)
    # Pure memory-bound work scales with bandwidth only.
    mem_job = P.TrainingProfile(compute_fraction=0.0)
    assert P.training_rate(h100, mem_job) == pytest.approx(3.35 / 1.555)
    other_ref = P.TrainingProfile(reference=h100)
    assert P.training_rate(h100, other_ref) == pytest.approx(1.0)
    assert P.training_duration_s(100.0, 2.0) == 50.0


def test_efficiency_factors():
    h100 = CATALOG.gpu("nvidia-h100-80gb")
    assert P.efficiency(h100) == P.VENDOR_EFFICIENCY["nvidia"]
    assert P.efficiency(dataclasses.replace(h100, software_efficiency=0.3)) == 0.3
    for v in ("nvidia", "amd", "intel"):
        assert 0 < P.VENDOR_EFFICIENCY[v] <= 1
    assert 0 < P.CPU_EFFICIENCY <= 1
    slow = dataclasses.replace(h100, software_efficiency=0.4)
    assert P.llm_service_time_s(slow, 8, 500, 50) > P.llm_service_time_s(h100, 8, 500, 50)


def test_cpu_device_and_gpu_vs_cpu():
    node = CATALOG.node_type("onprem-xeon6-2s")
    cpu = P.cpu_device(node)
    assert cpu.id == "cpu:onprem-xeon6-2s" and cpu.fraction == 1.0
    half = P.cpu_device(node, node.vcpu / 2)
    assert half.bf16_tflops == pytest.approx(node.cpu_bf16_tflops / 2)
    assert P.llm_service_time_s(half, 8, 500, 50) > P.llm_service_time_s(cpu, 8, 500, 50)
    h200 = CATALOG.gpu("nvidia-h200-141gb")
    assert P.llm_service_time_s(cpu, 8, 500, 50) > P.llm_service_time_s(h200, 8, 500, 50)
    with pytest.raises(InputError):
        P.cpu_device(CATALOG.node_type("aws-p5.48xlarge"))
    with pytest.raises(InputError):
        P.cpu_device(node, node.vcpu * 2)


def test_service_time_tables():
    tables = service_time_tables()
    resnet = tables["resnet50"]
    h200 = CATALOG.gpu("nvidia-h200-141gb")
    node = CATALOG.node_type("onprem-xeon6-2s")
    cpu = P.cpu_device(node)
    devices = {"nvidia-h200-141gb": h200, "cpu:onprem-xeon6-2s": cpu}
    t_gpu = P.table_service_time_s(resnet, h200)
    assert t_gpu == pytest.approx(8 / 756960)
    t_cpu = P.table_service_time_s(resnet, cpu)
    assert t_cpu == pytest.approx(1 / 45617.3)
    # MLPerf: one H200 ~2.1x a whole 2-socket Xeon 6980P server on ResNet-50 (hardware-facts 8.3).
    assert t_cpu / t_gpu == pytest.approx(2.07, rel=0.02)
    assert P.table_service_time_s(resnet, P.cpu_device(node, 64), devices=devices) == pytest.approx(
        t_cpu * node.vcpu / 64
    )
    t4 = P.table_service_time_s(resnet, CATALOG.gpu("nvidia-t4"), devices=devices)
    assert t4 > t_gpu
    mig = P.mig_share(h200.mig.profile("1g.18gb"))
    assert P.table_service_time_s(resnet, h200, mig) == pytest.approx(t_gpu * 7)
    with pytest.raises(InputError):
        P.table_service_time_s(resnet, CATALOG.gpu("nvidia-t4"))


def test_missing_specs_raise_input_error():
    gaudi1 = CATALOG.gpu("intel-gaudi1")
    with pytest.raises(InputError, match="bf16_tflops"):
        P.llm_service_time_s(gaudi1, 8, 100, 10)
    fixed = load_catalog({"gpu_models": [{"id": "intel-gaudi1", "bf16_tflops": 100, "hbm_tbps": 1.0}]})
    assert P.llm_service_time_s(fixed.gpu("intel-gaudi1"), 8, 100, 10) > 0


def test_shares_validate():
    with pytest.raises(ValueError):
        P.Share(compute=0)
    with pytest.raises(ValueError):
        P.Share(bandwidth=1.5)
    assert P.timeslice_share(1) == P.WHOLE
    assert P.shared_fraction_share(0.25).compute == 0.25
    mi300x = CATALOG.gpu("amd-mi300x")
    cpx = P.partition_share(mi300x.amd_partitions.profile("cpx_nps4"))
    assert cpx.compute == pytest.approx(1 / 8) and cpx.memory_gib == 24
    assert P.llm_service_time_s(mi300x, 8, 500, 50, 1, cpx) > P.llm_service_time_s(mi300x, 8, 500, 50)


def test_share_for_resource():
    h100 = CATALOG.gpu("nvidia-h100-80gb")
    assert P.share_for_resource(h100, "nvidia.com/gpu") == P.WHOLE
    assert P.share_for_resource(h100, "nvidia.com/gpu", tenants=4) == P.timeslice_share(4)
    assert P.share_for_resource(h100, "nvidia.com/mig-3g.40gb") == P.mig_share(h100.mig.profile("3g.40gb"))
    mi300x = CATALOG.gpu("amd-mi300x")
    assert P.share_for_resource(mi300x, "amd.com/cpx_nps4").compute == pytest.approx(1 / 8)
    with pytest.raises(InputError):
        P.share_for_resource(mi300x, "nvidia.com/mig-1g.10gb")
