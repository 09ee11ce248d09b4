"""End to end through the command line, as a user runs it."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from gpusim.cli import main
from tests.conftest import ROOT, SCENARIOS

ALL_SCENARIOS = sorted(SCENARIOS.glob("*.yaml"))
BENCHMARK_SCENARIOS = {"openai-7500.yaml"}  # minutes, not seconds: run by benchmarks/bench_control_plane.py
MULTICLUSTER_SCENARIOS = {"ikea-hybrid.yaml"}  # several clusters: tests/test_multicluster_engine.py runs them
RUNNABLE_SCENARIOS = [p for p in ALL_SCENARIOS if p.name not in BENCHMARK_SCENARIOS | MULTICLUSTER_SCENARIOS]


def skip_if_trace_missing(path):
    """Scenarios that replay traces not shipped with gpusim run where ../shared/traces exists."""
    import gpusim

    if path.name in MULTICLUSTER_SCENARIOS:
        return
    try:
        gpusim.load_scenario(path)
    except gpusim.ScenarioError as e:
        if "does not exist" in str(e):
            pytest.skip(f"{path.name}: trace file not present ({e})")
        raise


@pytest.mark.parametrize("path", RUNNABLE_SCENARIOS, ids=lambda p: p.name)
def test_every_scenario_runs(path, tmp_path, capsys):
    skip_if_trace_missing(path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "results:" in printed
    doc = json.loads((out / "summary.json").read_text())
    if doc["scenario"].get("experiment", {}).get("kind") == "autoscaler-lag":
        table = pd.read_csv(out / "lag_sweep.csv")
        assert {"lag_s", "slo_attainment", "p99_latency_s", "cost_usd", "dropped"} <= set(table.columns)
        assert (out / "lag_sweep.png").stat().st_size > 1000
        return
    if doc["scenario"].get("experiment", {}).get("kind") == "vendor-comparison":
        table = pd.read_csv(out / "comparison.csv")
        assert len(table) == len(doc["scenario"]["experiment"]["node_types"])
        assert (out / "comparison.png").stat().st_size > 1000
        return
    if doc["scenario"].get("experiment", {}).get("kind") == "sizing":
        table = pd.read_csv(out / "sizing.csv")
        assert len(table) == len(doc["scenario"]["experiment"]["candidates"])
        assert table["fits"].any() and (table.loc[table["fits"], "usd_per_month"] > 0).all()
        assert (out / "sizing.png").stat().st_size > 1000
        return
    if "experiment" in doc["scenario"]:
        table = pd.read_csv(out / "allocation.csv")
        assert list(table.columns) == ["workload", "policy", "seed", "arrived_pct", "alloc_pct"]
        assert (out / "allocation.png").stat().st_size > 1000
        return
    assert {"summary", "seed", "gpusim_version", "scenario", "run"} <= set(doc)
    jobs = pd.read_parquet(out / "jobs.parquet")
    assert doc["summary"]["jobs_arrived"] == len(jobs)
    assert (out / "utilisation.png").stat().st_size > 1000
    if len(jobs):  # inference-only runs have no jobs, hence no (empty) queueing-delay CDF
        assert (out / "queueing_delay_cdf.png").stat().st_size > 1000
    else:
        assert not (out / "queueing_delay_cdf.png").exists() and (out / "services.png").stat().st_size > 1000
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_quickstart_default_results_folder(tmp_path):
    """`gpusim run` with no --out writes results/<name>/<run id>/ under the current directory."""
    proc = subprocess.run(
        [sys.executable, "-m", "gpusim.cli", "run", str(SCENARIOS / "quickstart.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert proc.returncode == 0, proc.stderr
    runs = list((tmp_path / "results" / "quickstart").iterdir())
    assert len(runs) == 1 and runs[0].name.endswith("-seed42")
    assert "GPU utilisation" in proc.stdout and "Traceback" not in proc.stderr


def test_validate_all_scenarios(capsys):
    for path in ALL_SCENARIOS:
        skip_if_trace_missing(path)
    assert main(["validate", *map(str, ALL_SCENARIOS)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(ALL_SCENARIOS)


def test_schema_is_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    props = schema["properties"]
    assert {"name", "seed", "duration", "cluster", "workloads", "scheduler"} <= set(props)
    assert schema["additionalProperties"] is False
    assert "nodeSelector" in json.dumps(schema)  # Kubernetes spelling for pasted pod specs
    # every field is described (units live in the descriptions)
    for name, definition in schema["$defs"].items():
        for field, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"


def test_rerun_to_same_out_replaces_atomically(tmp_path, capsys):
    out = tmp_path / "o"
    for seed in ("1", "2"):
        assert main(["run", str(SCENARIOS / "quickstart.yaml"), "--seed", seed, "--out", str(out), "--no-plots"]) == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]"' in readme and "gpusim run scenarios/quickstart.yaml" in readme
    assert "python -m pytest -q" in readme and "python -m pytest -q" in ci
    assert 'pip install -e ".[dev]"' in ci
