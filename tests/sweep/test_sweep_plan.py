"""Sweep planning: factor paths, combinations, seeds, names, and located errors for bad values."""

import pytest

from gpusim.errors import InputError, ScenarioError
from gpusim.scenario import load_scenario
from gpusim.sweep.api import prepare
from gpusim.sweep.plan import plan_sweep, resolve_path, resolved_dict, run_name
from gpusim.sweep.stats import confidence_intervals, t975
from tests.sweep.tiny import TINY_YAML
from tests.sweep.tiny import tiny_scenario as small_scenario

YAML = TINY_YAML


def test_product_runs_seeds_and_names():
    s = load_scenario(YAML)
    plan = plan_sweep(s)
    assert len(plan.runs) == 2 * 3 * 2
    assert [r.index for r in plan.runs] == list(range(12))
    assert [r.seed for r in plan.runs[:4]] == [10, 11, 10, 11]
    first = plan.runs[0]
    assert first.values == {"scheduler.policy": "first-fit", "cluster.node_pools.0.count": 1}
    assert first.name == "000-policy-first-fit_count-1-seed10"
    assert plan.runs[-1].values == {"scheduler.policy": "best-fit", "cluster.node_pools.0.count": 3}
    # every run's scenario carries its values and no sweep block
    assert plan.runs[-1].scenario["cluster"]["node_pools"][0]["count"] == 3
    assert plan.runs[-1].scenario["scheduler"]["policy"] == "best-fit"
    assert "sweep" not in plan.runs[0].scenario
    assert len({r.name for r in plan.runs}) == 12


def test_zip_mode_and_seed_zero_without_scenario_seed():
    data = small_scenario(seed=None)
    plan = prepare(
        data,
        factors={"scheduler.policy": ["first-fit", "best-fit"], "cluster.node_pools.0.count": [1, 2]},
        mode="zip",
        replications=3,
    )
    assert len(plan.runs) == 2 * 3
    assert [r.seed for r in plan.runs] == [0, 1, 2, 0, 1, 2]
    assert plan.runs[3].values == {"scheduler.policy": "best-fit", "cluster.node_pools.0.count": 2}


def test_zip_needs_equal_lengths():
    with pytest.raises(InputError, match="equally many values"):
        prepare(small_scenario(), factors={"scheduler.policy": ["first-fit"], "duration": ["1h", "2h"]}, mode="zip")


def test_no_factors_is_replications_only():
    plan = prepare(small_scenario(), replications=3)
    assert [r.name for r in plan.runs] == ["000-seed1", "001-seed2", "002-seed3"]


def test_unknown_path_names_path_and_valid_keys():
    data = resolved_dict(load_scenario(small_scenario()))
    with pytest.raises(InputError) as e:
        resolve_path(data, "cluster.node_pool.0.count")
    msg = str(e.value)
    assert "'cluster.node_pool.0.count'" in msg and "'node_pool'" in msg and "valid keys there: node_pools" in msg
    with pytest.raises(InputError, match=r"index 5 is out of range at cluster.node_pools \(it has 1 item"):
        resolve_path(data, "cluster.node_pools.5.count")
    with pytest.raises(InputError, match="valid keys there: name, count, gpu_model"):
        resolve_path(data, "cluster.node_pools.0.cnt")
    with pytest.raises(InputError, match="is a list; name an item by its index"):
        resolve_path(data, "cluster.node_pools.first.count")
    with pytest.raises(InputError, match="has no 'x'"):
        resolve_path(data, "scheduler.policy.x")


def test_path_with_dotted_map_key_and_defaults():
    data = resolved_dict(load_scenario(small_scenario()))
    assert resolve_path(data, "workloads.0.pod.resources.limits.nvidia.com/gpu") == [
        "workloads", 0, "pod", "resources", "limits", "nvidia.com/gpu",
    ]  # fmt: skip
    # a field left to its default is still sweepable
    assert resolve_path(data, "output.warmup") == ["output", "warmup"]


def test_seed_is_not_a_factor():
    with pytest.raises(InputError, match="seeds come from replications"):
        prepare(small_scenario(), factors={"seed": [1, 2]})


def test_unknown_path_in_api_raises_before_running(tmp_path):
    with pytest.raises(InputError, match="unknown key 'polcy'"):
        prepare(small_scenario(), factors={"scheduler.polcy": ["best-fit"]})


def test_bad_value_is_located_in_the_sweep_block(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(YAML.replace("[1, 2, 3]", "[1, -2, 3]"))
    with pytest.raises(ScenarioError) as e:
        prepare(f)
    msg = str(e.value)
    # line 24 column 37 is the -2 in the sweep block
    assert f"{f}:24:37: cluster.node_pools[0].count: Input should be greater than or equal to 0" in msg
    assert "sweep value cluster.node_pools.0.count=-2" in msg


def test_bad_value_from_api_names_factor():
    with pytest.raises(ScenarioError, match=r"scheduler.policy: Input should be .*got 'lifo'.*sweep value"):
        prepare(small_scenario(), factors={"scheduler.policy": ["first-fit", "lifo"]})


def test_bad_sweep_block_is_a_scenario_error(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(YAML.replace("replications: 2", "replications: 0"))
    with pytest.raises(ScenarioError, match="sweep.replications"):
        load_scenario(f)


def test_run_name_slug():
    assert (
        run_name(7, {"cluster.node_pools.0.gpu_model": "nvidia-h100-80gb"}, 3) == "007-gpu-model-nvidia-h100-80gb-seed3"
    )
    assert run_name(12, {"duration": 7200.0}, 0, width=4) == "0012-duration-7200-seed0"
    long = run_name(0, {"a.b": "x" * 100}, 1)
    assert len(long) < 70 and long.endswith("-seed1")


def test_t_quantiles():
    assert t975(1) == pytest.approx(12.7062, abs=1e-4)
    assert t975(9) == pytest.approx(2.2622, abs=1e-4)
    assert t975(60) == pytest.approx(2.0003, abs=1e-4)
    assert t975(1000) == pytest.approx(1.9623, abs=1e-4)


def test_confidence_interval_values():
    import pandas as pd

    table = pd.DataFrame(
        {"combination": [0, 0, 0, 1], "f": ["a", "a", "a", "b"], "status": ["ok"] * 4, "m": [1.0, 2.0, 3.0, 5.0]}
    )
    ci = confidence_intervals(table, ["f"], ["m"])
    a = ci[ci["combination"] == 0].iloc[0]
    assert a["n"] == 3 and a["mean"] == 2.0 and a["std"] == 1.0
    assert a["ci95_half_width"] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    b = ci[ci["combination"] == 1].iloc[0]
    assert b["n"] == 1 and pd.isna(b["ci95_half_width"])
