"""The sizing experiment on a tiny case: the smallest fixed cluster per candidate meets the SLO
in every seed, one replica fewer does not, and the cost columns follow from the catalog price."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from gpusim.errors import InputError
from gpusim.scenario import load_scenario

TINY = {
    "name": "tiny-sizing",
    "experiment": {
        "kind": "sizing",
        "duration": "10m",
        "seeds": [1, 2],
        "max_nodes": 8,
        "candidates": [
            {"node_type": "openb-a10-1x"},
            {"node_type": "small-l4-2x"},
            {
                "node_type": "aws-p4de.24xlarge",
                "name": "p4de-mig-3g",
                "resource": "nvidia.com/mig-3g.40gb",
                "sharing": {"mig": {"strategy": "mixed", "config": "all-3g.40gb"}},
            },
        ],  # fmt: skip
        "services": [
            {
                "name": "api",
                "model": {"service_time": {"distribution": "exponential", "mean": "1s"}, "reference_gpu": "nvidia-a10"},
                "arrivals": {"process": {"process": "poisson", "rate": 3}},
                "slo": {"latency": "5s", "percentile": 99},
                "cold_start": {"image_pull": "0s", "model_load": "0s"},
            }
        ],
    },
    "catalog": {
        "node_types": [
            {"id": "small-l4-2x", "gpu_model": "nvidia-l4", "gpus": 2, "vcpu": 16, "memory_gib": 64},
            {"id": "openb-a10-1x", "on_demand_usd_per_hour": 2.0},  # a negotiated price for a shipped node type
        ]
    },
}


@pytest.fixture(scope="module")
def sized(tmp_path_factory):
    from gpusim.experiments.sizing import run_sizing

    out = tmp_path_factory.mktemp("sizing") / "out"
    res = run_sizing(load_scenario(TINY), out)
    return res, out


def test_outputs_written(sized):
    _, out = sized
    assert {"sizing.csv", "probes.csv", "sizing.png", "summary.json"} <= {p.name for p in out.iterdir()}
    df = pd.read_csv(out / "sizing.csv")
    assert len(df) == 3


def test_smallest_cluster_is_minimal_and_meets_every_seed(sized):
    res, _ = sized
    df, probes = res["frame"], res["probes"]
    fits = df[df["fits"]]
    assert len(fits) >= 2
    for r in fits.itertuples():
        mine = probes[(probes["candidate"] == r.candidate)]
        at = mine[mine["replicas"] == r.replicas]
        assert set(at["seed"]) == {1, 2} and at["slo_met"].all()  # every seed meets the SLO
        fewer = mine[mine["replicas"] == r.replicas - 1]
        assert len(fewer) and not fewer["slo_met"].all()  # one replica fewer fails some seed
        assert r.p99_latency_s <= 5.0 + 1e-9 and r.slo_margin_s == pytest.approx(5.0 - r.p99_latency_s)


def test_costs_follow_from_catalog_prices(sized):
    from gpusim.hardware import load_catalog

    res, _ = sized
    cat = load_catalog(TINY["catalog"])
    df = res["frame"].set_index("candidate")
    a10 = df.loc["openb-a10-1x"]
    assert a10["nodes"] == a10["replicas"] and a10["gpus"] == a10["nodes"]  # one GPU per node, one per replica
    price = cat.node_type("openb-a10-1x").on_demand_usd_per_hour
    assert price == 2.0  # the experiment file's catalog block, not the shipped 1.00
    assert a10["usd_per_month"] == pytest.approx(a10["nodes"] * price * 730)
    mig = df.loc["p4de-mig-3g"]
    assert mig["nodes"] == math.ceil(mig["replicas"] / 16)  # 8 GPUs x 2 3g.40gb instances
    assert mig["usd_per_hour"] == pytest.approx(mig["nodes"] * 27.44705)
    fits = res["frame"][res["frame"]["fits"]]
    assert list(fits["usd_per_month"]) == sorted(fits["usd_per_month"])  # sorted by cost


def test_candidate_without_price_is_an_error_unless_unknown(tmp_path):
    from gpusim.experiments.sizing import run_sizing

    d = {**TINY, "catalog": {"node_types": [{"id": "mystery", "gpu_model": "nvidia-l4", "gpus": 1, "vcpu": 16,
                                             "memory_gib": 128, "price_unknown": True}]}}  # fmt: skip
    exp = dict(d["experiment"], candidates=[{"node_type": "mystery"}], seeds=[1], max_nodes=1)
    with pytest.raises(InputError, match="no price"):
        run_sizing(load_scenario({**d, "experiment": exp}), tmp_path / "a")
    exp["candidates"] = [{"node_type": "mystery", "price_unknown": True}]
    res = run_sizing(load_scenario({**d, "experiment": exp}), tmp_path / "b")
    row = res["frame"].iloc[0]
    assert math.isnan(row["usd_per_hour"]) or not row["fits"]


def test_bad_catalog_block_in_an_experiment_file_is_located(tmp_path, capsys):
    from gpusim.cli import main

    f = tmp_path / "bad.yaml"
    f.write_text(
        "name: bad-exp\n"
        "experiment:\n"
        "  kind: sizing\n"
        "  candidates: [{node_type: openb-a10-1x}]\n"
        "  services: [{name: a, model: {service_time: 1s}, arrivals: {process: {process: poisson, rate: 1}},"
        " slo: {latency: 5s}}]\n"
        "catalog:\n"
        "  node_types: [{id: x, gpu_model: no-such-gpu, gpus: 1, vcpu: 8, memory_gib: 32}]\n"
    )
    assert main(["run", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{f}:7:3" in err and "no-such-gpu" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_validate_finds_what_a_sizing_run_would_reject(tmp_path, capsys):
    """`gpusim validate` checks the services and candidates of a sizing file before any run."""
    from pathlib import Path

    from gpusim.cli import main

    text = (Path(__file__).resolve().parents[1] / "scenarios" / "sizing-70b-chat.yaml").read_text()
    assert "percentile: 99" in text and "batch_slowdown: 0.03" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace("percentile: 99", "percentile: 200").replace("batch_slowdown: 0.03", "batch_slowdown: -1")
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "experiment.services[0].slo.percentile" in err and "less than 100" in err
    assert "experiment.services[0].batch_slowdown" in err
    assert err.count("percentile") == 1  # one problem, not one per candidate


LLM = {
    "name": "tiny-llm-sizing",
    "experiment": {
        "kind": "sizing",
        "duration": "5m",
        "seeds": [1, 2],
        "max_nodes": 4,
        "candidates": [
            {"node_type": "aws-p5.48xlarge", "name": "p5-h100/tp1"},
            {"node_type": "azure-nd96isr-mi300x-v5", "name": "nd-mi300x/tp1"},
        ],
        "services": [
            {
                "name": "chat-8b",
                "model": {"id": "llama-3-8b", "precision": "fp8"},
                "engine": {"max_num_seqs": 16},
                "arrivals": {
                    "trace": {
                        "format": "azure-llm",
                        "path": "shipped:azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
                        "rate_scale": 4,
                    }
                },
                "routing": "round-robin",
                "timeout": "60s",
                "slo": {"ttft": "1s", "tpot": "50ms", "percentile": 99},
                "cold_start": {"image_pull": "0s", "model_load": "0s"},
            }
        ],
    },
}


def test_llm_service_sized_on_its_ttft_and_tpot_limits(tmp_path, capsys):
    """An LLM service (`model: {id}`) with TTFT/TPOT limits is sized like any other: the smallest
    replica count meets both limits in every seed, one fewer fails; sizing.csv reports each limit's
    worst p99 and margin, and the end-to-end latency columns stay empty (no `e2e` limit given)."""
    import argparse

    from gpusim.experiments.sizing import render_sizing

    out = tmp_path / "out"
    render_sizing(
        __import__("rich").console.Console(width=200), load_scenario(LLM), argparse.Namespace(quiet=False), out
    )
    df = pd.read_csv(out / "sizing.csv")
    probes = pd.read_csv(out / "probes.csv")
    assert df["fits"].all() and len(df) == 2
    for r in df.itertuples():
        mine = probes[probes["candidate"] == r.candidate]
        assert mine[mine["replicas"] == r.replicas]["slo_met"].all()
        assert not mine[mine["replicas"] == r.replicas - 1]["slo_met"].all()
        assert (r.slo_ttft_s, r.slo_tpot_s) == (1.0, 0.05)
        assert r.ttft_margin_s == pytest.approx(1.0 - r.p99_ttft_s)
        assert r.tpot_margin_s == pytest.approx(0.05 - r.p99_tpot_s)
        worst = mine[mine["replicas"] == r.replicas]
        assert r.p99_ttft_s == pytest.approx(worst["p99_ttft_s"].max())
        assert math.isnan(r.slo_latency_s) and math.isnan(r.slo_margin_s) and r.p99_latency_s > 0
    printed = capsys.readouterr().out
    assert "TTFT p99 s" in printed and "TPOT p99 s" in printed


def test_slo_limits_read_every_form():
    from gpusim.experiments.sizing import slo_limits

    assert slo_limits({"slo": {"latency": "5s", "percentile": 99}}) == {"latency": 5.0}
    assert slo_limits({"slo": {"ttft": "2s", "tpot": "200ms", "e2e": "30s"}}) == {
        "latency": 30.0, "ttft": 2.0, "tpot": 0.2,
    }  # fmt: skip
    assert slo_limits({}) == {}
