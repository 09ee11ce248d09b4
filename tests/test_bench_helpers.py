"""The control-plane benchmark's scenario helpers (case m's decomposition of issue 10's (n)).

The benchmarks themselves take minutes and run outside the suite; these check that what case m
compares is what it says: the request load it reports and the alike-services cluster it builds.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from gpusim import load_scenario
from tests.conftest import ROOT

BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_control_plane", BENCH / "bench_control_plane.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(BENCH))


def test_offered_load_is_the_mmpp_stationary_mean(bench):
    # 2/s for 40 min and 10/s for 5 min: (2*2400 + 10*300) / 2700 = 2.888.../s; 60/m (1/s) for 1 h
    # and 4/s for 20 min: (3600 + 4800) / 4800 = 1.75/s
    services = [
        {"type": "inference", "arrivals": {"process": {"process": "mmpp", "rates": ["2/s", "10/s"],
                                                        "mean_sojourn": ["40m", "5m"]}}},
        {"type": "inference", "arrivals": {"process": {"process": "mmpp", "rates": ["60/m", "4/s"],
                                                        "mean_sojourn": ["1h", "20m"]}}},
        {"type": "training"},
    ]  # fmt: skip
    assert bench.offered_load({"workloads": services}) == pytest.approx(7800 / 2700 + 1.75, rel=1e-12)


def test_the_50_services_offer_less_than_ten_times_the_first_5(bench):
    # what (n) compares: the 50 services' mean rates are not 10x the first 5's
    small = bench.offered_load(bench.openai(10.0, 1.0, 5))
    large = bench.offered_load(bench.openai(1.0, 1.0, 50))
    assert 9.0 < large / small < 10.0


def test_alike_services_are_copies_on_a_fixed_pool(bench):
    sc = bench.alike_services(0.01, 3)
    services = [w for w in sc["workloads"] if w.get("type") == "inference"]
    assert [w["name"] for w in services] == ["svc-00", "svc-01", "svc-02"]
    first = {k: v for k, v in services[0].items() if k != "name"}
    assert all({k: v for k, v in w.items() if k != "name"} == first for w in services)
    pools = {p["name"]: p for p in sc["cluster"]["node_pools"]}
    assert pools["infer"]["count"] == 500 and pools["infer"]["autoscaling"] == {"min": 500, "max": 500}
    assert pools["train"]["count"] == 7000
    load_scenario(sc)  # a valid scenario
