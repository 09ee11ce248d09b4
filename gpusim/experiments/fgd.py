"""The FGD paper's packing experiment on Alibaba's openb trace, as a scenario file.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent", USENIX ATC 2023. Protocol (gpusim.placement.fgd_experiment): GPU nodes only;
pods shuffled by seed, inflated to `inflation` x cluster GPUs by sampling with replacement,
placed once in order, no departures; by default (``fidelity: artifact``) exactly as the authors'
simulator does it (gpusim.placement.fgd_artifact). Output: `allocation.csv` with columns
``workload,policy,seed,arrived_pct,alloc_pct`` and a plot of the curves.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpusim.report.atomic import atomic_dir
from gpusim.traces.schema import TraceSource

PAPER_SIX = ["Random", "DotProd", "GpuClustering", "GpuPacking", "BestFit", "FGD"]


class FgdPacking(BaseModel):
    """The packing protocol of the FGD paper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["fgd-packing"] = Field(description="Experiment kind.")
    pods: TraceSource = Field(description="An openb pod list (format openb); any variant of the trace, by path.")
    nodes: TraceSource = Field(description="An openb node list (format openb-nodes); GPU nodes are used.")
    policies: list[str] = Field(
        default_factory=lambda: list(PAPER_SIX),
        min_length=1,
        description="Paper names (Random, DotProd, GpuClustering, GpuPacking, BestFit, FGD) or gpusim policy names.",
    )
    seeds: list[int] = Field(
        default_factory=lambda: list(range(42, 52)), min_length=1, description="Seeds, one run each."
    )
    inflation: float = Field(
        1.3, gt=0, le=5, description="Total GPU request as a multiple of cluster GPUs (1.3 = 130%)."
    )
    fidelity: Literal["artifact", "exact", "random-ties"] = Field(
        "artifact",
        description="artifact: the authors' simulator replayed (its Go random draws, 0-100 integer scores, ties to "
        "the smallest seeded node name, its sampling), to compare with the paper; exact: gpusim's own "
        "full-precision kernels and protocol; random-ties: integer scores with uniform choice among ties.",
    )
    workers: int | None = Field(None, ge=1, description="Worker processes (default: all CPUs).")


def check_fgd(scenario, base_dir) -> list[tuple[tuple, str]]:
    """What `gpusim validate` finds wrong with an fgd-packing experiment: unknown policies, missing traces."""
    from gpusim.errors import InputError
    from gpusim.placement import POLICY_IDS
    from gpusim.placement.fgd_experiment import PAPER_POLICIES
    from gpusim.traces._io import resolve_path

    exp = scenario.experiment
    out: list[tuple[tuple, str]] = []
    allowed = [*PAPER_POLICIES, *POLICY_IDS]
    for i, p in enumerate(exp.policies):
        if p not in allowed:
            out.append((("experiment", "policies", i), f"unknown policy {p!r}; allowed: {', '.join(allowed)}"))
    for key in ("pods", "nodes"):
        src = getattr(exp, key)
        try:
            resolve_path(src.path, src.format)
        except InputError as e:
            out.append((("experiment", key, "path"), str(e)))
    return out


def run_experiment(scenario, out: Path) -> dict:  # scenario: an experiment file (experiments.files)
    """Run the protocol, write allocation.csv, allocation.png and summary.json atomically to `out`."""
    from gpusim._version import __version__
    from gpusim.placement import POLICY_IDS
    from gpusim.placement.fgd_experiment import PAPER_POLICIES, load_openb, run_fgd_experiment, summarize
    from gpusim.placement.fgd_plot import plot_allocation
    from gpusim.traces._io import resolve_path

    exp = scenario.experiment
    for p in exp.policies:
        if p not in PAPER_POLICIES and p not in POLICY_IDS:
            from gpusim.errors import InputError

            raise InputError(
                f"experiment.policies: unknown policy {p!r}; allowed: {', '.join([*PAPER_POLICIES, *POLICY_IDS])}"
            )
    t0 = time.perf_counter()
    pods_path = resolve_path(exp.pods.path, exp.pods.format)
    nodes_path = resolve_path(exp.nodes.path, exp.nodes.format)
    pods, nodes = load_openb(pods_path, nodes_path)
    df = run_fgd_experiment(
        pods, nodes, exp.policies, exp.seeds, exp.inflation, n_jobs=exp.workers, fidelity=exp.fidelity
    )
    wall = time.perf_counter() - t0
    final = summarize(df)
    doc = {
        "summary": {
            f"alloc_pct_at_{int(df['arrived_pct'].max())}_mean": {k: float(v) for k, v in final["mean"].items()},
            "runs": int(df.groupby(["policy", "seed"]).ngroups),
        },
        "gpusim_version": __version__,
        "scenario": scenario.model_dump(mode="json"),
        "run": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": wall},
    }
    with atomic_dir(out) as tmp:
        df.to_csv(tmp / "allocation.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
        fig = plot_allocation(df)
        fig.savefig(tmp / "allocation.png", dpi=110)
    return {"table": final, "wall_s": wall, "frame": df}


def render_experiment(console, scenario, args, out: Path) -> int:
    """`gpusim run` of this experiment kind: run it into `out` and print its table (or, with --quiet, `out`)."""
    from rich.table import Table

    exp = scenario.experiment
    if not args.quiet:
        console.print(f"{scenario.name}: {len(exp.policies)} policies x {len(exp.seeds)} seeds ({exp.kind})")
    res = run_experiment(scenario, out)
    if args.quiet:
        print(out)
        return 0
    at = int(res["frame"]["arrived_pct"].max())
    table = Table(title=f"GPU allocation ratio (%) at {at}% arrived workload")
    for col in ("policy", "mean", "min", "max", "seeds"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for policy, row in res["table"].iterrows():
        table.add_row(
            str(policy), f"{row['mean']:.2f}", f"{row['min']:.2f}", f"{row['max']:.2f}", str(int(row["seeds"]))
        )
    console.print(table)
    console.print(f"wall time {res['wall_s']:.1f} s")
    console.print(f"results: {out}/")
    return 0
