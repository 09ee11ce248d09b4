"""Running sweeps: folders, tidy tables, resume, failures, executors (processes, Dask), CLI."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import gpusim
from gpusim.cli import main
from gpusim.sweep.runner import WALL_CLOCK_COLUMNS
from tests.sweep.tiny import TINY_YAML, tiny_scenario

FACTORS = {"scheduler.policy": ["first-fit", "best-fit"], "cluster.node_pools.0.count": [1, 2]}


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "sweep.log").read_text().splitlines()]


def _deterministic(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=list(WALL_CLOCK_COLUMNS)).reset_index(drop=True)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local"
    table = gpusim.sweep(tiny_scenario(), factors=FACTORS, replications=2, out=out)
    return out, table


def test_tidy_table_and_files(local_sweep):
    out, table = local_sweep
    assert len(table) == 8
    assert (table["status"] == "ok").all()
    for col in (
        "index",
        "run",
        "combination",
        "replication",
        "scheduler.policy",
        "cluster.node_pools.0.count",
        "seed",
        "status",
        "error",
        "jobs_arrived",
        "queueing_delay_mean_s",
        "gpu_utilisation",
        "wall_s",
    ):
        assert col in table.columns, col
    assert list(table["seed"]) == [1, 2] * 4
    assert table["cluster.node_pools.0.count"].tolist() == [1, 1, 2, 2, 1, 1, 2, 2]
    for name in ("sweep.csv", "sweep.parquet", "sweep_ci.csv", "sweep.json", "sweep.log"):
        assert (out / name).is_file(), name
    for run in table["run"]:
        assert (out / "runs" / run / "summary.json").is_file()
        assert (out / "runs" / run / "jobs.parquet").is_file()
    # the run's saved scenario holds its factor values and loads back
    r = gpusim.load_result(out / "runs" / table["run"].iloc[-1])
    assert r.scenario.scheduler.policy == "best-fit" and r.scenario.cluster.node_pools[0].count == 2
    assert r.seed == 2
    # files agree with the returned table
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), table, check_dtype=False)
    assert len(pd.read_csv(out / "sweep.csv")) == 8
    ci = pd.read_csv(out / "sweep_ci.csv")
    assert set(ci["combination"]) == {0, 1, 2, 3}
    row = ci[(ci["combination"] == 0) & (ci["metric"] == "gpu_utilisation")].iloc[0]
    vals = table[table["combination"] == 0]["gpu_utilisation"]
    assert row["n"] == 2 and row["mean"] == pytest.approx(vals.mean())
    assert row["ci95_low"] <= row["mean"] <= row["ci95_high"]
    assert table.attrs["skipped"] == [] and len(table.attrs["executed"]) == 8


def test_same_run_as_simulate(local_sweep):
    out, table = local_sweep
    scenario = tiny_scenario()
    scenario["cluster"]["node_pools"][0]["count"] = 2
    scenario["scheduler"] = {"policy": "first-fit"}
    direct = gpusim.simulate(scenario, seed=2)
    row = table[(table["combination"] == 1) & (table["seed"] == 2)].iloc[0]
    for k, v in direct.summary.items():
        assert row[k] == pytest.approx(v, nan_ok=True), k


def test_resume_runs_only_what_is_missing(local_sweep, tmp_path):
    import shutil

    src, _ = local_sweep
    out = tmp_path / "resumed"
    shutil.copytree(src, out)
    runs = sorted((out / "runs").iterdir())
    victim = runs[5].name
    shutil.rmtree(runs[5])
    csv = pd.read_csv(out / "sweep.csv")
    csv[csv["run"] != victim].to_csv(out / "sweep.csv", index=False)
    before = {p.name: (p / "summary.json").stat().st_mtime_ns for p in runs if p.name != victim}
    log_lines = len(_log(out))

    table = gpusim.sweep(tiny_scenario(), factors=FACTORS, replications=2, out=out)

    assert table.attrs["executed"] == [victim]
    assert len(table.attrs["skipped"]) == 7
    new_log = _log(out)[log_lines:]
    assert [e["run"] for e in new_log] == [victim]
    after = {p: (out / "runs" / p / "summary.json").stat().st_mtime_ns for p in before}
    assert after == before
    assert len(table) == 8 and (table["status"] == "ok").all()
    assert len(pd.read_csv(out / "sweep.csv")) == 8
    _, original = local_sweep
    pd.testing.assert_frame_equal(_deterministic(table), _deterministic(original))


def test_changed_plan_reruns_stale_folder(local_sweep, tmp_path):
    import shutil

    src, _ = local_sweep
    out = tmp_path / "changed"
    shutil.copytree(src, out)
    # same factors, longer duration: every folder name is the same but the scenario differs
    table = gpusim.sweep(tiny_scenario(duration="1h"), factors=FACTORS, replications=2, out=out)
    assert len(table.attrs["executed"]) == 8


def test_failed_run_is_recorded_and_does_not_stop_others(tmp_path, monkeypatch):
    import gpusim.sim.engine as engine

    real = engine.simulate

    def flaky(scenario, seed=None, **kw):
        if seed == 2:
            raise RuntimeError("boom on seed 2")
        return real(scenario, seed=seed, **kw)

    monkeypatch.setattr(engine, "simulate", flaky)
    out = tmp_path / "failing"
    table = gpusim.sweep(tiny_scenario(), factors={"scheduler.policy": ["first-fit"]}, replications=3, out=out)
    assert table["status"].tolist() == ["ok", "failed", "ok"]
    failed = table.iloc[1]
    assert failed["error"] == "RuntimeError: boom on seed 2"
    err = json.loads((out / "runs" / failed["run"] / "error.json").read_text())
    assert err["error"] == "RuntimeError: boom on seed 2" and "Traceback" in err["traceback"] and err["seed"] == 2
    assert not (out / "runs" / failed["run"] / "summary.json").exists()
    assert pd.read_csv(out / "sweep.csv")["status"].tolist() == ["ok", "failed", "ok"]
    ci = pd.read_csv(out / "sweep_ci.csv")
    assert (ci["n"] == 2).all()  # the failed run is left out of the intervals

    # a later invocation retries only the failed run
    monkeypatch.setattr(engine, "simulate", real)
    again = gpusim.sweep(tiny_scenario(), factors={"scheduler.policy": ["first-fit"]}, replications=3, out=out)
    assert again.attrs["executed"] == [failed["run"]]
    assert (again["status"] == "ok").all()
    assert not (out / "runs" / failed["run"] / "error.json").exists()


def test_process_pool_equals_in_process(local_sweep, tmp_path):
    _, original = local_sweep
    table = gpusim.sweep(tiny_scenario(), factors=FACTORS, replications=2, out=tmp_path / "pool", workers=2)
    pd.testing.assert_frame_equal(_deterministic(table), _deterministic(original))


def test_dask_cluster_equals_local(local_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, original = local_sweep
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp", dashboard_address=None
    ) as cluster:
        by_address = gpusim.sweep(
            tiny_scenario(), factors=FACTORS, replications=2, out=tmp_path / "dask", dask=cluster.scheduler_address
        )
        with distributed.Client(cluster) as client:
            by_client = gpusim.sweep(
                tiny_scenario(), factors=FACTORS, replications=2, out=tmp_path / "dask2", dask=client
            )
        f = tmp_path / "s.yaml"
        f.write_text(TINY_YAML.replace("[1, 2, 3]", "[1, 2]").replace("replications: 2", "replications: 1"))
        cli_out = tmp_path / "dask-cli"
        assert main(["sweep", str(f), "--out", str(cli_out), "--dask", cluster.scheduler_address, "--quiet"]) == 0
        assert (pd.read_parquet(cli_out / "sweep.parquet")["status"] == "ok").all()
    pd.testing.assert_frame_equal(_deterministic(by_address), _deterministic(original))
    pd.testing.assert_frame_equal(_deterministic(by_client), _deterministic(original))
    assert len(by_address.attrs["executed"]) == 8


def test_cli_sweep(tmp_path, capsys, monkeypatch):
    f = tmp_path / "s.yaml"
    f.write_text(TINY_YAML.replace("[1, 2, 3]", "[1, 2]").replace("replications: 2", "replications: 1"))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(f), "--workers", "1"]) == 0
    out = tmp_path / "results" / "planned" / "sweep"  # the default folder
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 4 and (table["status"] == "ok").all()
    text = capsys.readouterr().out
    assert "4 runs" in text and "4 ok, 0 failed" in text
    assert main(["sweep", str(f), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(Path("results/planned/sweep"))
    assert len(_log(out)) == 4  # second invocation ran nothing


def test_cli_sweep_errors(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(TINY_YAML.replace("node_pools.0.count", "node_pools.0.cnt"))
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'cnt' at cluster.node_pools.0; valid keys there: name, count" in err
    assert "Traceback" not in err
    plain = tmp_path / "plain.yaml"
    plain.write_text(TINY_YAML.split("sweep:")[0])
    assert main(["sweep", str(plain), "--out", str(tmp_path / "o")]) == 2
    assert "no sweep to run" in capsys.readouterr().err
    assert main(["sweep", str(f), "--workers", "0"]) == 2


def test_sweep_is_callable_module():
    import gpusim.sweep as mod

    assert callable(gpusim.sweep) and gpusim.sweep is mod
    assert os.path.basename(mod.__file__) == "__init__.py"
