"""The Server point found through the compiled replica (gpusim.hardware.llm.server_point_replica):
MLPerf's rule (p99 TTFT <= 2 s, p99 TPOT <= 200 ms under Poisson arrivals) met at the rate found and
missed just above it; a stable system completes what it is offered."""

import pytest

from gpusim.hardware import llm, load_catalog


@pytest.fixture(scope="module")
def setup():
    r = llm.replica_model(load_catalog().gpu("nvidia-h200-141gb"), llm.llm_arch("llama-2-70b"), "fp8", 1)
    _, w = llm.mlperf_workload()
    op = llm.server_point_replica(r, w, requests=2000)
    return r, w, op


def test_rate_found_meets_the_limits_and_a_higher_one_does_not(setup):
    r, w, op = setup
    assert op is not None
    assert op.ttft_s <= w.ttft_limit_s and op.tpot_s <= w.tpot_limit_s
    rate = op.tokens_per_s / w.output_tokens
    ttft, tpot, _, _ = llm.replica_server_run(r, w, 1.1 * rate, requests=2000)
    assert ttft > w.ttft_limit_s or tpot > w.tpot_limit_s


def test_server_below_offline_and_the_replica_keeps_up(setup):
    r, w, op = setup
    off = llm.offline_point(r, w)
    assert op.tokens_per_s < off.tokens_per_s
    rate = op.tokens_per_s / w.output_tokens
    _, _, first_per_s, held = llm.replica_server_run(r, w, rate, requests=2000)
    # stable below capacity: requests get their first token at the rate they arrive (sampling noise)
    assert first_per_s == pytest.approx(rate, rel=0.05)
    assert 1 <= held <= r.max_num_seqs


def test_deterministic_and_selectable_in_predict_system(setup):
    r, w, op = setup
    assert llm.server_point_replica(r, w, requests=2000) == op
    gpu = load_catalog().gpu("nvidia-h200-141gb")
    p = llm.predict_system(gpu, 1, scenario="server", server_model="replica", tp_choices=(1,))
    assert p.tp == 1 and p.tokens_per_s == pytest.approx(llm.server_point_replica(r, w).tokens_per_s)
    with pytest.raises(llm.InputError, match="allowed: analytic, replica, replica-chunked"):
        llm.predict_system(gpu, 1, scenario="server", server_model="mlperf")
