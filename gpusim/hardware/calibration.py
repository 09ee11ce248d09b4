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

The LLM serving model (`gpusim.hardware.llm`: per-phase roofline, separate compute and memory
efficiencies per vendor / stack / precision, tensor-parallel all-reduce over the interconnect) is
calibrated by `calibrate_llm` below: fitted on the same Offline rows, with the Server rows held
out, vendor ratios, and a leave-one-round-out table (``gpusim catalog predict --calibration``).
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


# --------------------------------------------------------------------------- LLM serving model
#
# `calibrate_llm` fits the per-phase roofline of `gpusim.hardware.llm` (separate compute and
# memory efficiencies per vendor / software stack / compute precision) on the MLPerf Inference
# Llama-2-70B Offline rows and predicts every Server row (TTFT 2 s / TPOT 200 ms) from that fit:
# the Server rows are never fitted. A second held-out view refits without one MLPerf round and
# predicts that round's Offline rows (leave one round out). `gpusim catalog calibration` prints
# the tables; tests/hardware/test_llm_calibration.py holds them to the bounds below.

MEMORY_EFFICIENCY_PRIOR = 0.85
"""Weak prior on the memory efficiency (assumption: HBM streaming kernels reach 80-90 % of peak);
it only decides between fits that match a stack's rows equally well (one row, two factors)."""

PRIOR_WEIGHT = 0.05

LLM_OFFLINE_BOUND = 0.10
"""Largest accepted |error| on the fitted Offline rows."""

LLM_SERVER_GOAL = 0.15
"""Issue 14's goal for the held-out Server rows; H100 (+16.4 %) and Gaudi 2 (+16.5 %) miss it.
Both runs left slack under the limits (p99 TPOT 175 ms and 131 ms of 200 ms, p99 TTFT 0.46 s and
1.62 s of 2 s; `ServerLoadRow`), so their rates are below the capacity at the limits that the
model predicts."""

LIMIT_REACHED = 0.9
"""A Server run "reached" a limit when its p99 TTFT or p99 TPOT is at least this share of it."""

LLM_SERVER_LOAD_BOUND = 0.12
"""Largest accepted |error| of the mean TPOT predicted at a Server run's measured load (Little's
law), against the run's logged mean TPOT (what the model achieves, 11.5 %, rounded up)."""

LLM_SERVER_BOUND = 0.20
"""Largest accepted |error| on the held-out Server rows (what the model achieves, rounded up)."""

LLM_RATIO_BOUND = 0.10
"""Largest accepted |error| of a vendor ratio (per-accelerator throughput, Offline and Server)."""

RATIO_PAIRS = (
    (("v5.0", "nvidia-b200-180gb"), ("v5.0", "nvidia-h200-141gb")),
    (("v5.0", "amd-mi325x"), ("v5.0", "nvidia-h200-141gb")),
    (("v4.1", "amd-mi300x"), ("v4.1", "nvidia-h100-80gb")),
    (("v4.0", "intel-gaudi2"), ("v4.1", "nvidia-h100-80gb")),
)
"""Vendor ratios checked: (round, GPU) over (round, GPU), per accelerator. Gaudi 2 has no v4.1 row,
so its ratio compares its v4.0 result with H100's v4.1 one."""

_EC_GRID = (0.05, 1.0)
_EM_GRID = (0.2, 1.0)


@dataclass(frozen=True)
class LlmRow:
    """One MLPerf Llama-2-70B result (one scenario) against the LLM serving model."""

    round: str
    gpu_id: str
    vendor: str
    stack: str  # vendor/stack as in calibration.yaml
    efficiency_key: str
    accelerators: int
    precision: str
    scenario: str
    measured_tokens_s: float
    predicted_tokens_s: float
    tp: int
    batch: int
    ttft_s: float
    tpot_s: float
    used_in_fit: bool

    @property
    def error(self) -> float:
        return self.predicted_tokens_s / self.measured_tokens_s - 1.0


@dataclass(frozen=True)
class RatioRow:
    numerator: tuple[str, str]
    denominator: tuple[str, str]
    scenario: str
    measured: float
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0


@dataclass(frozen=True)
class HeldOutRow:
    """Leave one round out: an Offline row predicted by a fit that never saw its round."""

    round: str
    gpu_id: str
    fitted_on: str  # the efficiency key used, or "" when the vendor has no row outside the round
    measured_tokens_s: float
    predicted_tokens_s: float

    @property
    def error(self) -> float:
        return self.predicted_tokens_s / self.measured_tokens_s - 1.0 if self.fitted_on else float("nan")


@dataclass(frozen=True)
class ServerLoadRow:
    """A Server run at the load its submitter chose, from its log (``data/llm.yaml``
    ``mlperf_server_logs``): the sequences one replica held (Little's law: completed samples/s x
    mean latency / replicas), the model's mean TPOT at that batch against the logged mean TPOT,
    and how close the run's p99s came to the limits. Nothing here is fitted.
    """

    round: str
    gpu_id: str
    tp: int
    replicas: int
    held_per_replica: float
    measured_tpot_s: float
    predicted_tpot_s: float
    ttft_p99_share: float  # logged p99 TTFT / the TTFT limit
    tpot_p99_share: float  # logged p99 TPOT / the TPOT limit
    server_error: float  # the Server row's throughput error (capacity at the limits)

    @property
    def error(self) -> float:
        return self.predicted_tpot_s / self.measured_tpot_s - 1.0

    @property
    def reached_limit(self) -> bool:
        return max(self.ttft_p99_share, self.tpot_p99_share) >= LIMIT_REACHED


@dataclass(frozen=True)
class LlmCalibration:
    efficiency: dict  # efficiency key -> llm.Efficiency
    rows: tuple[LlmRow, ...]
    ratios: tuple[RatioRow, ...]
    held_out_rounds: tuple[HeldOutRow, ...]
    server_load: tuple[ServerLoadRow, ...] = ()

    def max_abs_error(self, scenario: str) -> float:
        return max(abs(r.error) for r in self.rows if r.scenario == scenario)


@dataclass(frozen=True)
class _Row:
    raw: dict
    gpu: GpuModel
    key: str


def _llm_rows(catalog: Catalog) -> list[_Row]:
    from gpusim.hardware import llm

    out = []
    for r in calibration_data()["mlperf_llama2_70b"]["rows"]:
        gpu = catalog.gpu(r["gpu_model"])
        stack = r["stack"]
        key = f"{stack}/{llm.COMPUTE_PRECISION[r['precision']]}"
        out.append(_Row(r, gpu, key))
    return out


def _offline_terms(gpu, accelerators: int, precision: str):
    """Per tp: (batch, A, M, C) with cycle_s = A / e_compute + M / e_memory + C (exact: linear in 1/e)."""
    from gpusim.hardware import llm

    model_id, w = llm.mlperf_workload()
    arch = llm.llm_arch(model_id)
    terms = []
    for tp in llm.TP_CHOICES:
        if tp > accelerators:
            break

        def cyc(ec, em, tp=tp):
            r = llm.replica_model(gpu, arch, precision, tp, efficiency=llm.Efficiency(ec, em))
            b = r.max_batch(w)
            return b, (r.cycle_s(b, w) if b > 0 else math.inf)

        b, c11 = cyc(1.0, 1.0)
        if b <= 0:
            continue
        _, c21 = cyc(0.5, 1.0)
        _, c12 = cyc(1.0, 0.5)
        a, m = c21 - c11, c12 - c11
        terms.append((tp, b, a, m, c11 - a - m))
    return terms, w


def _fit_group(rows: list[_Row]):
    """Grid fit of (e_compute, e_memory) to the Offline rows of one efficiency key."""
    import numpy as np

    from gpusim.hardware import llm

    ec = np.exp(np.linspace(math.log(_EC_GRID[0]), math.log(_EC_GRID[1]), 241))
    em = np.exp(np.linspace(math.log(_EM_GRID[0]), math.log(_EM_GRID[1]), 161))
    EC, EM = np.meshgrid(ec, em, indexing="ij")
    obj = PRIOR_WEIGHT * np.log(EM / MEMORY_EFFICIENCY_PRIOR) ** 2
    for row in rows:
        terms, w = _offline_terms(row.gpu, int(row.raw["accelerators"]), row.raw["precision"])
        n = int(row.raw["accelerators"])
        best = np.zeros_like(EC)
        for tp, b, a, m, c in terms:
            per_acc = b * w.output_tokens / (a / EC + m / EM + c) / tp
            best = np.maximum(best, per_acc)
        pred = best * n
        obj = obj + np.log(pred / float(row.raw["offline_tokens_s"])) ** 2
    i, j = np.unravel_index(int(np.argmin(obj)), obj.shape)
    return llm.Efficiency(round(float(EC[i, j]), 4), round(float(EM[i, j]), 4))


def _fit(rows: list[_Row]) -> dict:
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        groups.setdefault(r.key, []).append(r)
    return {k: _fit_group(v) for k, v in sorted(groups.items())}


def _predict_row(row: _Row, eff, scenario: str):
    from gpusim.hardware import llm

    return llm.predict_system(
        row.gpu, int(row.raw["accelerators"]), precision=row.raw["precision"], scenario=scenario, efficiency=eff
    )


def calibrate_llm(catalog: Catalog) -> LlmCalibration:
    """Fit the LLM serving model on MLPerf Offline rows; predict the Server rows and the vendor ratios."""
    rows = _llm_rows(catalog)
    eff = _fit(rows)
    out: list[LlmRow] = []
    for row in rows:
        for scenario, field in (("offline", "offline_tokens_s"), ("server", "server_tokens_s")):
            if field not in row.raw:
                continue
            p = _predict_row(row, eff[row.key], scenario)
            r = row.raw
            out.append(
                LlmRow(
                    r["round"],
                    row.gpu.id,
                    row.gpu.vendor,
                    r["stack"],
                    row.key,
                    int(r["accelerators"]),
                    r["precision"],
                    scenario,
                    float(r[field]),
                    p.tokens_per_s if p else 0.0,
                    p.tp if p else 0,
                    p.batch if p else 0,
                    p.ttft_s if p else math.nan,
                    p.tpot_s if p else math.nan,
                    used_in_fit=scenario == "offline",
                )  # fmt: skip
            )
    by = {(r.round, r.gpu_id, r.scenario): r for r in out}
    ratios = []
    for num, den in RATIO_PAIRS:
        for scenario in ("offline", "server"):
            a, b = by.get((*num, scenario)), by.get((*den, scenario))
            if a is None or b is None:
                continue
            meas = (a.measured_tokens_s / a.accelerators) / (b.measured_tokens_s / b.accelerators)
            pred = (a.predicted_tokens_s / a.accelerators) / (b.predicted_tokens_s / b.accelerators)
            ratios.append(RatioRow(num, den, scenario, meas, pred))
    held: list[HeldOutRow] = []
    for rnd in sorted({r.raw["round"] for r in rows}):
        train = [r for r in rows if r.raw["round"] != rnd]
        eff_r = _fit(train)
        for row in (r for r in rows if r.raw["round"] == rnd):
            key = row.key
            if key not in eff_r:  # the same vendor's other stack, if any (software moved between rounds)
                same_vendor = sorted(k for k in eff_r if k.split("/")[0] == row.gpu.vendor)
                key = next((k for k in same_vendor if k.endswith(row.key.rsplit("/", 1)[1])), None) or (
                    same_vendor[0] if same_vendor else ""
                )
            p = _predict_row(row, eff_r[key], "offline") if key else None
            held.append(
                HeldOutRow(rnd, row.gpu.id, key, float(row.raw["offline_tokens_s"]), p.tokens_per_s if p else math.nan)
            )
    return LlmCalibration(eff, tuple(out), tuple(ratios), tuple(held), _server_load(rows, eff, by))


def _server_load(rows: list[_Row], eff: dict, by: dict) -> tuple[ServerLoadRow, ...]:
    """`ServerLoadRow` for every calibration row with a Server log (replicas of the tp the model picks)."""
    from gpusim.hardware import llm

    logs = llm.llm_data().get("mlperf_server_logs", {})
    model_id, w = llm.mlperf_workload()
    arch = llm.llm_arch(model_id)
    out = []
    for row in rows:
        log = logs.get(f"{row.raw['round']}/{row.gpu.id}")
        if log is None:
            continue
        server = by[(row.raw["round"], row.gpu.id, "server")]
        n = int(row.raw["accelerators"])
        replicas = n // server.tp
        r = llm.replica_model(row.gpu, arch, row.raw["precision"], server.tp, efficiency=eff[row.key])
        held = float(log["samples_per_s"]) * float(log["mean_latency_s"]) / replicas
        out.append(
            ServerLoadRow(
                row.raw["round"],
                row.gpu.id,
                server.tp,
                replicas,
                held,
                float(log["tpot_mean_s"]),
                r.cycle_s(held, w) / w.output_tokens,
                float(log["ttft_p99_s"]) / w.ttft_limit_s,
                float(log["tpot_p99_s"]) / w.tpot_limit_s,
                server.error,
            )  # fmt: skip
        )
    return tuple(out)
