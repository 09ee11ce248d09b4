"""Pod autoscalers as pure decision logic with explicit state (no SimPy).

`HorizontalPodAutoscaler` follows the Kubernetes HPA controller; `KnativePodAutoscaler` the
Knative KPA. Configuration lives in `gpusim.autoscale.schema`.
"""

from gpusim.autoscale.hpa import HorizontalPodAutoscaler, HPADecision, MetricSample, replicas_for_metric
from gpusim.autoscale.kpa import KnativePodAutoscaler, KPADecision, WindowAverage
from gpusim.autoscale.schema import HPABehavior, HPAConfig, HPAMetric, HPAScalingPolicy, HPAScalingRules, KPAConfig

__all__ = [
    "HPABehavior",
    "HPAConfig",
    "HPADecision",
    "HPAMetric",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "KPAConfig",
    "KPADecision",
    "KnativePodAutoscaler",
    "MetricSample",
    "WindowAverage",
    "replicas_for_metric",
]
