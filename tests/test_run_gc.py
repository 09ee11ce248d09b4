"""A run makes Python's young garbage collections rarer while its clock runs, and puts the
process's thresholds back afterwards (gpusim.sim.run.rarer_young_collections)."""

import contextlib
import gc
import threading

import pytest

from gpusim.sim import run as R
from gpusim.sim.engine import simulate


@pytest.fixture
def thresholds():
    old = gc.get_threshold()
    yield old
    gc.set_threshold(*old)


def _seen_during(scenario, **kw):
    seen = []
    res = simulate(scenario, progress=lambda now, horizon: seen.append(gc.get_threshold()), **kw)
    return res, seen


def test_threshold_is_raised_during_the_run_and_restored(thresholds):
    gc.set_threshold(700, 10, 10)
    _, seen = _seen_during("scenarios/quickstart.yaml")
    assert seen and all(t == (R.RUN_GC_THRESHOLD, 10, 10) for t in seen)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("mine", [(0, 10, 10), (50_000, 5, 5)])
def test_a_process_threshold_that_is_off_or_higher_is_left_alone(thresholds, mine):
    gc.set_threshold(*mine)
    _, seen = _seen_during("scenarios/quickstart.yaml")
    assert seen and all(t == mine for t in seen)
    assert gc.get_threshold() == mine


def test_a_threshold_changed_during_the_run_is_kept(thresholds):
    gc.set_threshold(700, 10, 10)
    with R.rarer_young_collections():
        assert gc.get_threshold()[0] == R.RUN_GC_THRESHOLD
        gc.set_threshold(1234, 10, 10)  # the user's own, set while a run is in progress
    assert gc.get_threshold() == (1234, 10, 10)


def test_overlapping_runs_restore_once_when_the_last_ends(thresholds):
    """Runs in threads (a threaded sweep) overlap: the first to end must not restore the default
    under the other, and the last must not leave the raised threshold behind."""
    gc.set_threshold(700, 10, 10)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    during_b = []

    def a():
        with R.rarer_young_collections():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with R.rarer_young_collections():
            b_in.set()
            a_out.wait(5)
            during_b.append(gc.get_threshold()[0])

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert during_b == [R.RUN_GC_THRESHOLD]  # a ended first; b's run still had the raised threshold
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_run_raises(thresholds):
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), R.rarer_young_collections():
        raise RuntimeError("a run failed")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("scenario", ["scenarios/quickstart.yaml", "scenarios/inference-code.yaml"])
def test_results_do_not_depend_on_the_collector(thresholds, monkeypatch, scenario):
    """The same run with the run's thresholds and with collections every 50 tracked allocations
    throughout (far more collections, at other moments) gives the same tables: training jobs, and
    a service under the HPA on a pool under the Cluster Autoscaler."""
    gc.set_threshold(700, 10, 10)
    a = simulate(scenario, seed=3)
    monkeypatch.setattr(R, "rarer_young_collections", contextlib.nullcontext)
    gc.set_threshold(50, 2, 2)
    b = simulate(scenario, seed=3)
    gc.set_threshold(700, 10, 10)
    assert len(a.jobs) or len(a.services)
    for name in ("jobs", "timeseries", "services", "nodes"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert {k: v for k, v in a.summary.items() if "wall" not in k} == {
        k: v for k, v in b.summary.items() if "wall" not in k
    }
