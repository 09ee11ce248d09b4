"""HPA decisions against the Kubernetes formulas (replica_calculator.go, horizontal.go) and defaults."""

import pytest
from pydantic import ValidationError

from gpusim.autoscale import (
    HorizontalPodAutoscaler,
    HPABehavior,
    HPAConfig,
    HPAMetric,
    HPAScalingPolicy,
    HPAScalingRules,
    MetricSample,
    replicas_for_metric,
)

CONC = HPAMetric(name="concurrency", target_type="AverageValue", target=5)
UTIL = HPAMetric(name="utilization", target_type="Utilization", target=80)


@pytest.mark.parametrize(
    "current, values, unready, missing, metric, expected, why",
    [
        (4, [5, 5, 5, 5], 0, 0, CONC, 4, "at target"),
        (4, [5.4] * 4, 0, 0, CONC, 4, "ratio 1.08 inside the 0.1 tolerance"),
        (4, [4.6] * 4, 0, 0, CONC, 4, "ratio 0.92 inside the tolerance"),
        (4, [5.6] * 4, 0, 0, CONC, 5, "ceil(1.12 * 4) = 5"),
        (4, [2] * 4, 0, 0, CONC, 2, "ceil(0.4 * 4) = 2"),
        (4, [5.5] * 4, 0, 0, CONC, 4, "ratio 1.1 <= 1 + 0.1: inside (Tolerances.isWithin since Kubernetes 1.33)"),
        (4, [4.5] * 4, 0, 0, CONC, 4, "ratio 0.9 >= 1 - 0.1: inside"),
        (3, [12, 0, 3], 0, 0, CONC, 3, "average 5 over ready pods"),
        (6, [20, 20], 0, 0, CONC, 8, "uses ready pods, not current: ceil(4 * 2)"),
        (1, [79.9], 0, 0, UTIL, 1, "utilisation truncates to 79 %: ratio 0.9875, inside"),
        (2, [160, 160], 0, 0, UTIL, 4, "ceil(2 * 2)"),
        (4, [10, 10], 2, 0, CONC, 4, "scale-up with unready pods at 0: ratio back to 1, no change"),
        (4, [20, 20], 2, 0, CONC, 8, "unready pods at 0: 40 / 4 = 10, ratio 2 over 4 pods"),
        (4, [1, 1], 2, 0, CONC, 1, "unready pods are ignored on a scale-down: ceil(0.2 * 2)"),
        (4, [1, 1], 0, 2, CONC, 3, "missing pods use the target on a scale-down: mean(1,1,5,5)=3, ceil(0.6*4)"),
        (4, [10, 10], 0, 2, CONC, 4, "missing pods use 0 on a scale-up: ratio 1, no change"),
        (
            4,
            [20, 20],
            0,
            2,
            UTIL,
            3,
            "missing pods use max(100 %, target) on a Utilization scale-down: mean(20,20,100,100)=60 %, ceil(0.75 * 4)",
        ),
        (4, [1, 1], 0, 2, HPAMetric(name="rps", target=0.5), 4, "ratio 2 >1 with missing at 0: mean 0.5, no change"),
    ],
)
def test_replicas_for_metric(current, values, unready, missing, metric, expected, why):
    got = replicas_for_metric(current, MetricSample(values, unready, missing), metric, 0.1)
    assert got == expected, why


def test_no_metrics_is_no_proposal():
    assert replicas_for_metric(3, MetricSample([]), CONC, 0.1) is None
    hpa = HorizontalPodAutoscaler(HPAConfig(max_replicas=10, metrics=[CONC]))
    d = hpa.reconcile(0.0, 3, [MetricSample([])])
    assert d.desired_replicas == 3 and d.reason == "FailedComputeMetricsReplicas"


def make(max_replicas=100, min_replicas=1, behavior=None, metrics=(CONC,), **kw):
    return HorizontalPodAutoscaler(
        HPAConfig(
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            metrics=list(metrics),
            behavior=behavior or HPABehavior(),
            **kw,
        )
    )


def per_pod(current, desired):
    """Metric values that make the plain formula propose `desired` with `current` ready pods."""
    return [MetricSample([5.0 * desired / current] * current)]


def test_defaults_are_kubernetes_defaults():
    c = HPAConfig(max_replicas=10, metrics=[CONC])
    assert (c.min_replicas, c.sync_period_s, c.tolerance, c.scale_down_window_s) == (1, 15.0, 0.1, 300)
    up, down = c.behavior.scale_up, c.behavior.scale_down
    assert up.stabilization_window_seconds == 0 and up.select_policy == "Max"
    assert {(p.type, p.value, p.period_seconds) for p in up.policies} == {("Percent", 100, 15), ("Pods", 4, 15)}
    assert down.select_policy == "Max" and down.stabilization_window_seconds is None
    assert [(p.type, p.value, p.period_seconds) for p in down.policies] == [("Percent", 100, 15)]
    # every field documents its unit/source; extra keys are rejected
    for model in (HPAConfig, HPAScalingRules, HPAScalingPolicy, HPAMetric):
        assert all(f.description for f in model.model_fields.values()), model
    with pytest.raises(ValidationError):
        HPAConfig(max_replicas=10, metrics=[CONC], bogus=1)
    with pytest.raises(ValidationError):
        HPAConfig(min_replicas=5, max_replicas=2, metrics=[CONC])


@pytest.mark.parametrize(
    "current, proposal, select, max_replicas, expected, why",
    [
        (2, 20, "Max", 100, 6, "max(ceil(2 * 2), 2 + 4) = 6"),
        (10, 40, "Max", 100, 20, "max(ceil(10 * 2), 10 + 4) = 20"),
        (10, 40, "Min", 100, 14, "min(20, 14) = 14"),
        (10, 40, "Disabled", 100, 10, "scale-up disabled"),
        (10, 40, "Max", 15, 15, "clamped to maxReplicas"),
        (4, 6, "Max", 100, 6, "within the limits"),
    ],
)
def test_scale_up_policies(current, proposal, select, max_replicas, expected, why):
    beh = HPABehavior(scale_up=HPAScalingRules(select_policy=select))
    hpa = make(max_replicas=max_replicas, behavior=beh)
    d = hpa.reconcile(0.0, current, per_pod(current, proposal))
    assert d.metric_proposal == proposal
    assert d.desired_replicas == expected, why


def test_scale_up_limit_counts_events_in_the_period():
    hpa = make()
    assert hpa.reconcile(0.0, 2, per_pod(2, 30)).desired_replicas == 6
    # 5 s later the +4 of t=0 is inside both 15 s periods: the period started at 2 pods
    assert hpa.reconcile(5.0, 6, per_pod(6, 30)).desired_replicas == 6
    # at t=15 the event at t=0 is not After(now - 15): the period starts at 6
    assert hpa.reconcile(15.0, 6, per_pod(6, 30)).desired_replicas == 12


def test_scale_down_stabilisation_keeps_the_max_recommendation():
    hpa = make()
    assert hpa.reconcile(0.0, 10, per_pod(10, 10)).desired_replicas == 10
    for t in range(15, 300, 15):
        d = hpa.reconcile(float(t), 10, per_pod(10, 2))
        assert d.desired_replicas == 10 and d.stabilized == 10, t
    # at t=300 the recommendations of t=0 leave the 300 s window (After, strict); 100 %/15 s allows it
    d = hpa.reconcile(300.0, 10, per_pod(10, 2))
    assert d.desired_replicas == 2


def test_scale_down_window_takes_the_max_of_the_window():
    hpa = make(behavior=HPABehavior(scale_down=HPAScalingRules(stabilization_window_seconds=60)))
    hpa.reconcile(0.0, 10, per_pod(10, 10))
    hpa.reconcile(15.0, 10, per_pod(10, 7))
    hpa.reconcile(30.0, 10, per_pod(10, 4))
    assert hpa.reconcile(60.0, 10, per_pod(10, 3)).desired_replicas == 7  # max(7, 4, 3); t=0 is out
    assert hpa.reconcile(75.0, 7, per_pod(7, 3)).desired_replicas == 4


def test_scale_up_stabilisation_keeps_the_min_recommendation():
    beh = HPABehavior(scale_up=HPAScalingRules(stabilization_window_seconds=60))
    hpa = make(behavior=beh)
    hpa.reconcile(0.0, 4, per_pod(4, 4))
    assert hpa.reconcile(15.0, 4, per_pod(4, 8)).desired_replicas == 4  # min(4 at t=0, 8)
    assert hpa.reconcile(30.0, 4, per_pod(4, 8)).desired_replicas == 4
    assert hpa.reconcile(45.0, 4, per_pod(4, 8)).desired_replicas == 4
    assert hpa.reconcile(60.0, 4, per_pod(4, 8)).desired_replicas == 8  # t=0 is not After(60 - 60)


@pytest.mark.parametrize(
    "policies, select, current, proposal, expected",
    [
        ([HPAScalingPolicy(type="Pods", value=1, period_seconds=60)], "Max", 10, 2, 9),
        ([HPAScalingPolicy(type="Percent", value=50, period_seconds=60)], "Max", 10, 2, 5),
        ([HPAScalingPolicy(type="Percent", value=50, period_seconds=60)], "Max", 7, 1, 3),  # int(3.5) = 3
        (
            [
                HPAScalingPolicy(type="Pods", value=1, period_seconds=60),
                HPAScalingPolicy(type="Percent", value=50, period_seconds=60),
            ],
            "Max",
            10,
            2,
            5,  # the larger change
        ),
        (
            [
                HPAScalingPolicy(type="Pods", value=1, period_seconds=60),
                HPAScalingPolicy(type="Percent", value=50, period_seconds=60),
            ],
            "Min",
            10,
            2,
            9,  # the smaller change
        ),
        ([HPAScalingPolicy(type="Percent", value=100, period_seconds=15)], "Disabled", 10, 2, 10),
        ([HPAScalingPolicy(type="Percent", value=100, period_seconds=15)], "Max", 10, 0, 3),  # minReplicas 3
    ],
)
def test_scale_down_policies(policies, select, current, proposal, expected):
    beh = HPABehavior(
        scale_down=HPAScalingRules(stabilization_window_seconds=0, select_policy=select, policies=policies)
    )
    hpa = make(min_replicas=3 if proposal == 0 else 1, behavior=beh)
    samples = [MetricSample([0.0] * current)] if proposal == 0 else per_pod(current, proposal)
    assert hpa.reconcile(0.0, current, samples).desired_replicas == expected


def test_scale_down_pods_policy_over_time():
    beh = HPABehavior(
        scale_down=HPAScalingRules(
            stabilization_window_seconds=0, policies=[HPAScalingPolicy(type="Pods", value=1, period_seconds=60)]
        )
    )
    hpa = make(behavior=beh)
    assert hpa.reconcile(0.0, 10, per_pod(10, 2)).desired_replicas == 9
    assert hpa.reconcile(15.0, 9, per_pod(9, 2)).desired_replicas == 9  # 1 pod per 60 s used up
    assert hpa.reconcile(60.0, 9, per_pod(9, 2)).desired_replicas == 8


def test_min_max_and_disabled():
    hpa = make(max_replicas=5, min_replicas=2)
    d = hpa.reconcile(0.0, 8, per_pod(8, 8))
    assert d.desired_replicas == 5 and "MaxReplicas" in d.reason
    assert make(min_replicas=2).reconcile(0.0, 1, per_pod(1, 1)).desired_replicas == 2
    d = make().reconcile(0.0, 0, [MetricSample([])])
    assert d.desired_replicas == 0 and d.reason == "ScalingDisabled"


def test_largest_metric_proposal_wins():
    rps = HPAMetric(name="rps", target=10)
    hpa = make(metrics=(CONC, rps))
    d = hpa.reconcile(0.0, 4, {"concurrency": MetricSample([5.0] * 4), "rps": MetricSample([15.0] * 4)})
    assert d.metric_proposal == 6 and d.desired_replicas == 6


def test_legacy_path_without_behavior():
    hpa = HorizontalPodAutoscaler(HPAConfig(max_replicas=100, metrics=[CONC]), legacy=True)
    assert hpa.reconcile(0.0, 1, per_pod(1, 10)).desired_replicas == 4  # max(2 * 1, 4)
    assert hpa.reconcile(15.0, 4, per_pod(4, 20)).desired_replicas == 8  # max(2 * 4, 4)
    d = hpa.reconcile(30.0, 8, per_pod(8, 1))
    assert d.stabilized == 20 and d.desired_replicas == 16  # max of the 300 s window, then at most 2 x 8
