"""Vendor comparison: one mixed workload (training jobs plus an LLM inference service with a
latency SLO) on node types from several vendors, and CPU-only nodes.

For each node type: the inference service is sized by search (the fewest fixed replicas whose
run meets the SLO, up to `max_replicas`) and the training jobs run on one node of that type with
durations scaled from the reference GPU by the performance model. Output: `comparison.csv`,
one row per node type, and `comparison.png`.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gpusim.report.atomic import atomic_dir
from gpusim.units import Duration

COMPARISON_COLUMNS = [
    "node_type", "vendor", "accelerator", "throughput_rps", "p99_latency_s", "slo_attainment", "slo_met",
    "replicas_needed", "gpus_needed", "nodes_needed", "usd_per_hour", "usd_per_million_requests",
    "training_jct_mean_s", "usd_per_training_job",
]  # fmt: skip


class VendorComparison(BaseModel):
    """The same workload on each node type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["vendor-comparison"] = Field(description="Experiment kind.")
    node_types: list[str] = Field(min_length=1, description="Catalog node types to compare.")
    duration: Duration = Field(1800.0, gt=0, description="Simulated time per run (seconds).")
    service: dict[str, Any] = Field(
        description="The inference workload (as in a scenario, without `pod`; `gpus_per_replica` and "
        "`cpu_per_replica` set its resources)."
    )
    gpus_per_replica: int = Field(1, ge=1, description="Accelerators per replica on GPU node types.")
    cpu_per_replica: str = Field("32", description="vCPU per replica on CPU-only node types (Kubernetes quantity).")
    max_replicas: int = Field(16, ge=1, description="Largest replica count tried when sizing for the SLO.")
    training: dict[str, Any] | None = Field(
        None, description="A training workload (as in a scenario, without `pod`; GPUs per job from `gpus_per_job`)."
    )
    gpus_per_job: int = Field(1, ge=1, description="GPUs per training job.")
    seed: int = Field(0, ge=0, description="Seed of every run.")


def _pool(nt, count: int) -> dict:
    pool = {"name": "pool", "count": count, "vcpu": nt.vcpu, "memory": f"{int(nt.memory_gib)}Gi", "node_type": nt.id}
    if nt.on_demand_usd_per_hour is None:
        pool["price_unknown"] = True  # cost columns stay empty (unknown), never 0
    if nt.gpu_model:
        pool.update(gpu_model=nt.gpu_model, gpus_per_node=nt.gpus)
    return pool


def check_vendor(scenario, base_dir) -> list[tuple[tuple, str]]:
    """What `gpusim validate` finds wrong with a vendor-comparison experiment: unknown node types."""
    from gpusim.hardware import UnknownIdError, load_catalog

    exp = scenario.experiment
    out: list[tuple[tuple, str]] = []
    cat = load_catalog()
    for i, nt in enumerate(exp.node_types):
        try:
            cat.node_type(nt)
        except UnknownIdError as e:
            out.append((("experiment", "node_types", i), str(e)))
    return out


def run_vendor_comparison(scenario, out: Path) -> dict:
    import gpusim
    from gpusim._version import __version__
    from gpusim.hardware import load_catalog

    exp: VendorComparison = scenario.experiment
    overrides = scenario.catalog.model_dump(exclude_none=True) if getattr(scenario, "catalog", None) else None
    cat = load_catalog(overrides)
    t0 = time.perf_counter()
    rows = []
    for nt_id in exp.node_types:
        nt = cat.node_type(nt_id)
        gpu = cat.gpu(nt.gpu_model) if nt.gpu_model else None
        if gpu is not None:
            res = {"limits": {gpu.resource_name: exp.gpus_per_replica}, "requests": {"cpu": "8", "memory": "64Gi"}}
            per_node = nt.gpus // exp.gpus_per_replica
        else:
            res = {"requests": {"cpu": exp.cpu_per_replica, "memory": "64Gi"}}
            per_node = max(1, int(nt.vcpu // float(exp.cpu_per_replica)))

        def run_service(replicas: int, nt=nt, nt_id=nt_id, res=res, per_node=per_node):
            nodes = math.ceil(replicas / per_node)
            w = {**exp.service, "type": "inference", "name": "svc", "pod": {"resources": res}, "replicas": replicas}
            w.pop("autoscaling", None)
            data = {"name": f"{scenario.name}-{nt_id}"[:60].lower().replace(".", "-"), "seed": exp.seed,
                    "duration": exp.duration, "cluster": {"node_pools": [_pool(nt, nodes)]}, "workloads": [w]}  # fmt: skip
            if overrides:
                data["catalog"] = overrides
            return gpusim.simulate(data, seed=exp.seed), nodes

        best = None
        lo, hi = 1, exp.max_replicas
        last = None
        while lo <= hi:  # the fewest replicas that meet the SLO (binary search; attainment grows with replicas)
            mid = (lo + hi) // 2
            r, nodes = run_service(mid)
            last = (r, nodes, mid)
            if r.service_summary["slo_met"].iloc[0]:
                best, hi = (r, nodes, mid), mid - 1
            else:
                lo = mid + 1
        if best is not None:
            r, nodes, replicas = best
        elif last is not None and last[2] == exp.max_replicas:
            r, nodes, replicas = last
        else:
            (r, nodes), replicas = run_service(exp.max_replicas), exp.max_replicas
        s, ss = r.summary, r.service_summary.iloc[0]
        price = nt.on_demand_usd_per_hour
        hours = exp.duration / 3600.0
        served = s.get("requests_served", 0)
        jct = usd_job = math.nan
        if exp.training is not None and gpu is not None:
            tw = {**exp.training, "type": "training", "name": "train",
                  "pod": {"resources": {"limits": {gpu.resource_name: exp.gpus_per_job}}}}  # fmt: skip
            tw.setdefault("work", {"reference_gpu": "nvidia-a100-40gb"})
            tdata = {"name": "train", "seed": exp.seed, "duration": exp.duration, "drain": True,
                     "cluster": {"node_pools": [_pool(nt, 1)]}, "workloads": [tw]}  # fmt: skip
            if overrides:
                tdata["catalog"] = overrides
            tj = gpusim.simulate(tdata, seed=exp.seed).jobs
            run_s = (tj["end_s"] - tj["start_s"]).dropna()
            jct = float(tj["jct_s"].mean())
            if price:
                usd_job = float(run_s.mean()) / 3600.0 * exp.gpus_per_job * price / nt.gpus
        rows.append(
            {
                "node_type": nt_id,
                "vendor": gpu.vendor if gpu else "cpu",
                "accelerator": gpu.id if gpu else "cpu",
                "throughput_rps": served / exp.duration,
                "p99_latency_s": ss["latency_p99_s"],
                "slo_attainment": ss["slo_attainment"],
                "slo_met": bool(ss["slo_met"]),
                "replicas_needed": replicas if best else math.nan,
                "gpus_needed": replicas * exp.gpus_per_replica if (best and gpu) else math.nan,
                "nodes_needed": nodes if best else math.nan,
                "usd_per_hour": price if price else math.nan,
                "usd_per_million_requests": nodes * price * hours / served * 1e6
                if (price and served and best)
                else math.nan,
                "training_jct_mean_s": jct,
                "usd_per_training_job": usd_job,
            }
        )
    df = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    wall = time.perf_counter() - t0
    doc = {
        "summary": {"node_types": len(rows)},
        "gpusim_version": __version__,
        "scenario": scenario.model_dump(mode="json"),
        "run": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": wall},
    }
    with atomic_dir(out) as tmp:
        df.to_csv(tmp / "comparison.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
        plot_comparison(df, scenario.name).savefig(tmp / "comparison.png", dpi=110)
    return {"frame": df, "wall_s": wall}


def plot_comparison(df: pd.DataFrame, name: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    labels = [f"{r.node_type}\n({r.accelerator})" for r in df.itertuples()]
    for ax, col, ylabel in zip(
        axes,
        ("usd_per_million_requests", "replicas_needed", "usd_per_training_job"),
        ("USD per million requests", "replicas to meet the SLO", "USD per training job"),
        strict=True,
    ):
        vals = df[col].to_numpy(dtype=float)
        ok = ~pd.isna(vals)
        ax.bar([i for i in range(len(df)) if ok[i]], vals[ok])
        top = float(vals[ok].max()) if ok.any() else 1.0
        for i in range(len(df)):
            if not ok[i]:  # not applicable / no price: a label, never a zero-height bar
                ax.text(i, top * 0.02, "n/a", ha="center", va="bottom", fontsize="small", color="0.35")
            else:
                label = f"{vals[i]:,.0f}" if abs(vals[i]) >= 100 else f"{vals[i]:.3g}"
                ax.text(i, vals[i], label, ha="center", va="bottom", fontsize="x-small")
        ax.set_ylim(0, top * 1.15)
        ax.set_xlim(-0.6, len(df) - 0.4)  # every node type keeps its slot, with or without a bar
        ax.set_xticks(range(len(df)), labels, rotation=30, ha="right", fontsize="small")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{name}: same workload per node type ('n/a' = not applicable or no price)")
    return fig


def render_vendor_comparison(console, scenario, args, out: Path) -> int:
    """`gpusim run` of this experiment kind: run it into `out` and print its table (or, with --quiet, `out`)."""
    exp = scenario.experiment
    if not args.quiet:
        console.print(f"{scenario.name}: {len(exp.node_types)} node types ({exp.kind})")
    res = run_vendor_comparison(scenario, out)
    if args.quiet:
        print(out)
        return 0
    from gpusim.report.style import console_table, fmt_num, fmt_usd

    df = res["frame"]
    rows = []
    for _, row in df.iterrows():
        rows.append([
            str(row["node_type"]), str(row["vendor"]), fmt_num(row["throughput_rps"]),
            fmt_num(row["p99_latency_s"]), fmt_num(row["slo_attainment"], "{:.1%}"),
            fmt_num(row["replicas_needed"], "{:.0f}", "-"), fmt_usd(row["usd_per_hour"]),
            fmt_usd(row["usd_per_million_requests"], 0) if row["slo_met"] else "-",
            fmt_usd(row["usd_per_training_job"]) if row["usd_per_training_job"] == row["usd_per_training_job"] else "n/a",
        ])  # fmt: skip
    heads = ["node type", "vendor", "req/s", "p99 s", "SLO", "repl.", "$/h", "$/M req", "$/job"]
    table = console_table("Same workload per node type", heads, rows)
    console.print(table)
    console.print(f"wall time {res['wall_s']:.1f} s")
    console.print(f"results: {out}/")
    return 0
