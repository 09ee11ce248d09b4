"""Inference runs in every result surface: compare, sweep overview with CIs, OpenMetrics export."""

from __future__ import annotations

import math
import re

import pytest

import gpusim
from gpusim.report.compare import comparison_table, render_table
from gpusim.report.export import to_openmetrics
from gpusim.sweep.stats import overview_metrics, overview_rows


def _service_scenario(replicas=2, price=None, name="svc-run"):
    pool = {"name": "gpu", "count": 1, "gpu_model": "nvidia-a10", "gpus_per_node": 4, "vcpu": 64, "memory": "256Gi"}
    if price is not None:
        pool.update(price)
    return {
        "name": name, "seed": 3, "duration": "10m",
        "cluster": {"node_pools": [pool]},
        "workloads": [{
            "type": "inference", "name": "api",
            "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "4", "memory": "16Gi"}}},
            "model": {"service_time": {"distribution": "exponential", "mean": "1s"}, "reference_gpu": "nvidia-a10"},
            "arrivals": {"process": {"process": "poisson", "rate": 1.5}},
            "replicas": replicas, "slo": {"latency": "5s"},
            "cold_start": {"image_pull": "0s", "model_load": "0s"},
        }],
    }  # fmt: skip


@pytest.fixture(scope="module")
def runs():
    a = gpusim.simulate(_service_scenario(2), seed=3)
    b = gpusim.simulate(_service_scenario(3, {"price_unknown": True, "node_type": None}), seed=3)
    return a, b


def test_compare_shows_request_rows_not_empty_job_rows(runs):
    a, b = runs
    t = comparison_table([a, b], ["two", "three"])
    assert {"requests_served", "latency_p99_s", "slo_attainment", "monthly_run_rate_usd"} <= set(t.index)
    assert not {"queueing_delay_mean_s", "jct_mean_s"} & set(t.index)  # no jobs: no delay rows
    assert t.loc["requests_served", "two"] == a.summary["requests_served"] > 0
    assert math.isnan(t.loc["cost_usd", "three"])  # unknown price stays unknown
    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    Console(file=buf, width=80).print(render_table(t))
    text = buf.getvalue()
    assert "unknown" in text and max(len(line) for line in text.splitlines()) <= 80


def test_comparison_plot_labels_unknown_instead_of_zero_bar(runs):
    from gpusim.report.plots import plot_comparison

    a, b = runs
    fig = plot_comparison([a, b], labels=["two", "three"])
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "unknown" in texts  # the cost of the unknown-price run
    cost_ax = next(ax for ax in fig.axes if "per million" in ax.get_xlabel())
    assert len(cost_ax.patches) == 1  # one bar (the known run), no zero-height bar for the other


def _families(text):
    fam = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+) (\S+)$", line)
        assert m, line
        fam.setdefault(m.group(1), {}).setdefault(m.group(2), []).append((float(m.group(4)), float(m.group(3))))
    return fam


def test_export_has_replicas_rates_latency_and_attainment(runs):
    a, _ = runs
    text = to_openmetrics(a, interval_s=0)
    assert text.endswith("# EOF\n")
    fam = _families(text)
    for name in ("kube_deployment_status_replicas", "kube_deployment_spec_replicas", "gpusim_request_rate",
                 "gpusim_request_latency_seconds", "gpusim_slo_attainment_ratio"):  # fmt: skip
        assert name in fam, name
    sv = a.services[a.services["service"] == "api"]
    ready = fam["kube_deployment_status_replicas_ready"]
    ((labels, series),) = ready.items()
    assert 'deployment="api"' in labels and [v for _, v in series] == sv["ready_replicas"].tolist()
    arrived = next(s for k, s in fam["gpusim_request_rate"].items() if 'outcome="arrived"' in k)
    # rates x interval widths give back the arrivals counted in services.parquet
    widths = sv["time_s"].diff().fillna(sv["time_s"].iloc[0]).to_numpy()
    assert sum(v * w for (_, v), w in zip(arrived, widths, strict=True)) == pytest.approx(sv["arrived"].sum())
    p99 = next(s for k, s in fam["gpusim_request_latency_seconds"].items() if 'quantile="0.99"' in k)
    assert [v for _, v in p99] == pytest.approx(sv["latency_p99_s"].tolist(), nan_ok=True)
    (att,) = fam["gpusim_slo_attainment_ratio"].values()
    assert att[0][1] == pytest.approx(a.service_summary["slo_attainment"].iloc[0])


def test_sweep_overview_uses_inference_metrics_with_ci():
    import pandas as pd

    rows = []
    for comb, reps in ((0, 2), (1, 3)):
        for seed in (0, 1):
            r = gpusim.simulate(_service_scenario(reps), seed=seed)
            rows.append({"combination": comb, "replicas": reps, "seed": seed, "status": "ok", **r.summary})
    table = pd.DataFrame(rows)
    keys = [m[0] for m in overview_metrics(table)]
    assert keys[:2] == ["slo_attainment", "latency_p99_s"] and "queueing_delay_mean_s" not in keys
    heads, cells = overview_rows(table, ["replicas"])
    assert heads[0] == "replicas" and len(cells) == 2
    att = table.groupby("combination")["slo_attainment"].mean() * 100
    assert cells[0][1].startswith(f"{att[0]:.2f} ± ")  # mean ± half-width over 2 seeds


def test_sweep_overview_shows_ttft_tpot_only_for_llm_runs():
    import pandas as pd

    base = {"status": "ok", "requests": 100, "slo_attainment": 0.99, "latency_p99_s": 3.0, "jobs_arrived": 0}
    plain = pd.DataFrame([{"combination": 0, "seed": s, **base} for s in (0, 1)])
    assert "ttft_p99_s" not in [m[0] for m in overview_metrics(plain)]
    llm = pd.DataFrame([{"combination": 0, "seed": s, **base, "ttft_p99_s": t, "tpot_p99_s": 0.05}
                        for s, t in ((0, 0.4), (1, 0.6))])  # fmt: skip
    heads, cells = overview_rows(llm, [])
    assert "TTFT p99 (ms)" in heads and "TPOT p99 (ms)" in heads
    assert cells[0][heads.index("TTFT p99 (ms)")].startswith("500 ± ")  # mean of 400 and 600 ms
    assert cells[0][heads.index("TPOT p99 (ms)")].startswith("50")
