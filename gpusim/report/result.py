"""`RunResult`: what one simulation produced, and how it is saved and loaded.

A saved run is a folder:
  summary.json     {"summary": headline metrics, "seed", "gpusim_version", "scenario" (resolved,
                    re-loadable), "run": wall-clock facts that differ between identical runs}
  jobs.parquet     one row per job (columns in gpusim.metrics.recorder)
  timeseries.parquet
  *.png            plots
The folder is written under a temporary name and renamed into place, so an interrupted save
leaves no half-written result.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gpusim.report.atomic import atomic_dir
from gpusim.scenario.models import Scenario

FRAMES = ("jobs", "timeseries", "services", "service_summary", "nodes")
"""DataFrames saved as <name>.parquet; the last three may be empty (no inference services, no cost)."""


def json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")  # inf: e.g. a p99 that timed out
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


@dataclass
class RunResult:
    """Summary metrics and DataFrames of one run."""

    scenario: Scenario
    seed: int
    summary: dict
    jobs: pd.DataFrame
    timeseries: pd.DataFrame
    run_info: dict = field(default_factory=dict)
    version: str = ""
    services: pd.DataFrame = field(default_factory=pd.DataFrame)
    service_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    nodes: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self):
        # Figures derived from the tables (gpusim.metrics.summary.finalize_summary): cost from each
        # pool's known price (unknown stays unknown, never 0), node counts, the monthly run-rate,
        # and the run's worst p99 (each service's p99 already counts its timed-out and dropped
        # requests as misses: InferenceService.finish, the one place that does).
        from gpusim.metrics.summary import (
            fill_unschedulable_reasons,
            finalize_summary,
            pool_prices,
            reprice_nodes,
            unschedulable_summary,
        )

        if not isinstance(self.scenario, Scenario):
            return
        try:
            prices = pool_prices(self.scenario)
        except Exception:  # a saved result whose catalog no longer resolves: keep it as saved
            return
        self.nodes = reprice_nodes(self.nodes, prices)
        self.summary = finalize_summary(self.summary, self.scenario, self.nodes, self.service_summary)
        try:  # unschedulable jobs get kube-scheduler's reason in jobs.failure, counted in the summary
            self.jobs = fill_unschedulable_reasons(self.jobs, self.scenario)
        except Exception:  # noqa: BLE001 - a reason we cannot derive leaves the table as the engine wrote it
            pass
        self.summary.update(unschedulable_summary(self.jobs))

    # ---------------------------------------------------------------- files
    def summary_document(self) -> dict:
        return json_safe(
            {
                "summary": self.summary,
                "seed": self.seed,
                "gpusim_version": self.version,
                "scenario": self.scenario.model_dump(mode="json", by_alias=True),
                "run": self.run_info,
            }
        )

    def save(self, directory: str | Path, *, plots: bool = True, flag: str = "--out") -> Path:
        """Write the run to `directory` atomically.

        `directory` must be new, empty or an earlier gpusim result folder (which is replaced);
        anything else raises `InputError` and is left untouched (see `gpusim.report.atomic`).
        """
        final = Path(directory)
        with atomic_dir(final, flag=flag) as tmp:
            _write_text(tmp / "summary.json", json.dumps(self.summary_document(), indent=2, sort_keys=False) + "\n")
            for name in FRAMES:
                frame: pd.DataFrame = getattr(self, name)
                part = tmp / f".{name}.parquet.part"
                frame.to_parquet(part, index=False)
                os.replace(part, tmp / f"{name}.parquet")
            if plots:
                from gpusim.report import plots as _plots

                _plots.save_run_plots(self, tmp)
        return final

    # ---------------------------------------------------------------- plots
    def plot_utilisation(self):
        """GPUs allocated and busy over time (matplotlib Figure)."""
        from gpusim.report.plots import plot_utilisation

        return plot_utilisation(self)

    def plot_queueing_delay_cdf(self):
        """Empirical CDF of job queueing delay (matplotlib Figure)."""
        from gpusim.report.plots import plot_queueing_delay_cdf

        return plot_queueing_delay_cdf(self)

    def plot_timeseries(self):
        """Pending and running jobs over simulated time (matplotlib Figure)."""
        from gpusim.report.plots import plot_timeseries

        return plot_timeseries(self)

    def plot_comparison(self, *others, labels=None):
        """Bar charts of key headline metrics of this run next to `others` (matplotlib Figure)."""
        from gpusim.report.plots import plot_comparison

        return plot_comparison([self, *others], labels=labels)

    def export_openmetrics(self, path=None, **options) -> str:
        """The time series as OpenMetrics text (see `gpusim.report.export`); also written to `path` if given."""
        from gpusim.report.export import write_openmetrics

        return write_openmetrics(self, path, **options)


def _write_text(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    os.replace(part, path)


def _inf(v):
    return float(v) if v in ("inf", "-inf") else v


def load_result(directory: str | Path) -> RunResult:
    """Load a run saved by `RunResult.save` (or `gpusim run`)."""
    from gpusim.errors import InputError
    from gpusim.scenario import load_scenario

    d = Path(directory)
    try:
        doc = json.loads((d / "summary.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{d}: not a gpusim result folder (summary.json: {e})") from None
    if (
        not isinstance(doc, dict)
        or not {"summary", "seed", "scenario"} <= set(doc)
        or "experiment" in (doc.get("scenario") or {})
    ):
        raise InputError(f"{d}: not a gpusim run folder (its summary.json is not one run's: an experiment's result?)")
    try:
        frames = {name: pd.read_parquet(d / f"{name}.parquet") for name in FRAMES if (d / f"{name}.parquet").exists()}
    except (OSError, ValueError) as e:
        raise InputError(f"{d}: a table of this result folder cannot be read ({e})") from None
    summary = {k: (math.nan if v is None else _inf(v)) for k, v in doc["summary"].items()}
    return RunResult(
        scenario=load_scenario(doc["scenario"], check=False),
        seed=doc["seed"],
        summary=summary,
        run_info=doc.get("run", {}),
        version=doc.get("gpusim_version", ""),
        **frames,
    )
