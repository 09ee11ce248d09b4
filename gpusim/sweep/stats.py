"""Mean and Student-t 95% confidence intervals per sweep combination (no SciPy needed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Two-sided 95% Student t quantiles t_{0.975, df}, df = 1..30.
_T975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
    2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
    2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
    2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
    2.045229642, 2.042272456,
)  # fmt: skip


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion around the normal quantile; error < 1e-5 for df > 30.
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


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
