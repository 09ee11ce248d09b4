"""Same scenario + same seed -> identical outputs; no seed -> the drawn seed is recorded."""

import json

import numpy as np
import pandas as pd

import gpusim
from gpusim.cli import main
from gpusim.sim.random import RandomStreams
from tests.conftest import SCENARIOS


def _outputs(d):
    doc = json.loads((d / "summary.json").read_text())
    doc.pop("run")  # wall-clock facts
    return doc, pd.read_parquet(d / "jobs.parquet"), pd.read_parquet(d / "timeseries.parquet")


def test_same_seed_same_files(tmp_path, capsys):
    for name in ("a", "b"):
        assert (
            main(
                ["run", str(SCENARIOS / "quickstart.yaml"), "--seed", "5", "--out", str(tmp_path / name), "--no-plots"]
            )
            == 0
        )
    a, b = _outputs(tmp_path / "a"), _outputs(tmp_path / "b")
    assert a[0] == b[0]
    pd.testing.assert_frame_equal(a[1], b[1])
    pd.testing.assert_frame_equal(a[2], b[2])


def test_different_seed_differs():
    s = gpusim.load_scenario(SCENARIOS / "quickstart.yaml")
    assert not gpusim.simulate(s, seed=1).jobs.equals(gpusim.simulate(s, seed=2).jobs)


def test_drawn_seed_is_recorded_and_replays(tmp_path):
    data = gpusim.load_scenario(SCENARIOS / "quickstart.yaml").model_dump(mode="json", by_alias=True)
    data["seed"] = None
    r1 = gpusim.simulate(data)
    assert isinstance(r1.seed, int)
    r2 = gpusim.simulate(data, seed=r1.seed)
    pd.testing.assert_frame_equal(r1.jobs, r2.jobs)
    path = r1.save(tmp_path / "r")
    assert json.loads((path / "summary.json").read_text())["seed"] == r1.seed


def test_streams_are_keyed_by_name_not_order():
    a = RandomStreams(9)
    x = a.stream("workload/a/arrivals").random(5)
    b = RandomStreams(9)
    b.stream("something/new")  # a new source created first must not shift the others
    y = b.stream("workload/a/arrivals").random(5)
    assert np.array_equal(x, y)
    assert not np.array_equal(x, b.stream("workload/b/arrivals").random(5))


def test_resolved_scenario_in_summary_reloads(tmp_path):
    r = gpusim.simulate(SCENARIOS / "quickstart.yaml")
    d = r.save(tmp_path / "r", plots=False)
    again = gpusim.load_result(d)
    assert again.scenario == r.scenario
    r2 = gpusim.simulate(again.scenario, seed=again.seed)
    pd.testing.assert_frame_equal(r.jobs, r2.jobs)
