"""Compare finished runs side by side: a table of headline metrics and bar charts.

`compare(dirs)` loads saved runs (`gpusim.load_result`) and returns a DataFrame with one row
per headline metric and one column per run; `gpusim compare DIR...` prints it with rich and
writes the bar charts of `gpusim.report.plots.plot_comparison`.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pandas as pd

# (summary key, row label, unit kind) in the order shown; kinds: count, s (duration), ratio,
# h (GPU-hours), usd, num. Rows that no compared run has (all n/a) are left out, so a training
# comparison shows no request rows and an inference comparison no queueing-delay rows.
HEADLINE = (
    ("jobs_arrived", "jobs arrived", "count"),
    ("jobs_finished", "jobs finished", "count"),
    ("jobs_pending", "jobs pending at end", "count"),
    ("jobs_unschedulable", "jobs unschedulable", "count"),
    ("gpus_total", "GPUs in cluster (peak)", "count"),
    ("nodes_peak", "nodes peak", "count"),
    ("nodes_mean", "nodes mean", "num"),
    ("nodes_p95", "nodes p95", "count"),
    ("makespan_s", "makespan", "s"),
    ("queueing_delay_mean_s", "queueing delay mean", "s"),
    ("queueing_delay_p50_s", "queueing delay p50", "s"),
    ("queueing_delay_p95_s", "queueing delay p95", "s"),
    ("queueing_delay_p99_s", "queueing delay p99", "s"),
    ("jct_mean_s", "job completion time mean", "s"),
    ("jct_p95_s", "job completion time p95", "s"),
    ("requests", "requests", "count"),
    ("requests_served", "requests served", "count"),
    ("requests_timed_out", "requests timed out", "count"),
    ("requests_dropped", "requests dropped", "count"),
    ("latency_p50_s", "latency p50 (worst service)", "s"),
    ("latency_p99_s", "latency p99 (worst service)", "s"),
    ("slo_attainment", "SLO attainment", "ratio"),
    ("ttft_p99_s", "TTFT p99 (worst LLM service)", "s"),
    ("tpot_p99_s", "TPOT p99 (worst LLM service)", "s"),
    ("cold_starts", "replica cold starts", "count"),
    ("gpu_utilisation", "GPU utilisation", "ratio"),
    ("gpu_hours_used", "GPU-hours used", "h"),
    ("gpu_hours_idle", "GPU-hours idle", "h"),
    ("cost_usd", "cost", "usd"),
    ("monthly_run_rate_usd", "monthly run-rate (x 730 h)", "usd"),
    ("cost_per_million_requests_usd", "cost per million requests", "usd"),
)


def run_labels(results, dirs=None) -> list[str]:
    """`<scenario> (seed N)` per run; the folder name, then a number, is added where labels repeat."""
    labels = [f"{r.scenario.name} (seed {r.seed})" for r in results]
    if dirs is not None:
        counts = Counter(labels)
        labels = [b if counts[b] == 1 else f"{b} [{Path(d).name}]" for b, d in zip(labels, dirs, strict=True)]
    counts = Counter(labels)
    return [b if counts[b] == 1 else f"{b} #{i + 1}" for i, b in enumerate(labels)]


def _applies(results, key: str) -> bool:
    """Whether any run has the metric (request rows need services, delay rows need jobs)."""
    if key.startswith(("queueing_delay", "jct", "makespan", "jobs_")) and key != "jobs_arrived":
        return any(r.summary.get("jobs_arrived") for r in results)
    return any(key in r.summary for r in results)


def comparison_table(results, labels=None) -> pd.DataFrame:
    """Headline metrics (rows, raw units as in summary.json) by run (columns); rows that apply to
    none of the runs are left out (a run without services has no request rows).
    """
    labels = labels or run_labels(results)
    keys = [k for k, _, _ in HEADLINE if _applies(results, k)]
    data = {lab: [r.summary.get(k, math.nan) for k in keys] for lab, r in zip(labels, results, strict=True)}
    return pd.DataFrame(data, index=keys)


def _fmt(v, kind: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "unknown" if kind == "usd" else "n/a"
    if v == math.inf:
        return "miss (timed out)"
    if kind == "usd":
        return f"${v:,.2f}" if abs(v) < 1e4 else f"${v:,.0f}"
    if kind == "num":
        return f"{v:.1f}"
    if kind == "count":
        return f"{int(v)}"
    if kind == "ratio":
        return f"{v:.1%}"
    if kind == "h":
        return f"{v:.1f}"
    if v < 120:
        return f"{v:.1f} s"
    if v < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.2f} h"


def render_table(table: pd.DataFrame, title: str = "comparison", width: int = 80):
    """A rich Table of `comparison_table` output, values formatted with units; wider than `width`
    columns, it switches to a vertical layout (one block per metric) instead of wrapping.
    """
    from gpusim.report.style import console_table

    kinds = {k: (label, kind) for k, label, kind in HEADLINE}
    rows = []
    for key, row in table.iterrows():
        label, kind = kinds[key]
        rows.append([label + (" (GPU-h)" if kind == "h" else ""), *[_fmt(v, kind) for v in row]])
    return console_table(title, ["metric", *[str(c) for c in table.columns]], rows, width=width)


def compare(dirs) -> tuple[list, pd.DataFrame, list[str]]:
    """Load saved runs; return (results, comparison table, labels)."""
    from gpusim.report.result import load_result

    results = [load_result(d) for d in dirs]
    labels = run_labels(results, dirs)
    return results, comparison_table(results, labels), labels
