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
        # above the axes, clear of the data
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", bbox_to_anchor=(0, 1.02), ncol=3,
                  borderaxespad=0)  # fmt: skip
        ax.set_ylim(0, max(float(ts["gpus_total"].max()), 1.0) * 1.05)
    ax.set_xlabel("simulated time (h)")
    ax.set_ylabel("GPUs")
    util = result.summary.get("gpu_utilisation", float("nan"))
    ax.set_title(f"{result.scenario.name}: GPU allocation (utilisation {util:.1%}, seed {result.seed})", pad=30)
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
        pos = x[x > 0]
        if pos.size and x.max() > 100 * pos.min():  # delays spanning decades: linear near 0, log beyond 1 min
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=0)
            ax.set_xlabel("queueing delay (min, log scale above 1 min)")
        else:
            ax.set_xlabel("queueing delay (min)")
    else:
        ax.set_xlabel("queueing delay (min)")
    ax.set_ylabel("fraction of jobs")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{result.scenario.name}: queueing delay CDF (seed {result.seed})")
    ax.grid(alpha=0.3)
    return fig


def save_run_plots(result, directory: Path) -> list[Path]:
    plt = _pyplot()
    out = []
    plots = [("utilisation.png", plot_utilisation)]
    if len(result.jobs) or not len(getattr(result, "services", ())):
        plots += [("queueing_delay_cdf.png", plot_queueing_delay_cdf)]  # not for inference-only runs (no jobs)
    if len(getattr(result, "services", ())):
        plots += [("services.png", plot_services)]
    if len(getattr(result, "nodes", ())) and (
        result.nodes["cost_usd"].sum() > 0 or result.nodes["cost_usd"].isna().any()
    ):
        plots += [("cost.png", plot_cost)]
    for name, fn in plots:
        fig = fn(result)
        path = Path(directory) / name
        part = path.with_name(f".{name}.part.png")
        fig.savefig(part, dpi=110)
        plt.close(fig)
        part.replace(path)
        out.append(path)
    return out


# ---------------------------------------------------------------------------- more plots
def plot_timeseries(result):
    """Pending and running jobs over simulated time (step functions), on one axis."""
    from gpusim.report.style import plot_style

    plt = _pyplot()
    ts = result.timeseries
    with plot_style():
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        if not ts.empty:
            t = _hours(ts["time_s"])
            ax.step(t, ts["running_jobs"], where="post", label="running jobs")
            ax.step(t, ts["pending_jobs"], where="post", label="pending jobs", linestyle="--")
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=2, borderaxespad=0)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("simulated time (h)")
        ax.set_ylabel("jobs")
        ax.set_title(f"{result.scenario.name}: pending and running jobs (seed {result.seed})", pad=30)
    return fig


# Headline metrics compared side by side: (summary key, label with unit, scale to that unit).
COMPARE_METRICS = (
    ("queueing_delay_mean_s", "mean queueing delay (min)", 1 / 60),
    ("queueing_delay_p95_s", "p95 queueing delay (min)", 1 / 60),
    ("jct_mean_s", "mean job completion time (h)", 1 / 3600),
    ("gpu_utilisation", "GPU utilisation (%)", 100.0),
)
INFERENCE_COMPARE_METRICS = (
    ("slo_attainment", "SLO attainment (%)", 100.0),
    ("latency_p99_s", "p99 latency, worst service (s)", 1.0),
    ("cost_per_million_requests_usd", "cost per million requests (USD)", 1.0),
    ("monthly_run_rate_usd", "monthly run-rate (kUSD, x 730 h)", 1e-3),
)


def comparison_metrics(results) -> tuple:
    """The metrics that apply: training rows when any run has jobs, inference rows when any has services."""
    out = ()
    if any(r.summary.get("jobs_arrived") for r in results):
        out += COMPARE_METRICS
    if any("requests" in r.summary for r in results):
        out += INFERENCE_COMPARE_METRICS
    return out or COMPARE_METRICS


def plot_comparison(results, labels=None, metrics=None):
    """Bar charts of key headline metrics, one bar per run (matplotlib Figure).

    `results`: RunResult objects; `labels`: one label per result (default: scenario name and seed);
    `metrics`: (summary key, label, scale) triples (default: `comparison_metrics`). A metric a run
    does not have is written 'n/a' (an unknown cost 'unknown'), never drawn as a zero bar.
    """
    from gpusim.report.style import OKABE_ITO, plot_style

    plt = _pyplot()
    results = list(results)
    if metrics is None:
        metrics = comparison_metrics(results)
    if labels is None:
        labels = [f"{r.scenario.name} (seed {r.seed})" for r in results]
    n = len(metrics)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    with plot_style():
        fig, axes = plt.subplots(
            rows, cols, figsize=(5.5 * cols, 0.45 * len(results) * rows + 1.6 * rows + 0.6), layout="constrained"
        )
        axes = np.atleast_1d(axes).ravel()
        y = np.arange(len(results))
        colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(results))]
        for ax, (key, label, scale) in zip(axes, metrics, strict=False):
            values = np.array([float(r.summary.get(key, np.nan)) * scale for r in results])
            finite = np.isfinite(values)
            ax.barh(y[finite], values[finite], color=[c for c, f in zip(colours, finite, strict=True) if f],
                    hatch=None, edgecolor="black", linewidth=0.5)  # fmt: skip
            for bar_y, v in zip(y, values, strict=True):
                if np.isfinite(v):
                    text = f"{v:.3g}"
                elif v == np.inf:
                    text = "miss (timed out)"
                else:
                    text = "unknown" if "USD" in label else "n/a"
                ax.annotate(
                    text, (v if np.isfinite(v) else 0.0, bar_y), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8,
                )  # fmt: skip
            if finite.any() and "SLO attainment" in label:
                ax.set_xlim(0, 105)
            for r in results if key == "latency_p99_s" else ():  # SLO lines of the services
                for w in r.scenario.workloads:
                    if getattr(w, "type", "") == "inference" and w.slo_latency is not None:
                        ax.axvline(w.slo_latency, color=OKABE_ITO[3], linestyle="--", linewidth=1)
            ax.set_yticks(y, labels)
            ax.invert_yaxis()
            ax.set_xlabel(label)
            ax.set_title(label.split(" (")[0])
            ax.margins(x=0.15)
            ax.grid(axis="y", visible=False)
        for ax in axes[n:]:
            ax.set_visible(False)
        names = sorted({r.scenario.name for r in results})
        fig.suptitle(f"Comparison of {len(results)} runs: {', '.join(names)}")
    return fig


def plot_sweep(table, x, metric, *, hue=None, label=None, scale=1.0, ax=None):
    """Mean of `metric` against factor `x` with 95% CI error bars, one line per `hue` value.

    `table`: a sweep's tidy table (`gpusim.sweep(...)`); rows with status other than ok are left
    out. `label`: y-axis label with unit (default: the metric name); `scale`: multiply values
    (e.g. 1/60 for minutes).
    """
    import pandas as pd

    from gpusim.metrics.student import t975
    from gpusim.report.style import plot_style

    plt = _pyplot()
    ok = table[table["status"] == "ok"] if "status" in table else table
    with plot_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
        else:
            fig = ax.figure
        groups = [(None, ok)] if hue is None else list(ok.groupby(hue, sort=False))
        categorical = not pd.api.types.is_numeric_dtype(ok[x])
        # categories keep their order of first appearance in the table (the sweep's order)
        categories = list(dict.fromkeys(ok[x])) if categorical else []
        markers = "osD^v<>p"
        for i, (h, g) in enumerate(groups):
            stats = g.groupby(x, sort=not categorical)[metric].agg(["mean", "std", "count"])
            t = np.array([t975(int(c) - 1) if c > 1 else np.nan for c in stats["count"]])
            half = t * stats["std"] / np.sqrt(stats["count"])
            if categorical:
                xs = np.array([categories.index(v) for v in stats.index]) + (i - (len(groups) - 1) / 2) * 0.1
            else:
                xs = stats.index.to_numpy()
            ax.errorbar(
                xs, stats["mean"] * scale, yerr=np.nan_to_num(half * scale), marker=markers[i % len(markers)],
                capsize=3, linestyle="none" if categorical else "-", label=None if h is None else f"{hue} = {h}",
            )  # fmt: skip
        if categorical:
            ax.set_xticks(np.arange(len(categories)), [str(v) for v in categories])
            ax.set_xlim(-0.5, len(categories) - 0.5)
        if hue is not None:  # outside the axes, clear of the data
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_xlabel(x)
        ax.set_ylabel(label or metric)
        n = int(ok.groupby([c for c in (x, hue) if c is not None])[metric].count().max()) if len(ok) else 0
        ax.set_title(f"{label or metric} vs {x} (mean ± 95% CI, n = {n})")
    return fig


def save_figure(fig, path) -> Path:
    """Save `fig` to `path` atomically (written under a temporary name, then renamed) and close it."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.stem}.part{path.suffix}")
    fig.savefig(part, dpi=150)
    plt.close(fig)
    part.replace(path)
    return path


def plot_services(result):
    """Per service: demand against ready/desired replicas and nodes (the lag is visible), and
    latency percentiles per interval.
    """
    from gpusim.report.style import plot_style

    plt = _pyplot()
    sv = result.services
    names = list(dict.fromkeys(sv["service"]))
    with plot_style():
        fig, axes = plt.subplots(2, len(names), figsize=(7 * len(names), 6.5), layout="constrained", squeeze=False)
        ts = result.timeseries
        for k, name in enumerate(names):
            d = sv[sv["service"] == name]
            t = d["time_s"].to_numpy() / 60.0
            ax = axes[0, k]
            ax.step(t, d["ready_replicas"], where="post", label="ready replicas")
            ax.step(t, d["desired_replicas"], where="post", linestyle="--", label="desired replicas")
            if "nodes_ready" in ts and ts["nodes_ready"].max() > 0:
                ax.step(ts["time_s"] / 60.0, ts["nodes_ready"], where="post", color="0.4", label="ready nodes")
            ax.set_ylabel("replicas / nodes")
            ax2 = ax.twinx()
            ax2.plot(t, d["arrival_rps"], color="tab:red", alpha=0.5, label="arrivals")
            ax2.set_ylabel("arrivals (requests/s)")
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.set_ylim(bottom=0)
            ax2.set_ylim(bottom=0)
            # legends above the axes, clear of the data
            ax.legend(h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=4, fontsize="small",
                      borderaxespad=0)  # fmt: skip
            ax.set_title(f"{result.scenario.name} / {name}: replicas and nodes against demand", pad=28)
            ax.grid(alpha=0.3)
            ax = axes[1, k]
            ax.plot(t, d["latency_p50_s"], marker=".", label="p50")
            ax.plot(t, d["latency_p99_s"], marker=".", label="p99")
            w = next((w for w in result.scenario.workloads if getattr(w, "name", None) == name), None)
            if w is not None and getattr(w, "slo", None) is not None and w.slo_latency is not None:
                ax.axhline(w.slo_latency, color="tab:red", linestyle="--", linewidth=1,
                           label=f"SLO: p{w.slo.percentile:g} < {w.slo_latency:g} s")  # fmt: skip
            lat = d[["latency_p50_s", "latency_p99_s"]].to_numpy(dtype=float)
            lat = lat[np.isfinite(lat) & (lat > 0)]
            if lat.size and lat.max() / max(lat.min(), 1e-9) > 20:
                ax.set_yscale("log")  # latencies spanning decades
            else:
                ax.set_ylim(bottom=0)
            ax.set_xlabel("simulated time (min)")
            ax.set_ylabel("latency per interval (s)")
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=3, borderaxespad=0)
            ax.set_title(f"{name}: latency percentiles per interval", pad=24)
            ax.grid(alpha=0.3)
    return fig


def plot_cost(result):
    """Cost by node pool, split into the share spent on idle GPUs and the rest."""
    from gpusim.report.style import plot_style

    plt = _pyplot()
    by_pool = result.nodes.groupby("pool")["cost_usd"].sum(min_count=1)
    s = result.summary
    total = s.get("cost_usd", float("nan"))
    idle_share = s.get("idle_cost_usd", 0.0) / total if total and total == total else 0.0
    with plot_style():
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        from gpusim.report.style import fmt_usd

        x = np.arange(len(by_pool))
        vals = by_pool.to_numpy(dtype=float)
        known = np.isfinite(vals)
        used = np.where(known, vals, 0.0) * (1 - idle_share)
        ax.bar(x[known], used[known], label="GPUs allocated")
        ax.bar(x[known], (vals - used)[known], bottom=used[known], label="GPUs idle (cluster-wide share)", color="0.7")
        top = float(vals[known].max()) if known.any() else 1.0
        for xi in x[~known]:  # a pool without a price: a label, never a zero bar
            ax.text(xi, top * 0.02, "price unknown", ha="center", va="bottom", fontsize="small", color="0.35")
        ax.set_ylim(0, top * 1.25)
        ax.set_xticks(x, by_pool.index)
        ax.set_xlabel("node pool")
        ax.set_ylabel("cost (USD)")
        rate = fmt_usd(s.get("monthly_run_rate_usd"), 0)
        title = f"{result.scenario.name}: cost by node pool (total {fmt_usd(total)}; {rate}/month)"
        ax.set_title(title.replace("$", r"\$"))  # literal dollars, not matplotlib mathtext
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3, axis="y")
    return fig
