"""Configuration of the pod autoscalers: one home for every default, each with its upstream source.

Kubernetes HPA defaults come from kube-controller-manager flags and `pkg/apis/autoscaling/v2/
defaults.go` (see /work/shared/catalog/hardware-facts.md section 6.1); Knative KPA defaults from
knative/serving `config/core/configmaps/autoscaler.yaml` (section 6.2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_K8S_DEFAULTS = "kubernetes pkg/apis/autoscaling/v2/defaults.go"
_KCM_FLAGS = "kube-controller-manager flag"
_KNATIVE_CM = "knative/serving config/core/configmaps/autoscaler.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HPAScalingPolicy(_Model):
    """One rate limit: at most `value` pods, or `value` percent of the pods at the period start."""

    type: Literal["Pods", "Percent"] = Field(description="Pods: a number of pods; Percent: percent of the replicas.")
    value: int = Field(gt=0, description="Pods (count) or Percent (percent) allowed to change per period.")
    period_seconds: int = Field(
        gt=0, le=1800, description="Length in seconds of the look-back period the limit applies to (1..1800)."
    )


class HPAScalingRules(_Model):
    """autoscaling/v2 HPAScalingRules for one direction."""

    stabilization_window_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Seconds of past recommendations considered; None = the direction's default "
        f"(scale-up 0 s, {_K8S_DEFAULTS}; scale-down the controller's "
        "--horizontal-pod-autoscaler-downscale-stabilization, 300 s).",
    )
    select_policy: Literal["Max", "Min", "Disabled"] = Field(
        default="Max",
        description=f"Which policy limit wins: Max (largest change), Min (smallest), Disabled (no scaling); "
        f"default Max ({_K8S_DEFAULTS}).",
    )
    policies: list[HPAScalingPolicy] | None = Field(
        default=None,
        description="Rate limits; None = the direction's default (scale-up: 100 Percent and 4 Pods per 15 s; "
        f"scale-down: 100 Percent per 15 s; {_K8S_DEFAULTS}).",
    )
    tolerance: float | None = Field(
        default=None,
        ge=0,
        description="Dimensionless tolerance for this direction (HPAConfigurableTolerance, Kubernetes 1.33+); "
        "None = the controller's --horizontal-pod-autoscaler-tolerance.",
    )


def _default_scale_up() -> HPAScalingRules:
    return HPAScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=[
            HPAScalingPolicy(type="Percent", value=100, period_seconds=15),
            HPAScalingPolicy(type="Pods", value=4, period_seconds=15),
        ],
    )


def _default_scale_down() -> HPAScalingRules:
    return HPAScalingRules(
        stabilization_window_seconds=None,
        select_policy="Max",
        policies=[HPAScalingPolicy(type="Percent", value=100, period_seconds=15)],
    )


class HPABehavior(_Model):
    """autoscaling/v2 HorizontalPodAutoscalerBehavior; unset fields take the Kubernetes defaults."""

    scale_up: HPAScalingRules = Field(
        default_factory=_default_scale_up,
        description=f"Scale-up rules; default window 0 s, 100 Percent and 4 Pods per 15 s, Max ({_K8S_DEFAULTS}).",
    )
    scale_down: HPAScalingRules = Field(
        default_factory=_default_scale_down,
        description=f"Scale-down rules; default window 300 s, 100 Percent per 15 s, Max ({_K8S_DEFAULTS}).",
    )

    @model_validator(mode="after")
    def _fill_defaults(self):
        # A user block that leaves policies unset gets the direction's default policies, as defaults.go does.
        up, down = self.scale_up, self.scale_down
        if up.policies is None or up.stabilization_window_seconds is None:
            d = _default_scale_up()
            up = up.model_copy(
                update={
                    "policies": up.policies if up.policies is not None else d.policies,
                    "stabilization_window_seconds": up.stabilization_window_seconds
                    if up.stabilization_window_seconds is not None
                    else 0,
                }
            )
        if down.policies is None:
            down = down.model_copy(update={"policies": _default_scale_down().policies})
        object.__setattr__(self, "scale_up", up)
        object.__setattr__(self, "scale_down", down)
        return self


POD_SIGNALS = ("utilization", "concurrency", "requests_running", "rps", "queue_length", "gpu_util", "tokens_per_s",
               "kv_cache_usage")  # fmt: skip
"""Per-pod signals a Resource or Pods metric reads (see `gpusim.autoscale.observe`)."""

SERVICE_SIGNALS = ("queue_length", "concurrency", "requests_running", "rps", "tokens_per_s", "gpu_util",
                   "kv_cache_usage")  # fmt: skip
"""Service-wide signals an Object or External metric (and a KEDA trigger) reads."""


class HPAMetric(_Model):
    """One metric of the HPA (autoscaling/v2 MetricSpec), named by the simulated signal it reads.

    ``type`` is the metric source: Resource (per-pod usage against the pod's request, Utilization
    target; `utilization` only), Pods (per-pod average, AverageValue target), Object (one value
    describing the service, e.g. its queue length; Value or AverageValue target) or External (a
    value from outside the cluster's objects, as the Prometheus adapter or KEDA serve a query;
    Value or AverageValue target). Unset, it follows the target type: Utilization -> Resource,
    otherwise Pods.
    """

    name: Literal[
        "utilization",
        "concurrency",
        "rps",
        "queue_length",
        "gpu_util",
        "tokens_per_s",
        "requests_running",
        "kv_cache_usage",
    ] = Field(
        description="Signal read: utilization (percent of the replica's request busy), concurrency (requests in "
        "flight), requests_running (requests in service), rps (requests per second), queue_length (requests "
        "waiting), tokens_per_s (output tokens per second), gpu_util (DCGM_FI_DEV_GPU_UTIL, percent), "
        "kv_cache_usage (vllm:gpu_cache_usage_perc: the KV cache's used fraction, 0-1; LLM-serving models only)."
    )
    type: Literal["Resource", "Pods", "Object", "External"] | None = Field(
        default=None,
        description="Metric source (autoscaling/v2 MetricSourceType); None = Resource for a Utilization target, "
        "else Pods.",
    )
    target_type: Literal["Utilization", "AverageValue", "Value"] = Field(
        default="AverageValue",
        description="Utilization: percent of the request (Resource); AverageValue: the metric's unit per pod; "
        "Value: the metric's total (Object and External only).",
    )
    target: float = Field(
        gt=0, description="Target: percent (Utilization), or the metric's unit (per pod for AverageValue)."
    )

    @model_validator(mode="after")
    def _check(self):
        src = self.source
        if self.target_type == "Utilization" and src != "Resource":
            raise ValueError(f"target_type Utilization needs type Resource (got {src})")
        if src == "Resource" and (self.name != "utilization" or self.target_type != "Utilization"):
            raise ValueError("a Resource metric reads `utilization` with target_type Utilization")
        if self.target_type == "Value" and src not in ("Object", "External"):
            raise ValueError(f"target_type Value needs type Object or External (got {src})")
        if src == "Pods" and self.name not in POD_SIGNALS:
            raise ValueError(f"a Pods metric reads one of {', '.join(POD_SIGNALS)}; got {self.name!r}")
        if src in ("Object", "External") and self.name not in SERVICE_SIGNALS:
            raise ValueError(f"an {src} metric reads one of {', '.join(SERVICE_SIGNALS)}; got {self.name!r}")
        return self

    @property
    def source(self) -> str:
        if self.type is not None:
            return self.type
        return "Resource" if self.target_type == "Utilization" else "Pods"


class HPAConfig(_Model):
    """A HorizontalPodAutoscaler (autoscaling/v2) and the controller flags it runs under."""

    min_replicas: int = Field(
        default=1, ge=0, description=f"Minimum replicas (count); default 1 ({_K8S_DEFAULTS}); 0 needs HPAScaleToZero."
    )
    max_replicas: int = Field(ge=1, description="Maximum replicas (count); required by the API.")
    metrics: list[HPAMetric] = Field(min_length=1, description="Metrics; the largest proposal wins.")
    behavior: HPABehavior = Field(default_factory=HPABehavior, description="Scale-up/down rules (autoscaling/v2).")
    sync_period_s: float = Field(
        default=15.0,
        gt=0,
        description=f"Seconds between reconciliations; default 15 s ({_KCM_FLAGS} "
        "--horizontal-pod-autoscaler-sync-period).",
    )
    tolerance: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description=f"Dimensionless band around ratio 1 with no scaling; default 0.1 "
        f"({_KCM_FLAGS} --horizontal-pod-autoscaler-tolerance).",
    )
    downscale_stabilization_s: int = Field(
        default=300,
        ge=0,
        description=f"Seconds; scale-down window when behavior leaves it unset; default 300 s "
        f"({_KCM_FLAGS} --horizontal-pod-autoscaler-downscale-stabilization).",
    )

    @model_validator(mode="after")
    def _check(self):
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        return self

    @property
    def tolerances(self):
        """Scale-down and scale-up tolerance (Tolerances in replica_calculator.go)."""
        from gpusim.autoscale.hpa import Tolerances

        down, up = self.behavior.scale_down.tolerance, self.behavior.scale_up.tolerance
        return Tolerances(self.tolerance if down is None else down, self.tolerance if up is None else up)

    @property
    def scale_down_window_s(self) -> int:
        w = self.behavior.scale_down.stabilization_window_seconds
        return self.downscale_stabilization_s if w is None else w


class KPAConfig(_Model):
    """A Knative Pod Autoscaler (KPA) for one revision, with the cluster-wide autoscaler config."""

    metric: Literal["concurrency", "rps"] = Field(
        default="concurrency", description=f"Scaling metric; default concurrency ({_KNATIVE_CM})."
    )
    container_concurrency: int = Field(
        default=0,
        ge=0,
        description="Hard limit of requests in flight per pod (count); 0 = unlimited (Knative default).",
    )
    container_concurrency_target_default: float = Field(
        default=100.0,
        gt=0,
        description=f"Target requests in flight per pod when no hard limit is set (count); "
        f"default 100 ({_KNATIVE_CM}).",
    )
    target: float | None = Field(
        default=None,
        gt=0,
        description="Per-pod target (requests in flight, or 1/s for rps) from the annotation "
        "autoscaling.knative.dev/target; None = the defaults below.",
    )
    requests_per_second_target_default: float = Field(
        default=200.0,
        gt=0,
        description=f"Target requests per second per pod for metric rps (1/s); default 200 ({_KNATIVE_CM}).",
    )
    target_utilization_percentage: float = Field(
        default=70.0, gt=0, le=100, description=f"Percent of the target actually aimed at; default 70 ({_KNATIVE_CM})."
    )
    stable_window_s: float = Field(
        default=60.0, ge=6, le=3600, description=f"Seconds averaged in stable mode; default 60 s ({_KNATIVE_CM})."
    )
    panic_window_percentage: float = Field(
        default=10.0,
        ge=1,
        le=100,
        description=f"Panic window as percent of the stable window; default 10 ({_KNATIVE_CM}).",
    )
    panic_threshold_percentage: float = Field(
        default=200.0,
        ge=110,
        description=f"Panic when desired pods (panic window) / ready pods reaches this percent; "
        f"default 200 ({_KNATIVE_CM}).",
    )
    max_scale_up_rate: float = Field(
        default=1000.0,
        gt=1,
        description=f"Dimensionless: at most ceil(rate x ready) pods per decision; default 1000 ({_KNATIVE_CM}).",
    )
    max_scale_down_rate: float = Field(
        default=2.0,
        gt=1,
        description=f"Dimensionless: at least floor(ready / rate) pods per decision; default 2 ({_KNATIVE_CM}).",
    )
    tick_interval_s: float = Field(
        default=2.0, gt=0, description=f"Seconds between decisions; default 2 s ({_KNATIVE_CM})."
    )
    scale_to_zero_grace_period_s: float = Field(
        default=30.0,
        ge=0,
        description=f"Seconds the revision must want zero pods before the last is removed; "
        f"default 30 s ({_KNATIVE_CM}).",
    )
    enable_scale_to_zero: bool = Field(default=True, description=f"Allow zero pods; default true ({_KNATIVE_CM}).")
    scale_down_delay_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description=f"Seconds a scale-down must persist (max over the window); default 0 ({_KNATIVE_CM}).",
    )
    min_scale: int = Field(default=0, ge=0, description="Minimum pods (count); annotation min-scale, default 0.")
    max_scale: int = Field(default=0, ge=0, description="Maximum pods (count); annotation max-scale, 0 = unbounded.")
    initial_scale: int = Field(
        default=1, ge=0, description=f"Pods (count) a new revision starts with; default 1 ({_KNATIVE_CM})."
    )
    activation_scale: int = Field(
        default=1,
        ge=1,
        description="Fewest pods (count) when scaling from zero, annotation autoscaling.knative.dev/activation-scale; "
        "default 1 (values above 1 lift any non-zero decision to at least this).",
    )
    target_burst_capacity: float = Field(
        default=211.0,
        ge=-1,
        description="Requests in flight (count) of spare capacity the revision should keep; -1 = unlimited, "
        "0 = none; default 211 (knative/serving pkg/autoscaler/config/config.go). Sets the reported excess "
        "burst capacity.",
    )

    @model_validator(mode="after")
    def _check(self):
        if self.max_scale and self.min_scale > self.max_scale:
            raise ValueError(f"min_scale {self.min_scale} > max_scale {self.max_scale}")
        if self.target_burst_capacity < 0 and self.target_burst_capacity != -1:
            raise ValueError("target_burst_capacity is -1 (unlimited) or >= 0")
        if self.activation_scale > 1 and self.min_scale > self.activation_scale:
            raise ValueError(f"min_scale={self.min_scale} is greater than activation_scale={self.activation_scale}")
        if self.activation_scale > 1 and self.max_scale and self.max_scale < self.activation_scale:
            raise ValueError(f"max_scale={self.max_scale} is less than activation_scale={self.activation_scale}")
        return self

    @property
    def panic_window_s(self) -> float:
        return self.stable_window_s * self.panic_window_percentage / 100.0

    @property
    def panic_threshold(self) -> float:
        return self.panic_threshold_percentage / 100.0

    @property
    def total_value(self) -> float:
        """Per-pod capacity the target is a fraction of (Knative's TotalValue)."""
        # ResolveMetricTarget in knative/serving pkg/autoscaler/scaling (target annotation, then defaults)
        if self.metric == "rps":
            return self.target if self.target is not None else self.requests_per_second_target_default
        if self.target is not None:
            cc = self.container_concurrency
            return min(self.target, float(cc)) if cc > 0 else self.target
        if self.container_concurrency > 0:
            return float(self.container_concurrency)
        return self.container_concurrency_target_default

    @property
    def target_value(self) -> float:
        """Per-pod target the KPA divides by (Knative's TargetValue = TotalValue x utilisation)."""
        return max(0.01, self.total_value * self.target_utilization_percentage / 100.0)


_KEDA = "KEDA ScaledObject spec (keda.sh/docs/latest/reference/scaledobject-spec)"
_KEDA_PROM = "KEDA prometheus scaler (keda.sh/docs/latest/scalers/prometheus)"


class KEDAPrometheusMetadata(_Model):
    """The metadata of a prometheus trigger."""

    server_address: str | None = Field(
        default=None, description="Prometheus address (recorded only: gpusim serves the query from its signals)."
    )
    query: str = Field(
        description="A Prometheus-like query over the service's signals: `name` or `sum|avg|max|min(name)`, where "
        "name is a signal (queue_length, concurrency, requests_running, rps, tokens_per_s, gpu_util) or a series "
        "name such as vllm:num_requests_waiting, vllm:num_requests_running or DCGM_FI_DEV_GPU_UTIL."
    )
    threshold: float = Field(gt=0, description=f"Target value of the HPA metric KEDA creates ({_KEDA_PROM}).")
    activation_threshold: float = Field(
        default=0.0,
        ge=0,
        description=f"The trigger is active while the value is above this; default 0 ({_KEDA_PROM}).",
    )

    @field_validator("query")
    @classmethod
    def _check_query(cls, v: str) -> str:
        from gpusim.autoscale.observe import parse_query

        parse_query(v)  # raises ValueError with what is allowed
        return v


class KEDATrigger(_Model):
    """One trigger of a ScaledObject (only the prometheus scaler)."""

    type: Literal["prometheus"] = Field(default="prometheus", description="Scaler type; gpusim serves prometheus.")
    metric_type: Literal["AverageValue", "Value"] = Field(
        default="AverageValue",
        description=f"Target type of the External metric KEDA gives the HPA: AverageValue (threshold per replica) "
        f"or Value (threshold for the total); default AverageValue ({_KEDA}).",
    )
    metadata: KEDAPrometheusMetadata = Field(description="Query, threshold and activation threshold.")


class KEDAConfig(_Model):
    """A KEDA ScaledObject: an HPA on External metrics from the triggers, and scale to and from zero.

    KEDA's operator polls the triggers every `polling_interval`; while any is active (value above
    its activation threshold) and the service has no replicas it scales to max(min_replica_count,
    1); when none has been active for `cooldown_period` and min_replica_count is 0 it scales to 0
    (or `idle_replica_count`). Between, the HPA it owns (min max(min_replica_count, 1), max
    max_replica_count, one External metric per trigger) scales the replicas.
    """

    polling_interval: float = Field(
        default=30.0, gt=0, description=f"Seconds between trigger polls; default 30 ({_KEDA})."
    )
    cooldown_period: float = Field(
        default=300.0,
        ge=0,
        description=f"Seconds after the last active poll before scaling to zero; default 300 ({_KEDA}).",
    )
    initial_cooldown_period: float = Field(
        default=0.0, ge=0, description=f"Seconds after creation before the first scale to zero; default 0 ({_KEDA})."
    )
    idle_replica_count: int | None = Field(
        default=None, ge=0, description=f"Replicas while no trigger is active; default unset ({_KEDA})."
    )
    min_replica_count: int = Field(default=0, ge=0, description=f"Fewest replicas; default 0 ({_KEDA}).")
    max_replica_count: int = Field(default=100, ge=1, description=f"Most replicas; default 100 ({_KEDA}).")
    triggers: list[KEDATrigger] = Field(min_length=1, description="Triggers; the largest HPA proposal wins.")
    behavior: HPABehavior = Field(
        default_factory=HPABehavior,
        description="advanced.horizontalPodAutoscalerConfig.behavior of the HPA KEDA creates (Kubernetes defaults).",
    )
    sync_period_s: float = Field(
        default=15.0, gt=0, description=f"Seconds between the HPA's reconciliations; default 15 ({_KCM_FLAGS})."
    )

    @model_validator(mode="after")
    def _check(self):
        if self.min_replica_count > self.max_replica_count:
            raise ValueError(f"min_replica_count {self.min_replica_count} > max_replica_count {self.max_replica_count}")
        if self.idle_replica_count is not None and self.idle_replica_count >= max(self.min_replica_count, 1):
            raise ValueError("idle_replica_count must be less than min_replica_count (and than 1 when that is 0)")
        return self

    def hpa_config(self) -> HPAConfig:
        """The HPA KEDA creates for this ScaledObject."""
        return HPAConfig(
            min_replicas=max(self.min_replica_count, 1),
            max_replicas=self.max_replica_count,
            metrics=[
                HPAMetric(
                    name=_trigger_signal(t), type="External", target_type=t.metric_type, target=t.metadata.threshold
                )
                for t in self.triggers
            ],
            behavior=self.behavior,
            sync_period_s=self.sync_period_s,
        )


def _trigger_signal(t: KEDATrigger) -> str:
    from gpusim.autoscale.observe import parse_query

    return parse_query(t.metadata.query)[1]
