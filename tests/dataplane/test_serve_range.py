"""`DataPlane.serve_range` (one compiled call: the window's slice, `service_window`, its figures)
leaves the data plane exactly as `serve_into` on the same slice does, and reports the figures the
inference service used to compute from it in Python (`InferenceService.advance`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpusim.dataplane import _kernels as K
from gpusim.dataplane.plane import ROUTING, DataPlane


def _plane(rng):
    kw = dict(
        concurrency=int(rng.integers(1, 4)), routing=str(rng.choice(sorted(ROUTING))),
        timeout_s=float(rng.choice([math.inf, 5.0, 30.0])),
        max_queue=None if rng.random() < 0.6 else int(rng.integers(0, 6)),
        batch_slowdown=float(rng.choice([0.0, 0.3])),
    )  # fmt: skip
    return DataPlane(8, **kw), DataPlane(8, **kw)


def _state(dp):
    n, nh = int(dp._ist[0]), int(dp._ist[1])
    return [dp._fs.copy(), dp._js.copy(), dp.state.copy(), dp._hf[:n].copy(), dp._hi[:n].copy(),
            dp._held_f[:nh].copy(), dp._held_id[:nh].copy(), dp._wf.copy(), dp._wi.copy()]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_serve_range_equals_serve_into(seed):
    rng = np.random.default_rng(seed)
    fallbacks = fast = 0
    for _ in range(12):
        a, b = _plane(rng)
        rate = float(rng.choice([0.5, 3.0, 40.0]))
        horizon = 400.0
        arr = np.sort(rng.uniform(0, horizon, rng.poisson(rate * horizon)))
        work = rng.lognormal(0.0, 0.8, arr.size)
        hist = [np.zeros(a.hist_config.size, dtype=np.int64) for _ in range(4)]
        sig = [np.zeros((4, 8)), np.zeros((4, 8))]
        for dp in (a, b):
            dp.add_replica(0.0, speed=1.5)
        i, t = 0, 0.0
        while t < horizon:
            t1 = min(horizon, t + float(rng.choice([15.0, 15.0, 2.0, 60.0, 0.5])))
            change = rng.random()
            live = np.flatnonzero(a.state != 0)
            if change < 0.15 and live.size < 8:
                sp = float(rng.choice([0.5, 1.0, 2.0]))
                a.add_replica(speed=sp), b.add_replica(speed=sp)
            elif change < 0.25 and live.size > 1:
                k = int(rng.choice(live))
                if a.state[k] == 1:
                    a.drain_replica(k), b.drain_replica(k)
                else:
                    assert a.remove_replica(k) == b.remove_replica(k)
            before = b._tot.copy()
            j = int(arr.searchsorted(t1, side="left"))
            ok = b.serve_range(arr, work, i, t1, hist[2], hist[3], sig[1])
            dropped = a.serve_into(arr[i:j], work[i:j], t1, hist[0], hist[1], sig[0])
            if not ok:  # the engine's fallback: serve_into itself, buffers grown as it goes
                fallbacks += 1
                np.testing.assert_array_equal(b._tot, before)  # nothing changed
                assert b.serve_into(arr[i:j], work[i:j], t1, hist[2], hist[3], sig[1]) == dropped
            else:
                fast += 1
                ri, rf = b.range_i.tolist(), b.range_f.tolist()
                R = a.max_replicas
                dt = t1 - t
                lb = float(a.q_area[R] / dt) if dt > 0 else float(a.queued_end[R])
                assert ri == [j, int(a.acc_i[K.ARRIVED]), int(a.acc_i[K.SERVED]), int(a.acc_i[K.TIMED_OUT]), dropped,
                              int(a._ist[6]), int(a.queued_end.sum())]  # fmt: skip
                assert rf == [float(a.acc_f[K.LATENCY_SUM]), lb]
            for x, y in zip(_state(a), _state(b), strict=True):
                np.testing.assert_array_equal(x, y)
            for x, y in zip(hist[:2], hist[2:], strict=True):
                np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(sig[0], sig[1])
            assert a.totals == b.totals and a.now_s == b.now_s
            np.testing.assert_array_equal(a._tot, b._tot)  # the drops still to report too
            i, t = j, t1
        assert a.conservation_gap() == 0 == b.conservation_gap()
    assert fast > 100 and fallbacks > 0  # both paths taken (the heap starts at 1,024 rows)


def test_serve_range_refuses_a_clock_not_moving_and_bad_input():
    dp = DataPlane(2)
    dp.add_replica(0.0)
    arr, work = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    assert dp.serve_range(arr, work, 0, 3.0, np.zeros(dp.hist_config.size, dtype=np.int64),
                          np.zeros(dp.hist_config.size, dtype=np.int64), np.zeros((4, 2)))  # fmt: skip
    assert dp.range_i[0] == 2 and dp.range_i[1] == 2 and dp.now_s == 3.0
    h = np.zeros(dp.hist_config.size, dtype=np.int64)
    assert not dp.serve_range(arr, work, 0, 3.0, h, h.copy(), np.zeros((4, 2)))  # t_end not after the clock
    bad = np.array([4.0, 3.5])  # unsorted: refused, nothing changed
    before = dp._js.copy()
    assert not dp.serve_range(bad, work, 0, 5.0, h, h.copy(), np.zeros((4, 2)))
    np.testing.assert_array_equal(before, dp._js)
    assert dp.now_s == 3.0


def test_close_quantiles_equals_the_histogram_quantiles():
    """`close_quantiles` (the services rows' p50/p99) gives `Histogram.quantile`'s values, moves the
    counts to the run's total and zeroes them."""
    from gpusim.dataplane.histogram import Histogram, HistogramConfig

    cfg = HistogramConfig()
    edges = cfg.edges()
    qs = np.array([0.5, 0.99])
    rng = np.random.default_rng(7)
    seen_edge_bins = set()
    for _ in range(300):
        counts = np.zeros(cfg.size, dtype=np.int64)
        k = int(rng.integers(0, 6))
        idx = rng.choice(cfg.size, k)
        if rng.random() < 0.2:
            idx = np.append(idx, [0, cfg.size - 1])
        np.add.at(counts, idx, rng.integers(1, 50, idx.size))
        total = rng.integers(0, 5, cfg.size).astype(np.int64)
        want_total = total + counts
        h = Histogram(cfg, counts.copy())
        oi, of = np.zeros(3, dtype=np.int64), np.full(2, -1.0)
        K.close_quantiles(counts, total, qs, edges, cfg.lo_s, cfg.hi_s, oi, of)
        n = int(h.counts.sum())
        assert oi[0] == n
        if n:
            assert of.tolist() == [h.quantile(0.5), h.quantile(0.99)]
            seen_edge_bins |= {int(i) for i in oi[1:] if i in (0, cfg.size - 1)}
        else:
            assert of.tolist() == [-1.0, -1.0]  # untouched: the caller reports NaN
        np.testing.assert_array_equal(total, want_total)
        assert not counts.any()
    assert seen_edge_bins == {0, cfg.size - 1}  # under- and overflow bins reached


@pytest.mark.parametrize("seed", range(20))
def test_search_from_is_searchsorted_past_the_first_i(seed):
    """`serve_range` finds a window's end by galloping from its first arrival: the index
    ``np.searchsorted`` gives, from every start at or before it (ties and repeats included)."""
    from gpusim.dataplane._kernels import search_from

    rng = np.random.default_rng(seed)
    a = np.sort(rng.integers(0, 30, int(rng.integers(0, 80)))).astype(np.float64)
    for x in rng.integers(-2, 33, 12).astype(np.float64):
        want = int(np.searchsorted(a, x))
        for i in range(want + 1):
            assert search_from(a, i, x) == want
