"""Small exact cases of the data plane and its histograms (fast enough to run with NUMBA_DISABLE_JIT=1)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpusim.dataplane import DataPlane, Histogram, HistogramConfig, quantile
from gpusim.dataplane import _kernels as K
from gpusim.dataplane.histogram import histogram_of

CFG = HistogramConfig()


def arr(*xs):
    return np.array(xs, dtype=np.float64)


# ---- histogram ---------------------------------------------------------------------------------


def test_histogram_geometry():
    assert CFG.rel_error == 0.01
    assert CFG.n_bins == math.ceil(math.log(1e9) / math.log(1.01**2))
    e = CFG.edges()
    assert e[0] == 1e-4 and e[-1] == 1e5 and np.all(np.diff(e) > 0)
    mids = np.sqrt(e[:-2] * e[1:-1])
    assert np.all(mids / e[:-2] - 1 <= 0.01 + 1e-12) and np.all(1 - e[:-2] / mids <= 0.01)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(1e-4, 9.99e4), min_size=1, max_size=300),
    st.floats(0.0, 1.0),
)
def test_quantile_relative_error_bound(values, q):
    counts = histogram_of(values, CFG)
    est = quantile(counts, q, CFG)
    s = np.sort(values)
    exact = s[max(1, math.ceil(q * len(s) - 1e-9)) - 1]  # nearest rank
    assert abs(est / exact - 1) <= CFG.rel_error + 1e-9


def test_kernel_binning_matches_reference_at_edges():
    e = CFG.edges()
    xs = np.concatenate([e, np.nextafter(e, 0), np.nextafter(e, np.inf), [0.0, 1e-9, 1e6, np.inf]])
    h = CFG.empty()
    for x in xs:
        K._record(x, h, e, CFG.lookup())
    np.testing.assert_array_equal(h, histogram_of(xs, CFG))


def test_under_overflow_merge_and_mean():
    a = Histogram(CFG, histogram_of([1e-6, 0.5, 2e5], CFG), 1e-6 + 0.5 + 2e5)
    b = Histogram(CFG, histogram_of([0.25], CFG), 0.25)
    m = a + b
    assert m.count == 4 and m.counts[0] == 1 and m.counts[-1] == 1
    assert m.mean == pytest.approx((1e-6 + 0.5 + 2e5 + 0.25) / 4)
    assert m.quantile(0.0) == CFG.lo_s and m.quantile(1.0) == CFG.hi_s
    assert math.isnan(Histogram(CFG).mean) and math.isnan(Histogram(CFG).quantile(0.5))
    a += b
    assert a.count == 4
    with pytest.raises(ValueError):
        a + Histogram(HistogramConfig(rel_error=0.02))
    with pytest.raises(ValueError):
        HistogramConfig(lo_s=1.0, hi_s=0.5)


# ---- data plane --------------------------------------------------------------------------------


def test_fcfs_single_server_by_hand():
    dp = DataPlane(1, 1, "round-robin")
    dp.add_replica(0.0, speed=2.0)
    w = dp.serve(arr(0.0, 0.5, 0.6), arr(2.0, 1.0, 1.0), 10.0)
    # service 1.0, 0.5, 0.5: starts 0, 1, 1.5; ends 1, 1.5, 2
    assert (w.arrived, w.served, w.in_flight) == (3, 3, 0)
    assert w.latency.sum_s == pytest.approx(1.0 + 1.0 + 1.4)
    assert w.wait.sum_s == pytest.approx(0.0 + 0.5 + 0.9)
    assert w.utilisation[0] == pytest.approx(2.0 / 10.0)
    assert w.in_system_avg == pytest.approx(3.4 / 10.0)  # Little: sum of sojourns / T


def test_window_end_snapshot_and_carry():
    dp = DataPlane(1, 1, "shared-queue")
    dp.add_replica(0.0)
    w = dp.serve(arr(0.0, 0.1), arr(3.0, 1.0), 1.0)
    assert (w.served, w.in_flight, w.in_service_end[0], w.lb_queue_end) == (0, 2, 1, 1)
    assert w.lb_queue_avg == pytest.approx(0.9)
    w = dp.serve(arr(), arr(), 5.0)
    assert (w.served, w.in_flight) == (2, 0)
    assert w.latency.sum_s == pytest.approx(3.0 + 3.9)
    assert dp.conservation_gap() == 0


def test_batching_slowdown():
    dp = DataPlane(1, 4, "round-robin", batch_slowdown=0.5)
    dp.add_replica(0.0)
    w = dp.serve(arr(0.0, 0.0, 0.0), arr(1.0, 1.0, 1.0), 100.0)
    # the k-th request to start sees k active: 1, 1.5, 2.0 times its work
    assert w.latency.sum_s == pytest.approx(1.0 + 1.5 + 2.0)


def test_no_ready_replica_waits_up_to_the_timeout():
    dp = DataPlane(2, 1, "least-outstanding", timeout_s=5.0)
    w = dp.serve(arr(0.0, 1.0, 3.0), arr(1.0, 1.0, 1.0), 4.0)
    assert (w.arrived, w.in_flight, w.lb_queue_end) == (3, 3, 3)
    dp.add_replica(4.0)  # at t=4 all three are within 5 s of arrival
    w = dp.serve(arr(), arr(), 5.5)
    # 0 runs 4-5 (waited 4); 1 runs 5-6 (waited 4); 3 runs 6-7 (waited 3): all within 5 s
    assert (w.served, w.timed_out, w.in_flight) == (1, 0, 2)
    w = dp.serve(arr(), arr(), 20.0)
    assert (w.served, w.timed_out) == (2, 0)
    assert w.wait.sum_s == pytest.approx(4.0 + 3.0)
    assert dp.conservation_gap() == 0

    dp = DataPlane(1, 1, "round-robin", timeout_s=2.0)
    w = dp.serve(arr(0.0, 1.5), arr(1.0, 1.0), 2.5)
    assert (w.timed_out, w.in_flight) == (1, 1)  # 0 left at t=2
    dp.add_replica()
    w = dp.serve(arr(), arr(), 10.0)
    assert (w.served, w.timed_out) == (1, 0)
    assert w.wait.sum_s == pytest.approx(1.0)


def test_timeout_and_max_queue():
    dp = DataPlane(1, 1, "round-robin", timeout_s=1.5, max_queue=1)
    dp.add_replica()
    w = dp.serve(arr(0.0, 0.1, 0.2, 0.3), arr(1.0, 1.0, 1.0, 1.0), 10.0)
    # 0 serves 0-1; 1 waits until 1 and serves 1-2; 2 and 3 find one waiting: dropped
    assert (w.served, w.dropped, w.timed_out) == (2, 2, 0)
    dp = DataPlane(1, 1, "round-robin", timeout_s=1.5, max_queue=2)
    dp.add_replica()
    w = dp.serve(arr(0.0, 0.1, 0.2, 0.3), arr(1.0, 1.0, 1.0, 1.0), 10.0)
    # 2 would start at 2 (wait 1.8 > 1.5): waits until 1.7 and times out; 3 finds two waiting: dropped
    assert (w.served, w.dropped, w.timed_out) == (2, 1, 1)


def test_routing_rules():
    dp = DataPlane(3, 1, "round-robin")
    for _ in range(3):
        dp.add_replica()
    w = dp.serve(arr(0, 0, 0, 0), arr(10, 10, 10, 10), 1.0)
    assert list(w.concurrency_end) == [2, 1, 1]
    dp = DataPlane(3, 1, "least-outstanding")
    for s in (1.0, 1.0, 1.0):
        dp.add_replica(speed=s)
    w = dp.serve(arr(0, 0, 0, 0), arr(10, 10, 10, 10), 1.0)
    assert list(w.concurrency_end) == [2, 1, 1]
    dp = DataPlane(2, 1, "join-shortest-queue")
    dp.add_replica(speed=1.0)
    dp.add_replica(speed=3.0)
    w = dp.serve(arr(0, 0, 0, 0), arr(10, 10, 10, 10), 1.0)
    # expected delay (n+1)/speed: 1/1 vs 1/3 -> r1; 1 vs 2/3 -> r1; 1 vs 1 -> r0; 2 vs 1 -> r1
    assert list(w.concurrency_end) == [1, 3]


def test_drain_and_remove():
    dp = DataPlane(2, 1, "round-robin")
    a, b = dp.add_replica(), dp.add_replica()
    dp.serve(arr(0.0, 0.0, 0.0), arr(4.0, 4.0, 4.0), 1.0)  # a: 0-4, 4-8; b: 0-4
    dp.drain_replica(a)
    assert not dp.is_drained(a) and dp.drained_at(a) == pytest.approx(8.0)
    w = dp.serve(arr(2.0), arr(1.0), 8.0)  # goes to b (a is draining): 4-5
    assert w.served == 4 and w.concurrency_end[a] == 0 and dp.is_drained(a)
    dp.remove_replica(a)
    dp.serve(arr(9.0, 9.0), arr(5.0, 5.0), 10.0)  # b: 9-14, queued 14-19
    assert dp.remove_replica(b) == 2  # killed: in service and queued are dropped
    w = dp.serve(arr(), arr(), 11.0)
    assert w.dropped == 2 and dp.in_flight == 0 and dp.conservation_gap() == 0
    assert dp.add_replica() == 0  # lowest absent slot


def test_shared_queue_hands_back_the_queue_of_a_removed_replica():
    dp = DataPlane(2, 1, "shared-queue")
    a = dp.add_replica()
    dp.serve(arr(0.0, 0.0, 0.0), arr(4.0, 4.0, 4.0), 1.0)  # one in service, two at the balancer
    assert dp.remove_replica(a) == 1
    dp.add_replica()
    w = dp.serve(arr(), arr(), 20.0)
    assert (w.served, w.dropped) == (2, 1)
    assert dp.conservation_gap() == 0


def test_new_replica_takes_the_shared_queue_at_once():
    dp = DataPlane(2, 1, "shared-queue")
    dp.add_replica()
    dp.serve(arr(0.0, 0.0), arr(4.0, 4.0), 1.0)
    dp.add_replica()
    w = dp.serve(arr(), arr(), 20.0)
    assert w.wait.sum_s == pytest.approx(1.0)  # second request starts at t=1 on the new replica


def test_bad_inputs():
    dp = DataPlane(1)
    with pytest.raises(ValueError):
        dp.serve(arr(1.0, 0.5), arr(1, 1), 2.0)
    with pytest.raises(ValueError):
        dp.serve(arr(2.0), arr(1), 2.0)
    with pytest.raises(ValueError):
        dp.serve(arr(0.5), arr(-1), 2.0)
    with pytest.raises(ValueError):
        DataPlane(1, routing="random")
    with pytest.raises(ValueError):
        dp.set_speed(0, 0.0)
    with pytest.raises(IndexError):
        dp.drain_replica(3)
    dp.add_replica()
    with pytest.raises(RuntimeError):
        dp.add_replica()


def test_memory_is_bounded_by_in_flight_requests():
    rng = np.random.default_rng(3)
    dp = DataPlane(4, 2, "least-outstanding", timeout_s=30.0)
    for _ in range(4):
        dp.add_replica(speed=1.0)
    t = 0.0
    for _ in range(200):
        a = np.sort(t + rng.random(200) * 10.0)
        dp.serve(a, rng.exponential(1.0, 200) * 0.3, t + 10.0)
        t += 10.0
    assert dp.totals["arrived"] == 40_000 and dp.conservation_gap() == 0
    assert dp._hf.shape[0] <= 4096 and dp._held_f.shape[0] <= 4096
