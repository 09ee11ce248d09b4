"""Calibration of the performance model's software-efficiency factors against MLPerf Inference.

Method (documented in ``gpusim catalog calibration``):

1. For each MLPerf Inference Llama-2-70B Offline row (``data/calibration.yaml``) predict the
   system's output tokens/s with the roofline model at software efficiency 1: each replica
   spans ``tp`` accelerators (1, 2, 4 or 8, whichever gives the most tokens/s per accelerator,
   as a submitter would choose), batch = the most sequences the KV cache holds (capped at the
   workload's max_batch), weights and KV cache in the submission's precision.
2. Throughput is proportional to the efficiency factor (both roofline terms scale with it), so
   the factor of a vendor is the geometric mean of measured / predicted over its rows.
3. Error per row = calibrated prediction / measured - 1. All Llama-2-70B rows are fitted: NVIDIA
   five (H100, H200 and B200 in v4.1; H200 and 8 x B200 in v5.0), AMD two (MI300X v4.1, MI325X
   v5.0), Intel one (Gaudi 2 v4.0, exact by construction). Within a vendor the errors measure
   how well the roofline ranks its accelerators and how much its software moved between
   rounds. The one-factor column shows the error if one factor served every vendor (the
   software gap between vendors).
4. CPUs get their own factor from the MLPerf v4.1 GPT-J rows: the factor that reproduces the
   measured CPU-only (2 x Xeon 6980P) / 8 x H100 ratio with H100 at the NVIDIA factor, so a
   GPU-versus-CPU comparison matches MLPerf's. The absolute GPT-J errors (the same for both
   rows by construction) are a cross-check of the NVIDIA factor on a different model, bounded
   only loosely by `CROSS_CHECK_BOUND`.

Result with the shipped data (output tokens/s, Offline; error = prediction / measured - 1):

    accelerator          MLPerf   measured  predicted    error   one factor for all
    Gaudi 2 (x8)         v4.0        8,035      8,035    +0.0 %      +35.9 %
    H100-SXM (x8)        v4.1       24,525     23,006    -6.2 %      -17.4 %
    H200-SXM (x8)        v4.1       31,303     29,002    -7.3 %      -18.4 %
    MI300X (x8)          v4.1       23,515     27,578   +17.3 %      +38.2 %
    B200-SXM (x1)        v4.1       11,264     13,900   +23.4 %       +8.7 %
    H200-SXM (x8)        v5.0       34,988     29,002   -17.1 %      -27.0 %
    B200-SXM (x8)        v5.0       98,858    111,201   +12.5 %       -0.9 %
    MI325X (x8)          v5.0       33,928     28,929   -14.7 %       +0.5 %
    GPT-J, H100 (x8)     v4.1       19,740     13,324   -32.5 %   (cross-check, not fitted)
    GPT-J, 2x Xeon 6980P v4.1          498        336   -32.5 %   (CPU/GPU ratio fitted)

Factors: NVIDIA 0.827, AMD 0.618, Intel 0.536, CPU 0.811 (one factor for all: 0.728).
NVIDIA's factor also serves its uncalibrated GPUs (A100, L4, T4, V100, P100, A10), AMD's the
MI250X, Intel's Gaudi 3 and Max 1550: those are extrapolations. ``gpusim catalog
calibration`` recomputes this table from the data.

`ERROR_BOUND` is the largest |error| tests/hardware/test_hardware_calibration.py accepts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from gpusim.hardware import performance as perf
from gpusim.hardware.catalog import Catalog, GpuModel, calibration_data

ERROR_BOUND = 0.25
"""Largest accepted |calibrated prediction / measured - 1| on the MLPerf Llama-2-70B rows."""

CROSS_CHECK_BOUND = 0.5
"""Largest accepted |error| on rows not used in any fit (other models; rough by nature)."""

TP_CHOICES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Workload:
    params_b: float
    kv_values_per_token: float
    prompt_tokens: float
    output_tokens: float
    max_batch: int
    beams: int = 1  # beam search: sequences decoded per counted output token


@dataclass(frozen=True)
class CalibrationRow:
    benchmark: str
    round: str
    device_id: str
    vendor: str
    accelerators: int
    precision: str
    measured_tokens_s: float
    raw_tokens_s: float  # prediction at software efficiency 1
    tp: int
    batch: int
    factor: float = float("nan")  # efficiency applied
    used_in_fit: bool = True

    @property
    def predicted_tokens_s(self) -> float:
        return self.raw_tokens_s * self.factor

    @property
    def error(self) -> float:
        return self.predicted_tokens_s / self.measured_tokens_s - 1.0


@dataclass(frozen=True)
class CalibrationResult:
    vendor_efficiency: dict[str, float]
    cpu_efficiency: float
    single_factor: float
    rows: tuple[CalibrationRow, ...]
    error_bound: float = ERROR_BOUND

    def single_factor_error(self, row: CalibrationRow) -> float:
        return row.raw_tokens_s * self.single_factor / row.measured_tokens_s - 1.0

    @property
    def max_abs_error(self) -> float:
        return max(abs(r.error) for r in self.rows if r.used_in_fit)


def _workload(raw: dict) -> Workload:
    w = raw["workload"]
    return Workload(
        params_b=float(w["params_b"]),
        kv_values_per_token=float(w["kv_values_per_token"]),
        prompt_tokens=float(w["prompt_tokens"]),
        output_tokens=float(w["output_tokens"]),
        max_batch=int(w["max_batch"]),
        beams=int(w.get("beams", 1)),
    )


def predict_system_tokens_s(device, workload: Workload, precision: str, accelerators: int) -> tuple[float, int, int]:
    """Predicted offline output tokens/s of ``accelerators`` devices (at the device's own efficiency).

    Returns (tokens/s, tensor-parallel size, batch per replica).
    """
    model = perf.LlmSpec(workload.params_b, precision, workload.kv_values_per_token)
    best = (0.0, 0, 0)
    for tp in TP_CHOICES:
        if tp > accelerators:
            break
        batch = perf.llm_max_batch(
            device, model, workload.prompt_tokens + workload.output_tokens, n_gpus=tp, max_batch=workload.max_batch
        )
        if batch <= 0:
            continue
        tps = perf.llm_throughput_tokens_s(
            device, model, workload.prompt_tokens, workload.output_tokens, batch, n_gpus=tp
        )
        per_acc = tps / tp
        if per_acc > best[0]:
            best = (per_acc, tp, batch)
    return best[0] * accelerators / workload.beams, best[1], best[2]


def _unit(device):
    return dataclasses.replace(device, software_efficiency=1.0)


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def calibrate(catalog: Catalog) -> CalibrationResult:
    """Fit the vendor and CPU efficiency factors and compute the error of every reference row."""
    data = calibration_data()
    llama = data["mlperf_llama2_70b"]
    wl = _workload(llama)
    raw_rows: list[CalibrationRow] = []
    for r in llama["rows"]:
        gpu: GpuModel = catalog.gpu(r["gpu_model"])
        raw, tp, batch = predict_system_tokens_s(_unit(gpu), wl, r["precision"], int(r["accelerators"]))
        raw_rows.append(
            CalibrationRow("llama2-70b", r["round"], gpu.id, gpu.vendor, int(r["accelerators"]), r["precision"],
                           float(r["offline_tokens_s"]), raw, tp, batch, used_in_fit=bool(r.get("fit", True)))
        )  # fmt: skip
    fit_rows = [r for r in raw_rows if r.used_in_fit]
    vendor_eff: dict[str, float] = {}
    for vendor in sorted({r.vendor for r in fit_rows}):
        vendor_eff[vendor] = _geomean([r.measured_tokens_s / r.raw_tokens_s for r in fit_rows if r.vendor == vendor])
    single = _geomean([r.measured_tokens_s / r.raw_tokens_s for r in fit_rows])
    rows = [dataclasses.replace(r, factor=vendor_eff[r.vendor]) for r in raw_rows]

    gptj = data["mlperf_gptj"]
    wl_j = _workload(gptj)
    gptj_rows: list[CalibrationRow] = []
    for r in gptj["rows"]:
        if "node_type" in r:
            dev = perf.cpu_device(catalog.node_type(r["node_type"]))
            vendor = "cpu"
        else:
            dev = catalog.gpu(r["gpu_model"])
            vendor = dev.vendor
        raw, tp, batch = predict_system_tokens_s(_unit(dev), wl_j, r["precision"], int(r["accelerators"]))
        row = CalibrationRow("gpt-j", r["round"], dev.id, vendor, int(r["accelerators"]), r["precision"],
                             float(r["offline_tokens_s"]), raw, tp, batch)  # fmt: skip
        gptj_rows.append(row)
    # The CPU factor reproduces MLPerf's CPU / GPU ratio on the same model, so effects the model
    # leaves out on both sides (the benchmark's decoding details) cancel.
    gpu_rows = [r for r in gptj_rows if r.vendor != "cpu"]
    cpu_rows = [r for r in gptj_rows if r.vendor == "cpu"]
    cpu_eff = float("nan")
    if gpu_rows and cpu_rows:
        g, c = gpu_rows[0], cpu_rows[0]
        g_eff = vendor_eff.get(g.vendor, single)
        cpu_eff = g_eff * (c.measured_tokens_s / g.measured_tokens_s) / (c.raw_tokens_s / g.raw_tokens_s)
    for row in gptj_rows:
        factor = cpu_eff if row.vendor == "cpu" else vendor_eff.get(row.vendor, single)
        rows.append(dataclasses.replace(row, factor=factor, used_in_fit=False))
    return CalibrationResult(
        vendor_efficiency=vendor_eff, cpu_efficiency=cpu_eff, single_factor=single, rows=tuple(rows)
    )


def service_time_tables() -> dict[str, perf.ServiceTimeTable]:
    """Shipped per-model service-time tables (non-LLM inference), from ``data/calibration.yaml``."""
    out = {}
    for model, entries in (calibration_data().get("service_times") or {}).items():
        out[model] = perf.ServiceTimeTable(
            model=model, seconds_by_device={k: 1.0 / float(v["throughput_per_s"]) for k, v in entries.items()}
        )
    return out
