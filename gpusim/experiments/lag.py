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
from gpusim.scenario.types import Duration

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


def plot_lag(df: pd.DataFrame, title: str):
    from matplotlib.figure import Figure

    g = df.groupby("lag_s", sort=True).mean(numeric_only=True)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    minutes = g.index.to_numpy() / 60.0
    ax.plot(minutes, 100 * g["slo_attainment"], marker="o", color="tab:blue", label="SLO attainment")
    ax.set_xlabel("node provisioning lag (min)")
    ax.set_ylabel("requests within the SLO latency (%)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(minutes, g["cost_usd"], marker="s", color="tab:red", label="cost")
    ax2.set_ylabel("cost (USD)", color="tab:red")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig
