"""Autoscaler lag: one inference scenario run for several node provisioning lags.

Shows what the source document's central trade-off costs in numbers: SLO attainment and p99
latency against dollars as the time for a new GPU node to become ready grows. Output:
`lag_sweep.csv` (lag_s, seed, slo_attainment, p99_latency_s, cost_usd, dropped, timed_out,
cold_starts, nodes_added) and `lag_sweep.png`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gpusim.report.atomic import atomic_dir
from gpusim.units import Duration

LAG_COLUMNS = [
    "lag_s", "seed", "slo_attainment", "p99_latency_s", "cost_usd", "dropped", "timed_out", "cold_starts", "nodes_added",
]  # fmt: skip


class AutoscalerLag(BaseModel):
    """Run `scenario` once per provisioning lag (and seed), changing only `pool`'s lag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["autoscaler-lag"] = Field(description="Experiment kind.")
    scenario: str = Field(description="Base scenario file (relative to this file) with an autoscaled node pool.")
    pool: str = Field(description="Node pool whose provisioning lag varies.")
    lags: list[Duration] = Field(min_length=1, description="Provisioning lags to try (seconds; e.g. 0s, 1m, 3m, 10m).")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="Seeds, one run each per lag.")


def check_lag(scenario, base_dir) -> list[tuple[tuple, str]]:
    """What `gpusim validate` finds wrong with an autoscaler-lag experiment: its base scenario and pool."""
    from gpusim.errors import ScenarioError
    from gpusim.scenario.loader import load_scenario

    exp = scenario.experiment
    out: list[tuple[tuple, str]] = []
    base = Path(exp.scenario)
    base = base if base.is_absolute() else Path(base_dir) / base
    try:
        s = load_scenario(base)
    except ScenarioError as e:
        return [(("experiment", "scenario"), f"the base scenario {base} has problems:\n{e}")]
    if not hasattr(s, "cluster"):
        return [(("experiment", "scenario"), f"{base} is an experiment, not a scenario")]
    pools = {p.name: p for p in s.cluster.node_pools}
    if exp.pool not in pools or pools[exp.pool].autoscaling is None:
        names = [n for n, p in pools.items() if p.autoscaling is not None]
        out.append((("experiment", "pool"),
                    f"{exp.pool!r} is not an autoscaled node pool of {base}; autoscaled pools: {names or 'none'}"))  # fmt: skip
    return out


def run_lag_sweep(scenario, out: Path, base_dir: Path) -> dict:
    import gpusim
    from gpusim._version import __version__
    from gpusim.errors import InputError

    exp: AutoscalerLag = scenario.experiment
    base_path = Path(exp.scenario)
    if not base_path.is_absolute():
        base_path = base_dir / base_path
    base = gpusim.load_scenario(base_path)
    data = base.model_dump(mode="json", by_alias=True)
    if getattr(scenario, "catalog", None) is not None:  # the experiment file's catalog block wins
        ov = scenario.catalog.model_dump(exclude_none=True)
        mine = data.get("catalog") or {}
        data["catalog"] = {k: (mine.get(k) or []) + ov.get(k, []) for k in ("gpu_models", "node_types")}
    pools = [p for p in data["cluster"]["node_pools"] if p["name"] == exp.pool]
    if not pools or pools[0].get("autoscaling") is None:
        names = [p["name"] for p in data["cluster"]["node_pools"] if p.get("autoscaling")]
        raise InputError(f"experiment.pool: {exp.pool!r} is not an autoscaled pool of {base_path}; autoscaled: {names}")
    t0 = time.perf_counter()
    rows = []
    for lag in exp.lags:
        for seed in exp.seeds:
            pools[0]["autoscaling"]["provisioning"] = {"distribution": "constant", "value": lag}
            r = gpusim.simulate(data, seed=seed)
            s = r.summary
            rows.append(
                {
                    "lag_s": lag,
                    "seed": seed,
                    "slo_attainment": s.get("slo_attainment"),
                    "p99_latency_s": s.get("latency_p99_s"),
                    "cost_usd": s["cost_usd"],
                    "dropped": s.get("requests_dropped", 0),
                    "timed_out": s.get("requests_timed_out", 0),
                    "cold_starts": s.get("cold_starts", 0),
                    "nodes_added": s["nodes_added"],
                }
            )
    df = pd.DataFrame(rows, columns=LAG_COLUMNS)
    wall = time.perf_counter() - t0
    doc = {
        "summary": {"runs": len(rows)},
        "gpusim_version": __version__,
        "scenario": scenario.model_dump(mode="json"),
        "base_scenario": data,
        "run": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": wall},
    }
    with atomic_dir(out) as tmp:
        df.to_csv(tmp / "lag_sweep.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
        fig = plot_lag(df, f"{scenario.name}: SLO attainment and cost vs node provisioning lag")
        fig.savefig(tmp / "lag_sweep.png", dpi=110)
    return {"frame": df, "wall_s": wall}


def _mean_ci(g, col: str):
    """Mean and Student-t 95% half-width per lag over the seeds (half-width NaN with one seed)."""
    import numpy as np

    from gpusim.metrics.student import t975

    st = g[col].agg(["mean", "std", "count"])
    t = np.array([t975(int(c) - 1) if c > 1 else np.nan for c in st["count"]])
    return st["mean"].to_numpy(dtype=float), (t * st["std"] / np.sqrt(st["count"])).to_numpy(dtype=float)


def plot_lag(df: pd.DataFrame, title: str):
    """SLO attainment (0-100 %, whole axis) and cost against the lag; error bars = 95% CI over seeds."""
    import numpy as np
    from matplotlib.figure import Figure

    from gpusim.report.style import OKABE_ITO, plot_style

    g = df.groupby("lag_s", sort=True)
    seeds = int(g.size().max()) if len(df) else 0
    with plot_style():
        fig = Figure(figsize=(9, 4), layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
        minutes = np.array(sorted(df["lag_s"].unique()), dtype=float) / 60.0
        att, att_ci = _mean_ci(g, "slo_attainment")
        cost, cost_ci = _mean_ci(g, "cost_usd")
        ebar = {"capsize": 3} if seeds > 1 else {}
        ax.errorbar(minutes, 100 * att, yerr=None if seeds < 2 else 100 * np.nan_to_num(att_ci), marker="o",
                    color=OKABE_ITO[0], label="SLO attainment", **ebar)  # fmt: skip
        ax.set_ylim(0, 102)  # the whole 0-100 % range: a truncated axis exaggerates small differences
        ax.set_xlabel("node provisioning lag (min)")
        ax.set_ylabel("requests within the SLO latency (%)")
        ax.set_title("SLO attainment")
        ax2.errorbar(minutes, cost, yerr=None if seeds < 2 else np.nan_to_num(cost_ci), marker="s",
                     color=OKABE_ITO[3], label="cost", **ebar)  # fmt: skip
        ax2.set_ylim(bottom=0)
        ax2.set_xlabel("node provisioning lag (min)")
        ax2.set_ylabel("cost of the run (USD)")
        ax2.set_title("cost")
        note = f"mean ± 95% CI over {seeds} seeds" if seeds > 1 else "one seed (no error bars)"
        fig.suptitle(f"{title} ({note})")
    return fig


def render_lag_sweep(console, scenario, args, out: Path) -> int:
    """`gpusim run` of this experiment kind: run it into `out` and print its table (or, with --quiet, `out`)."""
    exp = scenario.experiment
    if not args.quiet:
        console.print(f"{scenario.name}: {len(exp.lags)} lags x {len(exp.seeds)} seeds ({exp.kind})")
    res = run_lag_sweep(scenario, out, Path(args.scenario).resolve().parent)
    if args.quiet:
        print(out)
        return 0
    from gpusim.report.style import console_table, fmt_num, fmt_usd

    rows = [[f"{row['lag_s']:g}", str(int(row["seed"])), fmt_num(row["slo_attainment"], "{:.1%}"),
             fmt_num(row["p99_latency_s"]), fmt_usd(row["cost_usd"]), str(int(row["dropped"])),
             str(int(row["timed_out"]))] for _, row in res["frame"].iterrows()]  # fmt: skip
    heads = ["lag (s)", "seed", "SLO att.", "p99 (s)", "cost", "dropped", "timed out"]
    console.print(console_table("SLO and cost against node provisioning lag", heads, rows))
    console.print(f"wall time {res['wall_s']:.1f} s")
    console.print(f"results: {out}/")
    return 0
