"""The scenario schema: pydantic v2 models, the one home of every default.

A scenario file is YAML; `gpusim.scenario.loader` parses it into `Scenario`. Unknown keys are
rejected everywhere (`extra="forbid"`). Every field carries a description with its unit; the
JSON Schema that `gpusim schema` prints is generated from these models.

Fields borrowed from Kubernetes keep Kubernetes' spelling (`nodeSelector`, `tolerations`,
`requests`, `limits`, taint `effect`), so a pod spec can be pasted in; gpusim's own fields are
snake_case with unit suffixes in their descriptions.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    Strict,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from gpusim.autoscale.schema import HPAConfig, KEDAConfig, KPAConfig
from gpusim.hardware.schema import CatalogOverrides
from gpusim.scenario.failures import Checkpoint, Failures, drop_unset
from gpusim.scenario.llm import LlmEngineBlock, LlmModelBlock, LlmSlo
from gpusim.scenario.sweep import SweepSpec
from gpusim.sharing import (  # noqa: F401  (the sharing blocks' models, re-exported for old import paths)
    GPU_MILLI_RESOURCE,
    AmdPartition,
    IntelSharedDevices,
    Mig,
    SharingMode,
    TimeSlicing,
    TimeSlicingResource,
    default_mode,
    sharing_block,
)
from gpusim.sharing.registry import mode_keys
from gpusim.traces.schema import ArrivalProcess, TraceSource
from gpusim.units import CpuMilli, Duration, MemoryMiB, parse_quantity

PLACEMENT_POLICIES = (
    "first-fit",
    "best-fit",
    "spread",
    "random",
    "dot-product",
    "weighted-best-fit",
    "gpu-packing",
    "gpu-clustering",
    "fgd",
)
"""Placement policies a scenario may name (the placement core registers the same names; a test
keeps the two lists equal). Listed here so that loading a scenario does not compile kernels."""

GPU_RESOURCE_NAMES = ("nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "gpu.intel.com/xe", "habana.ai/gaudi")
"""Extended-resource names of whole accelerators, per vendor device plugin."""

GPU_COUNT_RESOURCE = "alibabacloud.com/gpu-count"
"""Alibaba's GPU-sharing resources (as in the openb trace and the FGD authors' simulator): a share
of each GPU in 1/1000 and the number of GPUs; served by node pools with `sharing: {fractional: true}`."""

_NAME_RE = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, allow_inf_nan=False)


# --------------------------------------------------------------------------- Kubernetes pieces
class Taint(_Model):
    """A node taint, as in `kubectl taint` (`key=value:Effect`)."""

    key: str = Field(description="Taint key, e.g. nvidia.com/gpu.")
    value: str = Field("", description="Taint value (may be empty).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        description="Taint effect; NoSchedule and NoExecute keep pods without a matching toleration off the node."
    )


def unique_names(items: list, what: str) -> list:
    """`items` unchanged if their ``name``s are unique; else ValueError naming the repeated ones."""
    names = [i.name for i in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(dup)}")
    return items


def _taint_from_string(v: object) -> object:
    # Accept kubectl's compact form "key=value:Effect" or "key:Effect".
    if isinstance(v, str):
        m = re.fullmatch(r"([^=:]+)(?:=([^:]*))?:(\w+)", v.strip())
        if not m:
            raise ValueError(f"{v!r} is not a taint; write key=value:Effect, e.g. nvidia.com/gpu=present:NoSchedule")
        return {"key": m.group(1), "value": m.group(2) or "", "effect": m.group(3)}
    return v


class Toleration(_Model):
    """A pod toleration with Kubernetes semantics."""

    key: str = Field("", description="Taint key to tolerate; empty with operator Exists tolerates every taint.")
    operator: Literal["Equal", "Exists"] = Field(
        "Equal", description="Equal matches key and value; Exists matches the key."
    )
    value: str = Field("", description="Taint value to match (operator Equal).")
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        "", description="Effect to match; empty matches all effects."
    )

    def tolerates(self, taint) -> bool:
        """Whether this toleration matches `taint` (key, value, effect), as Kubernetes matches them."""
        from gpusim.cluster.state import toleration_matches

        return toleration_matches(
            self.key, self.operator, self.value, self.effect, taint.key, taint.value, taint.effect
        )


def tolerated(taint, tolerations) -> bool:
    """Whether any of `tolerations` tolerates `taint`."""
    return any(t.tolerates(taint) for t in tolerations)


Quantity = Annotated[
    Fraction,
    BeforeValidator(parse_quantity),
    PlainSerializer(lambda q: str(q.numerator) if q.denominator == 1 else str(float(q)), return_type=str),
]


class ResourceRequirements(_Model):
    """Container resources, Kubernetes style: `requests` and `limits` keyed by resource name.

    Resource names: `cpu` (cores), `memory` (bytes), and extended resources such as
    `nvidia.com/gpu`, `amd.com/gpu`, `habana.ai/gaudi`, `gpu.intel.com/i915` (whole devices).
    For extended resources Kubernetes requires requests == limits; a limit alone implies the
    request.
    """

    requests: dict[str, Annotated[Quantity, Field()]] = Field(
        default_factory=dict, description="Resource name -> Kubernetes quantity the scheduler reserves."
    )
    limits: dict[str, Annotated[Quantity, Field()]] = Field(
        default_factory=dict, description="Resource name -> Kubernetes quantity the container may use."
    )

    def gpu_resource(self) -> tuple[str, Fraction] | None:
        """The accelerator resource requested (name, count), after Kubernetes defaulting: a vendor's
        whole-device resource, `nvidia.com/gpu.shared` (time-slicing with renameByDefault) or a MIG
        profile `nvidia.com/mig-<profile>`.
        """
        merged = {**self.requests, **self.limits}
        for name in merged:
            if name in GPU_RESOURCE_NAMES or name == "nvidia.com/gpu.shared" or name.startswith("nvidia.com/mig-"):
                return name, merged[name]
        return None

    def gpu_request(self) -> tuple[str, int, int]:
        """(resource name, GPUs, milli-GPU per GPU) after Kubernetes defaulting.

        `alibabacloud.com/gpu-milli: 300` is a 0.3 share of one GPU (with
        `alibabacloud.com/gpu-count: N`, N GPUs of that share each).
        """
        merged = {**self.requests, **self.limits}
        if GPU_MILLI_RESOURCE in merged or GPU_COUNT_RESOURCE in merged:
            milli = int(merged.get(GPU_MILLI_RESOURCE, 1000))
            count = int(merged.get(GPU_COUNT_RESOURCE, 1))
            return GPU_MILLI_RESOURCE, count, milli
        g = self.gpu_resource()
        if g is None:
            return "nvidia.com/gpu", 0, 1000
        return g[0], int(g[1]), 1000

    def cpu_milli(self) -> int:
        q = self.requests.get("cpu", self.limits.get("cpu", Fraction(0)))
        return int(-(-q * 1000 // 1))

    def memory_mib(self) -> int:
        q = self.requests.get("memory", self.limits.get("memory", Fraction(0)))
        return int(-(-q // 2**20))


class PodTemplate(_Model):
    """What each pod of a job asks for and where it may run."""

    resources: ResourceRequirements = Field(
        default_factory=ResourceRequirements, description="Requests and limits of the pod's container."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, alias="nodeSelector", description="Node labels the pod requires (all must match)."
    )
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints the pod tolerates.")
    priority: int = Field(0, description="Pod priority; higher is scheduled first when scheduler.queue is priority.")
    gpu_memory: MemoryMiB | None = Field(
        None,
        description="GPU memory the container actually uses per GPU (bytes, Kubernetes quantity; not a resource "
        "request). On time-sliced GPUs tenants share memory without isolation: a pod that would push a GPU "
        "past its memory fails with an out-of-memory error and is restarted with back-off.",
    )


# --------------------------------------------------------------------------- distributions
class _Dist(_Model):
    pass


class ConstantDuration(_Dist):
    distribution: Literal["constant"] = Field(description="Always the same value.")
    value: Duration = Field(ge=0, description="The duration (seconds).")


class ExponentialDuration(_Dist):
    distribution: Literal["exponential"] = Field(description="Exponential with the given mean.")
    mean: Duration = Field(gt=0, description="Mean duration (seconds).")


class LognormalDuration(_Dist):
    distribution: Literal["lognormal"] = Field(description="Log-normal given by its median and log-space sigma.")
    median: Duration = Field(gt=0, description="Median duration (seconds).")
    sigma: float = Field(gt=0, description="Standard deviation of ln(duration) (dimensionless).")


class UniformDuration(_Dist):
    distribution: Literal["uniform"] = Field(description="Uniform between low and high.")
    low: Duration = Field(gt=0, description="Lower bound (seconds).")
    high: Duration = Field(gt=0, description="Upper bound (seconds).")

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self


class ChoiceDuration(_Dist):
    distribution: Literal["choice"] = Field(description="One of the listed values, with optional weights.")
    values: list[Duration] = Field(min_length=1, description="Possible durations (seconds).")
    weights: list[float] | None = Field(None, description="Relative weights, one per value (default equal).")

    @model_validator(mode="after")
    def _weights(self):
        _check_weights(self.values, self.weights)
        if min(self.values) <= 0:
            raise ValueError("every duration must be > 0")
        return self


def _check_weights(values, weights):
    if weights is not None:
        if len(weights) != len(values):
            raise ValueError(f"weights has {len(weights)} entries but values has {len(values)}")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")


def _constant_shorthand(v: object) -> object:
    # `duration: 2h` is shorthand for a constant distribution.
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return {"distribution": "constant", "value": v}
    return v


# The tagged union is built first and the shorthand validator wraps it: put the other way round,
# pydantic tries every member and a bad value prints one problem per distribution kind.
_DurationUnion = Annotated[
    ConstantDuration | ExponentialDuration | LognormalDuration | UniformDuration | ChoiceDuration,
    Field(discriminator="distribution"),
]
DurationDistribution = Annotated[_DurationUnion, BeforeValidator(_constant_shorthand)]


MaybeDuration = Annotated[_DurationUnion | None, BeforeValidator(_constant_shorthand)]
"""An optional duration distribution that also accepts the shorthand `2h` (a constant)."""


class ConstantCount(_Dist):
    distribution: Literal["constant"] = Field(description="Always the same count.")
    value: int = Field(ge=0, le=10_000_000, description="The count (at most 10,000,000).")


class ChoiceCount(_Dist):
    distribution: Literal["choice"] = Field(description="One of the listed counts, with optional weights.")
    values: list[Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        min_length=1, max_length=10_000, description="Possible counts (each at most 10,000,000)."
    )
    weights: list[float] | None = Field(None, description="Relative weights, one per value (default equal).")

    @model_validator(mode="after")
    def _weights(self):
        _check_weights(self.values, self.weights)
        return self


def _count_shorthand(v: object) -> object:
    if isinstance(v, int) and not isinstance(v, bool):
        return {"distribution": "constant", "value": v}
    if isinstance(v, list):
        return {"distribution": "choice", "values": v}
    return v


CountDistribution = Annotated[
    Annotated[ConstantCount | ChoiceCount, Field(discriminator="distribution")],
    BeforeValidator(_count_shorthand),
]


# --------------------------------------------------------------------------- workloads
class InlineJob(_Model):
    """One training job written out in the scenario."""

    name: str | None = Field(None, description="Job name (default: <workload>-<index>).")
    arrival: Duration = Field(0.0, ge=0, description="Arrival time after the start of the run (seconds).")
    duration: Duration = Field(gt=0, description="Run time on its GPUs without interference (seconds).")
    pods: int = Field(
        1,
        ge=1,
        le=10_000,
        description="Pods in the job (distributed training, at most 10,000); all are bound at once or none.",
    )
    pod: PodTemplate | None = Field(None, description="Overrides the workload's pod template for this job.")


class JobGenerator(_Model):
    """Synthetic training jobs: arrivals from a process; GPUs and durations from distributions or
    drawn from a trace's empirical distribution.
    """

    arrival: ArrivalProcess = Field(description="Arrival process of jobs (poisson, gamma, mmpp, diurnal, flash-crowd).")
    gpus: CountDistribution | None = Field(
        None,
        description="GPUs per pod (whole devices of the pod template's GPU resource, default nvidia.com/gpu); "
        "an integer, a list of integers (uniform choice) or a distribution. Omit to draw job shapes from `shapes_from`.",
    )
    pods: CountDistribution = Field(
        default_factory=lambda: ConstantCount(distribution="constant", value=1),
        description="Pods per job (gang-scheduled); an integer, a list or a distribution.",
    )
    duration: MaybeDuration = Field(
        None,
        description="Job run time distribution (seconds). Omit to draw from `durations_from` or `shapes_from`.",
    )
    shapes_from: TraceSource | None = Field(
        None,
        description="Draw whole job shapes (pods, GPUs per pod, GPU share, CPU, memory, GPU models, priority) "
        "from this trace's empirical joint distribution.",
    )
    durations_from: TraceSource | None = Field(
        None,
        description="Draw run times from this trace's empirical distribution (a training trace, or philly-runtime).",
    )
    start: Duration = Field(0.0, ge=0, description="First possible arrival (seconds from run start).")
    end: Duration | None = Field(
        None, gt=0, description="No arrivals after this time (seconds; default: scenario duration)."
    )
    max_jobs: int | None = Field(
        None, gt=0, le=100_000_000, description="Stop after this many jobs (at most 100,000,000; default: no limit)."
    )

    @field_validator("gpus", "pods", mode="before")
    @classmethod
    def _count_short(cls, v):
        return _count_shorthand(v)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration_short(cls, v):
        return _constant_shorthand(v)

    @model_validator(mode="after")
    def _sources(self):
        if self.gpus is None and self.shapes_from is None:
            raise ValueError("give `gpus` (a distribution) or `shapes_from` (a training trace)")
        if self.duration is None and self.durations_from is None and self.shapes_from is None:
            raise ValueError("give `duration` (a distribution), `durations_from` or `shapes_from` (a trace)")
        if self.duration is not None and self.durations_from is not None:
            raise ValueError("give `duration` or `durations_from`, not both")
        pods = [self.pods.value] if self.pods.distribution == "constant" else self.pods.values
        if min(pods) < 1:
            raise ValueError("pods per job must be >= 1")
        if max(pods) > 10_000:
            raise ValueError(f"pods per job must be <= 10,000; got {max(pods)}")
        if self.gpus is not None:
            gpus = [self.gpus.value] if self.gpus.distribution == "constant" else self.gpus.values
            if max(gpus) > 1024:
                raise ValueError(f"GPUs per pod must be <= 1,024; got {max(gpus)}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end:g} s) must be after start ({self.start:g} s)")
        return self


class TrainingWork(_Model):
    """Job durations as work on a reference GPU, scaled to the GPUs a job gets by the performance model
    (compute-bound and memory-bound parts, multi-GPU scaling efficiency).
    """

    reference_gpu: str = Field("nvidia-a100-40gb", description="Catalog GPU model the durations are measured on.")
    compute_fraction: float = Field(
        0.7, ge=0, le=1, description="Share of a training step that is compute-bound (the rest memory-bound)."
    )
    scaling_efficiency_per_doubling: float = Field(
        0.95, gt=0, le=1, description="Throughput kept per doubling of GPUs (data-parallel scaling)."
    )


class TrainingWorkload(_Model):
    """Training jobs. Each pod holds all its GPUs on one node; a job's pods are bound all at once
    (gang scheduling) or wait.
    """

    type: Literal["training"] = Field("training", description="Workload kind.")
    name: str = Field(
        pattern=_NAME_RE, max_length=63, description="Workload name (DNS label style, at most 63 characters)."
    )
    pod: PodTemplate = Field(
        default_factory=PodTemplate,
        description="Pod template of each job (for traces: nodeSelector, tolerations and the GPU resource name; "
        "CPU, memory and GPUs come from the trace).",
    )
    jobs: list[InlineJob] | None = Field(
        None,
        min_length=1,
        max_length=20_000,
        description="Jobs given one by one (at most 20,000; longer lists belong in a trace file, format generic).",
    )
    generator: JobGenerator | None = Field(None, description="Jobs drawn from a synthetic generator.")
    trace: TraceSource | None = Field(None, description="Jobs replayed from a training trace file.")
    work: TrainingWork | None = Field(
        None,
        description="Treat durations as run time on the reference GPU and scale them by the GPUs a job gets "
        "(default: durations are run times on any whole GPU).",
    )
    checkpoint: Checkpoint | None = Field(
        None, description="Checkpoints and restart after a failure (default: none; a failed job starts over)."
    )
    backoff_limit: Annotated[int, Strict()] | None = Field(
        None,
        ge=0,
        le=2**31 - 1,
        description="Pod failures a job is retried after before it is marked failed (BackoffLimitExceeded), as a "
        "Kubernetes Job's backoffLimit: losing its pods with a node (a failure or a spot reclaim, checkpointed or "
        "not) and each container crash (an out-of-memory kill on a time-sliced GPU) count. Left out: retried "
        "without limit (a plain Job's default is 6: give `backoff_limit: 6` to model one).",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        return drop_unset(drop_unset(handler(self), "checkpoint"), "backoff_limit")

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("jobs", "generator", "trace") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `jobs` (inline list), `generator` or `trace`")
        return self


class LlmModel(_Model):
    """A served LLM; service time from the performance model (prefill compute-bound, decode memory-bound)."""

    params_b: float = Field(gt=0, description="Parameters, billions.")
    precision: Literal["bf16", "fp8", "fp16"] = Field("bf16", description="Weight precision.")


class RequestModel(_Model):
    """What one request costs: an LLM (tokens -> time from the catalog's performance model) or a service-time
    distribution on a reference GPU.
    """

    llm: LlmModel | None = Field(None, description="LLM served by the replicas.")
    service_time: MaybeDuration = Field(
        None, description="Service time of one request on one whole reference GPU, alone (seconds)."
    )
    reference_gpu: str | None = Field(
        None,
        description="Catalog GPU model whose whole device takes `service_time` (default: the first pool's GPU that "
        "serves the replicas); other GPUs and slices are scaled by the performance model.",
    )

    @model_validator(mode="after")
    def _one(self):
        if (self.llm is None) == (self.service_time is None):
            raise ValueError("give exactly one of `llm` or `service_time`")
        return self


class RequestArrivals(_Model):
    """Where requests come from: a request trace, or a synthetic process with token counts."""

    trace: TraceSource | None = Field(None, description="Request trace (azure-llm, genai-requests, generic).")
    process: ArrivalProcess | None = Field(None, description="Synthetic arrival process.")
    prompt_tokens: CountDistribution = Field(
        default_factory=lambda: ConstantCount(distribution="constant", value=1000),
        description="Prompt tokens per synthetic request (LLM services).",
    )
    output_tokens: CountDistribution = Field(
        default_factory=lambda: ConstantCount(distribution="constant", value=100),
        description="Output tokens per synthetic request (LLM services).",
    )

    @field_validator("prompt_tokens", "output_tokens", mode="before")
    @classmethod
    def _short(cls, v):
        return _count_shorthand(v)

    @model_validator(mode="after")
    def _one(self):
        if (self.trace is None) == (self.process is None):
            raise ValueError("give exactly one of `trace` or `process`")
        return self


class Slo(_Model):
    """A latency objective: the share of requests answered within `latency`."""

    latency: Duration = Field(gt=0, description="End-to-end latency target (seconds).")
    percentile: float = Field(99.0, gt=0, lt=100, description="Percent of requests that must meet it.")


def _model_kind(v):
    if isinstance(v, dict):
        return "llm-serving-model" if "id" in v else "request-model"
    return "llm-serving-model" if isinstance(v, LlmModelBlock) else "request-model"


def _slo_kind(v):
    if isinstance(v, dict):
        return "latency-slo" if "latency" in v else "llm-slo"
    return "llm-slo" if isinstance(v, LlmSlo) else "latency-slo"


ServiceModel = Annotated[
    Annotated[RequestModel, Tag("request-model")] | Annotated[LlmModelBlock, Tag("llm-serving-model")],
    Discriminator(_model_kind),
]
"""A service's `model:`: what a request costs (`llm:` or `service_time:`), or, with `id:`, a catalog
LLM served by the continuous-batching replica model (`gpusim.scenario.llm.LlmModelBlock`)."""

ServiceSlo = Annotated[Annotated[Slo, Tag("latency-slo")] | Annotated[LlmSlo, Tag("llm-slo")], Discriminator(_slo_kind)]
"""A service's `slo:`: an end-to-end `latency` objective, or ttft / tpot / e2e limits (LLM serving)."""


class ColdStart(_Model):
    """Time from a replica's pod being bound to it taking traffic: image pull, then model load."""

    image_pull: DurationDistribution = Field(
        default_factory=lambda: ConstantDuration(distribution="constant", value=30.0),
        description="Image pull time (seconds). Measured pulls range from seconds (cached, optimised images) to "
        "7-10 min for 10 GB+ images (hardware-facts 6.4); default 30 s.",
    )
    model_load: MaybeDuration = Field(
        None,
        description="Model load time (seconds). Default: the Alibaba GenAI 2026 base-model load latencies "
        "(7,531 measurements, median 22.7 s, p90 42 s), shipped as a quantile table.",
    )
    model_load_from: TraceSource | None = Field(
        None, description="Draw model load times from this trace (format genai-model-load)."
    )


class ServiceAutoscaling(_Model):
    """The replica autoscaler: Kubernetes HPA, Knative KPA or a KEDA ScaledObject (one)."""

    hpa: HPAConfig | None = Field(None, description="HorizontalPodAutoscaler (autoscaling/v2).")
    kpa: KPAConfig | None = Field(None, description="Knative Pod Autoscaler.")
    keda: KEDAConfig | None = Field(None, description="KEDA ScaledObject: prometheus triggers, scale to zero.")

    @model_validator(mode="after")
    def _one(self):
        if sum(x is not None for x in (self.hpa, self.kpa, self.keda)) != 1:
            raise ValueError("give exactly one of `hpa`, `kpa` or `keda`")
        return self


class InferenceWorkload(_Model):
    """An inference service: a Deployment of replicas behind a load balancer, with an autoscaler."""

    type: Literal["inference"] = Field(description="Workload kind.")
    name: str = Field(
        pattern=_NAME_RE, max_length=63, description="Service name (DNS label style, at most 63 characters)."
    )
    pod: PodTemplate = Field(description="Pod template of one replica (its GPU: whole, MIG profile or time-sliced).")
    model: ServiceModel = Field(
        description="What a request costs: `llm:` or `service_time:` (the queue model), or a catalog LLM with `id:` "
        "(LLM serving: prefill and decode, continuous batching in the KV cache; see `engine:`)."
    )
    engine: LlmEngineBlock | None = Field(
        None, description="Serving-engine settings of an LLM-serving model (vLLM's names and defaults)."
    )
    arrivals: RequestArrivals = Field(description="Request arrivals.")
    replicas: int = Field(
        1, ge=0, le=100_000, description="Replicas at the start (count, at most 100,000); the autoscaler changes it."
    )
    autoscaling: ServiceAutoscaling | None = Field(None, description="Replica autoscaler (none: fixed replicas).")
    concurrency: int = Field(
        1,
        ge=1,
        le=100_000,
        description="Requests one replica serves at once (server slots or max batch, at most 100,000). With an "
        "LLM-serving `model:` (`id:`) it is engine.max_num_seqs (vLLM: 256); a value other than 1 overrides it.",
    )
    batch_slowdown: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Per extra request in a batch, the fractional growth of each request's time (0-1). Not with an "
        "LLM-serving `model:` (`id:`), whose batch speed comes from the roofline per iteration.",
    )
    routing: Literal["round-robin", "least-outstanding", "join-shortest-queue", "shared-queue"] = Field(
        "least-outstanding",
        description="How the load balancer picks a replica. An LLM-serving model (`model: {id: ...}`) takes "
        "least-outstanding (the fewest requests waiting or running at the replica) or round-robin.",
    )
    timeout: Duration = Field(60.0, gt=0, description="Requests waiting longer than this time out (seconds).")
    max_queue: int | None = Field(None, ge=0, description="Requests waiting per replica before arrivals are dropped.")
    cold_start: ColdStart = Field(default_factory=ColdStart, description="Replica start-up lag.")
    warm_start: bool = Field(
        False,
        description="The initial `replicas` are ready at t=0 (a service already running when the window opens): "
        "no image pull, no model load, no cold start counted; replicas added later, or initial ones the cluster "
        "cannot bind at t=0, still pay the cold start.",
    )
    slo: ServiceSlo = Field(
        description="Latency objective: `latency` (end to end), or ttft / tpot / e2e limits for an LLM-serving model."
    )
    interval: Duration = Field(15.0, gt=0, description="Data-plane window and service time-series interval (seconds).")

    @model_serializer(mode="wrap")
    def _drop_unused_engine(self, handler: SerializerFunctionWrapHandler):
        """A queue-model service dumps without `engine` (as before the LLM-serving model existed)."""
        d = handler(self)
        if isinstance(d, dict) and d.get("engine", 0) is None:
            d.pop("engine")
        return d

    @property
    def slo_latency(self) -> float | None:
        """The end-to-end latency target (`slo.latency`, or an LLM SLO's `e2e`; None if it has none)."""
        return self.slo.latency if isinstance(self.slo, Slo) else self.slo.e2e

    @property
    def llm_serving(self) -> bool:
        """True when the replicas run the LLM serving model (`model: {id: ...}`)."""
        return isinstance(self.model, LlmModelBlock)

    @model_validator(mode="after")
    def _llm_fields(self):
        if not self.llm_serving:
            if self.engine is not None:
                raise ValueError("`engine:` goes with an LLM-serving model (`model: {id: ...}`)")
            if isinstance(self.slo, LlmSlo):
                raise ValueError("ttft / tpot / e2e objectives need an LLM-serving model (`model: {id: ...}`); "
                                 "give `slo: {latency: ...}`")  # fmt: skip
            return self
        # (a saved result's scenario carries every field, so the queue model's defaults cannot mean "given")
        if self.batch_slowdown != 0.0:
            raise ValueError("batch_slowdown does not apply to an LLM-serving model (`model: {id: ...}`): each "
                             "engine iteration's time comes from the roofline; remove it")  # fmt: skip
        if self.routing not in ("round-robin", "least-outstanding"):
            raise ValueError(f"routing {self.routing!r} is not supported with an LLM-serving model (allowed: "
                             "least-outstanding, the default, or round-robin)")  # fmt: skip
        if self.concurrency != 1 and self.engine is not None and "max_num_seqs" in self.engine.model_fields_set:
            if self.engine.max_num_seqs != self.concurrency:
                raise ValueError(f"concurrency {self.concurrency} and engine.max_num_seqs {self.engine.max_num_seqs} "
                                 "disagree; give one (concurrency overrides max_num_seqs)")  # fmt: skip
        return self

    def llm_engine(self) -> LlmEngineBlock:
        """The engine block of an LLM-serving service, with `concurrency` as its max_num_seqs when it is
        given other than 1 (the queue model's default: for one sequence at a time give
        engine.max_num_seqs: 1). Which wins: an explicit `concurrency` over the engine's default
        max_num_seqs; both given and different is an error.
        """
        e = self.engine or LlmEngineBlock()
        if self.concurrency != 1:
            e = e.model_copy(update={"max_num_seqs": self.concurrency})
        return e


def _workload_kind(v):
    if isinstance(v, dict):
        return v.get("type", "training")
    return getattr(v, "type", "training")


Workload = Annotated[
    Annotated[TrainingWorkload, Tag("training")] | Annotated[InferenceWorkload, Tag("inference")],
    Discriminator(_workload_kind),
]


# --------------------------------------------------------------------------- cluster
# Each sharing mode's block lives with its mode class below this package (gpusim.sharing); the
# pool's `sharing:` field is the discriminated union of the registered modes.
SharingBlock = sharing_block()
Sharing = SharingMode
"""A pool's sharing block (any registered mode; see gpusim.sharing)."""


class PoolAutoscaling(_Model):
    """Cluster Autoscaler bounds and node start-up lag of one pool."""

    min: int = Field(0, ge=0, le=100_000, description="Fewest nodes (count).")
    max: int = Field(ge=1, le=100_000, description="Most nodes (count, at most 100,000).")
    provisioning: MaybeDuration = Field(
        None,
        description="Time from the scale-up request to a ready node with allocatable GPUs (seconds): VM boot, "
        "driver and device plugin. Default: the node type's provisioning time from the catalog, else 180 s.",
    )

    @model_validator(mode="after")
    def _bounds(self):
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class NodePool(_Model):
    """A group of identical nodes."""

    name: str = Field(
        pattern=_NAME_RE, max_length=63, description="Pool name (DNS label style, at most 63 characters)."
    )
    count: Annotated[int, Strict()] = Field(
        ge=0, le=100_000, description="Number of nodes in the pool (at most 100,000)."
    )
    gpu_model: str | None = Field(None, description="GPU model id from the hardware catalog (`gpusim catalog`).")
    gpus_per_node: int = Field(0, ge=0, le=64, description="GPUs per node (at most 64).")
    vcpu: CpuMilli = Field(description="Allocatable vCPU per node (Kubernetes quantity, e.g. 96 or 95500m).")
    memory: MemoryMiB = Field(description="Allocatable memory per node (Kubernetes quantity, e.g. 1152Gi).")
    labels: dict[str, str] = Field(default_factory=dict, description="Node labels (key -> value).")
    taints: list[Annotated[Taint, BeforeValidator(_taint_from_string)]] = Field(
        default_factory=list, description="Node taints ({key, value, effect} or 'key=value:Effect')."
    )
    sharing: SharingBlock = Field(
        default_factory=default_mode,
        description="GPU sharing configuration of the pool: at most one of "
        + ", ".join(f"`{k}`" for k in mode_keys())
        + " (none: whole GPUs).",
    )
    node_type: str | None = Field(
        None, description="Catalog node type (price, provisioning time), e.g. aws-p5.48xlarge."
    )
    price_per_hour: float | None = Field(None, ge=0, description="USD per node-hour (overrides the node type's price).")
    spot: bool = Field(False, description="Bill the node type's spot price instead of on-demand.")
    price_unknown: bool = Field(
        False,
        description="Say that this pool's price is not known: its cost prints as unknown (never 0). Without it, a "
        "pool whose price cannot be found (price_per_hour, node type, GPU model price) is an error.",
    )
    autoscaling: PoolAutoscaling | None = Field(None, description="Let the Cluster Autoscaler add and remove nodes.")

    @model_validator(mode="after")
    def _gpu_pair(self):
        if self.gpus_per_node > 0 and self.gpu_model is None:
            raise ValueError("gpus_per_node > 0 needs gpu_model")
        if self.vcpu <= 0:
            raise ValueError("vcpu must be > 0")
        if self.memory <= 0:
            raise ValueError("memory must be > 0")
        return self


class ClusterAutoscaler(_Model):
    """Kubernetes Cluster Autoscaler settings (defaults as upstream ships them, hardware-facts 6.3)."""

    scan_interval: Duration = Field(10.0, gt=0, description="Seconds between scans (--scan-interval, default 10 s).")
    scale_down_unneeded_time: Duration = Field(
        600.0, ge=0, description="An empty node is removed after this long (seconds; default 10 min)."
    )
    scale_down_delay_after_add: Duration = Field(
        600.0, ge=0, description="No scale-down for this long after a scale-up (seconds; default 10 min)."
    )
    expander: Literal["least-waste", "price", "priority", "random"] = Field(
        "least-waste", description="Which pool grows when several could host the pending pods."
    )
    priorities: dict[str, int] = Field(default_factory=dict, description="priority expander: pool name -> priority.")


class Overprovisioning(_Model):
    """Headroom: low-priority placeholder pods (pause containers) that hold capacity and are preempted
    by real pods, which then start without waiting for a node; the evicted placeholders go pending
    and make the Cluster Autoscaler add nodes. How operators hide provisioning lag.
    """

    replicas: int = Field(ge=1, le=100_000, description="Placeholder pods (count, at most 100,000).")
    pod: PodTemplate = Field(description="Resources of one placeholder (e.g. one GPU) and where it may run.")
    priority: int = Field(-10, lt=0, description="Placeholder priority; real pods (priority >= 0) preempt them.")


class Billing(_Model):
    """How nodes are billed: from the scale-up request (or the start) until the node is gone."""

    granularity: Literal["per-second", "per-hour"] = Field("per-second", description="Billing increment.")


class Cluster(_Model):
    """The cluster: node pools, the Cluster Autoscaler and billing."""

    node_pools: list[NodePool] = Field(
        min_length=1, max_length=1000, description="Node pools of the cluster (1 to 1,000)."
    )
    autoscaler: ClusterAutoscaler = Field(default_factory=ClusterAutoscaler, description="Cluster Autoscaler.")
    billing: Billing = Field(default_factory=Billing, description="Billing of nodes.")
    overprovisioning: Overprovisioning | None = Field(None, description="Placeholder pods that keep spare capacity.")

    @field_validator("node_pools")
    @classmethod
    def _unique(cls, pools):
        return unique_names(pools, "node pool names")


class Scheduler(_Model):
    """The Kubernetes-like scheduler."""

    queue: Literal["fifo", "priority"] = Field(
        "fifo", description="Pending-queue order: fifo (arrival order) or priority (higher first, then arrival)."
    )
    policy: Literal[PLACEMENT_POLICIES] = Field(  # type: ignore[valid-type]
        "best-fit",
        description="Placement policy: first-fit (lowest-index node), best-fit (fewest GPUs then CPU left), spread "
        "(least allocated, the Kubernetes default scoring), random, dot-product, weighted-best-fit (the FGD paper's "
        "BestFit), gpu-packing, gpu-clustering, fgd (fragmentation gradient descent, Weng et al. ATC 2023).",
    )


class Output(_Model):
    """What a run records."""

    timeseries_interval: Duration = Field(
        0.0, ge=0, description="Sample the time series every this many seconds; 0 records every change (exact)."
    )
    warmup: Duration = Field(
        0.0, ge=0, description="Jobs arriving before this time are left out of the delay statistics (seconds)."
    )


class Scenario(_Model):
    """A gpusim scenario: a cluster, its workloads, the scheduler, and how long to run."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gpusim scenario", allow_inf_nan=False)

    name: str = Field(
        pattern=_NAME_RE,
        max_length=63,
        description="Scenario name (at most 63 characters); results go to results/<name>/.",
    )
    description: str = Field("", max_length=10_000, description="Free text (at most 10,000 characters).")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Random seed (0 .. 2^63-1); omitted = drawn at run time and recorded."
    )
    duration: Duration = Field(gt=0, description="Arrival window of generated jobs and horizon of the run (seconds).")
    drain: bool = Field(
        True,
        description="After `duration`, keep running until every admitted training job has finished (true) "
        "or stop at `duration` (false). Scenarios with inference services always stop at `duration`.",
    )
    cluster: Cluster = Field(description="Node pools.")
    workloads: list[Workload] = Field(
        min_length=1, max_length=1000, description="Workloads submitted to the cluster (1 to 1,000)."
    )
    scheduler: Scheduler = Field(default_factory=Scheduler, description="Scheduler settings.")
    output: Output = Field(default_factory=Output, description="Recording settings.")
    sweep: SweepSpec | None = Field(
        None, description="Parameter sweep run by `gpusim sweep` (ignored by `gpusim run`)."
    )
    catalog: CatalogOverrides | None = Field(
        None, description="GPU models and node types added to or overriding the shipped hardware catalog."
    )
    failures: Failures | None = Field(
        None, description="Node and GPU failures, repair and spot interruptions (default: nothing fails)."
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        return drop_unset(handler(self), "failures")

    @field_validator("workloads")
    @classmethod
    def _unique_workloads(cls, ws):
        return unique_names(ws, "workload names")
