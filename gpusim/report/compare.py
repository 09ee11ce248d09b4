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

# (summary key, row label, unit kind) in the order shown; kinds: count, s (duration), ratio, h (GPU-hours).
HEADLINE = (
    ("jobs_arrived", "jobs arrived", "count"),
    ("jobs_finished", "jobs finished", "count"),
    ("jobs_pending", "jobs pending at end", "count"),
    ("gpus_total", "GPUs in cluster", "count"),
    ("makespan_s", "makespan", "s"),
    ("queueing_delay_mean_s", "queueing delay mean", "s"),
    ("queueing_delay_p50_s", "queueing delay p50", "s"),
    ("queueing_delay_p95_s", "queueing delay p95", "s"),
    ("queueing_delay_p99_s", "queueing delay p99", "s"),
    ("jct_mean_s", "job completion time mean", "s"),
    ("jct_p95_s", "job completion time p95", "s"),
    ("gpu_utilisation", "GPU utilisation", "ratio"),
    ("gpu_hours_used", "GPU-hours used", "h"),
    ("gpu_hours_idle", "GPU-hours idle", "h"),
)


def run_labels(results, dirs=None) -> list[str]:
    """`<scenario> (seed N)` per run; the folder name, then a number, is added where labels repeat."""
    labels = [f"{r.scenario.name} (seed {r.seed})" for r in results]
    if dirs is not None:
        counts = Counter(labels)
        labels = [b if counts[b] == 1 else f"{b} [{Path(d).name}]" for b, d in zip(labels, dirs, strict=True)]
    counts = Counter(labels)
    return [b if counts[b] == 1 else f"{b} #{i + 1}" for i, b in enumerate(labels)]


def comparison_table(results, labels=None) -> pd.DataFrame:
    """Headline metrics (rows, raw units as in summary.json) by run (columns)."""
    labels = labels or run_labels(results)
    data = {lab: [r.summary.get(k, math.nan) for k, _, _ in HEADLINE] for lab, r in zip(labels, results, strict=True)}
    return pd.DataFrame(data, index=[k for k, _, _ in HEADLINE])


def _fmt(v, kind: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
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


def render_table(table: pd.DataFrame, title: str = "comparison"):
    """A rich Table of `comparison_table` output, values formatted with units."""
    from rich.table import Table

    kinds = {k: (label, kind) for k, label, kind in HEADLINE}
    t = Table(title=title)
    t.add_column("metric")
    for col in table.columns:
        t.add_column(str(col), justify="right", overflow="fold")
    for key, row in table.iterrows():
        label, kind = kinds[key]
        t.add_row(label + (" (GPU-h)" if kind == "h" else ""), *[_fmt(v, kind) for v in row])
    return t


def compare(dirs) -> tuple[list, pd.DataFrame, list[str]]:
    """Load saved runs; return (results, comparison table, labels)."""
    from gpusim.report.result import load_result

    results = [load_result(d) for d in dirs]
    labels = run_labels(results, dirs)
    return results, comparison_table(results, labels), labels
