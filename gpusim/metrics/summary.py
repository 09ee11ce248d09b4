"""Headline metrics of a run, computed once from the jobs and time-series DataFrames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def _stats(prefix: str, values: np.ndarray) -> dict:
    return {
        f"{prefix}_mean_s": float(values.mean()) if values.size else math.nan,
        f"{prefix}_p50_s": _pct(values, 50),
        f"{prefix}_p95_s": _pct(values, 95),
        f"{prefix}_p99_s": _pct(values, 99),
    }


def time_integral(ts: pd.DataFrame, column: str, end_s: float) -> float:
    """Integral over [first sample, end_s] of a step-function column."""
    if ts.empty:
        return 0.0
    t = ts["time_s"].to_numpy()
    v = ts[column].to_numpy(dtype=float)
    keep = t <= end_s  # samples after the end of the run do not count
    t, v = t[keep], v[keep]
    widths = np.diff(np.append(t, end_s))
    return float(np.sum(v * widths))


def summarize(jobs: pd.DataFrame, ts: pd.DataFrame, *, end_s: float, gpus_total: int, warmup_s: float = 0.0) -> dict:
    """Headline metrics: counts, queueing delay and JCT percentiles, GPU utilisation and hours.

    Delay statistics cover jobs that arrived at or after `warmup_s`: queueing delay over jobs
    that started, completion time (JCT = end - arrival) over jobs that finished.
    """
    measured = jobs[jobs["arrival_s"] >= warmup_s]
    started = measured["queueing_delay_s"].dropna().to_numpy()
    finished = measured.loc[measured["state"] == "finished", "jct_s"].to_numpy()
    gpu_seconds_used = time_integral(ts, "gpus_allocated", end_s)
    gpu_seconds_total = time_integral(ts, "gpus_total", end_s) if not ts.empty else gpus_total * end_s
    out = {
        "jobs_arrived": int(len(jobs)),
        "jobs_finished": int((jobs["state"] == "finished").sum()),
        "jobs_running": int((jobs["state"] == "running").sum()),
        "jobs_pending": int((jobs["state"] == "pending").sum()),
        "jobs_unschedulable": int((jobs["state"] == "unschedulable").sum()),
        "jobs_failed": int((jobs["state"] == "failed").sum()),
        "makespan_s": float(jobs["end_s"].max()) if jobs["end_s"].notna().any() else math.nan,
        "sim_end_s": float(end_s),
        "gpus_total": int(gpus_total),  # the most the cluster had at once (autoscaling changes it)
        **_stats("queueing_delay", started),
        **_stats("jct", finished),
        "gpu_utilisation": gpu_seconds_used / gpu_seconds_total if gpu_seconds_total > 0 else math.nan,
        "gpu_hours_used": gpu_seconds_used / 3600.0,
        "gpu_hours_idle": (gpu_seconds_total - gpu_seconds_used) / 3600.0,
    }
    return out
