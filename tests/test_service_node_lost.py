"""`InferenceService.node_lost` (issue 14 item 7): a failed node takes its replicas at once, their
requests fail (counted, never lost), the Deployment recreates the replicas through scheduling and
the cold start, and availability is the share of the run with a ready replica."""

import math

import pytest

from gpusim.scenario.loader import load_scenario
from gpusim.sim.run import Run
from tests.conftest import small_scenario
from tests.test_inference import pool, service


def _run(routing: str, duration: float = 1800.0, lose_at: float = 605.3):
    w = service(replicas=4, routing=routing, arrivals={"process": {"process": "poisson", "rate": 3.0}},
                pod={"resources": {"limits": {"nvidia.com/gpu": 4}}},
                cold_start={"image_pull": "20s", "model_load": "40s"})  # fmt: skip
    sc = load_scenario(small_scenario(cluster={"node_pools": [pool(count=2)]}, workloads=[w], duration=f"{duration}s"))
    run = Run(sc, 3)
    run.start()
    sim = run.sim
    svc = run.services[0].service
    sim.env.run(until=lose_at)
    assert svc.n_state["ready"] == 4
    node = svc.live[0].placements[0].node
    on_node = sum(1 for r in svc.live if r.placements[0].node == node)
    svc.advance(sim.env.now)
    in_flight = svc.dp.in_flight
    n = svc.node_lost(node, sim.env.now)
    after = dict(svc.n_state)
    sim.env.run(until=duration)
    row = svc.finish(duration)
    return svc, row, n, on_node, in_flight, after


@pytest.mark.parametrize("routing", ["least-outstanding", "shared-queue"])
def test_node_lost_fails_its_requests_and_recreates_the_replicas(routing):
    svc, row, n, on_node, in_flight, after = _run(routing)
    assert n == on_node == 2  # 2 replicas of 4 GPUs per 8-GPU node
    assert after["ready"] == 2 and after["pending"] + after["starting"] == 2  # recreated at once (desired stands)
    assert row["failed"] > 0 and row["failed"] <= in_flight
    assert row["replicas_lost"] == 2
    # nothing lost: every arrival is served, timed out, dropped, failed or still in flight
    assert row["arrived"] == row["served"] + row["timed_out"] + row["dropped"] + row["failed"] + row["in_flight_end"]
    assert row["dropped"] == 0  # the failed requests are not counted as dropped
    assert svc.dp.conservation_gap() == 0
    assert svc.cold_starts == 4 + 2  # the replacements paid the cold start (20 s + 40 s)
    assert svc.n_state["ready"] == 4  # and are ready again
    assert row["availability"] == pytest.approx(1.0 - 60.0 / 1800.0)  # no replica ready for the first 60 s
    assert row["slo_attainment"] <= 1.0 - row["failed"] / (row["served"] + row["timed_out"] + row["failed"])


def test_node_lost_on_a_node_without_replicas_changes_nothing():
    w = service(replicas=1, pod={"resources": {"limits": {"nvidia.com/gpu": 8}}})
    sc = load_scenario(small_scenario(cluster={"node_pools": [pool(count=2)]}, workloads=[w], duration="10m"))
    run = Run(sc, 1)
    run.start()
    sim = run.sim
    svc = run.services[0].service
    sim.env.run(until=120.0)
    other = 1 - svc.live[0].placements[0].node
    assert svc.node_lost(other, sim.env.now) == 0
    row = svc.finish(600.0)
    assert row["failed"] == 0 and row["replicas_lost"] == 0
    assert math.isclose(row["availability"], 1.0)  # NO_COLD_START: ready from t=0
