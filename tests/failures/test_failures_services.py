"""Failures reaching inference services (issue 15 item 1): a failed node takes its replicas, their
requests fail (counted, never lost), the service recreates them, and the summary reports each
service's availability and whether a 99.9% SLA was met.
"""

from __future__ import annotations

from gpusim.hardware.failures import sla_met
from gpusim.scenario.loader import load_scenario
from gpusim.sim.engine import simulate
from tests.conftest import small_scenario
from tests.test_inference import pool, service


def _scenario(rate_per_gpu_hour: float, repair: str = "30m") -> dict:
    w = service(replicas=4, pod={"resources": {"limits": {"nvidia.com/gpu": 2}}},
                cold_start={"image_pull": "20s", "model_load": "40s"})  # fmt: skip
    sc = small_scenario(cluster={"node_pools": [pool(count=3)]}, workloads=[w], duration="12h")
    sc["failures"] = {"per_gpu_hour": rate_per_gpu_hour, "repair": {"action": "repair", "time": repair}}
    return sc


def test_node_failures_fail_requests_and_cost_availability():
    r = simulate(load_scenario(_scenario(0.01)), seed=7)
    row = r.service_summary.iloc[0]
    s = r.summary
    assert s["failures"] > 0 and row["replicas_lost"] > 0 and row["failed"] > 0
    # no request is lost: every arrival is served, timed out, dropped, failed or still in flight
    assert row["arrived"] == row["served"] + row["timed_out"] + row["dropped"] + row["failed"] + row["in_flight_end"]
    assert s["requests_failed"] == row["failed"]
    assert 0.0 < row["availability"] <= 1.0
    assert row["sla_999_met"] == sla_met(row["availability"] * 12 * 3600.0, 12 * 3600.0, 0.999)
    assert s["sla_999_met"] == bool(row["sla_999_met"])
    assert s["service_availability_min"] == row["availability"]
    # failed requests are SLO misses: attainment counts them in its denominator
    done = row["served"] + row["timed_out"] + row["dropped"] + row["failed"]
    assert row["slo_attainment"] <= row["served"] / done + 1e-12


def test_all_nodes_down_for_hours_breaks_the_sla():
    """Failures so frequent, and repairs so slow, that no replica is Ready for long stretches: the
    availability falls far below 99.9% and the SLA is reported missed."""
    r = simulate(load_scenario(_scenario(0.5, repair="3h")), seed=3)
    row = r.service_summary.iloc[0]
    assert row["availability"] < 0.99
    assert not row["sla_999_met"] and not r.summary["sla_999_met"]


def test_without_failures_the_columns_stay_out():
    sc = _scenario(0.01)
    del sc["failures"]
    r = simulate(load_scenario(sc), seed=7)
    assert "sla_999_met" not in r.service_summary.columns and "sla_999_met" not in r.summary
