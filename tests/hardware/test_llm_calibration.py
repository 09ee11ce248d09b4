"""The LLM serving model against MLPerf Inference Llama-2-70B (data/calibration.yaml, data/llm.yaml).

Offline rows are fitted; Server rows (TTFT 2 s / TPOT 200 ms) are predicted from that fit and
never fitted; vendor ratios compare per-accelerator throughput. Bounds live in
gpusim.hardware.calibration (LLM_OFFLINE_BOUND, LLM_SERVER_BOUND, LLM_RATIO_BOUND).
"""

import pytest

from gpusim.hardware import calibration as cal
from gpusim.hardware import llm, load_catalog


@pytest.fixture(scope="module")
def result():
    return cal.calibrate_llm(load_catalog())


def test_offline_rows_fitted_within_bound(result):
    rows = [r for r in result.rows if r.scenario == "offline"]
    assert len(rows) == 8 and all(r.used_in_fit for r in rows)
    for r in rows:
        assert abs(r.error) <= cal.LLM_OFFLINE_BOUND, f"{r.round} {r.gpu_id}: {r.error:+.1%}"


def test_server_rows_held_out_within_bound(result):
    rows = [r for r in result.rows if r.scenario == "server"]
    assert len(rows) == 8 and not any(r.used_in_fit for r in rows)
    for r in rows:
        assert abs(r.error) <= cal.LLM_SERVER_BOUND, f"{r.round} {r.gpu_id}: {r.error:+.1%}"
        # a Server prediction meets MLPerf's limits (mean TPOT with the p99 headroom, TTFT)
        assert r.tpot_s <= 0.2 and r.ttft_s <= 2.0


def test_vendor_ratios_within_ten_percent(result):
    pairs = {(r.numerator[1], r.denominator[1], r.scenario) for r in result.ratios}
    assert len(pairs) == 8  # four vendor pairs x two scenarios
    for r in result.ratios:
        assert abs(r.error) <= cal.LLM_RATIO_BOUND, f"{r.numerator}/{r.denominator} {r.scenario}: {r.error:+.1%}"


def test_server_never_beats_offline(result):
    by = {(r.round, r.gpu_id, r.scenario): r for r in result.rows}
    for (rnd, gpu, sc), r in by.items():
        if sc == "server":
            assert r.predicted_tokens_s <= by[(rnd, gpu, "offline")].predicted_tokens_s * (1 + 1e-9)


def test_shipped_efficiencies_match_the_fit(result):
    """llm.LLM_EFFICIENCY carries the fitted factors as constants; they must not drift from the data."""
    assert set(result.efficiency) == set(llm.LLM_EFFICIENCY)
    for key, e in result.efficiency.items():
        assert llm.LLM_EFFICIENCY[key].compute == pytest.approx(e.compute, abs=5e-4), key
        assert llm.LLM_EFFICIENCY[key].memory == pytest.approx(e.memory, abs=5e-4), key


def test_leave_one_round_out_is_reported(result):
    """Every Offline row is predicted once by a fit that did not see its round (when the vendor has another)."""
    held = {(r.round, r.gpu_id): r for r in result.held_out_rounds}
    assert len(held) == 8
    assert held[("v4.0", "intel-gaudi2")].fitted_on == ""  # Intel's only round
    nvidia = [r for r in result.held_out_rounds if r.gpu_id.startswith("nvidia")]
    # NVIDIA's rounds share one stack: a model fitted on the other round stays within 25 %
    assert all(abs(r.error) <= 0.25 for r in nvidia)


def test_server_logs_checked_at_their_load_by_littles_law(result):
    """At the load each MLPerf Server run was submitted at, the model's mean TPOT matches the log.

    Held sequences per replica come from the log by Little's law (completed samples/s x mean
    end-to-end latency / replicas); nothing about Server runs is fitted. Logs: data/llm.yaml
    ``mlperf_server_logs`` (MLPerf Inference v4.0/v4.1/v5.0 results, sources listed there).
    """
    rows = {(r.round, r.gpu_id): r for r in result.server_load}
    assert len(rows) == 8  # every Server row
    logs = llm.llm_data()["mlperf_server_logs"]
    for (rnd, gpu), r in rows.items():
        log = logs[f"{rnd}/{gpu}"]
        assert r.held_per_replica == pytest.approx(log["samples_per_s"] * log["mean_latency_s"] / r.replicas)
        assert abs(r.error) <= cal.LLM_SERVER_LOAD_BOUND, f"{rnd} {gpu}: {r.error:+.1%}"
    # by hand: 8 H100 in replicas of tp 2 held 74.4245 samples/s x 44.95 s / 4 = 836 sequences each
    h100 = rows[("v4.1", "nvidia-h100-80gb")]
    assert (h100.tp, h100.replicas, round(h100.held_per_replica)) == (2, 4, 836)


def test_server_goal_holds_where_the_run_reached_a_limit(result):
    """The model predicts Server capacity at the 2 s / 200 ms limits. Where the submitted run came
    within 10 % of a limit the prediction meets issue 14's 15 % goal; every row that misses the goal
    is a run that left slack under both limits (its rate is below the capacity at the limits)."""
    reached = [r for r in result.server_load if r.reached_limit]
    assert len(reached) >= 3
    for r in reached:
        assert abs(r.server_error) <= cal.LLM_SERVER_GOAL, f"{r.round} {r.gpu_id}: {r.server_error:+.1%}"
    for r in result.server_load:
        if abs(r.server_error) > cal.LLM_SERVER_GOAL:
            assert not r.reached_limit and r.server_error > 0, f"{r.round} {r.gpu_id}"
