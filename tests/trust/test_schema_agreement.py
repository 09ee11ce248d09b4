"""`gpusim schema` agrees with the loader: every shipped file validates, every accepted form is documented."""

import json

import jsonschema
import pytest
import yaml

import gpusim
from gpusim.cli import main
from tests.conftest import SCENARIOS, small_scenario

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    from gpusim.scenario.loader import scenario_json_schema

    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_cli_prints_the_same_schema(capsys, validator):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == validator.schema


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_validates_against_the_schema(path, validator):
    data = yaml.safe_load(path.read_text())
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(data)]
    assert errors == []


def _accepts(validator, data) -> bool:
    return not list(validator.iter_errors(data))


def test_loader_shorthands_are_in_the_schema(validator):
    s = small_scenario()
    s["cluster"]["node_pools"][0]["taints"] = ["nvidia.com/gpu=present:NoSchedule", "a:NoExecute"]
    s["workloads"][0]["pod"]["tolerations"] = [{"operator": "Exists"}]
    s["workloads"][0]["generator"]["duration"] = "30m"  # bare duration = constant
    s["workloads"][0]["generator"]["gpus"] = [1, 2]  # list = uniform choice
    s["workloads"][0]["generator"]["pods"] = 2  # integer = constant
    s["catalog"] = {"gpu_models": [{"id": "my-a100", "proxy": "nvidia-a100-80gb"}]}
    gpusim.load_scenario(s)  # the loader takes it ...
    assert _accepts(validator, s)  # ... and so does the schema


def test_schema_rejects_what_the_loader_rejects(validator):
    for change in (
        lambda s: s.update(colour="red"),
        lambda s: s["cluster"]["node_pools"][0].update(count=100_001),
        lambda s: s.update(name="x" * 64),
        lambda s: s["cluster"]["node_pools"][0].update(taints=["no-effect"]),
        lambda s: s["workloads"][0]["generator"].update(duration={"distribution": "gaussian", "mean": 1}),
    ):
        s = small_scenario()
        change(s)
        with pytest.raises(gpusim.ScenarioError):
            gpusim.load_scenario(s)
        assert not _accepts(validator, s)


def test_limits_are_stated_in_the_schema(validator):
    defs = validator.schema["$defs"]
    assert defs["NodePool"]["properties"]["count"]["maximum"] == 100_000
    assert defs["NodePool"]["properties"]["gpus_per_node"]["maximum"] == 64
    assert defs["Scenario"]["properties"]["name"]["maxLength"] == 63
    jobs = json.dumps(defs["TrainingWorkload"]["properties"]["jobs"])
    assert '"maxItems": 20000' in jobs
    assert "2 MiB" in validator.schema["description"]
