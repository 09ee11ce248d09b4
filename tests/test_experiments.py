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
    # the allocation ratio never exceeds the arrived workload nor decreases
    for _, g in df.groupby("policy"):
        assert (g["alloc_pct"] <= g["arrived_pct"] + 1e-9).all()
        assert (g["alloc_pct"].diff().dropna() >= -1e-9).all()


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
