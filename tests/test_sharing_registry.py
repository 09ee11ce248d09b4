"""Sharing modes are registered classes (issue 10, item 2): the scenario's `sharing:` block is
the discriminated union of the registry, and a new mode is one module plus its registration.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

import gpusim
from gpusim.scenario.models import NodePool
from gpusim.sharing import SharingMode, mode_classes, parse_sharing, register

ROOT = Path(gpusim.__file__).parent.parent


def test_registry_lists_every_built_in_mode_in_order():
    # whole GPUs first, then the keys in the order messages and dumps have always listed them
    assert [(c.tag, c.key) for c in mode_classes()] == [
        ("whole", None), ("gpu-share", "fractional"), ("time-slicing", "timeSlicing"), ("multi-instance", "mig"),
        ("amd-partition", "amdPartition"), ("intel-shared", "intel"),
    ]  # fmt: skip


def test_the_pool_schema_union_is_built_from_the_registry():
    variants = [typing.get_args(a)[0] for a in typing.get_args(NodePool.model_fields["sharing"].annotation)]
    assert variants == mode_classes()
    from gpusim.scenario.loader import scenario_json_schema

    schema = scenario_json_schema()
    prop = schema["$defs"]["NodePool"]["properties"]["sharing"]
    refs = {r["$ref"].rsplit("/", 1)[1] for r in prop["oneOf"]}
    assert refs == {c.__name__ for c in mode_classes()}


@pytest.mark.parametrize(
    ("block", "cls"),
    [({}, "WholeGpu"), ({"fractional": False}, "WholeGpu"), ({"timeSlicing": None}, "WholeGpu"),
     ({"fractional": True}, "FractionalGpu"), ({"mig": {"config": "dynamic"}}, "MigGpu"),
     ({"fractional": False, "amdPartition": {"profile": "cpx_nps4"}}, "AmdPartitionedGpu"),
     ({"intel": {"sharedDevNum": 2}}, "IntelSharedGpu"),
     ({"timeSlicing": {"resources": [{"replicas": 4}]}}, "TimeSlicedGpu")],
)  # fmt: skip
def test_each_block_parses_into_its_mode_and_dumps_back(block, cls):
    mode = parse_sharing(block)
    assert type(mode).__name__ == cls
    dumped = mode.model_dump(mode="json")
    assert set(dumped) == {"fractional", "timeSlicing", "mig", "amdPartition", "intel"}  # the shape users write
    assert parse_sharing(dumped) == mode


def test_registering_after_the_schema_is_built_is_refused():
    class Late(SharingMode):
        tag = "late"
        key = "late"

    with pytest.raises(RuntimeError, match="before gpusim.scenario.models"):
        register(Late)


TOY_MODE = '''
"""A toy sharing mode: whole GPUs power-capped to `factor` of their speed (one module, one register)."""

from pydantic import Field

from gpusim.sharing.base import ConfigModel, SharingMode
from gpusim.sharing.registry import register


class PowerCap(ConfigModel):
    factor: float = Field(gt=0, le=1, description="Speed of a capped GPU relative to an uncapped one.")


@register
class PowerCappedGpu(SharingMode):
    tag = "power-capped"
    key = "powerCap"

    powerCap: PowerCap = Field(description="Power-capped whole GPUs.")

    def _offer(self, gpu, resource, count):
        if resource != gpu.resource_name:
            return f"offers {gpu.resource_name}"
        return self._make_offer(compute_fraction=self.powerCap.factor)

    def check(self, gpu, catalog):
        return [] if gpu.vendor == "nvidia" else [((self.key,), f"power capping is modelled for NVIDIA; {gpu.id} is {gpu.vendor}")]
'''

TOY_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import toy_mode  # the registration: before the scenario schema is built
import gpusim
from gpusim.errors import ScenarioError

def scenario(sharing, model="nvidia-a100-80gb", count=0):
    return {"name": "toy", "seed": 1, "duration": "2h",
            "cluster": {"node_pools": [{"name": "p", "count": count, "gpu_model": model, "gpus_per_node": 1,
                                        "vcpu": 8, "memory": "64Gi", "price_per_hour": 1.0, "sharing": sharing,
                                        "autoscaling": {"min": 0, "max": 1, "provisioning": "60s"}}]},
            "workloads": [{"name": "w", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
                           "jobs": [{"arrival": 0, "duration": 100}]}]}

out = {}
s = gpusim.load_scenario(scenario({"powerCap": {"factor": 0.5}}))
out["mode"] = type(s.cluster.node_pools[0].sharing).__name__
out["dump"] = s.cluster.node_pools[0].sharing.model_dump(mode="json")
j = gpusim.simulate(s).jobs
out["start"], out["end"] = float(j["start_s"][0]), float(j["end_s"][0])
for name, sc in (("bad_factor", scenario({"powerCap": {"factor": 2}})),
                 ("bad_gpu", scenario({"powerCap": {"factor": 0.5}}, model="amd-mi300x")),
                 ("two_modes", scenario({"powerCap": {"factor": 0.5}, "fractional": True}))):
    try:
        gpusim.load_scenario(sc)
        out[name] = None
    except ScenarioError as e:
        out[name] = [(p.path, p.message) for p in e.problems]
print(json.dumps(out))
"""


def test_a_new_mode_is_one_module_plus_its_registration(tmp_path):
    (tmp_path / "toy_mode.py").write_text(textwrap.dedent(TOY_MODE))
    r = subprocess.run([sys.executable, "-c", TOY_RUN, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["mode"] == "PowerCappedGpu"
    assert out["dump"]["powerCap"] == {"factor": 0.5} and out["dump"]["mig"] is None
    # the Cluster Autoscaler added a node for it (the pool starts empty), and the job ran at half speed
    assert out["start"] > 0
    assert out["end"] - out["start"] == pytest.approx(200.0)
    assert out["bad_factor"] == [["cluster.node_pools[0].sharing.powerCap.factor",
                                  "Input should be less than or equal to 1 (got 2)"]]  # fmt: skip
    assert out["bad_gpu"] == [["cluster.node_pools[0].sharing.powerCap",
                               "power capping is modelled for NVIDIA; amd-mi300x is amd"]]  # fmt: skip
    ((path, msg),) = out["two_modes"]
    assert path == "cluster.node_pools[0].sharing" and "choose one sharing mode" in msg and "powerCap" in msg


POOL_FILE = """name: t
seed: 1
duration: 1h
cluster:
  node_pools:
    - name: gpu
      count: 1
      gpu_model: nvidia-a100-80gb
      gpus_per_node: 2
      vcpu: 32
      memory: 256Gi
      sharing: {sharing}
workloads:
  - name: w
    pod:
      resources: {{limits: {{nvidia.com/gpu: 1}}}}
    jobs: [{{arrival: 0, duration: 10m}}]
"""


@pytest.mark.parametrize(
    ("sharing", "expected"),
    [
        # messages as they were before the sharing block became a union (file:line:col: path: message)
        ("{foo: 1}", "12:17: cluster.node_pools[0].sharing.foo: unknown field 'foo'; allowed fields here: "
                     "fractional, timeSlicing, mig, amdPartition, intel"),
        ("{mig: {config: all-1g.10gb}, foo: 1}", "12:45: cluster.node_pools[0].sharing.foo: unknown field 'foo'; "
                                                 "allowed fields here: fractional, timeSlicing, mig, amdPartition, intel"),
        ("{fractional: true, mig: {}}", "12:16: cluster.node_pools[0].sharing: choose one sharing mode: fractional, "
                                        "timeSlicing, mig, amdPartition or intel"),
        ("{timeSlicing: {resources: [{replicas: 1}]}}", "12:54: cluster.node_pools[0].sharing.timeSlicing.resources[0]"
                                                        ".replicas: Input should be greater than or equal to 2 (got 1)"),
        ("{timeSlicing: {resources: [{replicas: 2}], colour: red}}",
         "12:59: cluster.node_pools[0].sharing.timeSlicing.colour: unknown field 'colour'; allowed fields here: "
         "renameByDefault, failRequestsGreaterThanOne, resources, context_switch_overhead"),
        ("{mig: {config: dynamic, reconfigure_tme: 1}}", "12:40: cluster.node_pools[0].sharing.mig.reconfigure_tme: "
                                                         "unknown field 'reconfigure_tme'; allowed fields here: strategy, "
                                                         "config, reconfigure_time"),
        ("{mig: {config: {1g.10gb: 9}}}", "12:41: cluster.node_pools[0].sharing.mig.config[1g.10gb]: MIG instance "
                                          "count must be 1..7; got 9"),
        ("{mig: {strategy: single, config: all-balanced}}", "12:33: cluster.node_pools[0].sharing.mig.strategy: the "
                                                            "single strategy needs a static layout of one profile (e.g. "
                                                            "all-1g.10gb)"),
        ("{amdPartition: {profile: cpx_nps4}}", "12:41: cluster.node_pools[0].sharing.amdPartition.profile: GPU model "
                                                "nvidia-a100-80gb has no AMD compute partitions"),
        ("{intel: {}}", "12:24: cluster.node_pools[0].sharing.intel.sharedDevNum: missing required field "
                        "'sharedDevNum' (Containers that can share one GPU device, count.)"),
        ("{fractional: 7}", "12:29: cluster.node_pools[0].sharing.fractional: Input should be a valid boolean, unable "
                            "to interpret input (got 7)"),
        ("5", "12:16: cluster.node_pools[0].sharing: Input should be a valid dictionary or instance of Sharing (got 5)"),
    ],
)  # fmt: skip
def test_bad_sharing_blocks_keep_their_messages(tmp_path, sharing, expected):
    f = tmp_path / "s.yaml"
    f.write_text(POOL_FILE.format(sharing=sharing))
    with pytest.raises(gpusim.ScenarioError) as e:
        gpusim.load_scenario(f)
    assert str(e.value).replace("\n", " | ") == f"{f}:{expected}"


@pytest.mark.parametrize("block", [{"intel": {"sharedDevNum": 2}}, {"amdPartition": {"profile": "cpx_nps4"}},
                                   {"timeSlicing": {"resources": [{"replicas": 2}]}}])  # fmt: skip
def test_every_sharing_mode_needs_a_gpu_pool(block):
    # each mode says it needs GPUs (before, AMD partitions and Intel sharing on a CPU pool passed silently)
    from tests.conftest import small_scenario

    s = small_scenario()
    s["cluster"]["node_pools"].append({"name": "cpu", "count": 1, "vcpu": 8, "memory": "32Gi", "sharing": block})
    with pytest.raises(gpusim.ScenarioError, match=r"node_pools\[1\]\.sharing: GPU sharing needs a gpu_model"):
        gpusim.load_scenario(s)
