"""The FGD packing experiment as a scenario file (the full six-policy run is in test_cli)."""

import pandas as pd
import pytest

import gpusim
from gpusim.cli import main
from tests.conftest import SCENARIOS


def small(tmp_path, **exp):
    text = (SCENARIOS / "openb-fgd.yaml").read_text()
    text = text.replace(
        "policies: [Random, DotProd, GpuClustering, GpuPacking, BestFit, FGD]",
        exp.get("policies", "policies: [BestFit, FGD]"),
    )
    text = text.replace("seeds: [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]", "seeds: [42]\n  workers: 1")
    path = tmp_path / "fgd.yaml"
    path.write_text(text)
    return path


def test_fgd_experiment_curves(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small(tmp_path)), "--out", str(out)]) == 0
    df = pd.read_csv(out / "allocation.csv")
    assert sorted(df["policy"].unique()) == ["BestFit", "FGD"]
    assert df["arrived_pct"].min() == 1 and df["arrived_pct"].max() == 130
    at130 = df[df["arrived_pct"] == 130].set_index("policy")["alloc_pct"]
    assert at130["FGD"] > at130["BestFit"] > 85  # FGD packs more than BestFit, as the paper reports
    # the allocation ratio never decreases nor exceeds the arrived workload; the value at k% is
    # the mean over pods whose arrived workload rounds to k% (the artifact's sampling, the
    # scenario's default fidelity), so it can pass k by less than half a point
    for _, g in df.groupby("policy"):
        assert (g["alloc_pct"] < g["arrived_pct"] + 0.5).all()
        assert (g["alloc_pct"].diff().dropna() >= -1e-9).all()
    # the authors' published numbers for seed 42 on the default list (analysis_allo_discrete.csv)
    assert at130["BestFit"] == 93.13 and at130["FGD"] == 95.29


def test_unknown_experiment_policy(tmp_path, capsys):
    path = small(tmp_path, policies="policies: [WorstFit]")
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown policy 'WorstFit'" in capsys.readouterr().err


def test_experiment_unknown_key_is_located(tmp_path, capsys):
    path = small(tmp_path)
    path.write_text(path.read_text().replace("inflation: 1.3", "inflation: 1.3\n  inflate: 2"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "experiment.inflate: unknown field 'inflate'" in err and "inflation" in err


def test_experiment_is_not_a_simulation(tmp_path):
    with pytest.raises(Exception, match="experiment"):
        gpusim.simulate(SCENARIOS / "openb-fgd.yaml")


def test_vendor_comparison_sizes_replicas_and_costs(tmp_path, capsys):
    text = (SCENARIOS / "vendor-comparison.yaml").read_text()
    text = text.replace("node_types: [aws-p5.48xlarge, azure-nd96isr-mi300x-v5, onprem-gaudi3-8x, onprem-xeon6-2s]",
                        "node_types: [aws-p5.48xlarge, onprem-xeon6-2s]").replace("duration: 20m", "duration: 5m")  # fmt: skip
    path = tmp_path / "vc.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    df = pd.read_csv(out / "comparison.csv").set_index("node_type")
    gpu = df.loc["aws-p5.48xlarge"]
    assert gpu["slo_met"] and gpu["replicas_needed"] >= 1 and gpu["usd_per_hour"] == pytest.approx(55.04)
    # $ per million requests follows from the nodes needed, the price and the requests served
    assert gpu["usd_per_million_requests"] == pytest.approx(
        gpu["nodes_needed"] * 55.04 * (5 / 60) / (gpu["throughput_rps"] * 300) * 1e6, rel=1e-6
    )
    assert gpu["usd_per_training_job"] > 0
    cpu = df.loc["onprem-xeon6-2s"]
    assert cpu["p99_latency_s"] > gpu["p99_latency_s"]  # CPU inference is slower, as the source document says
    assert pd.isna(cpu["usd_per_training_job"])  # no accelerator for training


def test_autoscaler_lag_experiment(tmp_path, capsys):
    text = (SCENARIOS / "autoscaler-lag.yaml").read_text().replace("lags: [0s, 1m, 3m, 10m]", "lags: [0s, 10m]")
    text = text.replace("seeds: [1, 2, 3]", "seeds: [1]").replace(
        "scenario: inference-code.yaml", f"scenario: {SCENARIOS / 'inference-code.yaml'}"
    )
    path = tmp_path / "lag.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    df = pd.read_csv(out / "lag_sweep.csv")
    assert list(df["lag_s"]) == [0, 600]
    assert {"slo_attainment", "p99_latency_s", "cost_usd", "dropped"} <= set(df.columns)
    assert (df["cost_usd"] > 0).all()
    assert "SLO and cost against node provisioning lag" in capsys.readouterr().out
