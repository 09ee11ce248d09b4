"""Calibration against MLPerf Inference: fails if the error grows beyond the documented bound."""

import pytest

from gpusim.hardware import load_catalog
from gpusim.hardware import performance as P
from gpusim.hardware.calibration import CROSS_CHECK_BOUND, ERROR_BOUND, calibrate, calibration_data


@pytest.fixture(scope="module")
def result():
    return calibrate(load_catalog())


def test_every_mlperf_llama_row_within_bound(result):
    rows = [r for r in result.rows if r.benchmark == "llama2-70b"]
    assert {r.device_id for r in rows} == {
        "intel-gaudi2", "nvidia-h100-80gb", "nvidia-h200-141gb", "amd-mi300x", "nvidia-b200-180gb", "amd-mi325x",
    }  # fmt: skip
    for r in rows:
        assert r.used_in_fit
        assert abs(r.error) <= ERROR_BOUND, f"{r.device_id}: {r.error:+.1%} beyond +-{ERROR_BOUND:.0%}"
    assert result.max_abs_error <= ERROR_BOUND


def test_cross_check_rows_within_loose_bound(result):
    for r in result.rows:
        if not r.used_in_fit:
            assert abs(r.error) <= CROSS_CHECK_BOUND, f"{r.benchmark} {r.device_id}: {r.error:+.1%}"


def test_shipped_factors_match_the_fit(result):
    """performance.py carries the fitted factors as constants; they must not drift from the data."""
    for vendor, value in result.vendor_efficiency.items():
        assert P.VENDOR_EFFICIENCY[vendor] == pytest.approx(value, abs=5e-4), vendor
    assert P.CPU_EFFICIENCY == pytest.approx(result.cpu_efficiency, abs=5e-4)
    assert set(result.vendor_efficiency) == set(P.VENDOR_EFFICIENCY)


def test_calibrated_model_reproduces_vendor_ranking(result):
    """Accelerators whose MLPerf per-accelerator throughput differs by more than the error bound
    are ranked the same way by the calibrated model (closer pairs, such as MI300X and H100 at
    4 % apart, may swap)."""
    rows = [r for r in result.rows if r.benchmark == "llama2-70b"]
    for a in rows:
        for b in rows:
            ma, mb = a.measured_tokens_s / a.accelerators, b.measured_tokens_s / b.accelerators
            if ma > mb * (1 + ERROR_BOUND):
                assert a.predicted_tokens_s / a.accelerators > b.predicted_tokens_s / b.accelerators, (
                    a.device_id,
                    b.device_id,
                )


def test_gpu_cpu_ratio_matches_mlperf(result):
    gptj = {r.vendor: r for r in result.rows if r.benchmark == "gpt-j"}
    measured = gptj["cpu"].measured_tokens_s / gptj["nvidia"].measured_tokens_s
    predicted = gptj["cpu"].predicted_tokens_s / gptj["nvidia"].predicted_tokens_s
    assert predicted == pytest.approx(measured, rel=1e-6)


def test_calibration_data_rows_carry_sources():
    data = calibration_data()
    sources = load_catalog().sources
    for block in ("mlperf_llama2_70b", "mlperf_gptj"):
        for row in data[block]["rows"]:
            assert row["source"] in sources
        for key in ("kv_values_per_token", "prompt_tokens", "output_tokens", "max_batch"):
            assert key in data[block]["workload"].get("assumptions", {}) or key in data[block]["workload"].get(
                "sources", {}
            )
