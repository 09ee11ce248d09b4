"""Map Kubernetes objects to a gpusim scenario.

`import_manifests(paths, options)` reads the files (`gpusim.k8s.manifests`), checks that every
object is valid Kubernetes as far as gpusim reads it (apiVersion, kind, metadata.name, resource
quantities, the extended-resource rules of kubernetes pkg/apis/core/validation), and maps:

- Deployment, StatefulSet, ReplicaSet and long-running Pods (restartPolicy Always) that ask for
  an accelerator -> an inference service. Manifests carry no traffic, so its arrivals are a
  zero-rate process (`mmpp` with one state at rate 0) and its model and SLO are placeholders: the
  replicas hold their GPUs for the whole run, and the user replaces `arrivals` to add traffic.
- The same without an accelerator -> long-running pods: a training workload of one-pod jobs that
  last the whole run (gpusim services need a GPU or a catalog CPU node type).
- Job and run-to-completion Pods -> a training job; parallelism is its pods (bound together),
  completions beyond parallelism become further waves, each of a stated duration
  (`--job-duration`, or the annotation `gpusim.io/duration` on the Job).
- Kubeflow PyTorchJob (kubeflow.org/v1) -> one training job of all its Master and Worker
  replicas, bound together.
- HorizontalPodAutoscaler (autoscaling/v1, v2beta1, v2beta2, v2) -> the service's `hpa`, metrics
  mapped onto what gpusim's data plane reports, behavior carried field by field.
- PriorityClass -> the priority of pods naming it (and of pods without a class when it is the
  global default).

Whatever is not carried is listed per object (field paths), never dropped silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from gpusim.errors import Problem
from gpusim.k8s.manifests import Manifest, ManifestError, format_path, read_manifests
from gpusim.units import parse_duration, parse_quantity

# ---------------------------------------------------------------------------- Kubernetes API facts
MAPPED_VERSIONS = {
    "Deployment": ("apps/v1", "apps/v1beta2", "apps/v1beta1", "extensions/v1beta1"),
    "StatefulSet": ("apps/v1", "apps/v1beta2", "apps/v1beta1"),
    "ReplicaSet": ("apps/v1", "apps/v1beta2", "extensions/v1beta1"),
    "Job": ("batch/v1",),
    "Pod": ("v1",),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v2beta2", "autoscaling/v2beta1", "autoscaling/v1"),
    "PriorityClass": ("scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha1"),
}
"""Kinds gpusim maps, and the apiVersions that serve them."""

BUILTIN_KINDS = {
    "": {"Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "PersistentVolume",
         "Namespace", "Node", "Endpoints", "LimitRange", "ResourceQuota", "ReplicationController", "PodTemplate",
         "Event", "Binding", "ComponentStatus"},
    "apps": {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"},
    "extensions": {"Deployment", "DaemonSet", "ReplicaSet", "Ingress", "NetworkPolicy", "PodSecurityPolicy"},
    "batch": {"Job", "CronJob"},
    "autoscaling": {"HorizontalPodAutoscaler", "Scale"},
    "scheduling.k8s.io": {"PriorityClass"},
    "policy": {"PodDisruptionBudget", "PodSecurityPolicy", "Eviction"},
    "networking.k8s.io": {"Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR", "IPAddress"},
    "rbac.authorization.k8s.io": {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"},
    "storage.k8s.io": {"StorageClass", "VolumeAttachment", "CSIDriver", "CSINode", "CSIStorageCapacity",
                       "VolumeAttributesClass"},
    "apiextensions.k8s.io": {"CustomResourceDefinition"},
    "admissionregistration.k8s.io": {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
                                     "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                                     "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"},
    "apiregistration.k8s.io": {"APIService"},
    "coordination.k8s.io": {"Lease"},
    "discovery.k8s.io": {"EndpointSlice"},
    "events.k8s.io": {"Event"},
    "node.k8s.io": {"RuntimeClass"},
    "certificates.k8s.io": {"CertificateSigningRequest", "ClusterTrustBundle"},
    "flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
    "resource.k8s.io": {"ResourceClaim", "ResourceClaimTemplate", "DeviceClass", "ResourceSlice"},
    "authentication.k8s.io": {"TokenReview", "SelfSubjectReview"},
    "authorization.k8s.io": {"SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview",
                             "SelfSubjectRulesReview"},
}  # fmt: skip
"""Kinds of the API groups built into Kubernetes; a kind outside these in a built-in group is an error."""

SCHEDULING_KINDS = {"DaemonSet", "CronJob", "ReplicationController", "PodDisruptionBudget", "ResourceQuota",
                    "LimitRange", "ResourceClaim", "ResourceClaimTemplate", "DeviceClass", "Node", "RuntimeClass"}  # fmt: skip
"""Built-in kinds that change scheduling but that gpusim does not model (listed as such)."""

BUILTIN_PRIORITY = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
"""PriorityClasses every cluster has (kubernetes pkg/apis/scheduling/types.go)."""

MAX_USER_PRIORITY = 1000000000  # HighestUserDefinablePriority, pkg/apis/scheduling/types.go

WHOLE_GPU = ("nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "gpu.intel.com/xe", "habana.ai/gaudi")
SHARE_GPU = ("alibabacloud.com/gpu-milli", "alibabacloud.com/gpu-count")
DURATION_ANNOTATION = "gpusim.io/duration"
JOB_BACKOFF_LIMIT_DEFAULT = 6
"""What the API server sets a Job's spec.backoffLimit to when the manifest leaves it out."""

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_VERSION_RE = re.compile(r"^v\d+((alpha|beta)\d+)?$")

# Kubernetes paths that are bookkeeping, not behaviour; listed once in the header, not per object.
_BOOKKEEPING = (("apiVersion",), ("kind",), ("metadata",), ("status",), ("spec", "selector"),
                ("spec", "template", "metadata"), ("spec", "jobTemplate", "metadata"))  # fmt: skip


def is_accelerator(name: str) -> bool:
    """Resource names gpusim schedules as accelerators."""
    return (
        name in WHOLE_GPU or name in SHARE_GPU or name == "nvidia.com/gpu.shared" or name.startswith("nvidia.com/mig-")
    )


def _extended(name: str) -> bool:
    # Extended resources (validation.go IsExtendedResourceName): domain-prefixed, not kubernetes.io.
    return "/" in name and not name.startswith(("kubernetes.io/", "requests.", "limits."))


# ---------------------------------------------------------------------------- options and result
@dataclass(frozen=True)
class ImportOptions:
    """What the manifests do not say."""

    name: str = "imported"
    duration_s: float = 86400.0
    job_duration_s: float = 3600.0
    skip_cpu_only: bool = False


@dataclass
class Workload:
    """One scenario workload and what the output says about it."""

    body: dict
    origin: Manifest
    comments: list[str] = field(default_factory=list)
    gpu: tuple[str, int] | None = None  # (resource, count per pod)
    pod: dict | None = None


@dataclass
class Imported:
    """The import's result: workloads (no cluster yet), notes and a suggested cluster."""

    workloads: list[Workload]
    not_mapped: list[str]  # one entry per object or field not carried
    options: ImportOptions
    files: list[str]
    long_running_jobs: bool = False

    @property
    def scheduler(self) -> dict:
        return {"queue": "priority"}


# ---------------------------------------------------------------------------- entry point
def import_manifests(paths: list[str], options: ImportOptions) -> Imported:
    """Read and map the manifests; raises `ManifestError` listing every invalid field."""
    objs = read_manifests(paths)
    problems: list[Problem] = []
    for m in objs:
        problems += _check_object(m)
    if problems:
        raise ManifestError(problems)
    ctx = _Context(objs, options)
    ctx.run()
    if ctx.problems:
        raise ManifestError(ctx.problems)
    return Imported(ctx.workloads, ctx.not_mapped, options, [str(p) for p in paths], ctx.long_running_jobs)


def _check_object(m: Manifest) -> list[Problem]:
    out = []
    api, kind = m.data.get("apiVersion"), m.data.get("kind")
    if not isinstance(api, str) or not api:
        out.append(m.problem(("apiVersion",), "Required value: apiVersion (e.g. apps/v1)"))
    elif api.count("/") > 1 or not _VERSION_RE.match(api.rpartition("/")[2]):
        out.append(m.problem(("apiVersion",), f"Invalid value: {api!r}: must be <group>/<version> or v1"))
    if not isinstance(kind, str) or not kind:
        out.append(m.problem(("kind",), "Required value: kind (e.g. Deployment)"))
    meta = m.data.get("metadata")
    if not isinstance(meta, dict):
        out.append(m.problem(("metadata",), "Required value: metadata with a name"))
    elif not (isinstance(meta.get("name"), str) and meta["name"]) and not (
        isinstance(meta.get("generateName"), str) and meta["generateName"]
    ):
        out.append(m.problem(("metadata",), "Required value: metadata.name (or metadata.generateName)"))
    elif not _NAME_RE.match(m.name.rstrip("-") or "-") or len(m.name) > 253:
        out.append(
            m.problem(
                ("metadata", "name"),
                f"Invalid value: {m.name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    if out:
        return out
    group = m.group
    if group in BUILTIN_KINDS and kind not in BUILTIN_KINDS[group]:
        known = ", ".join(sorted(BUILTIN_KINDS[group]))
        out.append(m.problem(("kind",), f"unknown kind {kind!r} in apiVersion {api}; kinds there: {known}"))
    elif kind in MAPPED_VERSIONS and group in BUILTIN_KINDS and api not in MAPPED_VERSIONS[kind]:
        out.append(
            m.problem(
                ("apiVersion",),
                f'Invalid value: "{api}": this apiVersion does not serve {kind}; use one of {", ".join(MAPPED_VERSIONS[kind])}',  # noqa: E501
            )
        )
    return out


# ---------------------------------------------------------------------------- quantities
def fmt_cpu(q: Fraction) -> str:
    """CPU cores as a Kubernetes quantity (whole cores, else milli-cores rounded up as the API does)."""
    if q.denominator == 1:
        return str(q.numerator)
    return f"{math.ceil(q * 1000)}m"


def fmt_bytes(q: Fraction) -> str:
    """Bytes as the largest exact binary-suffixed quantity."""
    n = math.ceil(q)
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


# ---------------------------------------------------------------------------- HPA metric names
_METRIC_PATTERNS = (
    ("queue_length", ("queue", "waiting", "pending", "backlog", "undelivered", "lag")),
    ("rps", ("per_second", "per-second", "persecond", "rps", "qps", "request_rate", "requests_rate")),
    ("concurrency", ("running", "in_flight", "inflight", "in-flight", "concurren", "active", "ongoing", "outstanding")),
    ("utilization", ("gpu_util", "dcgm_fi_dev_gpu_util", "utilization", "utilisation", "duty_cycle")),
)
"""How a custom metric's name is read as one of gpusim's per-pod metrics (first match wins)."""


def metric_for_name(name: str) -> str | None:
    """The gpusim metric a Pods/Object/External metric name reads as (None: no match).

    >>> metric_for_name("vllm:num_requests_waiting"), metric_for_name("http_requests_per_second")
    ('queue_length', 'rps')
    """
    low = name.lower()
    for metric, keys in _METRIC_PATTERNS:
        if any(k in low for k in keys):
            return metric
    return None


# ---------------------------------------------------------------------------- the mapping
class _Context:
    def __init__(self, objs: list[Manifest], options: ImportOptions):
        self.objs = objs
        self.options = options
        self.problems: list[Problem] = []
        self.not_mapped: list[str] = []
        self.workloads: list[Workload] = []
        self.by_target: dict[tuple[str, str, str], Workload] = {}
        self.priority: dict[str, int] = dict(BUILTIN_PRIORITY)
        self.default_priority: tuple[str, int] | None = None
        self.long_running_jobs = False

    def run(self) -> None:
        for m in self.objs:
            if m.kind == "PriorityClass" and m.group in BUILTIN_KINDS:
                self._priority_class(m)
        in_input = {(m.namespace, m.kind, m.name) for m in self.objs if m.group in BUILTIN_KINDS}
        deployments = [(m.namespace, m.name) for m in self.objs if m.kind == "Deployment" and m.group in BUILTIN_KINDS]
        for m in self.objs:
            kind = m.kind
            builtin = m.group in BUILTIN_KINDS
            if builtin and kind in ("PriorityClass", "HorizontalPodAutoscaler"):
                continue
            if builtin and kind in ("Deployment", "StatefulSet", "ReplicaSet", "Job", "Pod"):
                hook = m.annotation("helm.sh/hook")
                if hook:
                    self.not_mapped.append(
                        f"{m.origin()}: skipped, a Helm hook ({hook}): it runs on helm install/upgrade/test, "
                        "not as part of the release's workload"
                    )
                    continue
                status = m.data.get("status")
                phase = status.get("phase") if kind == "Pod" and isinstance(status, dict) else None
                if phase in ("Succeeded", "Failed"):
                    self.not_mapped.append(f"{m.origin()}: skipped, the pod has finished (status.phase {phase})")
                    continue
                owner = _controller(m)
                if owner and (kind in ("Pod", "ReplicaSet") or owner[0] != "CronJob"):
                    # a pod or ReplicaSet whose controller is in the input is one of its replicas
                    ctrl = (m.namespace, *owner) if (m.namespace, *owner) in in_input else None
                    if (
                        ctrl is None and owner[0] == "ReplicaSet"
                    ):  # Deployment pods name the ReplicaSet <deployment>-<hash>
                        ctrl = next(((ns, "Deployment", d) for ns, d in deployments
                                     if ns == m.namespace and owner[1].startswith(d + "-")), None)  # fmt: skip
                    if ctrl is not None:
                        self.not_mapped.append(
                            f"{m.origin()}: skipped, one of the pods of {ctrl[1]}/{ctrl[2]}, which the input holds"
                        )
                        continue
                before = len(self.problems)
                w = self._pods(m)
                if w is not None and owner and (kind in ("Pod", "ReplicaSet") or owner[0] != "CronJob"):
                    w.comments.append(
                        f"created by {owner[0]}/{owner[1]}, which is not in the input: imported on its own"
                    )
                if w is not None and len(self.problems) == before:
                    self._add(w)
                continue
            if kind == "PyTorchJob" and m.group == "kubeflow.org":
                before = len(self.problems)
                w = self._pytorch_job(m)
                if w is not None and len(self.problems) == before:
                    self._add(w)
                continue
            if m.group in BUILTIN_KINDS:
                why = (
                    "affects scheduling but gpusim has no model of it"
                    if kind in SCHEDULING_KINDS
                    else ("no effect on GPU scheduling")
                )
                self.not_mapped.append(f"{m.origin()}: not imported ({why})")
            else:
                self.not_mapped.append(
                    f"{m.origin()}: custom resource of {m.api_version}, not imported "
                    "(gpusim reads built-in Kubernetes kinds only)"
                )
        for m in self.objs:
            if m.kind == "HorizontalPodAutoscaler" and m.group in BUILTIN_KINDS:
                self._hpa(m)
        for w in self.workloads:
            unused = w.origin.unused(_BOOKKEEPING)
            if unused:
                self.not_mapped.append(f"{w.origin.origin()}: not carried: "
                                       + _grouped(unused))  # fmt: skip
        for m in self.objs:
            if m.kind in ("HorizontalPodAutoscaler", "PriorityClass") and m.consumed:
                unused = m.unused(_BOOKKEEPING + (("spec", "scaleTargetRef"),))
                if unused:
                    self.not_mapped.append(f"{m.origin()}: not carried: " + _grouped(unused))

    def _quantity(self, m: Manifest, path: tuple, value) -> Fraction | None:
        try:
            q = parse_quantity(value)
        except ValueError:
            self.problems.append(m.problem(path, f"Invalid value: {value!r}: must be a Kubernetes quantity such as 500m, 2, 64Gi"))  # fmt: skip
            return None
        if q < 0:
            self.problems.append(m.problem(path, f'Invalid value: "{value}": must be greater than or equal to 0'))
            return None
        return q

    # ------------------------------------------------------------------ names
    def _add(self, w: Workload) -> None:
        base = w.body["name"]
        names = {x.body["name"] for x in self.workloads}
        name = base
        if name in names:
            name = (
                f"{base}-{w.origin.namespace}" if w.origin.namespace != "default" else f"{base}-{w.origin.kind.lower()}"
            )
        i = 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        if name != base:
            w.comments.append(f"renamed from {base!r}: another workload has that name")
        w.body["name"] = name
        self.workloads.append(w)
        self.by_target[(w.origin.namespace, w.origin.kind, w.origin.name)] = w

    # ------------------------------------------------------------------ PriorityClass
    def _priority_class(self, m: Manifest) -> None:
        value = m.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(m.problem(("value",), f"Required value: an integer priority (got {value!r})"))
            return
        if value > MAX_USER_PRIORITY and not m.name.startswith("system-"):
            self.problems.append(
                m.problem(
                    ("value",), f"Invalid value: {value}: must be <= {MAX_USER_PRIORITY} for user-defined classes"
                )
            )
            return
        if m.name in self.priority and m.name not in BUILTIN_PRIORITY:
            if self.priority[m.name] != value:
                self.problems.append(
                    m.problem(
                        ("value",),
                        f"PriorityClass {m.name} is defined twice, with values {self.priority[m.name]} and {value}",
                    )
                )
            return
        self.priority[m.name] = value
        if m.get("globalDefault") is True:
            if self.default_priority is not None:
                self.problems.append(
                    m.problem(("globalDefault",), f"a second globalDefault class (first: {self.default_priority[0]})")
                )
            self.default_priority = (m.name, value)
        policy = m.get("preemptionPolicy")
        if policy not in (None, "PreemptLowerPriority"):
            self.not_mapped.append(
                f"{m.origin()}: preemptionPolicy {policy} not modelled "
                "(gpusim pods with higher priority may preempt lower ones)"
            )
        m.get("description")

    # ------------------------------------------------------------------ pods of a workload
    def _pods(self, m: Manifest) -> Workload | None:
        kind = m.kind
        spec = m.get("spec")
        if not isinstance(spec, dict):
            self.problems.append(m.problem(("spec",), "Required value: spec"))
            return None
        if kind == "Pod":
            tp: tuple = ("spec",)
        else:
            if not isinstance(spec.get("template"), dict):
                self.problems.append(m.problem(("spec", "template"), "Required value: a pod template"))
                return None
            tp = ("spec", "template", "spec")
        pod = self._pod_spec(m, tp)
        if pod is None:
            return None
        pod_tpl, gpu, comments = pod
        restart = m.get(*tp, "restartPolicy")
        if kind == "Job" or (kind == "Pod" and restart in ("Never", "OnFailure")):
            return self._job(m, pod_tpl, gpu, comments)
        replicas = 1
        if kind != "Pod":
            r = _or(m.get("spec", "replicas"), 1)
            if self._bad_count(m, ("spec", "replicas"), r):
                return None
            replicas = r
        if gpu is None:
            if self.options.skip_cpu_only:
                self.not_mapped.append(f"{m.origin()}: skipped, no accelerator (--skip-cpu-only)")
                return None
            return self._long_running(m, pod_tpl, replicas, comments)
        return self._service(m, pod_tpl, gpu, replicas, comments)

    def _pod_spec(self, m: Manifest, tp: tuple):
        """(gpusim pod template, (gpu resource, count) or None, comments) of a pod spec at `tp`."""
        spec = m.get(*tp)
        if not isinstance(spec, dict):
            self.problems.append(m.problem(tp, "Required value: a pod spec"))
            return None
        before = len(self.problems)
        containers = m.get(*tp, "containers")
        if not isinstance(containers, list) or not containers:
            self.problems.append(m.problem(tp + ("containers",), "Required value: at least one container"))
            return None
        comments: list[str] = []
        total: dict[str, Fraction] = {}
        init_max: dict[str, Fraction] = {}
        for section in ("containers", "initContainers"):
            items = m.get(*tp, section, default=[])
            if not isinstance(items, list):
                self.problems.append(m.problem(tp + (section,), "must be a list of containers"))
                continue
            for i, c in enumerate(items):
                cp = tp + (section, i)
                if not isinstance(c, dict):
                    self.problems.append(m.problem(cp, "a container must be a mapping"))
                    continue
                if not isinstance(m.get(*cp, "name"), str) or not c.get("name"):
                    self.problems.append(m.problem(cp + ("name",), "Required value: container name"))
                req = self._container_resources(m, cp)
                if req is None:
                    continue
                sidecar = section == "initContainers" and m.get(*cp, "restartPolicy") == "Always"
                target = total if section == "containers" or sidecar else init_max
                for k, v in req.items():
                    target[k] = (
                        target.get(k, Fraction(0)) + v if target is total else max(target.get(k, Fraction(0)), v)
                    )
        overhead = m.get(*tp, "overhead", default={})
        if isinstance(overhead, dict):
            for k, v in overhead.items():
                q = self._quantity(m, tp + ("overhead", k), v)
                m.get(*tp, "overhead", k)
                if q is not None:
                    total[k] = total.get(k, Fraction(0)) + q
        if len(self.problems) > before:
            return None
        effective = {k: max(total.get(k, Fraction(0)), init_max.get(k, Fraction(0))) for k in {*total, *init_max}}
        gpus = [k for k in effective if is_accelerator(k) and effective[k] > 0]
        kinds = {("share" if k in SHARE_GPU else k) for k in gpus}
        if len(kinds) > 1:
            self.problems.append(
                m.problem(
                    tp + ("containers",),
                    f"a pod asks for several accelerator kinds ({', '.join(sorted(gpus))}); gpusim models one per pod",
                )  # fmt: skip
            )
            return None
        requests, limits = {}, {}
        if effective.get("cpu"):
            requests["cpu"] = fmt_cpu(effective["cpu"])
        if effective.get("memory"):
            requests["memory"] = fmt_bytes(effective["memory"])
        for k in sorted(gpus):
            limits[k] = int(effective[k])
        others = sorted(k for k in effective if k not in ("cpu", "memory") and not is_accelerator(k))
        if others:
            comments.append(f"resources not modelled (not carried): {', '.join(others)}")
            self.not_mapped.append(f"{m.origin()}: resources not modelled (not carried): {', '.join(others)}")
        tpl: dict = {"resources": {}}
        if requests:
            tpl["resources"]["requests"] = requests
        if limits:
            tpl["resources"]["limits"] = limits
        if not tpl["resources"]:
            del tpl["resources"]
        raw_selector = m.get(*tp, "nodeSelector", default={}, whole=True) or {}
        if not isinstance(raw_selector, dict):
            self.problems.append(m.problem(tp + ("nodeSelector",), "must be a mapping of node label -> value"))
            return None
        selector = dict(raw_selector)
        for k, v in selector.items():
            if not isinstance(v, str):
                self.problems.append(m.problem(tp + ("nodeSelector", k), f"Invalid value: {v!r}: must be a string"))
        affinity_sel = self._node_affinity(m, tp)
        for k, v in affinity_sel.items():
            if k in selector and selector[k] != v:
                comments.append(f"nodeAffinity asks {k}={v} but nodeSelector {k}={selector[k]}: no node can match")
                self.not_mapped.append(
                    f"{m.origin()}: nodeAffinity {k}={v} conflicts with nodeSelector {k}={selector[k]}; nodeSelector kept"
                )
            selector.setdefault(k, v)
        if selector:
            tpl["nodeSelector"] = selector
        tols = self._tolerations(m, tp)
        if tols:
            tpl["tolerations"] = tols
        prio = self._pod_priority(m, tp, comments)
        if prio:
            tpl["priority"] = prio
        sched = m.get(*tp, "schedulerName")
        if sched not in (None, "default-scheduler"):
            comments.append(f"schedulerName {sched} not modelled: gpusim's scheduler places the pods")
            self.not_mapped.append(
                f"{m.origin()}: schedulerName {sched} not modelled (gpusim's scheduler places the pods)"
            )
        if len(self.problems) > before:
            return None
        gpu = (gpus[0], int(effective[gpus[0]])) if gpus else None
        if gpus and gpus[0] in SHARE_GPU:
            gpu = ("alibabacloud.com/gpu-milli", int(effective.get("alibabacloud.com/gpu-count", 1)))
        return tpl, gpu, comments

    def _container_resources(self, m: Manifest, cp: tuple) -> dict[str, Fraction] | None:
        res = m.get(*cp, "resources", default={}) or {}
        if not isinstance(res, dict):
            self.problems.append(m.problem(cp + ("resources",), "must be a mapping with requests and limits"))
            return None
        parsed: dict[str, dict[str, Fraction]] = {}
        for section in ("requests", "limits"):
            block = m.get(*cp, "resources", section, default={}) or {}
            if not isinstance(block, dict):
                self.problems.append(
                    m.problem(cp + ("resources", section), "must be a mapping of resource -> quantity")
                )
                return None
            parsed[section] = {}
            for name, value in block.items():
                q = self._quantity(m, cp + ("resources", section, name), value)
                if q is None:
                    continue
                if _extended(name) and q.denominator != 1:
                    self.problems.append(
                        m.problem(cp + ("resources", section, name), f'Invalid value: "{value}": must be an integer')
                    )
                    continue
                parsed[section][name] = q
                if section == "requests" or name not in ("cpu", "memory"):
                    m.get(*cp, "resources", section, name)
        m.get(*cp, "resources", "claims")
        req, lim = parsed["requests"], parsed["limits"]
        out: dict[str, Fraction] = {}
        for name in sorted({*req, *lim}):
            r, li = req.get(name), lim.get(name)
            p = cp + ("resources", "requests", name)
            if _extended(name):
                if r is not None and li is None:
                    self.problems.append(
                        m.problem(p, "Required value: Limit must be set for non overcommitable resources")
                    )
                    continue
                if r is not None and li is not None and r != li:
                    self.problems.append(
                        m.problem(p, f'Invalid value: "{_q(r)}": must be equal to {name} limit of {_q(li)}')
                    )
                    continue
            elif r is not None and li is not None and r > li:
                self.problems.append(m.problem(p, f'Invalid value: "{_q(r)}": must be less than or equal to {name} limit of {_q(li)}'))  # fmt: skip
                continue
            out[name] = r if r is not None else li  # a limit alone is the request (API defaulting)
        return out

    def _node_affinity(self, m: Manifest, tp: tuple) -> dict[str, str]:
        aff = m.get(*tp, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", whole=True)
        if not isinstance(aff, dict):
            return {}
        terms = aff.get("nodeSelectorTerms")
        if (
            not isinstance(terms, list)
            or len(terms) != 1
            or not isinstance(terms[0], dict)
            or terms[0].get("matchFields")
        ):
            m.consumed.discard(tp + ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"))
            return {}
        out = {}
        exprs = terms[0].get("matchExpressions") or []
        if not isinstance(exprs, list):
            exprs = [None]  # not convertible: left in the not-carried list
        for e in exprs:
            if not (isinstance(e, dict) and e.get("operator") == "In" and isinstance(e.get("values"), list)
                    and len(e["values"]) == 1):  # fmt: skip
                m.consumed.discard(tp + ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"))
                return {}
            out[str(e.get("key"))] = str(e["values"][0])
        return out

    def _tolerations(self, m: Manifest, tp: tuple) -> list[dict]:
        tols = m.get(*tp, "tolerations", default=[]) or []
        if not isinstance(tols, list):
            self.problems.append(m.problem(tp + ("tolerations",), "must be a list"))
            return []
        out = []
        for i, t in enumerate(tols):
            p = tp + ("tolerations", i)
            if not isinstance(t, dict):
                self.problems.append(m.problem(p, "a toleration must be a mapping"))
                continue
            op = t.get("operator", "Equal")
            if op not in ("Equal", "Exists"):
                self.problems.append(m.problem(p + ("operator",), f'Unsupported value: "{op}": supported values: "Equal", "Exists"'))  # fmt: skip
                continue
            eff = t.get("effect", "") or ""
            if eff not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
                self.problems.append(m.problem(p + ("effect",), f'Unsupported value: "{eff}": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'))  # fmt: skip
                continue
            if op == "Exists" and t.get("value"):
                self.problems.append(m.problem(p + ("operator",), "Invalid value: value must be empty when operator is Exists"))  # fmt: skip
                continue
            tol = {"key": str(t.get("key", "") or ""), "operator": op}
            if t.get("value"):
                tol["value"] = str(t["value"])
            if eff:
                tol["effect"] = eff
            for k in ("key", "operator", "value", "effect"):
                m.get(*p, k)
            out.append(tol)
        return out

    def _pod_priority(self, m: Manifest, tp: tuple, comments: list[str]) -> int:
        name = m.get(*tp, "priorityClassName")
        value = m.get(*tp, "priority")
        if name is not None and not isinstance(name, str):
            self.problems.append(m.problem(tp + ("priorityClassName",), f"Invalid value: {name!r}: must be a string"))
            return 0
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self.problems.append(m.problem(tp + ("priority",), f"Invalid value: {value!r}: must be an integer"))
            return 0
        if name:
            if name not in self.priority:
                self.problems.append(
                    m.problem(
                        tp + ("priorityClassName",),
                        f'Invalid value: "{name}": no PriorityClass with this name in the input (known: '
                        f"{', '.join(sorted(self.priority))}); add its manifest",
                    )
                )
                return 0
            comments.append(f"priority {self.priority[name]} from PriorityClass {name}")
            return self.priority[name]
        if value is not None:
            return value
        if self.default_priority is not None:
            comments.append(
                f"priority {self.default_priority[1]} from the globalDefault PriorityClass {self.default_priority[0]}"
            )
            return self.default_priority[1]
        return 0

    # ------------------------------------------------------------------ workload shapes
    def _service(self, m: Manifest, pod: dict, gpu, replicas: int, comments: list[str]) -> Workload:
        d = self.options.duration_s
        body = {
            "type": "inference",
            "name": m.name,
            "pod": pod,
            "model": {"service_time": "1s"},
            "arrivals": {"process": {"process": "mmpp", "rates": [0], "mean_sojourn": [_fmt_duration(d)]}},
            "replicas": replicas,
            "slo": {"latency": "10s"},
        }
        what = "replicas" if m.kind != "Pod" else "pod (replicas: 1)"
        w = Workload(body, m, gpu=gpu, pod=pod)
        w.comments += [
            f"{m.kind} {m.namespace}/{m.name} -> inference service; {what} from the manifest",
            "no traffic in manifests: arrivals are a zero-rate placeholder, so the replicas hold their GPUs for "
            "the whole run; replace `arrivals` (a process or a trace) to add requests",
            "placeholders to replace with your own: model.service_time 1s (or model.llm), slo.latency 10s",
        ]
        if m.kind == "StatefulSet":
            if m.data["spec"].get("volumeClaimTemplates"):
                w.comments.append("volumeClaimTemplates not modelled (storage)")
            w.comments.append("StatefulSet ordering (podManagementPolicy) not modelled: replicas start independently")
        if m.kind == "Pod":
            w.comments.append(
                "a bare Pod is not restarted elsewhere by a controller; gpusim treats it as a one-replica service"
            )
        w.comments += comments
        return w

    def _long_running(self, m: Manifest, pod: dict, replicas: int, comments: list[str]) -> Workload | None:
        d = self.options.duration_s
        self.long_running_jobs = True
        w = Workload({"type": "training", "name": m.name, "pod": pod}, m, pod=pod)
        if replicas == 0:
            self.not_mapped.append(f"{m.origin()}: replicas 0 and no accelerator: nothing to run")
            return None
        w.body["jobs"] = [{"name": f"{m.name}-{i}", "duration": _fmt_duration(d)} for i in range(replicas)]
        w.comments += [
            f"{m.kind} {m.namespace}/{m.name} -> {replicas} long-running pod(s) with no accelerator",
            "gpusim services need a GPU (or a CPU node type from the catalog), so each replica is a one-pod job "
            "that lasts the whole run: it holds its CPU and memory, and serves no requests",
        ]
        w.comments += comments
        return w

    def _bad_count(self, m: Manifest, path: tuple, value) -> bool:
        """Record a problem when a count field (unset is fine) is not an integer >= 0."""
        if value is None or (not isinstance(value, bool) and isinstance(value, int) and value >= 0):
            return False
        self.problems.append(m.problem(path, f"Invalid value: {value!r}: must be an integer >= 0"))
        return True

    def _job(self, m: Manifest, pod: dict, gpu, comments: list[str]) -> Workload | None:
        if m.kind == "Pod":
            parallelism, completions = 1, 1
        else:
            parallelism = _or(m.get("spec", "parallelism"), 1)
            completions = m.get("spec", "completions")
            for key, v in (("parallelism", parallelism), ("completions", completions)):
                if self._bad_count(m, ("spec", key), v):
                    return None
        if parallelism == 0 or completions == 0:
            self.not_mapped.append(f"{m.origin()}: parallelism or completions is 0: no pods run")
            return None
        dur = self._job_duration(m)
        if dur is None:
            return None
        dur_s, source = dur
        if completions is None:  # work-queue Job: parallelism pods, done when one succeeds and all exit
            waves = [parallelism]
        else:
            p = min(parallelism, completions)
            waves = [p] * (completions // p) + ([completions % p] if completions % p else [])
        jobs = []
        for i, pods in enumerate(waves):
            job = {"name": m.name if len(waves) == 1 else f"{m.name}-wave-{i}", "arrival": _fmt_duration(i * dur_s),
                   "duration": _fmt_duration(dur_s), "pods": pods}  # fmt: skip
            jobs.append(job)
        w = Workload({"type": "training", "name": m.name, "pod": pod, "jobs": jobs}, m, gpu=gpu, pod=pod)
        w.comments.append(
            f"{m.kind} {m.namespace}/{m.name} -> training job; duration {_fmt_duration(dur_s)} from {source}"
        )
        if m.kind == "Job":
            limit = m.get("spec", "backoffLimit")
            if self._bad_count(m, ("spec", "backoffLimit"), limit):
                return None
            w.body["backoff_limit"] = JOB_BACKOFF_LIMIT_DEFAULT if limit is None else limit
            w.comments.append(
                f"backoffLimit {w.body['backoff_limit']}"
                + (" (the Job default)" if limit is None else "")
                + ": the job is marked failed after that many pod failures"
                + (" (counted per wave; the Job controller counts them over the whole Job)" if len(waves) > 1 else "")
            )
        if m.kind == "Job" and m.get("spec", "suspend") is True:
            w.comments.append("spec.suspend true: imported as if resumed (a queue such as Kueue admits suspended Jobs)")
            self.not_mapped.append(f"{m.origin()}: spec.suspend true; imported as if resumed")
        if len(waves) > 1:
            w.comments.append(
                f"completions {completions} at parallelism {parallelism}: {len(waves)} waves, each starting when the "
                "previous one would end; gpusim does not hold a wave back if the previous one was delayed"
            )
        if max(waves) > 1:
            w.comments.append("gpusim binds a job's pods together (gang); the Job controller starts them one by one")
        if gpu is not None and gpu[0] not in WHOLE_GPU:
            w.comments.append(
                f"the duration is run time on whole GPUs; on {gpu[0]} gpusim runs the job at that share's speed"
            )
        w.comments += comments
        return w

    def _job_duration(self, m: Manifest) -> tuple[float, str] | None:
        ann = m.get("metadata", "annotations", DURATION_ANNOTATION)
        if ann is None:
            flag = _fmt_duration(self.options.job_duration_s)
            return (
                self.options.job_duration_s,
                f"--job-duration {flag} (the manifest does not say how long the work takes)",
            )
        try:
            dur_s = parse_duration(ann)
            if dur_s <= 0:
                raise ValueError("must be > 0")
        except ValueError as e:
            self.problems.append(m.problem(("metadata", "annotations", DURATION_ANNOTATION), f"Invalid value: {e}"))
            return None
        return dur_s, f"annotation {DURATION_ANNOTATION}"

    def _pytorch_job(self, m: Manifest) -> Workload | None:
        """A Kubeflow PyTorchJob: its Master and Worker replicas as one gang-scheduled training job."""
        specs = m.get("spec", "pytorchReplicaSpecs")
        if not isinstance(specs, dict) or not specs:
            self.problems.append(
                m.problem(("spec", "pytorchReplicaSpecs"), "Required value: replica specs (Master, Worker)")
            )
            return None
        roles = []
        for role, rs in specs.items():
            p = ("spec", "pytorchReplicaSpecs", role)
            if not isinstance(rs, dict) or not isinstance(rs.get("template"), dict):
                self.problems.append(m.problem(p, "Required value: a replica spec with a pod template"))
                return None
            n = _or(m.get(*p, "replicas"), 1)
            if self._bad_count(m, p + ("replicas",), n):
                return None
            m.get(*p, "restartPolicy")
            got = self._pod_spec(m, p + ("template", "spec"))
            if got is None:
                return None
            roles.append((str(role), n, got))
        total = sum(n for _, n, _ in roles)
        if total == 0:
            self.not_mapped.append(f"{m.origin()}: no replicas: no pods run")
            return None
        dur = self._job_duration(m)
        if dur is None:
            return None
        dur_s, source = dur
        # gpusim gives a job one pod template: the role asking for the most GPUs (Worker on ties)
        role, _, (pod, gpu, comments) = max(roles, key=lambda r: ((r[2][1] or ("", 0))[1], r[0] == "Worker"))
        jobs = [{"name": m.name, "arrival": "0s", "duration": _fmt_duration(dur_s), "pods": total}]
        w = Workload({"type": "training", "name": m.name, "pod": pod, "jobs": jobs}, m, gpu=gpu, pod=pod)
        limit = m.get("spec", "runPolicy", "backoffLimit")
        if self._bad_count(m, ("spec", "runPolicy", "backoffLimit"), limit):
            return None
        if limit is not None:
            w.body["backoff_limit"] = limit
        shape = " + ".join(f"{r} {n}" for r, n, _ in roles)
        w.comments.append(
            f"PyTorchJob {m.namespace}/{m.name} (Kubeflow) -> one training job of {total} pods ({shape}), bound together; "
            f"duration {_fmt_duration(dur_s)} from {source}"
        )
        if len({repr(r[2][0]) for r in roles}) > 1:
            note = f"replica pod templates differ; gpusim gives a job one pod template, the {role}'s, used for all {total} pods"
            w.comments.append(note)
            self.not_mapped.append(f"{m.origin()}: {note}")
        w.comments += comments
        return w

    # ------------------------------------------------------------------ HPA
    def _hpa(self, m: Manifest) -> None:
        ref = m.get("spec", "scaleTargetRef")
        if not isinstance(ref, dict) or not isinstance(ref.get("kind"), str) or not isinstance(ref.get("name"), str):
            self.problems.append(
                m.problem(("spec", "scaleTargetRef"), "Required value: scaleTargetRef with kind and name")
            )
            return
        max_r = m.get("spec", "maxReplicas")
        min_r = _or(m.get("spec", "minReplicas"), 1)
        for key, v, lo in (("maxReplicas", max_r, 1), ("minReplicas", min_r, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                self.problems.append(m.problem(("spec", key), f"Invalid value: {v!r}: must be an integer >= {lo}"))
                return
        if min_r > max_r:
            self.problems.append(m.problem(("spec", "minReplicas"), f"Invalid value: {min_r}: must be <= maxReplicas {max_r}"))  # fmt: skip
            return
        target = self.by_target.get((m.namespace, ref["kind"], ref["name"]))
        where = f"{m.origin()}"
        if target is None or target.body.get("type") != "inference":
            why = "is not in the input" if target is None else "is not imported as a service (no accelerator, or a Job)"
            self.not_mapped.append(f"{where}: target {ref['kind']}/{ref['name']} {why}; HPA not imported")
            m.consumed.clear()
            return
        metrics, notes = self._hpa_metrics(m)
        if not metrics:
            self.not_mapped.append(f"{where}: no metric gpusim can read; HPA not imported, replicas stay fixed")
            for n in notes:
                self.not_mapped.append(f"{where}: {n}")
            m.consumed.clear()
            return
        hpa: dict = {"min_replicas": min_r, "max_replicas": max_r, "metrics": metrics}
        behavior = self._hpa_behavior(m)
        if behavior:
            hpa["behavior"] = behavior
        target.body["autoscaling"] = {"hpa": hpa}
        target.comments.append(
            f"autoscaling from HorizontalPodAutoscaler {m.namespace}/{m.name} ({m.api_version}); "
            "with no traffic it scales the service down to min_replicas after its scale-down window"
        )
        target.comments += notes
        self.not_mapped += [f"{m.origin()}: {n}" for n in notes if n.startswith("not mapped: ")]

    def _hpa_metrics(self, m: Manifest) -> tuple[list[dict], list[str]]:
        out: list[dict] = []
        notes: list[str] = []
        if m.api_version == "autoscaling/v1":
            pct = m.get("spec", "targetCPUUtilizationPercentage", default=80)
            out.append({"name": "utilization", "target_type": "Utilization", "target": pct})
            notes.append(f"CPU utilisation target {pct}% read as gpusim's utilization (share of the replica's "
                         "serving slots busy), the closest per-pod load gpusim has")  # fmt: skip
            return out, notes
        metrics = m.get("spec", "metrics")
        if metrics is None:  # the API default: 80% average CPU utilisation
            out.append({"name": "utilization", "target_type": "Utilization", "target": 80})
            notes.append("no metrics: the API default (CPU at 80% utilisation) read as gpusim's utilization")
            return out, notes
        if not isinstance(metrics, list):
            self.problems.append(m.problem(("spec", "metrics"), "must be a list of metric specs"))
            return [], notes
        beta1 = m.api_version == "autoscaling/v2beta1"
        for i, spec in enumerate(metrics):
            p = ("spec", "metrics", i)
            if not isinstance(spec, dict) or spec.get("type") not in (
                "Resource",
                "Pods",
                "Object",
                "External",
                "ContainerResource",
            ):
                got = spec.get("type") if isinstance(spec, dict) else spec
                self.problems.append(m.problem(p + ("type",), f'Unsupported value: "{got}": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"'))  # fmt: skip
                continue
            kind = spec["type"]
            key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                   "Object": "object", "External": "external"}[kind]  # fmt: skip
            body = spec.get(key)
            if not isinstance(body, dict):
                self.problems.append(m.problem(p + (key,), f"Required value: {key} for a {kind} metric"))
                continue
            mapped = self._one_metric(m, p + (key,), kind, body, beta1, notes)
            if mapped is not None:
                m.get(*p, "type")
                out.append(mapped)
        return out, notes

    def _one_metric(self, m: Manifest, p: tuple, kind: str, body: dict, beta1: bool, notes: list[str]) -> dict | None:
        if beta1:  # v2beta1 field names
            name = body.get("name") if kind in ("Resource", "ContainerResource") else body.get("metricName")
            util, avg, val = (
                body.get("targetAverageUtilization"),
                body.get("targetAverageValue"),
                body.get("targetValue"),
            )
            ttype = "Utilization" if util is not None else "AverageValue" if avg is not None else "Value"
            fields = {"name": "name" if kind in ("Resource", "ContainerResource") else "metricName",
                      "Utilization": "targetAverageUtilization", "AverageValue": "targetAverageValue", "Value": "targetValue"}  # fmt: skip
            tpath = p
        else:
            metric_id = body.get("metric")
            name = (
                body.get("name")
                if kind in ("Resource", "ContainerResource")
                else metric_id.get("name")
                if isinstance(metric_id, dict)
                else None
            )
            tgt = body.get("target")
            if not isinstance(tgt, dict):
                self.problems.append(m.problem(p + ("target",), "Required value: target with type and a value"))
                return None
            ttype = tgt.get("type")
            util, avg, val = tgt.get("averageUtilization"), tgt.get("averageValue"), tgt.get("value")
            fields = {"name": "name" if kind in ("Resource", "ContainerResource") else ("metric", "name"),
                      "Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}  # fmt: skip
            tpath = p + ("target",)
            if ttype not in ("Utilization", "AverageValue", "Value"):
                self.problems.append(m.problem(tpath + ("type",), f'Unsupported value: "{ttype}": supported values: "AverageValue", "Utilization", "Value"'))  # fmt: skip
                return None
        if not isinstance(name, str) or not name:
            self.problems.append(m.problem(p, "Required value: metric name"))
            return None
        label = f"{kind} metric {name}"
        if ttype == "Utilization":
            if kind not in ("Resource", "ContainerResource"):
                self.problems.append(m.problem(tpath, f"Invalid value: Utilization targets are for Resource metrics, not {kind}"))  # fmt: skip
                return None
            if isinstance(util, bool) or not isinstance(util, int) or util <= 0:
                self.problems.append(m.problem(tpath + (fields["Utilization"],), f"Invalid value: {util!r}: must be an integer > 0"))  # fmt: skip
                return None
            self._use(m, p, fields, "Utilization", beta1)
            notes.append(f"{label} at {util}% read as gpusim's utilization (share of the replica's serving slots busy)")
            return {"name": "utilization", "target_type": "Utilization", "target": util}
        raw = avg if ttype == "AverageValue" else val
        q = self._quantity(m, tpath + (fields[ttype],), raw)
        if q is None:
            return None
        if kind in ("Resource", "ContainerResource"):
            notes.append(f"not mapped: {label} {ttype} {raw} (gpusim has no per-pod {name} usage)")
            return None
        metric = metric_for_name(name)
        if metric is None:
            notes.append(f"not mapped: {label} (name matches none of gpusim's per-pod metrics: concurrency, rps, "
                         "queue_length, utilization)")  # fmt: skip
            return None
        if ttype == "Value":
            notes.append(
                f"not mapped: {label} with a Value target (a total over the object; gpusim compares per-pod averages)"
            )
            return None
        self._use(m, p, fields, ttype, beta1)
        if kind == "Object":
            m.get(*p, "describedObject", whole=True)
        if kind == "External":
            m.get(*p, "metric", "selector", whole=True)
        target = float(q)
        if metric == "utilization":
            notes.append(f"{label} AverageValue {raw} read as gpusim's utilization in percent (name match)")
            return {"name": "utilization", "target_type": "Utilization", "target": target}
        notes.append(f"{label} read as gpusim's {metric} per pod, target {target:g} (name match)")
        return {"name": metric, "target_type": "AverageValue", "target": target}

    @staticmethod
    def _use(m: Manifest, p: tuple, fields: dict, ttype: str, beta1: bool) -> None:
        name = fields["name"]
        m.get(*p, *(name if isinstance(name, tuple) else (name,)))
        if beta1:
            m.get(*p, fields[ttype])
        else:
            m.get(*p, "target", "type")
            m.get(*p, "target", fields[ttype])

    def _hpa_behavior(self, m: Manifest) -> dict:
        beh = m.get("spec", "behavior")
        if beh is None:
            return {}
        if not isinstance(beh, dict):
            self.problems.append(m.problem(("spec", "behavior"), "must be a mapping with scaleUp and scaleDown"))
            return {}
        out = {}
        for src, dst in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
            rules = m.get("spec", "behavior", src)
            if rules is None:
                continue
            p = ("spec", "behavior", src)
            if not isinstance(rules, dict):
                self.problems.append(
                    m.problem(p, "must be a mapping (stabilizationWindowSeconds, selectPolicy, policies)")
                )
                continue
            r: dict = {}
            w = m.get(*p, "stabilizationWindowSeconds")
            if w is not None:
                if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 3600:
                    self.problems.append(m.problem(p + ("stabilizationWindowSeconds",), f"Invalid value: {w!r}: must be an integer in 0..3600"))  # fmt: skip
                    continue
                r["stabilization_window_seconds"] = w
            sel = m.get(*p, "selectPolicy")
            if sel is not None:
                if sel not in ("Max", "Min", "Disabled"):
                    self.problems.append(m.problem(p + ("selectPolicy",), f'Unsupported value: "{sel}": supported values: "Disabled", "Max", "Min"'))  # fmt: skip
                    continue
                r["select_policy"] = sel
            pols = m.get(*p, "policies")
            if pols is not None:
                if not isinstance(pols, list):
                    self.problems.append(m.problem(p + ("policies",), "must be a list"))
                    continue
                r["policies"] = []
                for j, pol in enumerate(pols):
                    pp = p + ("policies", j)
                    if not isinstance(pol, dict) or pol.get("type") not in ("Pods", "Percent"):
                        got = pol.get("type") if isinstance(pol, dict) else pol
                        self.problems.append(m.problem(pp + ("type",), f'Unsupported value: "{got}": supported values: "Percent", "Pods"'))  # fmt: skip
                        continue
                    v, per = pol.get("value"), pol.get("periodSeconds")
                    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                        self.problems.append(
                            m.problem(pp + ("value",), f"Invalid value: {v!r}: must be an integer > 0")
                        )
                        continue
                    if isinstance(per, bool) or not isinstance(per, int) or not 0 < per <= 1800:
                        self.problems.append(m.problem(pp + ("periodSeconds",), f"Invalid value: {per!r}: must be an integer in 1..1800"))  # fmt: skip
                        continue
                    for k in ("type", "value", "periodSeconds"):
                        m.get(*pp, k)
                    r["policies"].append({"type": pol["type"], "value": v, "period_seconds": per})
            out[dst] = r
        return out


def _or(value, default):
    """A field's value, or the API default when it is unset or null."""
    return default if value is None else value


def _controller(m: Manifest) -> tuple[str, str] | None:
    refs = m.meta.get("ownerReferences") or []
    for r in refs if isinstance(refs, list) else []:
        if isinstance(r, dict) and r.get("controller"):
            return str(r.get("kind")), str(r.get("name"))
    return None


def _q(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else str(float(q))


def _fmt_duration(s: float) -> str:
    """Seconds as the shortest exact duration text (1h, 90m, 45s)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def _grouped(paths: list[str]) -> str:
    """`a.b.c, a.b.d, e` -> `a.b.{c, d}; e` so long lists stay readable."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        cut = max(p.rfind("."), p.rfind("["))
        parent, leaf = (p[:cut], p[cut:].lstrip(".")) if cut > 0 else ("", p)
        groups.setdefault(parent, []).append(leaf)
    parts = []
    for parent, leaves in groups.items():
        if not parent:
            parts += leaves
        elif len(leaves) == 1:
            parts.append(f"{parent}{'' if leaves[0].startswith('[') else '.'}{leaves[0]}")
        else:
            parts.append(f"{parent}: {', '.join(leaves)}")
    return "; ".join(parts)


__all__ = ["ImportOptions", "Imported", "ManifestError", "format_path", "import_manifests", "metric_for_name"]
