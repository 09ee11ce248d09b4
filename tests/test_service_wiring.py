"""The service time series and headline metrics agree (issue 11 item 4, issue 13 item 3, issue 16
item 3): services.parquet covers the whole run, p99 and SLO attainment are over the same requests,
warm start, and the KPA's excess burst capacity in the service rows."""

import math

import numpy as np
import pytest

import gpusim
from tests.conftest import small_scenario
from tests.test_inference import pool, service

COUNTS = ("arrived", "served", "timed_out", "dropped")


@pytest.mark.parametrize("seed", range(4))
def test_service_rows_add_up_to_the_summary(seed):
    """Random small runs whose horizon is not a multiple of the interval (and one that is): the
    per-interval counts of services.parquet sum to service_summary's totals, the last row ends at
    the run's end, and arrival_rps is over each row's real length."""
    rng = np.random.default_rng(seed)
    duration = int(rng.integers(5, 40)) * 60 + (0 if seed == 0 else int(rng.integers(1, 59)))
    w = service(
        replicas=int(rng.integers(1, 4)),
        arrivals={"process": {"process": "poisson", "rate": float(rng.uniform(0.5, 6.0))}},
        timeout=f"{int(rng.integers(2, 20))}s",
        max_queue=int(rng.integers(1, 6)),
        interval=f"{int(rng.choice([15, 30, 60]))}s",
        cold_start={"image_pull": "20s", "model_load": "10s"},
    )
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration=f"{duration}s"),
                        seed=seed)  # fmt: skip
    rows, summ = r.services, r.service_summary.iloc[0]
    assert rows["time_s"].iloc[-1] == pytest.approx(duration)
    for c in COUNTS:
        assert int(rows[c].sum()) == int(summ[c]), c
    assert int(rows["arrived"].sum()) > 0
    length = np.diff(np.concatenate([[0.0], rows["time_s"].to_numpy()]))
    np.testing.assert_allclose(rows["arrival_rps"].to_numpy(), rows["arrived"].to_numpy() / length)
    if duration % 60:  # the last interval is partial, and its rate is over its own length
        assert length[-1] < length[0]


def test_p99_and_slo_met_agree_when_requests_time_out():
    """An overloaded service whose served requests are fast but many time out: p99 counts the
    timed-out and dropped requests as misses (inf), so it never sits within the SLO next to
    slo_met false; attainment is over the same requests."""
    w = service(replicas=1, arrivals={"process": {"process": "poisson", "rate": 3.0}}, timeout="3s", max_queue=2,
                slo={"latency": "5s"})  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration="20m"), seed=1)
    s = r.service_summary.iloc[0]
    missed = s["timed_out"] + s["dropped"]
    finished = s["served"] + missed
    assert missed > 0.01 * finished  # the misses alone exceed the 1 % tail
    assert s["latency_p99_s"] == math.inf
    assert not s["slo_met"]
    assert s["slo_attainment"] <= s["served"] / finished
    assert r.summary["latency_p99_s"] == math.inf and r.summary["slo_met"] is False


@pytest.mark.parametrize(("target", "replicas"), [(3.0, 3), (7.0, 3), (8.0, 3), (20.0, 3), (4.0, 2)])
def test_p99_within_target_iff_slo_met(target, replicas):
    """A cold start at t=0 times out the first requests, under 1 % of an hour's: p99 stays
    finite, but its rank counts those misses, so p99 <= target exactly when the p99 SLO is met
    (before, p99 over the served requests alone could sit under the target next to slo_met false:
    at 7 s it was 6.71 s with 98.9 % attainment)."""
    w = service(replicas=replicas, arrivals={"process": {"process": "poisson", "rate": 1.0}}, timeout="15s",
                cold_start={"image_pull": "10s", "model_load": "10s"}, slo={"latency": f"{target}s"})  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration="1h"), seed=2)
    s = r.service_summary.iloc[0]
    finished = s["served"] + s["timed_out"] + s["dropped"]
    assert 0 < s["timed_out"] + s["dropped"] < 0.01 * finished
    assert math.isfinite(s["latency_p99_s"])
    assert (s["latency_p99_s"] <= target) == bool(s["slo_met"])
    assert s["slo_met"] == (s["slo_attainment"] >= 0.99)


def _first_requests(warm: bool):
    w = service(replicas=2, warm_start=warm, arrivals={"process": {"process": "poisson", "rate": 2.0}},
                cold_start={"image_pull": "40s", "model_load": "40s"}, timeout="30s", interval="10s")  # fmt: skip
    return gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration="5m"), seed=3)


def test_warm_start_serves_from_t0_without_cold_starts():
    warm, cold = _first_requests(True), _first_requests(False)
    ws, cs = warm.service_summary.iloc[0], cold.service_summary.iloc[0]
    assert ws["cold_starts"] == 0 and cs["cold_starts"] == 2
    first_w, first_c = warm.services.iloc[0], cold.services.iloc[0]
    assert first_w["ready_replicas"] == 2 and first_w["starting_replicas"] == 0
    assert first_c["ready_replicas"] == 0 and first_c["starting_replicas"] == 2
    assert first_w["arrived"] > 0 and first_w["served"] > 0  # requests of the first 10 s served at once
    assert cold.services[cold.services["time_s"] <= 60]["served"].sum() == 0  # still pulling and loading
    assert ws["timed_out"] == 0 and cs["timed_out"] > 0
    assert ws["latency_p99_s"] < cs["latency_p99_s"]


def test_warm_start_only_for_replicas_bound_at_t0():
    """Initial replicas that do not fit at t=0 are not warm: the one the cluster holds is ready at
    once, the other waits for a node and then pays its cold start."""
    w = service(replicas=2, warm_start=True, cold_start={"image_pull": "30s", "model_load": "30s"})
    ca = {"scan_interval": "10s", "scale_down_unneeded_time": "10m"}
    sc = small_scenario(cluster={"node_pools": [pool(gpus=1, autoscaling={"min": 1, "max": 2})], "autoscaler": ca},
                        workloads=[w], duration="10m")  # fmt: skip
    r = gpusim.simulate(sc, seed=0)
    s = r.service_summary.iloc[0]
    assert s["cold_starts"] == 1
    assert r.services.iloc[0]["ready_replicas"] == 1


def test_kpa_excess_burst_capacity_in_the_rows():
    """Knative: excess burst capacity = floor(ready pods x total value - target burst capacity -
    panic concurrency) (knative/serving pkg/autoscaler/scaling/autoscaler.go, checked against
    upstream in tests/autoscale). One pod of target 10 and the default burst capacity 211 at
    about 1 request in flight: about 10 - 211 - 1 = -202, negative (the activator stays in the path)."""
    w = service(replicas=1, concurrency=10, routing="least-outstanding",
                arrivals={"process": {"process": "poisson", "rate": 1.0}},
                autoscaling={"kpa": {"target": 10, "min_scale": 1, "max_scale": 1}})  # fmt: skip
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[w], duration="10m"), seed=0)
    ebc = r.services["excess_burst_capacity"].to_numpy()
    assert np.isfinite(ebc).all()
    assert (ebc == np.floor(ebc)).all()
    assert (ebc <= 10 - 211).all()  # the panic concurrency is >= 0
    assert (ebc >= 10 - 211 - 20).all()  # 1 request/s of 1 s: rarely more than a few in flight
    assert (ebc < 10 - 211).any()  # requests in flight lower it


def test_kpa_unlimited_burst_capacity_is_minus_one_and_other_services_nan():
    kpa = service(name="kpa", replicas=1, autoscaling={"kpa": {"target": 10, "target_burst_capacity": -1}})
    plain = service(name="plain", replicas=1)
    r = gpusim.simulate(small_scenario(cluster={"node_pools": [pool()]}, workloads=[kpa, plain], duration="5m"))
    rows = r.services
    assert (rows[rows["service"] == "kpa"]["excess_burst_capacity"] == -1).all()
    assert rows[rows["service"] == "plain"]["excess_burst_capacity"].isna().all()
