"""Plots of a finished run. Plotting only reads results; the model never imports matplotlib.

One style for every plot: labelled axes with units, a legend, a title naming the scenario.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _hours(seconds):
    return np.asarray(seconds, dtype=float) / 3600.0


def plot_utilisation(result):
    plt = _pyplot()
    ts = result.timeseries
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    if not ts.empty:
        t = _hours(ts["time_s"])
        ax.step(t, ts["gpus_allocated"], where="post", label="GPUs allocated")
        ax.step(t, ts["gpus_total"], where="post", label="GPUs in cluster", color="0.5", linestyle="--")
        ax2 = ax.twinx()
        ax2.step(t, ts["pending_jobs"], where="post", color="tab:red", alpha=0.6, label="pending jobs")
        ax2.set_ylabel("pending jobs")
        from matplotlib.ticker import MaxNLocator

        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.set_ylim(bottom=0)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right")
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("GPUs")
    util = result.summary.get("gpu_utilisation", float("nan"))
    ax.set_title(f"{result.scenario.name}: GPU allocation (utilisation {util:.1%}, seed {result.seed})")
    ax.grid(alpha=0.3)
    return fig


def plot_queueing_delay_cdf(result):
    plt = _pyplot()
    delays = result.jobs["queueing_delay_s"].dropna().to_numpy()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    if delays.size:
        x = np.sort(delays) / 60.0
        y = np.arange(1, x.size + 1) / x.size
        ax.step(x, y, where="post", label=f"{x.size} started jobs")
        ax.legend(loc="lower right")
    ax.set_xlabel("queueing delay (min)")
    ax.set_ylabel("fraction of jobs")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{result.scenario.name}: queueing delay CDF (seed {result.seed})")
    ax.grid(alpha=0.3)
    return fig


def save_run_plots(result, directory: Path) -> list[Path]:
    plt = _pyplot()
    out = []
    for name, fn in (("utilisation.png", plot_utilisation), ("queueing_delay_cdf.png", plot_queueing_delay_cdf)):
        fig = fn(result)
        path = Path(directory) / name
        part = path.with_name(f".{name}.part.png")
        fig.savefig(part, dpi=110)
        plt.close(fig)
        part.replace(path)
        out.append(path)
    return out
