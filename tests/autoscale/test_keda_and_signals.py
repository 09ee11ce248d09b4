"""KEDA ScaledObject decisions, the service signals the engine serves the autoscalers, the new
scenario fields' validation, and an end-to-end run of scenarios/inference-keda.yaml.

KEDA semantics from the ScaledObject spec (keda.sh/docs/latest/reference/scaledobject-spec) and
the prometheus scaler (keda.sh/docs/latest/scalers/prometheus): active while a value exceeds its
activationThreshold; from zero to max(minReplicaCount, 1); to zero once cooldownPeriod has
passed since the last active poll; in between, an HPA on External metrics (AverageValue target =
threshold per replica).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

import gpusim
from gpusim.autoscale.hpa import HorizontalPodAutoscaler, MetricSample, PodsSample, ServiceSample, replicas_for_metric
from gpusim.autoscale.keda import KEDAScaledObject
from gpusim.autoscale.observe import SignalWindow, aggregate, hpa_samples, parse_query, pod_sample
from gpusim.autoscale.schema import HPAConfig, HPAMetric, KEDAConfig, KPAConfig
from gpusim.cli import main
from gpusim.dataplane import DataPlane

ROOT = Path(__file__).resolve().parents[2]


def keda(**over) -> KEDAConfig:
    cfg = {
        "polling_interval": 30,
        "cooldown_period": 300,
        "min_replica_count": 0,
        "max_replica_count": 10,
        "triggers": [{"metadata": {"query": "sum(vllm:num_requests_waiting)", "threshold": 4}}],
    }
    cfg.update(over)
    return KEDAConfig(**cfg)


def test_keda_defaults_and_hpa_it_creates():
    c = KEDAConfig(triggers=[{"metadata": {"query": "queue_length", "threshold": 5}}])
    assert (c.polling_interval, c.cooldown_period, c.min_replica_count, c.max_replica_count) == (30, 300, 0, 100)
    assert c.triggers[0].metric_type == "AverageValue" and c.triggers[0].metadata.activation_threshold == 0
    h = c.hpa_config()
    assert (h.min_replicas, h.max_replicas) == (1, 100)
    assert [(m.name, m.source, m.target_type, m.target) for m in h.metrics] == [
        ("queue_length", "External", "AverageValue", 5)
    ]
    assert all(f.description for m in (KEDAConfig,) for f in m.model_fields.values())


def test_keda_scales_from_zero_and_back_after_the_cooldown():
    so = KEDAScaledObject(keda())
    # never active: KEDA scales a target with replicas and no LastActiveTime straight to zero
    assert so.reconcile(0.0, 1, [0.0], 1).desired_replicas == 0
    # waiting requests while at zero: activation -> max(minReplicaCount, 1)
    d = so.reconcile(30.0, 0, [3.0], 0)
    assert d.active and d.desired_replicas == 1 and "from zero" in d.reason
    # between polls the HPA runs: AverageValue 4 per replica, 24 waiting -> ceil(24 / 4) = 6 (limit: +4 pods or 100%)
    assert so.reconcile(45.0, 1, [24.0], 1).desired_replicas == 5  # max(1 + 4, 2 x 1)
    # inactive from t = 60; the last active poll was at 30: no scale to zero before 30 + 300
    assert so.reconcile(60.0, 5, [0.0], 5).desired_replicas == 5
    for t in (90.0, 300.0):
        assert so.reconcile(t, 5, [0.0], 5).desired_replicas != 0
    d = so.reconcile(360.0, 5, [0.0], 5)
    assert d.desired_replicas == 0 and "to zero" in d.reason


def test_keda_activation_threshold_and_min_replicas():
    so = KEDAScaledObject(
        keda(triggers=[{"metadata": {"query": "queue_length", "threshold": 4, "activation_threshold": 5}}])
    )
    d = so.reconcile(0.0, 0, [5.0], 0)
    assert d.active is False and d.desired_replicas == 0  # 5 is not above the activation threshold
    assert so.reconcile(30.0, 0, [5.5], 0).desired_replicas == 1
    so = KEDAScaledObject(keda(min_replica_count=2))
    assert so.reconcile(0.0, 0, [1.0], 0).desired_replicas == 2  # from zero to minReplicaCount
    assert so.reconcile(30.0, 1, [0.0], 1).desired_replicas == 2  # never below it, no scale to zero
    so = KEDAScaledObject(keda(idle_replica_count=0, min_replica_count=2, cooldown_period=0))
    assert so.reconcile(0.0, 3, [0.0], 3).desired_replicas == 0


def test_keda_value_metric_type_scales_the_ready_pods():
    so = KEDAScaledObject(
        keda(triggers=[{"metric_type": "Value", "metadata": {"query": "queue_length", "threshold": 10}}])
    )
    so.reconcile(0.0, 2, [30.0], 2)  # active poll; the HPA sees the same 30
    d = so.reconcile(15.0, 2, [30.0], 2)
    assert d.desired_replicas == 6  # GetExternalMetricReplicas: ceil(30 / 10 x 2 ready pods)


def test_query_parsing_and_errors():
    assert parse_query("sum(vllm:num_requests_waiting)") == ("sum", "queue_length")
    assert parse_query("avg( DCGM_FI_DEV_GPU_UTIL )") == ("avg", "gpu_util")
    assert parse_query("tokens_per_s") == ("sum", "tokens_per_s")
    with pytest.raises(ValueError, match="unknown series"):
        parse_query("sum(http_requests_total)")
    with pytest.raises(ValueError, match="is not `name`"):
        parse_query("rate(vllm:num_requests_waiting[1m])")
    assert aggregate([], "avg") == 0.0 and aggregate([1, 3], "avg") == 2.0 and aggregate([1, 3], "max") == 3.0


def test_metric_validation_errors():
    with pytest.raises(ValidationError, match="Value needs type Object or External"):
        HPAMetric(name="queue_length", target_type="Value", target=3)
    with pytest.raises(ValidationError, match="Utilization needs type Resource"):
        HPAMetric(name="utilization", type="Pods", target_type="Utilization", target=50)
    with pytest.raises(ValidationError, match="Resource metric reads `utilization`"):
        HPAMetric(name="gpu_util", type="Resource", target_type="Utilization", target=50)
    with pytest.raises(ValidationError, match="External metric reads one of"):
        HPAMetric(name="utilization", type="External", target=50)
    with pytest.raises(ValidationError, match="idle_replica_count"):
        keda(idle_replica_count=1)
    with pytest.raises(ValidationError, match="min_scale=3 is greater than activation_scale=2"):
        KPAConfig(min_scale=3, activation_scale=2)


@dataclass
class R:  # a replica as the engine keeps it
    index: int
    state: str
    dp_index: int = -1
    running_s: float = math.nan
    ready_s: float = math.nan


def _window():
    dp = DataPlane(4, 2, "round-robin")
    dp.add_replica()
    dp.add_replica()
    w = SignalWindow()
    w.add(dp.serve(np.zeros(6), np.full(6, 10.0), 10.0), output_tokens=600.0)
    return w


def test_pod_view_follows_upstream_groupings():
    w = _window()
    reps = [R(0, "ready", 0, 0.0, 5.0), R(1, "ready", 1, 0.0, 5.0), R(2, "starting", running_s=8.0), R(3, "pending")]
    conc = HPAMetric(name="concurrency", target=1)
    pods, metrics, cpu = pod_sample(conc, reps, w, now_s=10.0, request_milli=1000, cpu_replica=False)
    assert [p.phase for p in pods] == ["Running", "Running", "Running", "Pending"]
    assert set(metrics) == {"replica-0", "replica-1"}  # the loading replica has no server metrics: missing
    assert metrics["replica-0"].value_milli == 3000  # 2 in service + 1 queued at the pod (round-robin)
    gpu = HPAMetric(name="gpu_util", target=50)
    _, m, _ = pod_sample(gpu, reps, w, now_s=10.0, request_milli=1000, cpu_replica=False)
    assert m["replica-2"].value_milli == 0 and m["replica-0"].value_milli == 100_000  # DCGM: idle GPU while loading
    # image still pulling at t = 5: the pod is Pending (unready for every metric)
    pods, _, _ = pod_sample(conc, reps, w, now_s=5.0, request_milli=1000, cpu_replica=False)
    assert pods[2].phase == "Pending"
    # the CPU rule only for a Resource metric on replicas without a GPU
    util = HPAMetric(name="utilization", target_type="Utilization", target=50)
    assert pod_sample(util, reps, w, 10.0, 1000, cpu_replica=True)[2] is True
    assert pod_sample(gpu, reps, w, 10.0, 1000, cpu_replica=True)[2] is False


def test_not_ready_pods_count_for_gpu_util_but_not_for_cpu():
    """The disagreement of issue 16: a loading pod that reports a value counts for a non-CPU metric."""
    gpu = HPAMetric(name="gpu_util", target=50)
    # 2 ready pods at 100 %, 1 loading pod reporting 0: non-CPU -> mean 66 % -> ceil(1.33 x 3) = 4
    s = MetricSample([100.0, 100.0], not_ready_values=[0.0])
    assert replicas_for_metric(3, s, gpu, 0.1) == 4
    # the same as the CPU resource metric: the loading pod is unready -> 0 on a scale-up over 3 pods
    util = HPAMetric(name="utilization", target_type="Utilization", target=50)
    s_cpu = MetricSample([100.0, 100.0], not_ready_values=[0.0], cpu=True)
    assert replicas_for_metric(3, s_cpu, util, 0.1) == 4  # (100+100+0)/3 = 66 % / 50 = 1.33 -> ceil(4)
    assert replicas_for_metric(3, MetricSample([100.0, 100.0], not_ready_values=[90.0], cpu=True), util, 0.1) == 4
    assert replicas_for_metric(3, MetricSample([100.0, 100.0], not_ready_values=[90.0]), util, 0.1) == 6


def test_request_weighted_utilisation():
    """Sum of usage over sum of requests (GetResourceUtilizationRatio), not a mean of percentages."""
    util = HPAMetric(name="utilization", target_type="Utilization", target=50)
    # usage 0.9 of a 1-GPU request and 0.1 of a 4-GPU request: 1.0 / 5 = 20 %, not mean(90, 2.5) = 46 %
    s = MetricSample([0.9, 0.1], requests=[1.0, 4.0])
    assert replicas_for_metric(2, s, util, 0.1) == 1  # ceil(0.4 x 2)
    assert replicas_for_metric(2, MetricSample([90.0, 2.5]), util, 0.1) == 2  # 46 % / 50 %: within the tolerance


def test_service_signals_and_samples():
    w = _window()
    reps = [R(0, "ready", 0, 0.0, 5.0), R(1, "ready", 1, 0.0, 5.0)]
    assert sum(w.series("queue_length", [0, 1])) == pytest.approx(2.0)
    assert sum(w.series("requests_running", [0, 1])) == pytest.approx(4.0)
    assert w.series("rps", [0, 1]) == [pytest.approx(0.6)] and w.series("tokens_per_s", [0, 1]) == [60.0]
    metrics = [
        HPAMetric(name="queue_length", type="External", target=1),
        HPAMetric(name="gpu_util", type="Object", target_type="Value", target=50),
        HPAMetric(name="concurrency", target=2),
    ]
    samples = hpa_samples(metrics, reps, w, 10.0, 1000, False)
    assert isinstance(samples[0], ServiceSample) and sum(samples[0].values) == pytest.approx(2.0)
    assert samples[1].values == [100.0] and samples[1].ready_pods == 2
    assert isinstance(samples[2], PodsSample)
    hpa = HorizontalPodAutoscaler(HPAConfig(max_replicas=10, metrics=metrics))
    d = hpa.reconcile(10.0, 2, samples)
    # External AverageValue: ceil(2 / 1) = 2; Object Value: 100 / 50 x 2 ready = 4; Pods: 3 / 2 -> ceil(1.5 x 2) = 3
    assert d.metric_proposal == 4


def test_schema_lists_the_new_blocks(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    for key in ("KEDAConfig", "activation_threshold", "min_replica_count", "External", "activation_scale",
                "target_burst_capacity"):  # fmt: skip
        assert key in out, key


def test_bad_keda_query_is_located(tmp_path, capsys):
    text = (
        (ROOT / "scenarios/inference-keda.yaml")
        .read_text()
        .replace("query: sum(vllm:num_requests_waiting)", "query: sum(http_requests_total)")
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and not (tmp_path / "out").exists()
    assert str(path) in err and "triggers[0].metadata.query" in err and "unknown series" in err


def test_inference_keda_scenario_scales_to_and_from_zero():
    """End to end: the shipped KEDA example, 40 minutes of it."""
    doc = yaml.safe_load((ROOT / "scenarios/inference-keda.yaml").read_text())
    doc["duration"] = "40m"
    r = gpusim.simulate(doc)
    ts = r.services
    desired = ts["desired_replicas"].to_numpy()
    zero = desired == 0
    assert zero.any() and (~zero).any()
    to_zero = np.flatnonzero(zero[1:] & ~zero[:-1]) + 1
    from_zero = np.flatnonzero(~zero[1:] & zero[:-1]) + 1
    assert len(to_zero) >= 1 and len(from_zero) >= 1
    t = ts["time_s"].to_numpy()
    arrived = ts["arrived"].to_numpy()
    for k in to_zero:  # never to zero within the 300 s cooldown after requests were last there
        busy = np.flatnonzero(arrived[:k] > 0)
        if busy.size:
            assert t[k] - t[busy[-1]] >= 300 - 15
    for k in from_zero:  # activation comes from requests waiting while at zero
        assert arrived[k - 1 : k + 1].sum() > 0
    assert ts["desired_replicas"].max() <= 8
    s = r.summary
    assert (
        s["requests_served"] + s["requests_timed_out"] + s["requests_dropped"] + s["requests_in_flight_end"]
        == s["requests"]
    )
    assert s["requests_served"] > 0.9 * s["requests"]
