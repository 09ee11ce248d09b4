"""Sizing: the smallest fixed cluster per candidate node type that meets every service SLO.

For each candidate (a catalog node type of any vendor, with a sharing mode: whole GPUs, MIG,
time-slicing or AMD partitions, or CPU-only), the experiment searches the fewest replicas of each
service that meet its SLO in every seed (galloping then bisection: SLO attainment grows with
replicas), packs them onto the fewest nodes, and checks the packed cluster with all services
together over every seed (adding a replica to a failing service until it passes, up to
`max_nodes`). Replicas are fixed (no autoscaler) and start warm. Output, sorted by cost:

- ``sizing.csv``: one row per candidate: nodes, replicas, GPUs, $/h, $/month (x 730 h), $/M
  requests, worst p99 and the SLO margin (SLO latency - worst p99, and attainment - target);
- ``probes.csv``: every run made (candidate, service, replicas, nodes, seed, p99, attainment);
- ``sizing.png``: $/month per candidate with 'no fit' / 'price unknown' labels, and the worst p99
  against the SLO line;
- ``summary.json``.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpusim.report.atomic import atomic_dir
from gpusim.units import Duration

SIZING_COLUMNS = [
    "candidate", "node_type", "vendor", "accelerator", "sharing", "fits", "nodes", "replicas", "gpus",
    "usd_per_hour", "usd_per_month", "usd_per_million_requests", "p99_latency_s", "slo_latency_s",
    "slo_margin_s", "p99_ttft_s", "slo_ttft_s", "ttft_margin_s", "p99_tpot_s", "slo_tpot_s", "tpot_margin_s",
    "slo_attainment_min", "attainment_margin", "runs",
]  # fmt: skip
"""Columns of ``sizing.csv``; ``replicas`` is 'svc=n;svc=n' when there are several services.

Each SLO limit a service states has its worst p99 over the seeds, the limit, and the margin
(limit - worst p99, the smallest over the services stating it): end-to-end latency (``slo.latency``,
or ``slo.e2e`` of an LLM service), and an LLM service's time to first token (``slo.ttft``) and time
per output token (``slo.tpot``). A limit no service states is empty (NaN)."""

SLO_METRICS = {"latency": "latency_p99_s", "ttft": "ttft_p99_s", "tpot": "tpot_p99_s"}
"""SLO limit -> the service_summary column holding its p99."""

PROBE_COLUMNS = [
    "candidate",
    "stage",
    "service",
    "replicas",
    "nodes",
    "seed",
    "p99_latency_s",
    "p99_ttft_s",
    "p99_tpot_s",
    "slo_attainment",
    "slo_met",
]


class Candidate(BaseModel):
    """One way to serve: a node type and how its accelerators are shared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="Label in the tables (default: node type and sharing).")
    node_type: str = Field(description="Catalog node type, e.g. aws-p5.48xlarge, azure-nd96isr-mi300x-v5.")
    gpus_per_replica: int = Field(1, ge=1, description="Whole accelerators (or sharing units) per replica, count.")
    resource: str | None = Field(
        None,
        description="Extended resource a replica asks for (default: the GPU model's, e.g. nvidia.com/gpu; "
        "a MIG profile resource such as nvidia.com/mig-3g.40gb for MIG).",
    )
    sharing: dict[str, Any] | None = Field(
        None, description="The pool's sharing block (mig, timeSlicing, amdPartition)."
    )
    replicas_per_node: int | None = Field(
        None, ge=1, description="Replicas one node holds (default: derived from GPUs, sharing and gpus_per_replica)."
    )
    cpu_per_replica: str = Field(
        "8", description="vCPU per replica (Kubernetes quantity); CPU-only nodes use it to pack."
    )
    memory_per_replica: str = Field("64Gi", description="Memory per replica (Kubernetes quantity).")
    price_per_hour: float | None = Field(None, ge=0, description="USD per node-hour (overrides the catalog).")
    price_unknown: bool = Field(False, description="Size it anyway when the node type has no price (cost unknown).")


class Sizing(BaseModel):
    """Smallest fixed cluster per candidate meeting every service SLO over the seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sizing"] = Field(description="Experiment kind.")
    candidates: list[Candidate] = Field(min_length=1, description="Node types (and sharing modes) to size.")
    services: list[dict[str, Any]] = Field(
        min_length=1,
        description="Inference workloads as in a scenario, without `pod`, `replicas` and `autoscaling` "
        "(the experiment sets them).",
    )
    duration: Duration = Field(1800.0, gt=0, description="Simulated time per run (seconds).")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="Every seed must meet the SLOs.")
    max_nodes: int = Field(32, ge=1, description="Largest cluster tried per candidate (nodes).")

    @model_validator(mode="after")
    def _names(self):
        names = [s.get("name") for s in self.services]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError("every service needs a unique `name`")
        labels = [candidate_label(c) for c in self.candidates]
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise ValueError(f"candidate labels must be unique (give `name`); repeated: {', '.join(sorted(dup))}")
        return self


def candidate_label(c: Candidate) -> str:
    if c.name:
        return c.name
    mode = sharing_mode(c)
    return c.node_type if mode == "whole" else f"{c.node_type}/{mode}"


def _sharing(c: Candidate):
    """The candidate's sharing mode (gpusim.sharing), or None when its block is not valid."""
    from pydantic import ValidationError

    from gpusim.sharing import parse_sharing

    try:
        return parse_sharing(c.sharing)
    except ValidationError:
        return None


def sharing_mode(c: Candidate) -> str:
    """The candidate's sharing mode in the tables: whole, mig:<config>, ts:<replicas>, amd:<profile>, ..."""
    mode = _sharing(c)
    return mode.label() if mode is not None else "invalid-sharing"


def _units_per_node(c: Candidate, nt, gpu, exp_name: str) -> int:
    """Sharing units (whole GPUs, MIG instances, time-slice replicas, partitions) one node offers."""
    from gpusim.errors import InputError
    from gpusim.sharing import LayoutError, parse_sharing

    if gpu is None:
        return 0
    try:
        mode = parse_sharing(c.sharing)
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        raise InputError(f"{exp_name}: candidate {c.node_type}: sharing: {e}") from None
    try:
        units = mode.sizing_units(nt.gpus, gpu, c.resource)
    except LayoutError as e:
        raise InputError(f"{exp_name}: candidate {c.node_type}: {e}") from None
    if units is None:
        raise InputError(
            f"experiment.candidates: {c.node_type}: give replicas_per_node for MIG config {mode.config.config!r} "
            "(derived only for all-<profile> layouts)"
        )
    return units


def _plan(c: Candidate, catalog, exp_name: str) -> dict:
    """Per-candidate facts: node type, GPU model, pod resources, replicas per node, price."""
    from gpusim.errors import InputError
    from gpusim.units import parse_cpu_milli

    nt = catalog.node_type(c.node_type)
    gpu = catalog.gpu(nt.gpu_model) if nt.gpu_model else None
    if gpu is None:
        per_node = c.replicas_per_node or max(1, int(nt.vcpu * 1000 // parse_cpu_milli(c.cpu_per_replica)))
        limits: dict = {}
    else:
        units = _units_per_node(c, nt, gpu, exp_name) if c.replicas_per_node is None else None
        per_node = c.replicas_per_node or units // c.gpus_per_replica
        mode = _sharing(c)
        resource = c.resource or (mode.advertised_name(gpu) if mode is not None else gpu.resource_name)
        limits = {resource: c.gpus_per_replica}
    if per_node < 1:
        raise InputError(f"experiment.candidates: {c.node_type}: a node holds no replica of {c.gpus_per_replica} units")
    price = c.price_per_hour if c.price_per_hour is not None else nt.on_demand_usd_per_hour
    if price is None and not c.price_unknown:
        raise InputError(
            f"experiment.candidates: node type {nt.id} has no price; give price_per_hour, a catalog: override "
            "or price_unknown: true"
        )
    return {"nt": nt, "gpu": gpu, "per_node": per_node, "limits": limits, "price": price}


def _pool(c: Candidate, plan: dict, nodes: int) -> dict:
    nt = plan["nt"]
    pool = {"name": "pool", "count": nodes, "vcpu": nt.vcpu, "memory": f"{int(nt.memory_gib)}Gi", "node_type": nt.id}
    if plan["gpu"] is not None:
        pool.update(gpu_model=nt.gpu_model, gpus_per_node=nt.gpus)
    if c.sharing:
        pool["sharing"] = dict(c.sharing)
    if c.price_per_hour is not None:
        pool["price_per_hour"] = c.price_per_hour
    elif plan["price"] is None:
        pool["price_unknown"] = True
    return pool


def _workload(svc: dict, c: Candidate, plan: dict, replicas: int) -> dict:
    w = {k: v for k, v in svc.items() if k not in ("autoscaling", "pod", "replicas", "type")}
    res = {"requests": {"cpu": c.cpu_per_replica, "memory": c.memory_per_replica}}
    if plan["limits"]:
        res["limits"] = dict(plan["limits"])
    w.update(type="inference", pod={"resources": res}, replicas=replicas, warm_start=True)
    return w


def check_sizing(scenario) -> list[tuple[tuple, str]]:
    """What `run_sizing` would reject, found without running: each candidate's plan (node type,
    sharing units, price) and each service as a scenario workload on a one-node probe cluster.
    """
    from gpusim.errors import InputError, ScenarioError
    from gpusim.hardware import load_catalog
    from gpusim.scenario.loader import load_scenario

    exp: Sizing = scenario.experiment
    overrides = scenario.catalog.model_dump(exclude_none=True) if scenario.catalog is not None else None
    try:
        catalog = load_catalog(overrides)
    except InputError as e:
        return [(("catalog",), str(e))]
    out: list[tuple[tuple, str]] = []
    found: dict[tuple[tuple, str], list[str]] = {}  # (path, message) -> candidates it concerns
    checked = 0
    for i, c in enumerate(exp.candidates):
        try:
            plan = _plan(c, catalog, scenario.name)
        except InputError as e:
            out.append((("experiment", "candidates", i), str(e)))
            continue
        checked += 1
        data = {
            "name": "sizing-check", "duration": exp.duration,
            "cluster": {"node_pools": [_pool(c, plan, 1)]},
            "workloads": [_workload(svc, c, plan, 1) for svc in exp.services],
        }  # fmt: skip
        if overrides:
            data["catalog"] = overrides
        try:
            load_scenario(data)
        except ScenarioError as e:
            for p in e.problems:
                m = re.match(r"workloads\[(\d+)\]\.?(.*)", p.path or "")
                if m:  # workloads[k] of the probe cluster is experiment.services[k]
                    sub = tuple(int(x) if x.isdigit() else x for x in re.findall(r"[^.\[\]]+", m.group(2)))
                    key = (("experiment", "services", int(m.group(1)), *sub), p.message)
                else:
                    key = (("experiment", "candidates", i), f"{p.path}: {p.message}" if p.path else p.message)
                found.setdefault(key, []).append(candidate_label(c))
    for (path, message), labels in found.items():
        if len(labels) < checked:  # not every candidate: say which
            message = f"{message} (on {', '.join(labels)})"
        out.append((path, message))
    return list(dict.fromkeys(out))


def run_sizing(scenario, out: Path) -> dict:
    """Run the protocol and write sizing.csv, probes.csv, sizing.png and summary.json atomically to `out`."""
    import gpusim
    from gpusim._version import __version__
    from gpusim.hardware import load_catalog

    exp: Sizing = scenario.experiment
    overrides = scenario.catalog.model_dump(exclude_none=True) if scenario.catalog is not None else None
    catalog = load_catalog(overrides)
    plans = {candidate_label(c): _plan(c, catalog, scenario.name) for c in exp.candidates}  # errors before any run
    t0 = time.perf_counter()
    probes: list[dict] = []
    rows: list[dict] = []
    for c in exp.candidates:
        label = candidate_label(c)
        plan = plans[label]
        cache: dict[tuple, list] = {}

        def run(replicas: dict[str, int], stage: str, c=c, plan=plan, label=label, cache=cache) -> tuple[bool, list]:
            """All seeds of one cluster (fewest nodes for these replicas); stops at the first failing seed."""
            key = tuple(sorted(replicas.items()))
            if key in cache:
                return all(r["met"] for r in cache[key]), cache[key]
            nodes = math.ceil(sum(replicas.values()) / plan["per_node"])
            results = []
            for seed in exp.seeds:
                data = {
                    "name": "sizing-run", "seed": seed, "duration": exp.duration,
                    "cluster": {"node_pools": [_pool(c, plan, nodes)]},
                    "workloads": [_workload(s, c, plan, replicas[s["name"]]) for s in exp.services if replicas.get(s["name"])],
                }  # fmt: skip
                if overrides:
                    data["catalog"] = overrides
                r = gpusim.simulate(data, seed=seed)
                ss = r.service_summary.set_index("service")
                met = bool(ss["slo_met"].all())
                results.append({"seed": seed, "nodes": nodes, "met": met, "summary": r.summary, "services": ss})
                for name, row in ss.iterrows():
                    probes.append({"candidate": label, "stage": stage, "service": name, "replicas": replicas[name],
                                   "nodes": nodes, "seed": seed, "p99_latency_s": row["latency_p99_s"],
                                   "p99_ttft_s": row.get("ttft_p99_s", math.nan),
                                   "p99_tpot_s": row.get("tpot_p99_s", math.nan),
                                   "slo_attainment": row["slo_attainment"], "slo_met": bool(row["slo_met"])})  # fmt: skip
                if not met:
                    break
            cache[key] = results
            return all(x["met"] for x in results), results

        limit = exp.max_nodes * plan["per_node"]
        need: dict[str, int] = {}
        for svc in exp.services:  # each service alone: fewest replicas meeting its SLO in every seed
            name = svc["name"]
            lo, hi, r = 0, None, 1  # lo fails (or is 0), hi meets
            while True:  # galloping: 1, 2, 4, ... replicas
                if run({name: r}, "alone")[0]:
                    hi = r
                    break
                lo = r
                if r >= limit:
                    break
                r = min(2 * r, limit)
            if hi is None:
                break
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if run({name: mid}, "alone")[0]:
                    hi = mid
                else:
                    lo = mid
            need[name] = hi
        final = None
        if len(need) == len(exp.services):
            replicas = dict(need)
            while sum(replicas.values()) <= limit:  # all services together on the packed cluster
                ok, results = run(replicas, "together")
                if ok:
                    final = (replicas, results)
                    break
                last = results[-1]["services"]
                for name in last.index[~last["slo_met"].astype(bool)]:
                    replicas[name] += 1
        rows.append(_row(c, label, plan, exp, final, len(cache)))
    wall = time.perf_counter() - t0
    df = pd.DataFrame(rows, columns=SIZING_COLUMNS)
    df = df.sort_values(["fits", "usd_per_month"], ascending=[False, True], na_position="last", kind="stable")
    df = df.reset_index(drop=True)
    probes_df = pd.DataFrame(probes, columns=PROBE_COLUMNS)
    doc = {
        "summary": {"candidates": len(rows), "fit": int(df["fits"].sum()), "runs": len(probes_df)},
        "gpusim_version": __version__,
        "scenario": scenario.model_dump(mode="json"),
        "run": {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": wall},
    }
    with atomic_dir(out) as tmp:
        df.to_csv(tmp / "sizing.csv", index=False)
        probes_df.to_csv(tmp / "probes.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
        plot_sizing(df, scenario.name).savefig(tmp / "sizing.png", dpi=110)
    return {"frame": df, "probes": probes_df, "wall_s": wall}


def _row(c: Candidate, label: str, plan: dict, exp: Sizing, final, runs: int) -> dict:
    from gpusim.metrics.summary import HOURS_PER_MONTH

    nt, gpu = plan["nt"], plan["gpu"]
    limits = {s["name"]: slo_limits(s) for s in exp.services}
    row = {"candidate": label, "node_type": nt.id, "vendor": gpu.vendor if gpu else "cpu",
           "accelerator": gpu.id if gpu else "cpu", "sharing": sharing_mode(c), "fits": final is not None,
           "runs": runs}  # fmt: skip
    for metric in SLO_METRICS:
        stated = [lim[metric] for lim in limits.values() if metric in lim]
        row[_slo_col(metric)] = min(stated) if stated else math.nan
    if final is None:
        return row
    replicas, results = final
    nodes = results[0]["nodes"]
    price = plan["price"]
    usd_h = nodes * price if price is not None else math.nan
    served_per_h = sum(r["summary"].get("requests_served", 0) for r in results) / len(results) / (exp.duration / 3600)
    for metric, col in SLO_METRICS.items():
        worst, margin = math.nan, math.nan
        for name, lim in limits.items():
            vals = [float(r["services"].loc[name, col]) for r in results if col in r["services"].columns]
            vals = [v for v in vals if v == v]  # a service without this metric has NaN there
            if not vals:
                continue
            w = max(vals)
            worst = w if math.isnan(worst) else max(worst, w)
            if metric in lim:
                m = lim[metric] - w
                margin = m if math.isnan(margin) else min(margin, m)
        row[_p99_col(metric)] = worst
        row[_margin_col(metric)] = margin
    att = min(float(r["services"]["slo_attainment"].min()) for r in results)
    target = max(float(s.get("slo", {}).get("percentile", 99.0)) for s in exp.services) / 100.0
    row.update(
        nodes=nodes,
        replicas=replicas[exp.services[0]["name"]]
        if len(replicas) == 1
        else ";".join(f"{k}={v}" for k, v in replicas.items()),
        gpus=nodes * nt.gpus,
        usd_per_hour=usd_h,
        usd_per_month=usd_h * HOURS_PER_MONTH,
        usd_per_million_requests=usd_h / served_per_h * 1e6 if served_per_h > 0 else math.nan,
        slo_attainment_min=att,
        attainment_margin=att - target,
    )
    return row


def slo_limits(svc: dict) -> dict[str, float]:
    """The SLO limits a service states, in seconds, keyed as `SLO_METRICS` (``slo.e2e`` is latency)."""
    slo = svc.get("slo") or {}
    out = {}
    for key, metric in (("latency", "latency"), ("e2e", "latency"), ("ttft", "ttft"), ("tpot", "tpot")):
        if slo.get(key) is not None:
            out[metric] = min(out.get(metric, math.inf), _seconds(slo[key]))
    return out


def stated_metrics(df: pd.DataFrame) -> list[str]:
    """The SLO limits some service states, in `SLO_METRICS` order (their ``slo_*`` column is not all NaN)."""
    return [m for m in SLO_METRICS if df[_slo_col(m)].notna().any()]


def _slo_col(metric: str) -> str:
    return "slo_latency_s" if metric == "latency" else f"slo_{metric}_s"


def _p99_col(metric: str) -> str:
    return f"p99_{metric}_s"


def _margin_col(metric: str) -> str:
    return "slo_margin_s" if metric == "latency" else f"{metric}_margin_s"


def _seconds(v) -> float:
    from gpusim.units import parse_duration

    return float(parse_duration(v))


def plot_sizing(df: pd.DataFrame, name: str):
    """$/month per candidate (labels for 'no fit' and 'price unknown', no zero bars) and worst p99 vs the SLO."""
    from matplotlib.figure import Figure

    from gpusim.report.style import OKABE_ITO, plot_style

    with plot_style():
        fig = Figure(figsize=(11, max(3.0, 0.45 * len(df) + 1.5)), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        y = list(range(len(df)))[::-1]
        labels = [f"{r.candidate}" for r in df.itertuples()]
        vendors = sorted(set(df["vendor"]))
        colour = {v: OKABE_ITO[i % len(OKABE_ITO)] for i, v in enumerate(vendors)}
        top = float(df["usd_per_month"].max()) if df["usd_per_month"].notna().any() else 1.0
        for yi, r in zip(y, df.itertuples(), strict=True):
            if not r.fits:
                ax1.text(0, yi, "  no fit within max_nodes", va="center", fontsize="small", color="0.3")
            elif r.usd_per_month != r.usd_per_month:
                ax1.text(0, yi, "  price unknown", va="center", fontsize="small", color="0.3")
            else:
                ax1.barh(yi, r.usd_per_month, color=colour[r.vendor], label=r.vendor)
                ax1.text(r.usd_per_month, yi, f" \\${r.usd_per_month:,.0f}\n {r.nodes:.0f} node{'' if r.nodes == 1 else 's'}, {r.gpus:.0f} GPUs",
                         va="center", fontsize="x-small")  # fmt: skip
        from matplotlib.ticker import FuncFormatter

        ax1.set_xlim(0, top * 1.45)
        ax1.set_ylim(-0.6, len(df) - 0.4)
        ax1.set_yticks(y, labels, fontsize="small")
        ax1.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"\\${v / 1000:,.0f}k"))
        ax1.set_xlabel("USD per month (x 730 h), smallest cluster meeting every SLO")
        handles, hl = ax1.get_legend_handles_labels()
        uniq = dict(zip(hl, handles, strict=False))
        if uniq:  # above the axes, clear of the bars
            ax1.legend(uniq.values(), uniq.keys(), loc="lower left", bbox_to_anchor=(0, 1.01), ncol=len(uniq),
                       borderaxespad=0, title=None)  # fmt: skip
        fits = df[df["fits"]]
        ys = [yi for yi, r in zip(y, df.itertuples(), strict=True) if r.fits]
        metric = (stated_metrics(df) or ["latency"])[0]  # the first limit stated: latency, else TTFT, else TPOT
        p99 = fits[_p99_col(metric)].to_numpy(dtype=float)
        finite = [v if math.isfinite(v) else float("nan") for v in p99]
        ax2.scatter(finite, ys, color="black", zorder=3, label="worst p99 over seeds")
        slo = float(df[_slo_col(metric)].min())
        ax2.axvline(slo, color=OKABE_ITO[3], linestyle="--", label=f"SLO {slo:g} s")
        for yi, r in zip(y, df.itertuples(), strict=True):
            if not r.fits:
                ax2.text(0, yi, "  n/a", va="center", fontsize="small", color="0.3")
        ax2.set_xlim(0, slo * 1.3 if math.isfinite(slo) and slo > 0 else 1.0)
        ax2.set_xlabel({"latency": "p99 latency (s)", "ttft": "p99 time to first token (s)",
                        "tpot": "p99 time per output token (s)"}[metric])  # fmt: skip
        ax2.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, borderaxespad=0)
        fig.suptitle(f"{name}: smallest fixed cluster per node type, sorted by cost")
    return fig


def render_sizing(console, scenario, args, out: Path) -> int:
    """`gpusim run` of this experiment kind: run it into `out` and print its table (or, with --quiet, `out`)."""
    from gpusim.report.style import console_table, fmt_num, fmt_usd

    exp = scenario.experiment
    if not args.quiet:
        console.print(f"{scenario.name}: {len(exp.candidates)} candidates x {len(exp.seeds)} seeds ({exp.kind})")
    res = run_sizing(scenario, out)
    if args.quiet:
        print(out)
        return 0
    rows = []
    metrics = stated_metrics(res["frame"]) or ["latency"]
    fmt = {"latency": "{:.2f}", "ttft": "{:.2f}", "tpot": "{:.3f}"}
    for _, r in res["frame"].iterrows():
        fits = bool(r["fits"])
        rows.append([
            str(r["candidate"]), fmt_num(r["nodes"], "{:.0f}") if fits else "no fit",
            (str(r["replicas"]) if isinstance(r["replicas"], str) else fmt_num(r["replicas"], "{:.0f}")) if fits else "-",
            fmt_num(r["gpus"], "{:.0f}"), fmt_usd(r["usd_per_month"], 0) if fits else "-",
            fmt_usd(r["usd_per_million_requests"], 0) if fits else "-",
            *(x for m in metrics for x in (fmt_num(r[_p99_col(m)], fmt[m]), fmt_num(r[_margin_col(m)], "{:+" + fmt[m][2:]))),
        ])  # fmt: skip
    label = {"latency": "p99 s", "ttft": "TTFT p99 s", "tpot": "TPOT p99 s"}
    heads = ["candidate", "nodes", "repl.", "GPUs", "$/month", "$/M req",
             *(x for m in metrics for x in (label[m], "margin"))]  # fmt: skip
    console.print(console_table("Smallest fixed cluster meeting every SLO (sorted by cost)", heads, rows))
    console.print(f"wall time {res['wall_s']:.1f} s, {len(res['probes'])} runs")
    console.print(f"results: {out}/")
    return 0
