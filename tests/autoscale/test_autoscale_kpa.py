"""KPA decisions against knative/serving pkg/autoscaler/scaling/autoscaler.go and its defaults."""

import pytest
from pydantic import ValidationError

from gpusim.autoscale import KnativePodAutoscaler, KPAConfig, WindowAverage


def test_defaults_are_knative_defaults():
    c = KPAConfig()
    assert (c.stable_window_s, c.panic_window_s, c.panic_threshold) == (60.0, 6.0, 2.0)
    assert (c.container_concurrency_target_default, c.target_utilization_percentage) == (100.0, 70.0)
    assert (c.max_scale_up_rate, c.max_scale_down_rate, c.tick_interval_s) == (1000.0, 2.0, 2.0)
    assert c.scale_to_zero_grace_period_s == 30.0 and c.target_value == 70.0
    assert KPAConfig(container_concurrency=10).target_value == 7.0
    assert KPAConfig(metric="rps").target_value == 140.0
    assert all(f.description for f in KPAConfig.model_fields.values())
    with pytest.raises(ValidationError):
        KPAConfig(stable_windw_s=30)


@pytest.mark.parametrize(
    "ready, stable, panic, expected, why",
    [
        (5, 350.0, 350.0, 5, "ceil(350 / 70)"),
        (5, 351.0, 351.0, 6, "ceil(5.01)"),
        (10, 0.0, 0.0, 5, "max scale-down rate 2: floor(10 / 2)"),
        (10, 140.0, 140.0, 5, "ceil(2) but at least floor(10 / 2)"),
        (0, 700.0, 700.0, 10, "no ready pods counts as 1; ceil(10) is in panic (10 / 1 >= 2)"),
    ],
)
def test_stable_mode_formula(ready, stable, panic, expected, why):
    kpa = KnativePodAutoscaler(KPAConfig())
    assert kpa.scale(0.0, ready, stable, panic).desired_pods == expected, why


def test_max_scale_up_rate():
    kpa = KnativePodAutoscaler(KPAConfig(max_scale_up_rate=1.5))
    # ceil(1.5 * 2) = 3 even though 10 pods are wanted
    assert kpa.scale(0.0, 2, 700.0, 700.0).desired_pods == 3


def test_panic_entry_hold_and_exit():
    kpa = KnativePodAutoscaler(KPAConfig())
    d = kpa.scale(0.0, 2, 70.0, 279.0)  # ceil(279/70)=4, 4/2 = 2 >= 2: panic
    assert d.panicking and d.desired_pods == 4
    d = kpa.scale(2.0, 4, 70.0, 70.0)  # 1/4 < 2: still panicking (within 60 s), no scale-down
    assert d.panicking and d.desired_pods == 4
    d = kpa.scale(4.0, 4, 70.0, 700.0)  # 10/4 >= 2: extends panic, goes up
    assert d.panicking and d.desired_pods == 10
    d = kpa.scale(64.0, 10, 70.0, 70.0)  # panic_time 4 + 60 is not Before(64): stay
    assert d.panicking and d.desired_pods == 10
    d = kpa.scale(66.0, 10, 70.0, 70.0)  # 4 + 60 < 66: un-panic; stable: max(1, floor(10/2))
    assert not d.panicking and d.desired_pods == 5


def test_below_threshold_is_not_panic():
    kpa = KnativePodAutoscaler(KPAConfig())
    d = kpa.scale(0.0, 2, 70.0, 209.0)  # ceil(2.98)=3, 3/2 = 1.5 < 2
    assert not d.panicking and d.desired_pods == 1  # max(ceil(70 / 70), floor(2 / 2))


def test_starts_in_panic_with_more_than_one_pod():
    kpa = KnativePodAutoscaler(KPAConfig(), ready_pods_at_start=3)
    d = kpa.scale(0.0, 3, 0.0, 0.0)
    assert d.panicking and d.desired_pods == 3  # keeps the current scale until data accumulates


def test_scale_to_zero_grace_period():
    kpa = KnativePodAutoscaler(KPAConfig())
    assert kpa.scale(0.0, 1, 0.0, 0.0).desired_pods == 1
    assert kpa.scale(28.0, 1, 0.0, 0.0).desired_pods == 1
    assert kpa.scale(30.0, 1, 0.0, 0.0).desired_pods == 0
    assert kpa.scale(32.0, 0, 5.0, 5.0).desired_pods == 1  # traffic again: scale from zero
    no_zero = KnativePodAutoscaler(KPAConfig(enable_scale_to_zero=False))
    assert no_zero.scale(100.0, 1, 0.0, 0.0).desired_pods == 1


def test_bounds_and_scale_down_delay():
    kpa = KnativePodAutoscaler(KPAConfig(min_scale=2, max_scale=4))
    assert kpa.scale(0.0, 3, 0.0, 0.0).desired_pods == 2
    assert kpa.scale(2.0, 3, 700.0, 700.0).desired_pods == 4
    kpa = KnativePodAutoscaler(KPAConfig(scale_down_delay_s=10.0))
    assert kpa.scale(0.0, 5, 350.0, 350.0).desired_pods == 5
    assert kpa.scale(4.0, 5, 140.0, 140.0).desired_pods == 5  # the max of the last 10 s
    assert kpa.scale(10.0, 5, 140.0, 140.0).desired_pods == 2  # t=0 has left the window


def test_window_average():
    w = WindowAverage(max_window_s=60.0)
    w.add(0.0, 10.0, 2.0)
    w.add(10.0, 20.0, 4.0)
    assert w.average(20.0, 10.0) == 4.0
    assert w.average(20.0, 20.0) == 3.0
    assert w.average(20.0, 60.0) == 3.0  # only the covered time counts
    assert WindowAverage(60.0).average(5.0, 6.0) is None
    for k in range(200):
        w.add(20.0 + k, 21.0 + k, 1.0)
    assert len(w._spans) <= 62
