"""Export a run's time series as OpenMetrics text, for Prometheus backfill and Grafana.

`gpusim export RESULT_DIR --format openmetrics [--out FILE] [--start TIME] [--interval 60s]`
writes one sample per series at every change of the run's time series, plus one every
`--interval` of simulated time (default 60 s, like a scrape; Prometheus only looks back 5
minutes for a sample, so a series that changed hours ago would otherwise look absent). Simulated
time 0 is mapped onto the wall-clock `--start` (default 2026-01-01T00:00:00Z; a time without a
zone is UTC); timestamps are Unix seconds with millisecond precision (two changes within one
millisecond keep the later state). The file ends with `# EOF`, as OpenMetrics requires, so

    promtool tsdb create-blocks-from openmetrics run.om ./data

backfills it into a Prometheus TSDB.

Names follow NVIDIA's DCGM exporter and kube-state-metrics where they have a metric for the
quantity; the values are cluster totals, i.e. what ``sum(...)`` (or ``avg(...)`` for
DCGM_FI_DEV_GPU_UTIL) over the real per-pod or per-GPU series would give. gpusim's own metrics
are named ``gpusim_*``. Every series carries ``cluster="<scenario name>"`` and ``seed="<seed>"``.

| metric {labels}                                       | value, from time-series columns      |
|-------------------------------------------------------|--------------------------------------|
| DCGM_FI_DEV_GPU_UTIL                                  | 100 * gpus_busy / gpus_total (%)     |
| DCGM_FI_DEV_FB_USED                                   | gpu_memory_used_mib (MiB; later)     |
| kube_pod_status_phase{phase="Pending"}                | pending_jobs                         |
| kube_pod_status_phase{phase="Running"}                | running_jobs                         |
| kube_pod_container_resource_requests{resource,unit}   | gpus_allocated                       |
| kube_node_status_allocatable{resource,unit}           | gpus_total                           |
| kube_node_status_condition{condition="Ready",status="true"} | nodes_ready (later)            |
| kube_deployment_status_replicas                       | replicas (later)                     |
| gpusim_gpus_busy                                      | gpus_busy (GPUs with at least 1 pod) |
| gpusim_gpus_allocated                                 | gpus_allocated (milli-GPU / 1000)    |
| gpusim_gpu_allocation_ratio (UNIT ratio)              | gpus_allocated / gpus_total          |
| gpusim_simulated_time_seconds (UNIT seconds)          | time_s (the simulated clock)         |

Inference services (from services.parquet, one sample per service interval, labels
``namespace="default"`` and ``deployment="<service>"``):

| metric {labels}                                       | value                                |
|-------------------------------------------------------|--------------------------------------|
| kube_deployment_status_replicas                       | ready + starting + pending replicas  |
| kube_deployment_status_replicas_ready                 | ready_replicas                       |
| kube_deployment_spec_replicas                         | desired_replicas                     |
| gpusim_request_rate{outcome}                          | arrived/served/timed_out/dropped per second in the interval |
| gpusim_request_latency_seconds{quantile="0.5"/"0.99"} | latency_p50_s / latency_p99_s        |
| gpusim_request_queue_length                           | queue_length                         |
| gpusim_time_to_first_token_seconds{quantile}          | ttft_p50_s / ttft_p99_s (LLM-serving services) |
| gpusim_time_per_output_token_seconds{quantile}        | tpot_p50_s / tpot_p99_s (LLM-serving services) |
| gpusim_generation_tokens_per_second                   | output_tokens_per_s (LLM-serving services) |
| gpusim_slo_attainment_ratio (UNIT ratio; once, at the end) | the run's SLO attainment (misses included) |
| gpusim_slo_latency_seconds{percentile} (once, at the end)  | the SLO latency target           |

DCGM_FI_DEV_GPU_UTIL counts a GPU holding a pod as 100% busy (the engine has no finer model yet).
`resource` is the scenario's GPU resource as kube-state-metrics spells it (`nvidia_com_gpu`,
`amd_com_gpu`, `habana_ai_gaudi`), `unit="integer"`. Rows marked "later" are exported as soon
as the time series has the column.

The mapping is the table `METRICS`: a row names the exposed metric, its type, help, unit and
fixed labels, and the time-series columns it needs with a function computing the value. Rows
whose columns a run does not have are skipped, so new columns slot in by adding a row.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import InputError

DEFAULT_START = "2026-01-01T00:00:00Z"

Values = Callable[[pd.DataFrame], np.ndarray]


def _col(name: str) -> Values:
    return lambda df: df[name].to_numpy(dtype=float)


def _ratio(num: str, den: str, scale: float = 1.0) -> Values:
    def f(df):
        n = df[num].to_numpy(dtype=float)
        d = df[den].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, scale * n / d, np.nan)

    return f


@dataclass(frozen=True)
class MetricMap:
    """One exported series: metric name, type, help, unit, fixed labels, source columns, value function."""

    name: str
    help: str
    columns: tuple[str, ...]
    values: Values
    labels: dict[str, str] = field(default_factory=dict)
    type: str = "gauge"
    unit: str = ""  # OpenMetrics requires the name to end with _<unit> when a unit is given
    origin: str = "gpusim"  # which exporter defines the name: dcgm-exporter | kube-state-metrics | gpusim


GPU_RESOURCE = "{gpu_resource}"  # placeholder label value: the scenario's GPU resource, kube-state-metrics style

METRICS: tuple[MetricMap, ...] = (
    MetricMap(
        "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %). gpusim: mean over the cluster's GPUs, a GPU with a pod "
        "counting as 100%.", ("gpus_busy", "gpus_total"), _ratio("gpus_busy", "gpus_total", 100.0),
        origin="dcgm-exporter",
    ),
    MetricMap(
        "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB). gpusim: summed over the cluster's GPUs.",
        ("gpu_memory_used_mib",), _col("gpu_memory_used_mib"), origin="dcgm-exporter",
    ),
    MetricMap(
        "kube_pod_status_phase", "The pods current phase. gpusim: number of job pods in the phase.",
        ("pending_jobs",), _col("pending_jobs"), {"phase": "Pending"}, origin="kube-state-metrics",
    ),
    MetricMap(
        "kube_pod_status_phase", "The pods current phase. gpusim: number of job pods in the phase.",
        ("running_jobs",), _col("running_jobs"), {"phase": "Running"}, origin="kube-state-metrics",
    ),
    MetricMap(
        "kube_pod_container_resource_requests", "The number of requested request resource by a container. "
        "gpusim: GPUs requested by bound pods, summed over the cluster.", ("gpus_allocated",),
        _col("gpus_allocated"), {"resource": GPU_RESOURCE, "unit": "integer"}, origin="kube-state-metrics",
    ),
    MetricMap(
        "kube_node_status_allocatable", "The allocatable for different resources of a node that are available "
        "for scheduling. gpusim: summed over the cluster's nodes.", ("gpus_total",), _col("gpus_total"),
        {"resource": GPU_RESOURCE, "unit": "integer"}, origin="kube-state-metrics",
    ),
    MetricMap(
        "kube_node_status_condition", "The condition of a cluster node. gpusim: number of Ready nodes.",
        ("nodes_ready",), _col("nodes_ready"), {"condition": "Ready", "status": "true"},
        origin="kube-state-metrics",
    ),
    MetricMap(
        "kube_deployment_status_replicas", "The number of replicas per deployment. gpusim: replicas of all "
        "inference services.", ("replicas",), _col("replicas"), origin="kube-state-metrics",
    ),
    MetricMap("gpusim_gpus_busy", "GPUs with at least one pod.", ("gpus_busy",), _col("gpus_busy")),
    MetricMap(
        "gpusim_gpus_allocated", "GPUs allocated to pods (allocated milli-GPU / 1000).", ("gpus_allocated",),
        _col("gpus_allocated"),
    ),
    MetricMap(
        "gpusim_gpu_allocation_ratio", "Allocated GPUs / GPUs in the cluster.", ("gpus_allocated", "gpus_total"),
        _ratio("gpus_allocated", "gpus_total"), unit="ratio",
    ),
    MetricMap(
        "gpusim_simulated_time_seconds", "Simulated time since the start of the run.", ("time_s",), _col("time_s"),
        unit="seconds",
    ),
)  # fmt: skip


# --------------------------------------------------------------------------- helpers
def parse_start(text: str) -> datetime:
    """An ISO 8601 time (`2026-01-01T00:00:00Z`); without a zone it is taken as UTC."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--start {text!r}: not an ISO 8601 time such as {DEFAULT_START}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


def _gpu_resource(result) -> str:
    for w in result.scenario.workloads:
        res = w.pod.resources.gpu_resource()
        if res is not None:
            return re.sub(r"[^a-zA-Z0-9_]", "_", res[0])  # kube-state-metrics: nvidia.com/gpu -> nvidia_com_gpu
    return "nvidia_com_gpu"


def sample_frame(ts: pd.DataFrame, end_s: float, interval_s: float) -> pd.DataFrame:
    """The step function `ts` read at every change and every `interval_s` (to `end_s`), one row per ms."""
    if ts.empty:
        return ts
    t = ts["time_s"].to_numpy(dtype=float)
    times = t
    if interval_s > 0:
        grid = np.arange(0.0, max(end_s, t[-1]) + interval_s / 2, interval_s)
        times = np.union1d(t, grid[grid >= t[0]])
    idx = np.searchsorted(t, times, side="right") - 1
    out = ts.iloc[idx].reset_index(drop=True)
    out["time_s"] = times
    # Prometheus keeps milliseconds: of several rows in one millisecond keep the last state.
    ms = np.round(times * 1000.0).astype(np.int64)
    keep = np.append(ms[1:] != ms[:-1], True)
    out = out[keep].reset_index(drop=True)
    out["timestamp_ms"] = ms[keep]
    return out


# --------------------------------------------------------------------------- the exporter
def to_openmetrics(result, *, start: datetime | str = DEFAULT_START, interval_s: float = 60.0, metrics=METRICS) -> str:
    """The run's time series as OpenMetrics text (ending with `# EOF`)."""
    if isinstance(start, str):
        start = parse_start(start)
    start_ms = int(round(start.timestamp() * 1000))
    ts = result.timeseries
    end_s = float(result.summary.get("sim_end_s", math.nan))
    if not math.isfinite(end_s):
        end_s = float(ts["time_s"].max()) if not ts.empty else 0.0
    frame = sample_frame(ts, end_s, interval_s)
    stamps = [f"{(start_ms + int(ms)) / 1000:.3f}" for ms in frame.get("timestamp_ms", [])]
    base_labels = {"cluster": result.scenario.name, "seed": str(result.seed)}
    gpu_resource = _gpu_resource(result)

    families: dict[str, list[MetricMap]] = {}
    for m in metrics:
        if all(c in frame.columns for c in m.columns):
            families.setdefault(m.name, []).append(m)

    lines: list[str] = []
    for name, series in families.items():
        head = series[0]
        lines.append(f"# TYPE {name} {head.type}")
        if head.unit:
            lines.append(f"# UNIT {name} {head.unit}")
        lines.append(f"# HELP {name} {_escape(head.help)}")
        for m in series:
            labels = {**base_labels, **{k: (gpu_resource if v == GPU_RESOURCE else v) for k, v in m.labels.items()}}
            label_text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
            values = m.values(frame)
            for v, stamp in zip(values, stamps, strict=True):
                lines.append(f"{name}{label_text} {_fmt_value(float(v))} {stamp}")
    lines += service_lines(result, start_ms, base_labels, skip=set(families))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- inference services
def _service_series(sv: pd.DataFrame, services_summary: pd.DataFrame, slo: dict[str, tuple[float, float]]):
    """(family name, type, unit, help, [(labels, values function)]) of the per-service series."""

    def col(c):
        return lambda d: d[c].to_numpy(dtype=float)

    def rate(c):
        return lambda d: (
            d[c].to_numpy(dtype=float) / np.maximum(np.diff(np.append(0.0, d["time_s"].to_numpy(dtype=float))), 1e-9)
        )

    def total_replicas(d):
        cols = [c for c in ("ready_replicas", "pending_replicas", "starting_replicas") if c in d]
        return d[cols].to_numpy(dtype=float).sum(axis=1)

    return [
        ("kube_deployment_status_replicas", "The number of replicas per deployment. gpusim: pods of the service's "
         "Deployment (ready, starting and pending).", "", [({}, total_replicas)]),
        ("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", "",
         [({}, col("ready_replicas"))]),
        ("kube_deployment_spec_replicas", "Number of desired pods for a deployment. gpusim: the autoscaler's "
         "desired replicas.", "", [({}, col("desired_replicas"))]),
        ("gpusim_request_rate", "Requests per second in the interval ending at the sample, by outcome.", "",
         [({"outcome": "arrived"}, rate("arrived")), ({"outcome": "served"}, rate("served")),
          ({"outcome": "timed_out"}, rate("timed_out")), ({"outcome": "dropped"}, rate("dropped"))]),
        ("gpusim_request_latency_seconds", "End-to-end latency quantile of the requests completed in the "
         "interval ending at the sample.", "seconds",
         [({"quantile": "0.5"}, col("latency_p50_s")), ({"quantile": "0.99"}, col("latency_p99_s"))]),
        ("gpusim_request_queue_length", "Requests waiting at the end of the interval.", "",
         [({}, col("queue_length"))]),
    ] + ([
        ("gpusim_time_to_first_token_seconds", "Time to first token quantile of the requests whose first token "
         "came in the interval ending at the sample (LLM-serving services; vLLM's "
         "vllm:time_to_first_token_seconds).", "seconds",
         [({"quantile": "0.5"}, col("ttft_p50_s")), ({"quantile": "0.99"}, col("ttft_p99_s"))]),
        ("gpusim_time_per_output_token_seconds", "Time per output token quantile of the requests completed in the "
         "interval ending at the sample (LLM-serving services; vLLM's vllm:time_per_output_token_seconds).",
         "seconds", [({"quantile": "0.5"}, col("tpot_p50_s")), ({"quantile": "0.99"}, col("tpot_p99_s"))]),
        ("gpusim_generation_tokens_per_second", "Output tokens per second of the requests completed in the "
         "interval ending at the sample (LLM-serving services).", "", [({}, col("output_tokens_per_s"))]),
    ] if "ttft_p50_s" in sv else [])  # fmt: skip


def service_lines(result, start_ms: int, base_labels: dict, skip: set[str] = frozenset()) -> list[str]:
    """OpenMetrics lines of the inference services: replicas (kube-state-metrics names, label
    ``deployment``), request rates by outcome, latency quantiles, queue length, one sample per
    service interval; the SLO target and the run's SLO attainment (requests within the target /
    requests finished, timed-out and dropped counted as misses) sampled once at the end of the run.
    """
    sv = getattr(result, "services", None)
    if sv is None or not len(sv):
        return []
    slo = {w.name: (w.slo_latency, w.slo.percentile) for w in result.scenario.workloads
           if getattr(w, "type", "") == "inference" and w.slo_latency is not None}  # fmt: skip
    names = list(dict.fromkeys(sv["service"]))
    by = {n: sv[sv["service"] == n].sort_values("time_s") for n in names}
    lines: list[str] = []
    for fam, help_, unit, series in _service_series(sv, result.service_summary, slo):
        if fam in skip:
            continue
        lines.append(f"# TYPE {fam} gauge")
        if unit:
            lines.append(f"# UNIT {fam} {unit}")
        lines.append(f"# HELP {fam} {_escape(help_)}")
        for name in names:
            d = by[name]
            stamps = [f"{(start_ms + int(round(t * 1000))) / 1000:.3f}" for t in d["time_s"]]
            for extra, fn in series:
                try:
                    values = fn(d)
                except KeyError:
                    continue
                labels = {**base_labels, "namespace": "default", "deployment": name, **extra}
                text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
                lines += [f"{fam}{text} {_fmt_value(float(v))} {st}" for v, st in zip(values, stamps, strict=True)]
    end_s = float(result.summary.get("sim_end_s", sv["time_s"].max()))
    end_stamp = f"{(start_ms + int(round(end_s * 1000))) / 1000:.3f}"
    ss = result.service_summary
    if ss is not None and len(ss) and "slo_attainment" in ss:
        lines += ["# TYPE gpusim_slo_attainment_ratio gauge", "# UNIT gpusim_slo_attainment_ratio ratio",
                  "# HELP gpusim_slo_attainment_ratio Requests within the SLO latency / requests finished over the "
                  "run (timed-out and dropped requests count as misses)."]  # fmt: skip
        for row in ss.itertuples():
            labels = {**base_labels, "namespace": "default", "deployment": row.service}
            text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
            lines.append(f"gpusim_slo_attainment_ratio{text} {_fmt_value(float(row.slo_attainment))} {end_stamp}")
        lines += ["# TYPE gpusim_slo_latency_seconds gauge", "# UNIT gpusim_slo_latency_seconds seconds",
                  "# HELP gpusim_slo_latency_seconds The service's SLO latency target, with its percentile."]  # fmt: skip
        for name in names:
            if name in slo:
                labels = {**base_labels, "namespace": "default", "deployment": name, "percentile": f"{slo[name][1]:g}"}
                text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
                lines.append(f"gpusim_slo_latency_seconds{text} {_fmt_value(float(slo[name][0]))} {end_stamp}")
    return lines


def write_openmetrics(result, path=None, *, start: datetime | str = DEFAULT_START, interval_s: float = 60.0) -> str:
    """`to_openmetrics`, also written atomically to `path` when given; returns the text."""
    text = to_openmetrics(result, start=start, interval_s=interval_s)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.part")
        part.write_text(text)
        os.replace(part, path)
    return text
