"""Headline metrics of a run, computed once from the jobs and time-series DataFrames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def _stats(prefix: str, values: np.ndarray) -> dict:
    return {
        f"{prefix}_mean_s": float(values.mean()) if values.size else math.nan,
        f"{prefix}_p50_s": _pct(values, 50),
        f"{prefix}_p95_s": _pct(values, 95),
        f"{prefix}_p99_s": _pct(values, 99),
    }


def time_integral(ts: pd.DataFrame, column: str, end_s: float) -> float:
    """Integral over [first sample, end_s] of a step-function column."""
    if ts.empty:
        return 0.0
    t = ts["time_s"].to_numpy()
    v = ts[column].to_numpy(dtype=float)
    keep = t <= end_s  # samples after the end of the run do not count
    t, v = t[keep], v[keep]
    widths = np.diff(np.append(t, end_s))
    return float(np.sum(v * widths))


def summarize(jobs: pd.DataFrame, ts: pd.DataFrame, *, end_s: float, gpus_total: int, warmup_s: float = 0.0) -> dict:
    """Headline metrics: counts, queueing delay and JCT percentiles, GPU utilisation and hours.

    Delay statistics cover jobs that arrived at or after `warmup_s`: queueing delay over jobs
    that started, completion time (JCT = end - arrival) over jobs that finished.
    """
    measured = jobs[jobs["arrival_s"] >= warmup_s]
    started = measured["queueing_delay_s"].dropna().to_numpy()
    finished = measured.loc[measured["state"] == "finished", "jct_s"].to_numpy()
    gpu_seconds_used = time_integral(ts, "gpus_allocated", end_s)
    gpu_seconds_total = time_integral(ts, "gpus_total", end_s) if not ts.empty else gpus_total * end_s
    out = {
        "jobs_arrived": int(len(jobs)),
        "jobs_finished": int((jobs["state"] == "finished").sum()),
        "jobs_running": int((jobs["state"] == "running").sum()),
        "jobs_pending": int((jobs["state"] == "pending").sum()),
        "jobs_unschedulable": int((jobs["state"] == "unschedulable").sum()),
        "jobs_failed": int((jobs["state"] == "failed").sum()),
        "makespan_s": float(jobs["end_s"].max()) if jobs["end_s"].notna().any() else math.nan,
        "sim_end_s": float(end_s),
        "gpus_total": int(gpus_total),  # the most the cluster had at once (autoscaling changes it)
        **_stats("queueing_delay", started),
        **_stats("jct", finished),
        "gpu_utilisation": gpu_seconds_used / gpu_seconds_total if gpu_seconds_total > 0 else math.nan,
        "gpu_hours_used": gpu_seconds_used / 3600.0,
        "gpu_hours_idle": (gpu_seconds_total - gpu_seconds_used) / 3600.0,
    }
    return out


# --------------------------------------------------------------------------- derived after the run

HOURS_PER_MONTH = 730.0
"""Hours in an average month (8760 / 12), the cloud providers' monthly convention."""


def node_count_stats(nodes: pd.DataFrame, end_s: float) -> dict:
    """Peak, time-weighted mean and time-weighted p95 of the number of Ready nodes over [0, end_s].

    A node counts from its ``ready_s`` until its ``removed_s`` (or the end of the run). The p95 is
    the smallest count the cluster stayed at or below for at least 95 % of the run.
    """
    nan = {"nodes_peak": math.nan, "nodes_mean": math.nan, "nodes_p95": math.nan}
    if nodes is None or not len(nodes) or end_s <= 0:
        return nan
    ready = nodes["ready_s"].to_numpy(dtype=float)
    removed = nodes["removed_s"].to_numpy(dtype=float)
    ok = np.isfinite(ready) & (ready < end_s)
    ready = np.maximum(ready[ok], 0.0)
    removed = np.where(np.isfinite(removed[ok]), np.minimum(removed[ok], end_s), end_s)
    if not ready.size:
        return {"nodes_peak": 0, "nodes_mean": 0.0, "nodes_p95": 0}
    times = np.concatenate([ready, removed, [0.0, end_s]])
    deltas = np.concatenate([np.ones(ready.size), -np.ones(removed.size), [0.0, 0.0]])
    order = np.lexsort((deltas, times))  # removals before additions at the same instant
    t, d = times[order], deltas[order]
    count = np.cumsum(d)
    widths = np.diff(np.append(t, end_s))
    keep = widths > 0
    counts, widths = count[keep], widths[keep]
    if not widths.size:
        return {"nodes_peak": int(count.max()), "nodes_mean": float(count[-1]), "nodes_p95": int(count[-1])}
    by = np.argsort(counts, kind="stable")
    cum = np.cumsum(widths[by]) / widths.sum()
    p95 = counts[by][int(np.searchsorted(cum, 0.95 - 1e-12))]
    return {
        "nodes_peak": int(counts.max()),
        "nodes_mean": float(np.sum(counts * widths) / widths.sum()),
        "nodes_p95": int(p95),
    }


def cost_summary(nodes: pd.DataFrame, summary: dict, prices: dict[str, float | None], end_s: float) -> dict:
    """Cost figures from the nodes table and each pool's USD per node-hour (``None`` = unknown).

    A pool with an unknown price makes its own cost and every total it enters unknown (NaN),
    never 0. ``usd_per_hour_mean`` is the cost over the run's hours; ``monthly_run_rate_usd`` is
    that rate x 730 h, what the same cluster would cost per month.
    """
    out: dict = {}
    total = 0.0
    unknown = 0
    for pool in sorted(prices):
        price = prices[pool]
        mine = nodes[nodes["pool"] == pool] if len(nodes) else nodes
        if price is None or (isinstance(price, float) and math.isnan(price)):
            out[f"cost_usd.{pool}"] = math.nan
            unknown += 1
            total = math.nan
            continue
        cost = float((mine["billed_hours"].to_numpy(dtype=float) * price).sum()) if len(mine) else 0.0
        out[f"cost_usd.{pool}"] = cost
        total += cost
    out["cost_usd"] = total
    out["price_unknown_pools"] = unknown
    hours = end_s / 3600.0
    out["usd_per_hour_mean"] = total / hours if hours > 0 else math.nan
    out["monthly_run_rate_usd"] = out["usd_per_hour_mean"] * HOURS_PER_MONTH
    used, idle = summary.get("gpu_hours_used", 0.0), summary.get("gpu_hours_idle", 0.0)
    out["cost_per_gpu_hour_used_usd"] = total / used if used > 0 else math.nan
    out["idle_cost_usd"] = total * idle / (used + idle) if used + idle > 0 else (0.0 if total == total else math.nan)
    if "requests_served" in summary:
        served = summary.get("requests_served") or 0
        out["cost_per_million_requests_usd"] = total / served * 1e6 if served else math.nan
    return out


def slo_stats(latencies_s, missed: int, target_s: float, percentile: float = 99.0) -> dict:
    """p-th latency percentile and SLO attainment over the same requests.

    ``latencies_s`` are the latencies of the requests that were served; ``missed`` counts those
    that timed out or were dropped, which miss the SLO and count as infinitely late. The
    percentile is the inverted-CDF one (the smallest latency that at least ``percentile`` % of
    requests meet), so ``latency_p_s <= target_s`` exactly when ``slo_met``. A percentile that
    falls among the missed requests is ``inf``.
    """
    lat = np.sort(np.asarray(latencies_s, dtype=float))
    n = lat.size + int(missed)
    if n == 0:
        return {"latency_p_s": math.nan, "slo_attainment": math.nan, "slo_met": False, "requests": 0}
    k = int(math.ceil(percentile / 100.0 * n - 1e-9))  # rank (1-based) of the percentile
    k = max(k, 1)
    p = float(lat[k - 1]) if k <= lat.size else math.inf
    met = int(np.searchsorted(lat, target_s, side="right"))
    attainment = met / n
    return {
        "latency_p_s": p,
        "slo_attainment": attainment,
        "slo_met": bool(attainment >= percentile / 100.0 - 1e-12),
        "requests": n,
    }


def slo_stats_from_histogram(counts, edges, missed: int, target_s: float, percentile: float = 99.0) -> dict:
    """`slo_stats` for latencies kept as a histogram (``counts[0]`` below ``edges[0]``,
    ``counts[i]`` in ``[edges[i-1], edges[i])``): a bin's requests are taken at its upper edge,
    so both the percentile and attainment err on the late side, consistently.
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=float)
    uppers = np.append(edges, math.inf)[: counts.size]
    served = int(counts.sum())
    n = served + int(missed)
    if n == 0:
        return {"latency_p_s": math.nan, "slo_attainment": math.nan, "slo_met": False, "requests": 0}
    k = max(int(math.ceil(percentile / 100.0 * n - 1e-9)), 1)
    cum = np.cumsum(counts)
    p = float(uppers[int(np.searchsorted(cum, k))]) if k <= served else math.inf
    met = int(counts[uppers <= target_s].sum())
    attainment = met / n
    return {
        "latency_p_s": p,
        "slo_attainment": attainment,
        "slo_met": bool(attainment >= percentile / 100.0 - 1e-12),
        "requests": n,
    }


def reprice_nodes(nodes: pd.DataFrame, prices: dict[str, float | None]) -> pd.DataFrame:
    """The nodes table with ``usd_per_hour`` and ``cost_usd`` from each pool's price (NaN: unknown)."""
    if nodes is None or not len(nodes) or "billed_hours" not in nodes:
        return nodes
    out = nodes.copy()
    rate = out["pool"].map(lambda p: math.nan if prices.get(p) is None else float(prices[p])).astype(float)
    out["usd_per_hour"] = rate
    out["cost_usd"] = out["billed_hours"].astype(float) * rate
    return out


def pool_prices(scenario) -> dict[str, float | None]:
    """USD per node-hour of every pool of a scenario (``None``: unknown), from its catalog."""
    from gpusim.hardware import load_catalog, pool_price

    catalog = load_catalog(scenario.catalog)
    return {p.name: pool_price(p, catalog)[0] for p in scenario.cluster.node_pools}


def finalize_summary(summary: dict, scenario, nodes: pd.DataFrame, service_summary: pd.DataFrame | None = None) -> dict:
    """The run's summary with the figures derived from its tables: cost from each pool's known
    price (unknown stays unknown), node counts (peak, mean, p95), the monthly run-rate and, for
    services, the worst p99 (each already counts timed-out and dropped requests as misses:
    `gpusim.sim.inference.InferenceService.finish`).
    """
    out = dict(summary)
    end_s = float(out.get("sim_end_s") or scenario.duration)
    if nodes is not None and len(nodes) and "billed_hours" in nodes:
        out.update(cost_summary(nodes, out, pool_prices(scenario), end_s))
    elif "cost_usd" in out and not (nodes is not None and len(nodes)):
        out.update(cost_summary(pd.DataFrame(columns=["pool", "billed_hours"]), out, {}, end_s))
    out.update(node_count_stats(nodes, end_s))
    if service_summary is not None and len(service_summary) and "latency_p99_s" in service_summary:
        p99 = service_summary["latency_p99_s"].astype(float)
        out["latency_p99_s"] = float(p99.max()) if p99.notna().any() else math.nan
        out["slo_met"] = bool(service_summary["slo_met"].all())
        out["services_slo_met"] = int(service_summary["slo_met"].sum())
    return out


# --------------------------------------------------------------------------- unschedulable reasons


def pool_allocatable(pool, catalog) -> dict[str, float]:
    """What one empty node of `pool` advertises: cpu (milli), memory (MiB) and its GPU resources
    as the device plugin names them (whole GPUs, time-slice replicas, MIG instances of the static
    layout or, in dynamic mode, the most of each profile, AMD partitions, milli-GPU).
    """
    out: dict[str, float] = {"cpu": float(pool.vcpu), "memory": float(pool.memory)}
    if pool.gpu_model is None or pool.gpus_per_node <= 0:
        return out
    out.update(pool.sharing.allocatable(catalog.gpu(pool.gpu_model), pool.gpus_per_node))
    return out


def unschedulable_reason(request: dict, pod, scenario, catalog) -> str:
    """Why a pod fits no node, in kube-scheduler's words:
    ``0/N nodes are available: k Insufficient nvidia.com/mig-7g.80gb, j node(s) didn't match
    Pod's node affinity/selector.`` `request` holds ``gpu_resource``, ``gpus`` (per pod; milli-GPU
    for the gpu-milli resource is ``gpus x gpu_milli``), ``cpu_milli`` and ``memory_mib``; `pod` is
    the workload's pod template (selector, tolerations). N counts each pool's nodes at the start
    (or its autoscaling max, when larger).
    """
    from gpusim.scenario.checks import unschedulable_reason as fit_error
    from gpusim.scenario.models import tolerated
    from gpusim.sharing import GPU_MILLI_RESOURCE

    counts: dict[str, int] = {}
    total = 0
    for pool in scenario.cluster.node_pools:
        nodes = max(pool.count, pool.autoscaling.max if pool.autoscaling is not None else 0)
        total += nodes
        if not nodes:
            continue
        why: list[str] = []
        sel = getattr(pod, "node_selector", {}) or {}
        if any(pool.labels.get(k) != v for k, v in sel.items()):
            why.append("node(s) didn't match Pod's node affinity/selector")
        bad = [t for t in pool.taints if t.effect in ("NoSchedule", "NoExecute")
               and not tolerated(t, getattr(pod, "tolerations", []))]  # fmt: skip
        if bad and not why:
            t = bad[0]
            why.append(f"node(s) had untolerated taint {{{t.key}: {t.value}}}")
        if not why:
            alloc = pool_allocatable(pool, catalog)
            res = request.get("gpu_resource") or ""
            gpus = int(request.get("gpus") or 0)
            if gpus > 0 and res:
                need = gpus * int(request.get("gpu_milli") or 1000) if res == GPU_MILLI_RESOURCE else gpus
                if alloc.get(res, 0) < need:
                    why.append(f"Insufficient {res}")
                elif "/mig-" in res and gpus > 1:
                    why.append(f"Insufficient {res} (gpusim binds one MIG instance per pod)")
            if alloc["cpu"] < int(request.get("cpu_milli") or 0):
                why.append("Insufficient cpu")
            if alloc["memory"] < int(request.get("memory_mib") or 0):
                why.append("Insufficient memory")
        for w in why:
            counts[w] = counts.get(w, 0) + nodes
    if not counts:
        return f"0/{total} nodes are available: the pod fits no node's free resources as gpusim lays them out."
    return fit_error(total, counts)


def fill_unschedulable_reasons(jobs: pd.DataFrame, scenario) -> pd.DataFrame:
    """The jobs table with ``failure`` set, for unschedulable jobs that have none, to
    `unschedulable_reason` (kube-scheduler's wording); other rows are left as they are.

    The engine records each unschedulable job's reason itself (with `unschedulable_reason`, or the
    gang wording when a gang exceeds what the cluster can ever hold), so for a fresh run this
    changes nothing; it fills results saved by versions whose engine left the reason empty.
    """
    if jobs is None or not len(jobs) or "state" not in jobs or "failure" not in jobs:
        return jobs
    mask = (jobs["state"] == "unschedulable") & (jobs["failure"].fillna("") == "")
    if not mask.any():
        return jobs
    from gpusim.hardware import load_catalog

    catalog = load_catalog(scenario.catalog)
    pods = {w.name: w.pod for w in scenario.workloads if getattr(w, "type", "training") == "training"}
    out = jobs.copy()
    cache: dict[tuple, str] = {}
    for i in out.index[mask]:
        row = out.loc[i]
        key = (row["workload"], row["gpu_resource"], int(row["gpus"]), int(row["gpu_milli"]),
               int(row["cpu_milli"]), int(row["memory_mib"]))  # fmt: skip
        if key not in cache:
            req = {
                "gpu_resource": key[1],
                "gpus": key[2],
                "gpu_milli": key[3],
                "cpu_milli": key[4],
                "memory_mib": key[5],
            }
            cache[key] = unschedulable_reason(req, pods.get(row["workload"]), scenario, catalog)
        out.at[i, "failure"] = cache[key]
    return out


def unschedulable_summary(jobs: pd.DataFrame) -> dict:
    """``jobs_unschedulable.<reason>`` counts (the part after 'nodes are available: '), so the
    summary and sweep tables show why jobs never ran, not only how many.
    """
    if jobs is None or not len(jobs) or "state" not in jobs:
        return {}
    import re

    un = jobs[jobs["state"] == "unschedulable"]
    out: dict[str, int] = {}
    for reason, k in un["failure"].fillna("").value_counts().items():
        tail = str(reason).split("nodes are available: ", 1)[-1].rstrip(".")
        # "3 Insufficient nvidia.com/gpu, 2 node(s) didn't match ..." -> the reasons without node counts
        short = "; ".join(re.sub(r"^\d+ ", "", p.strip()) for p in re.split(r", (?=\d+ )", tail)) or "unknown"
        out[f"jobs_unschedulable.{short}"] = out.get(f"jobs_unschedulable.{short}", 0) + int(k)
    return out
