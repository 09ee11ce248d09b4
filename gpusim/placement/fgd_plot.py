"""Plot the FGD packing experiment's allocation curves (reads results only; the model never
imports matplotlib).
"""

from __future__ import annotations

import pandas as pd


def plot_allocation(df: pd.DataFrame, *, title: str | None = None):
    """GPU allocation ratio against arrived workload, one line per policy (mean over seeds,
    shaded min-max band), like Fig. 7 of the FGD paper. Returns a `matplotlib.figure.Figure`.

    `df` has the columns of `run_fgd_experiment`: workload, policy, seed, arrived_pct, alloc_pct.
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for policy, g in df.groupby("policy", sort=False):
        stats = g.groupby("arrived_pct")["alloc_pct"].agg(["mean", "min", "max"])
        (line,) = ax.plot(stats.index, stats["mean"], label=str(policy), linewidth=1.4)
        if g["seed"].nunique() > 1:
            ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.15, linewidth=0)
    hi = float(df["arrived_pct"].max()) if len(df) else 130.0
    ax.plot([0, 100], [0, 100], color="0.6", linestyle=":", linewidth=1, label="ideal")
    ax.axhline(100, color="0.6", linewidth=0.8)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, 102)
    ax.set_xlabel("Arrived workload (% of cluster GPUs)")
    ax.set_ylabel("GPU allocation ratio (%)")
    workloads = ", ".join(str(w) for w in df["workload"].unique()) if len(df) else ""
    ax.set_title(title or f"FGD packing experiment: {workloads}")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(True, alpha=0.3)
    return fig
