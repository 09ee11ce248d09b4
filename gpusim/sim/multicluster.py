"""`simulate_multicluster(ms, seed)`: several clusters of one scenario on one SimPy clock (issue 15).

The plan is gpusim.scenario.multicluster's docstring; what this engine does of it:

- One `CountingEnvironment` (one clock) for every member. Each member is a plain single-cluster
  `Run` (gpusim.sim.run) of the member's own `Scenario` (its cluster, scheduler, the workloads
  placed on it and a copy of each service routed to it), built on the shared clock with its random
  streams named ``cluster/<member>/...``: adding a member never shifts another member's numbers,
  and a member gives exactly what its `Run` gives alone with the same prefix (tested).
- Members are started in the order of `clusters:`; the clock then runs to the horizon; with
  `drain` (and no routed service) on until every member's training jobs are done.
- A member's `provisioning_lag` is added to every node its Cluster Autoscaler adds.
- A routed service keeps ONE arrival process: every copy draws the same requests from the
  service's own unprefixed streams (``service/<name>/...``), then each request's client group
  (by `share`, stream ``service/<name>/routing/client``) and its cluster by the policy, and keeps
  the requests routed to it. Static: independently by `weights` (stream
  ``service/<name>/routing``); lowest-latency: each client group to its lowest one-way latency
  (ties: the first in `clusters`). Both are STATIC splits: a cluster without a ready replica still
  gets its share (its requests queue or time out there, as a single cluster's do). Failover needs
  readiness at routing time and is refused (not simulated yet).
- Network latency: each request routed from client group g to cluster m takes 2 x one-way
  (`added_latency_s`) more end to end. It is applied to the service's latency HISTOGRAM at the end
  (each group's share of the cluster's histogram shifted by its added time, the same arithmetic as
  `slo_attainment_shifted`, bins at their upper edge as `slo_stats_from_histogram`): the combined
  service rows report end-to-end latency mean/p50/p99 and SLO attainment; the in-cluster figures
  stay in `cluster_latency_p99_s` / `cluster_slo_attainment` and in each member's own result.
- Costs per member: its nodes (the member's prices), the control plane (managed fee with caps and
  GKE's credit, or the self-managed operations cost) over the run, and egress of the routed
  services' bytes (`routed_egress_usd`: response bytes x requests served there, tiered).

- A member's `failures:` override runs the failure model in that member (`member_failures`): its
  rate replaces or scales the catalog's per-model rate; failed nodes are repaired on premises and
  replaced in a cloud, after `repair_time`.

Not simulated yet (refused, and said so): failover routing, LLM-serving (`engine:`) services
routed over clusters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import InputError
from gpusim.scenario.models import Scenario
from gpusim.scenario.multicluster import (
    FailoverPolicy,
    LowestLatencyPolicy,
    MultiClusterScenario,
    added_latency_s,
    control_plane_usd,
    routed_egress_usd,
    routing_stream,
    split_by_weights,
)
from gpusim.sim.environment import CountingEnvironment
from gpusim.sim.random import RandomStreams, draw_seed
from gpusim.sim.run import DRAIN_CAP, PROGRESS_STEPS, Run

__all__ = ["simulate_multicluster", "MultiClusterResult", "member_scenario", "member_run", "stream_prefix"]


def stream_prefix(member: str) -> str:
    return f"cluster/{member}/"


def member_scenario(ms: MultiClusterScenario, name: str) -> Scenario:
    """The plain scenario of one member: its cluster and scheduler, the workloads placed on it and a
    copy of every service routed to it (same name).
    """
    m = ms.member(name)
    return Scenario.model_construct(
        name=f"{ms.name}-{name}"[:63], description="", seed=ms.seed, duration=ms.duration, drain=ms.drain,
        cluster=m.cluster, workloads=[w for _, w in ms.workloads_on(name)], scheduler=m.scheduler,
        output=ms.output, sweep=None, catalog=ms.catalog, failures=member_failures(m),
    )  # fmt: skip


_FAILURE_KEYS = ("failures", "lost_gpu_hours", "goodput", "node_availability", "node_downtime_hours",
                 "jobs_hit_by_failures", "sla_999_met", "service_availability_min")  # fmt: skip


def member_failures(m):
    """The failure model of a member with a `failures:` override (None without one: nothing fails).

    `interruptions_per_gpu_hour` replaces the per-model rate; `rate_scale` multiplies the catalog's
    rate of each pool's GPU model (gpusim.hardware.failures); `repair_time` (default: the failure
    block's) is how long a failed node takes. On premises a failed node is repaired (the same node,
    billed throughout); in a cloud it is replaced (billing stops, a new node is requested).
    """
    o = m.failures
    if o is None:
        return None
    from gpusim.hardware.failures import load_failure_catalog
    from gpusim.scenario.failures import Failures, PoolFailures, Repair

    action = "repair" if m.location.kind == "on-prem" else "replace"
    repair = Repair(action=action) if o.repair_time is None else Repair(action=action, time=o.repair_time)
    if o.rate_scale is None:
        rate = "catalog" if o.interruptions_per_gpu_hour is None else o.interruptions_per_gpu_hour
        return Failures(per_gpu_hour=rate, repair=repair)
    fc = load_failure_catalog()
    pools = {p.name: PoolFailures(per_gpu_hour=o.rate_scale * fc.interruptions_per_gpu_hour(p.gpu_model))
             for p in m.cluster.node_pools if p.gpu_model}  # fmt: skip
    return Failures(per_gpu_hour="catalog", repair=repair, pools=pools)


class _Split:
    """One routed service's copy on one member: keeps the requests routed there, counts them per
    client group. Every copy draws the same client and routing numbers (own generators, same keys).
    """

    def __init__(self, ms: MultiClusterScenario, ri: int, member: str, seed: int):
        r = ms.routing[ri]
        self.r, self.member = r, member
        self.j = r.clusters.index(member)
        self.client_rng = routing_stream(seed, r.service, "routing/client")
        self.route_rng = routing_stream(seed, r.service, "routing")
        self.shares = [g.share for g in r.clients]
        pol = r.policy
        if isinstance(pol, LowestLatencyPolicy):
            # per client group: the serving cluster (lowest one-way latency, ties to the first listed)
            self.best = np.array([min(range(len(r.clusters)), key=lambda k, g=g: (g.latency[r.clusters[k]], k))
                                  for g in r.clients], dtype=np.int64)  # fmt: skip
            self.weights = None
        else:
            self.best = None
            self.weights = [pol.weights[c] for c in r.clusters]
        self.counts = np.zeros(len(r.clients), dtype=np.int64)  # requests kept, per client group

    def __call__(self, t: np.ndarray) -> np.ndarray:
        n = int(t.size)
        group = split_by_weights(n, self.shares, self.client_rng)
        if self.best is not None:
            where = self.best[group]
        else:
            where = split_by_weights(n, self.weights, self.route_rng)
        keep = where == self.j
        self.counts += np.bincount(group[keep], minlength=self.counts.size)
        return keep

    def added_s(self) -> np.ndarray:
        """Added end-to-end time (2 x one-way) of each client group's requests to this member."""
        return np.array([added_latency_s(g.latency[self.member]) for g in self.r.clients])


def member_run(ms: MultiClusterScenario, name: str, seed: int, env=None) -> tuple[Run, dict[str, _Split]]:
    """One member's `Run` on `env` (a fresh clock if None), with its routed services' splits."""
    sc = member_scenario(ms, name)
    splits, options = {}, {}
    for ri, r in enumerate(ms.routing):
        if name in r.clusters:
            sp = _Split(ms, ri, name, seed)
            splits[r.service] = sp
            options[r.service] = {"arrival_streams": RandomStreams(seed), "request_filter": sp}
    run = Run(sc, seed, env=env, stream_prefix=stream_prefix(name), service_options=options)
    lag = float(ms.member(name).provisioning_lag)
    if lag > 0:
        base = run.nodes.provisioning_s
        run.nodes.provisioning_s = lambda pool, base=base, lag=lag: base(pool) + lag
    return run, splits


def _refuse_unsupported(ms: MultiClusterScenario) -> None:
    for ri, r in enumerate(ms.routing):
        if isinstance(r.policy, FailoverPolicy):
            raise InputError(f"routing[{ri}] ({r.service}): failover routing is not simulated yet "
                             "(it needs replica readiness at routing time); use static or lowest-latency")  # fmt: skip
        w = next(w for w in ms.workloads if w.name == r.service)
        if getattr(w, "llm_serving", False):
            raise InputError(f"routing[{ri}] ({r.service}): routing an LLM-serving (engine:) service over "
                             "clusters is not simulated yet")  # fmt: skip


@dataclass
class MultiClusterResult:
    """Per-member `RunResult`s and the combined tables (each with a `cluster` column)."""

    scenario: MultiClusterScenario
    seed: int
    members: dict
    summary: dict
    clusters: pd.DataFrame  # one row per member: cost lines and service figures
    jobs: pd.DataFrame
    timeseries: pd.DataFrame
    nodes: pd.DataFrame
    services: pd.DataFrame
    service_summary: pd.DataFrame
    routing: pd.DataFrame  # service, cluster, client, requests, added_latency_s
    run_info: dict = field(default_factory=dict)

    FRAMES = ("clusters", "jobs", "timeseries", "nodes", "services", "service_summary", "routing")

    def summary_document(self) -> dict:
        from gpusim._version import __version__

        return {"gpusim_version": __version__, "scenario": self.scenario.model_dump(mode="json"), "seed": self.seed,
                "summary": _jsonable(self.summary), "run": _jsonable(self.run_info)}  # fmt: skip

    def save(self, directory: str | Path, *, flag: str = "--out") -> Path:
        """Write summary.json and every combined table (parquet) to `directory` atomically."""
        import json
        import os

        from gpusim.report.atomic import atomic_dir

        final = Path(directory)
        with atomic_dir(final, flag=flag) as tmp:
            (tmp / "summary.json").write_text(json.dumps(self.summary_document(), indent=2) + "\n")
            for name in self.FRAMES:
                part = tmp / f".{name}.parquet.part"
                getattr(self, name).to_parquet(part, index=False)
                os.replace(part, tmp / f"{name}.parquet")
        return final


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else str(f)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def _run_all(env, runs: list[Run], ms: MultiClusterScenario, progress=None) -> tuple[float, dict]:
    for run in runs:
        run.start()
    horizon = ms.duration
    for i in range(1, PROGRESS_STEPS + 1):
        env.run(until=horizon * i / PROGRESS_STEPS)
        if progress:
            progress(env.now, horizon)
    drain = ms.drain and not ms.routing and not any(r.services for r in runs)
    stop: dict = {}
    if drain:
        step, cap = max(horizon / PROGRESS_STEPS, 60.0), DRAIN_CAP * horizon
        while any(r.training.unfinished() for r in runs):
            if env.now >= cap:
                stop = {"drain_cap_hit": True}
                break
            nxt = env.peek()
            stuck = all(
                not r.training.making_progress() and r.training.all_arrived() and not r.nodes.provisioning()
                for r in runs if r.training.unfinished()
            )  # fmt: skip
            if nxt == float("inf") or stuck:
                stop = {"drain_cap_hit": False, "drain_stalled": True}
                break
            env.run(until=max(env.now + step, nxt + 1e-9))
        if stop:
            stop["drain_stopped_s"] = float(env.now)
    end_s = max(horizon, env.now)
    if drain and not stop:
        end_s = max([horizon] + [r.training.last_end_s(default=horizon) for r in runs])
    return end_s, stop


def simulate_multicluster(ms: MultiClusterScenario | str | Path | dict, seed: int | None = None, *,
                          progress=None) -> MultiClusterResult:  # fmt: skip
    """Run every member of a multi-cluster scenario on one clock; see the module docstring."""
    from gpusim.scenario.multicluster import load_multicluster

    if not isinstance(ms, MultiClusterScenario):
        ms = load_multicluster(ms)
    _refuse_unsupported(ms)
    if seed is None:
        seed = ms.seed if ms.seed is not None else draw_seed()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    env = CountingEnvironment()
    built = [member_run(ms, m.name, seed, env) for m in ms.clusters]
    runs = [r for r, _ in built]
    end_s, stop = _run_all(env, runs, ms, progress)
    members = {}
    for m, run in zip(ms.clusters, runs, strict=True):
        run.end_s = end_s
        members[m.name] = run.result(started_at=started_at, wall0=wall0)
    res = combine(ms, seed, members, {m.name: (run, sp) for m, (run, sp) in zip(ms.clusters, built, strict=True)},
                  end_s)  # fmt: skip
    res.summary.update(stop)
    wall = time.perf_counter() - wall0
    res.run_info = {"started_at": started_at, "wall_s": wall, "events": env.events_processed}
    return res


# --------------------------------------------------------------------------- combining
def _uppers(svc) -> np.ndarray:
    from gpusim.sim.inference import bin_edges

    counts = svc.latency.counts
    return np.append(bin_edges(svc.latency.config), math.inf)[: counts.size]


def e2e_stats(parts: list[tuple[np.ndarray, np.ndarray, float, float, float]], target_s: float,
              percentile: float) -> dict:  # fmt: skip
    """Latency statistics of a mixture of shifted histograms.

    Each part is (counts, bin upper edges, missed, added seconds, weight): a share (`weight`) of one
    cluster's requests whose every latency is `added` seconds longer. Requests count at their bin's
    upper edge (as `slo_stats_from_histogram`); missed ones (timed out, dropped, failed) never attain
    the SLO and sit above every quantile. Returns p50, p99, p<percentile>, attainment.
    """
    total = sum(w * (float(c.sum()) + m) for c, _, m, _, w in parts)
    if total == 0:
        return {"latency_p50_s": math.nan, "latency_p99_s": math.nan, "latency_p_s": math.nan,
                "slo_attainment": math.nan}  # fmt: skip
    attained = sum(w * float(c[u + a <= target_s].sum()) for c, u, m, a, w in parts)
    shifted = [(np.cumsum(c).astype(float), u + a, w) for c, u, m, a, w in parts]
    cand = np.unique(np.concatenate([s[np.isfinite(s)] for _, s, _ in shifted]))

    def cdf(x):
        out = np.zeros(x.size)
        for cum, s, w in shifted:
            k = np.searchsorted(s, x, side="right")
            out += w * np.where(k > 0, cum[np.maximum(k - 1, 0)], 0.0)
        return out / total

    F = cdf(cand)

    def q(p):
        i = int(np.searchsorted(F, p - 1e-12, side="left"))
        return float(cand[i]) if i < cand.size else math.inf

    return {"latency_p50_s": q(0.5), "latency_p99_s": q(0.99), "latency_p_s": q(percentile / 100.0),
            "slo_attainment": attained / total}  # fmt: skip


def _with_cluster(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "cluster", name)
    return out


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def combine(ms: MultiClusterScenario, seed: int, members: dict, built: dict, end_s: float) -> MultiClusterResult:
    names = [m.name for m in ms.clusters]
    routed = {r.service: ri for ri, r in enumerate(ms.routing)}
    # ---- service rows per member, end to end for routed services
    svc_rows, route_rows, parts_of = [], [], {}
    for name in names:
        run, splits = built[name]
        res = members[name]
        for part in run.services:
            svc = part.service
            row = next(r for r in res.service_summary.to_dict("records") if r["service"] == svc.name)
            row = {"cluster": name, **row}
            if svc.name in splits:
                sp = splits[svc.name]
                missed = int(row["timed_out"] + row["dropped"] + row.get("failed", 0))
                kept = sp.counts.sum()
                frac = sp.counts / kept if kept else np.zeros(sp.counts.size)
                added = sp.added_s()
                parts = [(svc.latency.counts, _uppers(svc), missed, float(a), float(f))
                         for a, f in zip(added, frac, strict=True) if f > 0]  # fmt: skip
                parts_of.setdefault(svc.name, []).extend(parts)
                st = e2e_stats(parts, svc.w.slo.latency, svc.w.slo.percentile)
                net = float((frac * added).sum())
                row["cluster_latency_p99_s"] = row["latency_p99_s"]
                row["cluster_slo_attainment"] = row["slo_attainment"]
                row["network_latency_mean_s"] = net
                row["latency_mean_s"] = row["latency_mean_s"] + net
                row["latency_p50_s"], row["latency_p99_s"] = st["latency_p50_s"], st["latency_p99_s"]
                row["slo_attainment"] = st["slo_attainment"]
                row["slo_met"] = bool(st["slo_attainment"] >= svc.w.slo.percentile / 100.0 - 1e-12)
                for g, n, a in zip(sp.r.clients, sp.counts, added, strict=True):
                    route_rows.append({"service": svc.name, "cluster": name, "client": g.name, "requests": int(n),
                                       "added_latency_s": float(a)})  # fmt: skip
            svc_rows.append(row)
    service_summary = pd.DataFrame(svc_rows)
    # ---- costs per member
    egress = dict.fromkeys(names, 0.0)
    client_egress = 0.0
    for svc_name, ri in routed.items():
        r = ms.routing[ri]
        served = {row["cluster"]: int(row["served"]) for row in svc_rows if row["service"] == svc_name}
        per_client = {g.name: int(sum(built[c][1][svc_name].counts[gi] for c in r.clusters))
                      for gi, g in enumerate(r.clients)}  # fmt: skip
        bill = routed_egress_usd(ms, ri, served, end_s, per_client)
        for k, v in bill.items():
            if k.startswith("client:"):
                client_egress += v
            else:
                egress[k] += v
    crow = []
    for m in ms.clusters:
        s = members[m.name].summary
        nodes_usd = float(s.get("cost_usd", math.nan))
        cp = control_plane_usd(m, end_s)
        mine = [r for r in svc_rows if r["cluster"] == m.name]
        crow.append({
            "cluster": m.name,
            "location": m.location.kind if m.location.kind == "on-prem" else f"{m.location.provider}/{m.location.region}",
            "control_plane": "self-managed" if m.control_plane.managed is None
            else f"{m.control_plane.managed.provider}/{m.control_plane.managed.tier}",
            "nodes_usd": nodes_usd, "control_plane_usd": cp,
            "control_plane_usd_per_hour": cp / (end_s / 3600.0) if end_s > 0 else math.nan,
            "egress_usd": egress[m.name],
            "total_usd": nodes_usd + cp + egress[m.name],
            "jobs": int(len(members[m.name].jobs)), "requests_served": int(sum(r["served"] for r in mine)),
            "slo_attainment": _weighted_attainment(mine),
        })  # fmt: skip
        if "failures" in s:  # the member's failure model ran (a `failures:` override)
            crow[-1].update({k: s[k] for k in _FAILURE_KEYS if k in s})
    clusters = pd.DataFrame(crow)
    # ---- the combined summary
    summary: dict = {
        "end_s": end_s,
        "clusters": len(names),
        "cost_usd": float(clusters["total_usd"].sum()) + client_egress,
        "nodes_usd": float(clusters["nodes_usd"].sum()),
        "control_plane_usd": float(clusters["control_plane_usd"].sum()),
        "egress_usd": float(clusters["egress_usd"].sum()) + client_egress,
    }
    if client_egress:
        summary["client_egress_usd"] = client_egress
    managed = clusters["control_plane"] != "self-managed"
    summary["control_plane_managed_usd"] = float(clusters.loc[managed, "control_plane_usd"].sum())
    summary["control_plane_self_managed_usd"] = float(clusters.loc[~managed, "control_plane_usd"].sum())
    summary["requests"] = int(service_summary["arrived"].sum()) if len(service_summary) else 0
    summary["requests_served"] = int(service_summary["served"].sum()) if len(service_summary) else 0
    summary["slo_attainment"] = _weighted_attainment(svc_rows)
    summary["jobs"] = int(sum(len(members[n].jobs) for n in names))
    for svc_name in routed:
        w = next(w for w in ms.workloads if w.name == svc_name)
        st = e2e_stats(parts_of.get(svc_name, []), w.slo.latency, w.slo.percentile)
        summary[f"service.{svc_name}.latency_p99_s"] = st["latency_p99_s"]
        summary[f"service.{svc_name}.slo_attainment"] = st["slo_attainment"]
    summary["per_cluster"] = {row["cluster"]: {k: v for k, v in row.items() if k != "cluster"} for row in crow}
    return MultiClusterResult(
        scenario=ms, seed=seed, members=members, summary=summary, clusters=clusters,
        jobs=_concat([_with_cluster(members[n].jobs, n) for n in names]),
        timeseries=_concat([_with_cluster(members[n].timeseries, n) for n in names]),
        nodes=_concat([_with_cluster(members[n].nodes, n) for n in names]),
        services=_concat([_with_cluster(members[n].services, n) for n in names]),
        service_summary=service_summary, routing=pd.DataFrame(route_rows),
    )  # fmt: skip


def _weighted_attainment(rows: list[dict]) -> float:
    """Request-weighted SLO attainment over service rows (finished requests), as `service_summary`."""
    done = [(r["served"] + r["timed_out"] + r["dropped"] + r.get("failed", 0), r["slo_attainment"]) for r in rows]
    n = sum(d for d, a in done if a == a)
    return sum(d * a for d, a in done if a == a) / n if n else math.nan


# --------------------------------------------------------------------------- command line
def run_cli(console, args) -> int:
    """`gpusim run FILE` on a multi-cluster file: run it, write the combined tables, print the
    per-member and total cost and SLO table.
    """
    from rich.table import Table

    from gpusim.report.atomic import check_destination
    from gpusim.scenario.multicluster import load_multicluster

    ms = load_multicluster(Path(args.scenario))
    try:
        _refuse_unsupported(ms)
    except InputError as e:
        raise InputError(f"{args.scenario}: {e}") from None
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise InputError(f"--seed {args.seed}: a seed is an integer from 0 to {2**63 - 1}")
    seed = args.seed if args.seed is not None else ms.seed
    if seed is None:
        seed = draw_seed()
    flag = "--out" if args.out else "result folder"
    if args.out:
        out = Path(args.out)
    else:
        out = Path("results") / ms.name / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-seed{seed}")
    check_destination(out, flag=flag)
    result = simulate_multicluster(ms, seed)
    result.save(out, flag=flag)
    if args.quiet:
        print(out)
        return 0
    t = Table(title=f"{ms.name} (seed {seed}, {result.summary['end_s'] / 3600:.1f} h)")
    for col in ("cluster", "control plane", "nodes $", "control plane $", "egress $", "total $", "jobs",
                "served", "SLO"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("cluster", "control plane") else "right")

    def pct(v):
        return "-" if v != v else f"{100 * v:.3f}%"

    for r in result.clusters.to_dict("records"):
        t.add_row(r["cluster"], r["control_plane"], f"{r['nodes_usd']:,.2f}", f"{r['control_plane_usd']:,.2f}",
                  f"{r['egress_usd']:,.2f}", f"{r['total_usd']:,.2f}", str(r["jobs"]), f"{r['requests_served']:,}",
                  pct(r["slo_attainment"]))  # fmt: skip
    s = result.summary
    t.add_row("total", "", f"{s['nodes_usd']:,.2f}", f"{s['control_plane_usd']:,.2f}", f"{s['egress_usd']:,.2f}",
              f"{s['cost_usd']:,.2f}", str(s["jobs"]), f"{s['requests_served']:,}", pct(s["slo_attainment"]))  # fmt: skip
    console.print(t)
    for r in ms.routing:
        console.print(f"{r.service}: p99 {s[f'service.{r.service}.latency_p99_s'] * 1000:.1f} ms end to end "
                      f"(network legs included), SLO attainment {pct(s[f'service.{r.service}.slo_attainment'])}")  # fmt: skip
    console.print(f"results: {out}")
    return 0
