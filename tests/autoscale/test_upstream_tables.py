"""The upstream autoscaler test tables, run against gpusim's decision functions.

Data: tests/autoscale/upstream/kubernetes_replica_calculator.yaml (kubernetes/kubernetes
pkg/controller/podautoscaler/replica_calculator_test.go) and knative_autoscaler.yaml
(knative/serving pkg/autoscaler/scaling/autoscaler_test.go). Each case keeps upstream's inputs and
expected outputs; this adapter only turns upstream's fixtures (fake pods, fake metrics clients)
into gpusim's inputs. Cases gpusim cannot express are kept in the data with a reason and counted.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from gpusim.autoscale.hpa import (
    MetricsError,
    Pod,
    PodMetric,
    Tolerances,
    external_metric_replicas,
    external_per_pod_metric_replicas,
    group_pods,
    object_metric_replicas,
    object_per_pod_metric_replicas,
    pods_metric_replicas,
    resource_replicas,
)
from gpusim.autoscale.kpa import DeciderSpec, KnativePodAutoscaler

DATA = Path(__file__).parent / "upstream"
K8S = yaml.safe_load((DATA / "kubernetes_replica_calculator.yaml").read_text())
KN = yaml.safe_load((DATA / "knative_autoscaler.yaml").read_text())

# the test file's constants (replica_calculator.go defaultTesting*)
CPU_INIT_S, READINESS_DELAY_S = 120.0, 10.0
NOW = 1.7e9  # time.Now() in the tests, as Unix seconds
ZERO = -62135596800.0  # Go's zero time.Time, as Unix seconds
N_CONTAINERS = 2
CONTAINERS = ("container1", "container2")


def _ids(cases):
    return [c["test"] for c in cases]


def _milli(quantity: str) -> int:
    q = str(quantity)
    return int(Decimal(q[:-1])) if q.endswith("m") else int(Decimal(q) * 1000)


def _fake_pods(case, with_requests: bool) -> list[Pod]:
    """prepareTestClientSet / buildFakePod: one pod per replica (more if podPhase lists failed ones)."""
    n = max(case["current_replicas"], len(case.get("pod_phase", [])))
    readiness = case.get("pod_readiness", [])
    phases = case.get("pod_phase")
    starts = case.get("pod_start")
    deleting = case.get("pod_deleting")
    requests = case.get("requests", [])
    container = case.get("container", "")
    pods = []
    for i in range(n):
        start = ZERO
        if starts is not None:
            start = {"hot": NOW, "cool": NOW - 180.0}[starts[i]]
        req = None
        if with_requests and i < len(requests):
            req = _milli(requests[i]) * (1 if container else N_CONTAINERS)
        pods.append(
            Pod(
                name=f"test-pod-{i}",
                phase=phases[i] if phases is not None else "Running",
                ready=readiness[i] if i < len(readiness) else True,
                start_s=start,
                ready_transition_s=ZERO,
                deleting=bool(deleting and deleting[i]),
                request_milli=req,
            )
        )
    return pods


def _resource_metrics(case) -> dict[str, PodMetric]:
    """The fake metrics.k8s.io client: per-pod CPU usage, summed over containers or one container."""
    if "pod_levels" in case:
        levels = [[v] * N_CONTAINERS for v in case["pod_levels"]]
    else:
        levels = case["levels"]
    names = case.get("pod_names", [])
    container = case.get("container", "")
    out = {}
    for i, containers in enumerate(levels):
        name = names[i] if i < len(names) else f"test-pod-{i}"
        if container:
            j = CONTAINERS.index(container)
            if j >= len(containers):
                continue  # the pod reports no sample for that container
            value = containers[j]
        else:
            value = sum(containers)
        out[name] = PodMetric(value, timestamp_s=ZERO, window_s=60.0)
    return out


def _tolerances(case) -> Tolerances:
    down, up = case.get("tolerances", [0.1, 0.1])
    return Tolerances(down, up)


def _ready_pods(case) -> int:
    """getReadyPodsCount: running pods whose PodReady condition is true."""
    return sum(1 for p in _fake_pods(case, False) if p.phase == "Running" and p.ready)


@pytest.mark.parametrize("case", K8S["resource"], ids=_ids(K8S["resource"]))
def test_kubernetes_resource_replicas(case):
    pods, metrics = _fake_pods(case, True), _resource_metrics(case)
    kw = dict(now_s=NOW, cpu_initialization_period_s=CPU_INIT_S, delay_of_initial_readiness_s=READINESS_DELAY_S)
    if "expected_error" in case:
        with pytest.raises(MetricsError, match=case["expected_error"]):
            resource_replicas(
                case["current_replicas"], case["target_utilization"], pods, metrics, _tolerances(case), **kw
            )
        return
    got = resource_replicas(
        case["current_replicas"], case["target_utilization"], pods, metrics, _tolerances(case), **kw
    )
    e = case["expected"]
    assert got == (e["replicas"], e["utilization"], e["raw"])


@pytest.mark.parametrize("case", K8S["pods"], ids=_ids(K8S["pods"]))
def test_kubernetes_pods_metric_replicas(case):
    pods = _fake_pods(case, False)
    metrics = {f"test-pod-{i}": PodMetric(v, timestamp_s=ZERO) for i, v in enumerate(case["levels"])}
    got = pods_metric_replicas(
        case["current_replicas"],
        case["target_usage"],
        pods,
        metrics,
        _tolerances(case),
        cpu=False,  # GetMetricReplicas groups pods with no resource name: the CPU rule does not apply
        now_s=NOW,
        cpu_initialization_period_s=CPU_INIT_S,
        delay_of_initial_readiness_s=READINESS_DELAY_S,
    )
    assert got == (case["expected"]["replicas"], case["expected"]["usage"])


@pytest.mark.parametrize("case", K8S["object"], ids=_ids(K8S["object"]))
def test_kubernetes_object_metric_replicas(case):
    got = object_metric_replicas(
        case["current_replicas"], case["target_usage"], case["level"], _ready_pods(case), _tolerances(case)
    )
    assert got == (case["expected"]["replicas"], case["expected"]["usage"])


@pytest.mark.parametrize("case", K8S["object_per_pod"], ids=_ids(K8S["object_per_pod"]))
def test_kubernetes_object_per_pod_metric_replicas(case):
    got = object_per_pod_metric_replicas(
        case["current_replicas"], case["per_pod_target_usage"], case["level"], _tolerances(case)
    )
    assert got == (case["expected"]["replicas"], case["expected"]["usage"])


@pytest.mark.parametrize("case", K8S["external"], ids=_ids(K8S["external"]))
def test_kubernetes_external_metric_replicas(case):
    got = external_metric_replicas(
        case["current_replicas"], case["target_usage"], case["levels"], _ready_pods(case), _tolerances(case)
    )
    assert got == (case["expected"]["replicas"], case["expected"]["usage"])


@pytest.mark.parametrize("case", K8S["external_per_pod"], ids=_ids(K8S["external_per_pod"]))
def test_kubernetes_external_per_pod_metric_replicas(case):
    got = external_per_pod_metric_replicas(
        case["current_replicas"], case["per_pod_target_usage"], case["levels"], _tolerances(case)
    )
    assert got == (case["expected"]["replicas"], case["expected"]["usage"])


@pytest.mark.parametrize("case", K8S["group_pods"], ids=_ids(K8S["group_pods"]))
def test_kubernetes_group_pods(case):
    now = 1_000_000.0
    pods = []
    for p in case["pods"]:
        cond = p.get("condition")
        pods.append(
            Pod(
                name=p["name"],
                phase=p.get("phase", "Running"),
                ready=None if cond is None else cond["status"],
                start_s=None if p.get("start") is None else now + p["start"],
                ready_transition_s=ZERO if cond is None else now + cond["transition"],
                deleting=p.get("deleting", False),
            )
        )
    metrics = {
        name: PodMetric(
            1, timestamp_s=ZERO if m.get("timestamp") is None else now + m["timestamp"], window_s=m.get("window", 0.0)
        )
        for name, m in case["metrics"].items()
    }
    ready, unready, missing, ignored = group_pods(
        pods, metrics, case["resource"] == "cpu", now, CPU_INIT_S, READINESS_DELAY_S
    )
    e = case["expected"]
    assert (ready, unready, missing, ignored) == (e["ready"], set(e["unready"]), set(e["missing"]), set(e["ignored"]))


def _test_spec(target, tbc, **changes) -> DeciderSpec:
    """newTestAutoscalerWithScalingMetric's DeciderSpec."""
    spec = DeciderSpec(
        target_value=target,
        total_value=target / 0.75,
        target_burst_capacity=tbc,
        panic_threshold=2.0,
        max_scale_up_rate=10.0,
        max_scale_down_rate=10.0,
        stable_window_s=60.0,
        reachable=True,
    )
    for k, v in changes.items():
        setattr(spec, k, v)
    return spec


def _expected_ebc(tot_cap, target_bc, recorded, num_pods) -> int:
    return int(math.floor(tot_cap / 0.75 * num_pods - target_bc - recorded))


@pytest.mark.parametrize("case", KN["cases"], ids=_ids(KN["cases"]))
def test_knative_autoscaler(case):
    if "test_autoscaler" in case:
        target, tbc = case["test_autoscaler"]
        spec, start_ready = _test_spec(target, tbc, **case.get("spec_changes", {})), 1
    else:
        spec, start_ready = DeciderSpec(**case["spec"]), case["start_ready"]
    kpa = KnativePodAutoscaler(spec=spec, ready_pods_at_start=start_ready, start_s=case["steps"][0]["t"])
    for i, step in enumerate(case["steps"]):
        if "update" in step:
            kpa.update(DeciderSpec(**step["update"]))
        if "prep" in step:
            kpa.panic_time_s = step["t"] + step["prep"]["panic_time"]
            kpa.max_panic_pods = step["prep"]["max_panic_pods"]
        sr = kpa.scale_result(step["t"], step["ready"], step["stable"], step["panic"])
        want = step["want"]
        ebc = want["ebc"] if isinstance(want["ebc"], int) else _expected_ebc(*want["ebc"])
        assert (sr.desired_pods, sr.valid) == (want["pods"], want["valid"]), f"step {i}"
        assert abs(sr.excess_burst_capacity - ebc) <= 1, f"step {i}: EBC {sr.excess_burst_capacity} vs {ebc}"
        if "panic_time" in step:
            assert kpa.panic_time_s == step["panic_time"], f"step {i}"


@pytest.mark.parametrize("case", KN["start"], ids=_ids(KN["start"]))
def test_knative_start_state(case):
    spec = DeciderSpec(target_value=100, total_value=120, target_burst_capacity=11, panic_threshold=220,
                       max_scale_up_rate=10, max_scale_down_rate=10, stable_window_s=60)  # fmt: skip
    kpa = KnativePodAutoscaler(spec=spec, ready_pods_at_start=case["start_ready"] or 0)
    assert (kpa.panic_time_s is not None, kpa.max_panic_pods) == (case["panicking"], case["max_panic_pods"])


# ------------------------------------------------------------------ horizontal_test.go

from gpusim.autoscale.hpa import (  # noqa: E402
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
    scale_down_limit,
    scale_up_limit,
    stabilize_recommendation,
    stabilize_recommendation_with_behaviors,
)
from gpusim.autoscale.schema import HPABehavior, HPAScalingPolicy, HPAScalingRules  # noqa: E402

HZ = yaml.safe_load((DATA / "kubernetes_horizontal.yaml").read_text())
T0 = 10_000.0  # time.Now()


def _rules(spec):
    """generateScalingRules(pods, podsPeriod, percent, percentPeriod, stabilizationWindow)."""
    pods, pods_period, percent, percent_period, window = spec
    policies = []
    if pods:
        policies.append(HPAScalingPolicy(type="Pods", value=pods, period_seconds=pods_period))
    if percent:
        policies.append(HPAScalingPolicy(type="Percent", value=percent, period_seconds=percent_period))
    return HPAScalingRules(stabilization_window_seconds=window, select_policy="Max", policies=policies)


def _events(spec):
    """generateEventsUniformDistribution(rawEvents, periodSeconds)."""
    if spec is None:
        return []
    raw, period = spec
    seg = period / len(raw)
    return [(T0 - int(period - seg * (i + 1) + seg / 2), change) for i, change in enumerate(raw)]


@pytest.mark.parametrize("case", HZ["scaling_with_rules"], ids=_ids(HZ["scaling_with_rules"]))
def test_kubernetes_scaling_with_rules(case):
    default = HPABehavior()
    up = _rules(case["up"]) if "up" in case else default.scale_up
    down = _rules(case["down"]) if "down" in case else default.scale_down
    got = convert_desired_replicas_with_behavior_rate(
        case["current"], case["desired"], case["min"], case["max"], up, down,
        _events(case.get("up_events")), _events(case.get("down_events")), T0,
    )  # fmt: skip
    assert got == (case["expected"], case["condition"])


@pytest.mark.parametrize("case", HZ["convert_with_rules"], ids=_ids(HZ["convert_with_rules"]))
def test_kubernetes_convert_with_rules(case):
    got = convert_desired_replicas_with_rules(case["current"], case["desired"], case["min"], case["max"])
    assert got == (case["expected"], case["condition"])


@pytest.mark.parametrize("case", HZ["limits"], ids=_ids(HZ["limits"]))
def test_kubernetes_scale_limits(case):
    rules = HPAScalingRules(
        stabilization_window_seconds=300,
        select_policy="Min",
        policies=[
            HPAScalingPolicy(type="Pods", value=2, period_seconds=60),
            HPAScalingPolicy(type="Percent", value=50, period_seconds=60),
        ],
    )
    f = scale_up_limit if case["direction"] == "up" else scale_down_limit
    assert f(case["current"], [], [], rules, T0) == case["expected"]


@pytest.mark.parametrize("case", HZ["stabilize"], ids=_ids(HZ["stabilize"]))
def test_kubernetes_stabilize_recommendation(case):
    recs = [(T0 - ago, r) for r, ago in case["recommendations"]]
    assert stabilize_recommendation(recs, T0, case["desired"], 300.0) == case["expected"]
    assert len(recs) == case["log_length"]


@pytest.mark.parametrize("case", HZ["stabilize_with_behaviors"], ids=_ids(HZ["stabilize_with_behaviors"]))
def test_kubernetes_stabilize_with_behaviors(case):
    recs = [(T0 - ago, r) for r, ago in case["recommendations"]]
    got = stabilize_recommendation_with_behaviors(
        recs, T0, case["current"], case["desired"], case["up_window"], case["down_window"]
    )
    assert got == case["expected"]
    assert [r for _, r in recs] == case["stored"]


def test_upstream_case_counts(capsys):
    """Every ported case is either run above or kept with a reason; report the counts."""
    k8s_sections = ("resource", "pods", "object", "object_per_pod", "external", "external_per_pod", "group_pods")
    hz_sections = ("scaling_with_rules", "convert_with_rules", "limits", "stabilize", "stabilize_with_behaviors")
    k8s_run = sum(len(K8S[k]) for k in k8s_sections) + sum(len(HZ[k]) for k in hz_sections)
    kn_run = len(KN["cases"]) + len(KN["start"])
    skipped = K8S["not_expressible"] + HZ["not_expressible"] + KN["not_expressible"]
    assert all(c.get("reason") for c in skipped)
    assert k8s_run >= 150 and kn_run >= 30
    with capsys.disabled():
        print(f"\nupstream tables: {k8s_run} Kubernetes + {kn_run} Knative cases run; {len(skipped)} not expressible")
