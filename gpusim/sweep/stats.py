"""Mean and Student-t 95% confidence intervals per sweep combination (no SciPy needed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gpusim.metrics.student import t975  # noqa: F401  (re-exported: sweeps have always offered it)


def confidence_intervals(table: pd.DataFrame, factors: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per (combination, metric): n, mean, std, 95% CI (Student t) over the finished runs.

    Columns: combination, <factor columns>, metric, n, mean, std, ci95_half_width, ci95_low,
    ci95_high. With a single run the interval is NaN.
    """
    cols = ["combination", *factors, "metric", "n", "mean", "std", "ci95_half_width", "ci95_low", "ci95_high"]
    ok = table[table["status"] == "ok"] if "status" in table else table
    rows = []
    for comb, group in ok.groupby("combination", sort=True):
        first = group.iloc[0]
        for m in metrics:
            v = pd.to_numeric(group[m], errors="coerce").to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            n = int(v.size)
            mean = float(v.mean()) if n else math.nan
            std = float(v.std(ddof=1)) if n > 1 else math.nan
            half = t975(n - 1) * std / math.sqrt(n) if n > 1 else math.nan
            rows.append(
                {
                    "combination": int(comb),
                    **{f: first[f] for f in factors},
                    "metric": m,
                    "n": n,
                    "mean": mean,
                    "std": std,
                    "ci95_half_width": half,
                    "ci95_low": mean - half,
                    "ci95_high": mean + half,
                }
            )
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- console overview
# (summary key, column label, scale to the label's unit, format)
TRAINING_OVERVIEW = (
    ("queueing_delay_mean_s", "queue mean (min)", 1 / 60, "{:.2f}"),
    ("jct_mean_s", "JCT mean (min)", 1 / 60, "{:.1f}"),
    ("gpu_utilisation", "GPU util (%)", 100.0, "{:.1f}"),
    ("jobs_unschedulable", "unsched.", 1.0, "{:.0f}"),
)
INFERENCE_OVERVIEW = (
    ("slo_attainment", "SLO att. (%)", 100.0, "{:.2f}"),
    ("latency_p99_s", "p99 (s)", 1.0, "{:.2f}"),
    ("ttft_p99_s", "TTFT p99 (ms)", 1000.0, "{:.0f}"),  # LLM-serving services only
    ("tpot_p99_s", "TPOT p99 (ms)", 1000.0, "{:.0f}"),
    ("cost_per_million_requests_usd", "$/M req", 1.0, "{:,.0f}"),
    ("monthly_run_rate_usd", "$/month", 1.0, "{:,.0f}"),
)


def overview_metrics(table: pd.DataFrame) -> tuple:
    """The headline columns a sweep's console table shows: inference ones when the runs have
    services, training ones when they have jobs (both for mixed sweeps); only columns present.
    """
    ok = table[table["status"] == "ok"] if "status" in table else table

    def has(key):
        return key in ok and pd.to_numeric(ok[key], errors="coerce").notna().any()

    out = ()
    if has("jobs_arrived") and (pd.to_numeric(ok["jobs_arrived"], errors="coerce").fillna(0) > 0).any():
        out += tuple(m for m in TRAINING_OVERVIEW if has(m[0]))
    if has("requests"):
        out += tuple(m for m in INFERENCE_OVERVIEW if m[0] in ok)
    return out


def overview_rows(table: pd.DataFrame, factors: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the sweep's console overview: per combination, mean ± 95% CI half-width
    of each `overview_metrics` column over its seeds; 'n/a' where no run has a value, 'unknown'
    for a cost whose price is unknown, 'miss' for a p99 among timed-out requests.
    """
    metrics = overview_metrics(table)
    keys = [m[0] for m in metrics]
    ci = confidence_intervals(table, factors, keys) if keys else pd.DataFrame()
    ok = table[table["status"] == "ok"] if "status" in table else table
    heads = [*factors, *[m[1] for m in metrics]]
    rows = []
    if not keys:
        return heads, rows
    for comb, group in ci.groupby("combination", sort=True):
        first = group.iloc[0]
        cells = [str(first[f]) for f in factors]
        runs = ok[ok["combination"] == comb]
        for key, _, scale, fmt in metrics:
            r = group[group["metric"] == key].iloc[0]
            raw = pd.to_numeric(runs[key], errors="coerce")
            if r["n"] == 0:
                if (raw == math.inf).any():
                    cells.append("miss")
                else:
                    cells.append("unknown" if "$" in fmt or key.endswith("_usd") else "n/a")
                continue
            cell = fmt.format(r["mean"] * scale)
            if r["ci95_half_width"] == r["ci95_half_width"]:
                cell += " ± " + fmt.format(r["ci95_half_width"] * scale)
            if (raw == math.inf).any():
                cell += f" ({int((raw == math.inf).sum())} miss)"
            cells.append(cell)
        rows.append(cells)
    return heads, rows
