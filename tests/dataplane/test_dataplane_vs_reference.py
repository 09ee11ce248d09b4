"""The compiled data plane against the event-by-event reference, on random multi-window scripts."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpusim.dataplane import DataPlane, HistogramConfig
from tests.dataplane.reference import RefDataPlane

CFG = HistogramConfig()


def run_both(routing, C, R, timeout, max_q, alpha, script, seed):
    """Apply one script of windows and replica changes to both; compare after every window."""
    rng = np.random.default_rng(seed)
    kw = dict(max_queue=max_q, batch_slowdown=alpha)
    dp = DataPlane(R, C, routing, timeout, CFG, **kw)
    ref = RefDataPlane(R, C, routing, timeout, CFG, **kw)
    t = 0.0
    for op, arg in script:
        if op == "add":
            if (dp.state == 0).any():
                speed = float(rng.choice([0.5, 1.0, 2.0]))
                assert dp.add_replica(t, speed) == ref.add_replica(t, speed)
        elif op in ("drain", "remove", "speed"):
            present = np.flatnonzero(dp.state != 0)
            if present.size:
                idx = int(present[arg % present.size])
                if op == "drain" and dp.state[idx] == 1:
                    dp.drain_replica(idx)
                    ref.drain_replica(idx)
                elif op == "remove":
                    assert dp.remove_replica(idx) == ref.remove_replica(idx)
                elif op == "speed":
                    speed = float(rng.choice([0.5, 1.0, 3.0]))
                    dp.set_speed(idx, speed)
                    ref.set_speed(idx, speed)
        else:  # a window of `arg` arrivals, sometimes on a coarse grid so that times tie
            length = float(rng.choice([0.5, 2.0, 5.0]))
            if rng.random() < 0.5:
                arr = np.sort(t + rng.random(arg) * length)
                work = rng.exponential(1.0, arg)
            else:
                arr = np.sort(t + np.floor(rng.random(arg) * length * 4) / 4)
                work = rng.choice([0.0, 0.25, 0.5, 1.0], arg)
            t_end = t + length
            wm = dp.serve(arr, work, t_end)
            rm = ref.serve(arr, work, t_end)
            for key in ("arrived", "served", "timed_out", "dropped", "in_flight", "lb_queue_end"):
                assert getattr(wm, key) == rm[key], (key, getattr(wm, key), rm[key])
            np.testing.assert_array_equal(wm.in_service_end, rm["in_service_end"])
            np.testing.assert_array_equal(wm.queued_end, rm["queued_end"])
            np.testing.assert_array_equal(wm.latency.counts, rm["latency_counts"])
            np.testing.assert_array_equal(wm.wait.counts, rm["wait_counts"])
            np.testing.assert_allclose(wm.latency.sum_s, rm["latency_sum"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(wm.wait.sum_s, rm["wait_sum"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(wm.in_service_avg, rm["in_service_avg"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(wm.queued_avg, rm["queued_avg"], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(wm.lb_queue_avg, rm["lb_queue_avg"], rtol=1e-9, atol=1e-9)
            assert dp.conservation_gap() == 0
            t = t_end


op_st = st.one_of(
    st.tuples(st.just("serve"), st.integers(0, 12)),
    st.tuples(st.just("serve"), st.integers(0, 12)),
    st.tuples(st.just("add"), st.just(0)),
    st.tuples(st.sampled_from(["drain", "remove", "speed"]), st.integers(0, 7)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routing=st.sampled_from(["round-robin", "least-outstanding", "join-shortest-queue", "shared-queue"]),
    C=st.integers(1, 3),
    R=st.integers(1, 3),
    timeout=st.sampled_from([math.inf, 0.75, 2.0]),
    max_q=st.sampled_from([None, 0, 2]),
    alpha=st.sampled_from([0.0, 0.3]),
    script=st.lists(op_st, min_size=1, max_size=14),
    seed=st.integers(0, 2**31),
)
def test_kernel_matches_reference(routing, C, R, timeout, max_q, alpha, script, seed):
    run_both(routing, C, R, timeout, max_q, alpha, [("add", 0)] + script, seed)


@pytest.mark.parametrize("routing", ["round-robin", "least-outstanding", "join-shortest-queue", "shared-queue"])
def test_long_script_matches_reference(routing):
    rng = np.random.default_rng(7)
    script = [("add", 0), ("add", 0)]
    for _ in range(40):
        u = rng.random()
        if u < 0.6:
            script.append(("serve", int(rng.integers(0, 30))))
        elif u < 0.75:
            script.append(("add", 0))
        elif u < 0.85:
            script.append(("drain", int(rng.integers(0, 8))))
        elif u < 0.93:
            script.append(("speed", int(rng.integers(0, 8))))
        else:
            script.append(("remove", int(rng.integers(0, 8))))
    run_both(routing, 2, 4, 3.0, None, 0.2, script, 11)


def test_many_slots_use_the_slot_heap():
    """Over 64 ready slots shared-queue keeps a heap of slots instead of scanning: same answers."""
    rng = np.random.default_rng(3)
    script = [("add", 0)] * 9
    for _ in range(12):
        script.append(("serve", int(rng.integers(50, 120))))
        script.append((str(rng.choice(["drain", "speed", "add", "remove"])), int(rng.integers(0, 9))))
    run_both("shared-queue", 8, 10, 4.0, None, 0.1, script, 5)
