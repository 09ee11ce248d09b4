"""Semantic checks that need more than one field: Kubernetes resource rules, the hardware
catalog, and whether every pod could ever fit a node pool.

Each check returns ``(field path tuple, message)`` pairs; the loader turns them into located
problems. Messages for resource validation use Kubernetes' own wording (apimachinery
validation of extended resources).
"""

from __future__ import annotations

from fractions import Fraction

from gpusim.scenario.models import (
    GPU_COUNT_RESOURCE,
    GPU_MILLI_RESOURCE,
    GPU_RESOURCE_NAMES,
    PodTemplate,
    Scenario,
    TrainingWorkload,
)


def _q(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else str(float(q))


def check_pod_resources(pod: PodTemplate, path: tuple) -> list[tuple[tuple, str]]:
    """Kubernetes rules for extended resources: integers, limits required, requests == limits."""
    out = []
    res = pod.resources
    base = path + ("resources",)
    for section in ("requests", "limits"):
        for name, q in getattr(res, section).items():
            p = base + (section, name)
            if q < 0:
                out.append((p, f'Invalid value: "{_q(q)}": must be greater than or equal to 0'))
            if _extended(name) and q.denominator != 1:
                out.append(
                    (
                        p,
                        f'Invalid value: "{_q(q)}": must be an integer '
                        f"(whole devices only; share GPUs with time-slicing, MIG or gpu_milli)",
                    )
                )
    for name in sorted({n for n in (*res.requests, *res.limits) if _extended(n)}):
        req, lim = res.requests.get(name), res.limits.get(name)
        if req is not None and lim is None:
            out.append(
                (base + ("requests", name), "Required value: Limit must be set for non overcommitable resources")
            )
        elif req is not None and lim is not None and req != lim:
            out.append(
                (base + ("requests", name), f'Invalid value: "{_q(req)}": must be equal to {name} limit of {_q(lim)}')
            )
    merged = {**res.requests, **res.limits}
    if GPU_MILLI_RESOURCE in merged:
        milli = merged[GPU_MILLI_RESOURCE]
        if milli.denominator != 1 or not 1 <= milli <= 1000:
            out.append(
                (base + ("limits", GPU_MILLI_RESOURCE), f'Invalid value: "{_q(milli)}": must be an integer in 1..1000')
            )
        elif milli < 1000 and merged.get(GPU_COUNT_RESOURCE, 1) != 1:
            out.append(
                (
                    base + ("limits", GPU_MILLI_RESOURCE),
                    "a share below 1000 milli-GPU is for one GPU only (gpu-count 1)",
                )
            )
    if GPU_COUNT_RESOURCE in merged and merged[GPU_COUNT_RESOURCE].denominator != 1:
        out.append(
            (
                base + ("limits", GPU_COUNT_RESOURCE),
                f'Invalid value: "{_q(merged[GPU_COUNT_RESOURCE])}": must be an integer',
            )
        )
    present = [n for n in merged if n in GPU_RESOURCE_NAMES or n == GPU_MILLI_RESOURCE or n.startswith("nvidia.com/mig-")
               or n == "nvidia.com/gpu.shared"]  # fmt: skip
    if len(present) > 1:
        out.append((base + ("limits",), f"a pod asks for several accelerator kinds ({', '.join(present)}); pick one"))
    return out


def _extended(name: str) -> bool:
    """Extended resources: domain-prefixed names outside kubernetes.io (integers, requests == limits)."""
    return "/" in name and not name.startswith(("kubernetes.io/", "requests.", "limits."))


def check_pools(scenario: Scenario, catalog) -> list[tuple[tuple, str]]:
    """Sharing configuration each pool's GPU model can actually do."""
    from gpusim.sim.sharing import LayoutError, mig_layout

    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        path = ("cluster", "node_pools", i, "sharing")
        sh = pool.sharing
        if (sh.timeSlicing or sh.mig or sh.fractional) and pool.gpu_model is None:
            out.append((path, "GPU sharing needs a gpu_model and gpus_per_node > 0"))
            continue
        if pool.gpu_model is None:
            continue
        gpu = catalog.gpu(pool.gpu_model)
        if sh.amdPartition is not None:
            from gpusim.sim.sharing import amd_profile

            try:
                amd_profile(gpu, sh.amdPartition.profile)
            except LayoutError as e:
                out.append((path + ("amdPartition", "profile"), str(e)))
        if sh.intel is not None and gpu.vendor != "intel":
            out.append((path + ("intel",), f"Intel device sharing needs an Intel GPU; {gpu.id} is {gpu.vendor}"))
        if sh.fractional and gpu.vendor != "nvidia":
            out.append(
                (
                    path + ("fractional",),
                    f"milli-GPU sharing (Alibaba's GPU-share plugin) is modelled for NVIDIA GPUs; {gpu.id} is {gpu.vendor}",
                )
            )
        if sh.timeSlicing is not None and gpu.vendor != "nvidia":
            out.append(
                (path + ("timeSlicing",), f"time-slicing is an NVIDIA device plugin feature; {gpu.id} is {gpu.vendor}")
            )
        if sh.mig is not None:
            if gpu.mig is None:
                capable = sorted(g.id for g in catalog.gpu_models.values() if g.mig is not None)
                out.append(
                    (path + ("mig",), f"GPU model {gpu.id} cannot do MIG; MIG-capable models: {', '.join(capable)}")
                )
                continue
            try:
                layout = mig_layout(gpu, sh.mig.config)
            except LayoutError as e:
                out.append((path + ("mig", "config"), str(e)))
                continue
            if sh.mig.strategy == "single" and (layout is None or len({n for n, _ in layout}) != 1):
                out.append(
                    (
                        path + ("mig", "strategy"),
                        "the single strategy needs a static layout of one profile (e.g. all-1g.10gb)",
                    )
                )
    return out


def _pod_gpu_counts(w: TrainingWorkload) -> list[tuple[tuple, PodTemplate, int]]:
    """(path, pod template, GPUs per pod) for each distinct pod shape the workload can create.

    Shapes drawn from traces are checked per pod at run time (a pod that fits no node is
    recorded as unschedulable), not here.
    """
    shapes = []
    if w.jobs is not None:
        for j, job in enumerate(w.jobs):
            pod = job.pod or w.pod
            shapes.append((("jobs", j, "pod") if job.pod else ("pod",), pod, pod.resources.gpu_request()[1]))
    elif w.generator is not None and w.generator.gpus is not None:
        gen = w.generator
        values = [gen.gpus.value] if gen.gpus.distribution == "constant" else list(gen.gpus.values)
        for v in sorted(set(values)):
            shapes.append((("generator", "gpus"), w.pod, v))
    return shapes


def check_trace_files(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Every trace file the scenario names exists (else: where that trace is published)."""
    from gpusim.errors import InputError
    from gpusim.traces._io import resolve_path

    out = []
    for wi, w in enumerate(scenario.workloads):
        if w.type == "inference":
            sources = [
                (("arrivals", "trace"), w.arrivals.trace),
                (("cold_start", "model_load_from"), w.cold_start.model_load_from),
            ]
        else:
            sources = [(("trace",), w.trace)]
        if w.type == "training" and w.generator is not None:
            sources += [(("generator", "shapes_from"), w.generator.shapes_from)]
            sources += [(("generator", "durations_from"), w.generator.durations_from)]
        for sub, src in sources:
            if src is None:
                continue
            try:
                resolve_path(src.path, src.format)
            except InputError as e:
                out.append((("workloads", wi, *sub, "path"), str(e)))
    return out


def check_prices(scenario: Scenario, catalog) -> list[tuple[tuple, str]]:
    """Every pool has a price, unless it says `price_unknown: true` (cost is then unknown, never 0)."""
    from gpusim.hardware import UnknownIdError, pool_price

    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        try:
            price, why = pool_price(pool, catalog)
        except UnknownIdError:
            continue  # reported with the node type
        if price is None and not pool.price_unknown:
            out.append(((("cluster", "node_pools", i, "price_per_hour")),
                        f"pool {pool.name!r} has no price ({why}); give price_per_hour, a catalog price, "
                        "or price_unknown: true"))  # fmt: skip
    return out


def check_scenario(scenario: Scenario) -> list[tuple[tuple, str]]:
    """All semantic problems of a parsed scenario."""
    from gpusim.hardware import UnknownIdError, load_catalog

    problems: list[tuple[tuple, str]] = check_trace_files(scenario)
    try:
        catalog = load_catalog(scenario.catalog)
    except UnknownIdError as e:
        return problems + [(("catalog",), str(e))]
    for i, pool in enumerate(scenario.cluster.node_pools):
        if pool.gpu_model is None:
            continue
        try:
            catalog.gpu(pool.gpu_model)
        except UnknownIdError as e:
            problems.append((("cluster", "node_pools", i, "gpu_model"), str(e)))
    if problems:
        return problems
    problems += check_pools(scenario, catalog)
    if problems:
        return problems

    for i, pool in enumerate(scenario.cluster.node_pools):
        if pool.node_type is not None:
            try:
                nt = catalog.node_type(pool.node_type)
            except UnknownIdError as e:
                problems.append((("cluster", "node_pools", i, "node_type"), str(e)))
                continue
            if nt.gpu_model and pool.gpu_model and nt.gpu_model != pool.gpu_model:
                problems.append((("cluster", "node_pools", i, "node_type"),
                                 f"node type {nt.id} has {nt.gpu_model} GPUs, the pool says {pool.gpu_model}"))  # fmt: skip
    problems += check_prices(scenario, catalog)
    for wi, w in enumerate(scenario.workloads):
        wpath = ("workloads", wi)
        if w.type == "inference":
            problems += check_pod_resources(w.pod, wpath + ("pod",))
            if w.model.reference_gpu is not None:
                try:
                    catalog.gpu(w.model.reference_gpu)
                except UnknownIdError as e:
                    problems.append((wpath + ("model", "reference_gpu"), str(e)))
            if not problems:
                msg = _fits_some_pool(scenario, catalog, w.pod, w.pod.resources.gpu_request()[1])
                if msg:
                    problems.append((wpath + ("pod",), msg.replace("a pod asking", "a replica asking")))
            continue
        pods = [(("pod",), w.pod)] + [
            (("jobs", j, "pod"), job.pod) for j, job in enumerate(w.jobs or []) if job.pod is not None
        ]
        resource_problems = []
        for sub, pod in pods:
            resource_problems += check_pod_resources(pod, wpath + sub)
        problems += resource_problems
        if resource_problems:
            continue
        for sub, pod, gpus in _pod_gpu_counts(w):
            msg = _fits_some_pool(scenario, catalog, pod, gpus)
            if msg:
                problems.append((wpath + sub, msg))
    return problems


def _fits_some_pool(scenario: Scenario, catalog, pod: PodTemplate, gpus: int) -> str | None:
    from gpusim.sim.sharing import offer, units_per_node

    resource, _, milli = pod.resources.gpu_request()
    cpu, mem = pod.resources.cpu_milli(), pod.resources.memory_mib()
    reasons = []
    for pool in scenario.cluster.node_pools:
        if any(pool.labels.get(k) != v for k, v in pod.node_selector.items()):
            reasons.append(f"{pool.name}: nodeSelector does not match its labels")
            continue
        untolerated = [t for t in pool.taints if t.effect != "PreferNoSchedule" and not _tolerated(t, pod)]
        if untolerated:
            t = untolerated[0]
            reasons.append(f"{pool.name}: untolerated taint {t.key}={t.value}:{t.effect}")
            continue
        if gpus > 0:
            gpu = catalog.gpu(pool.gpu_model) if pool.gpu_model else None
            o = offer(pool, gpu, resource, gpus)
            if isinstance(o, str):
                reasons.append(f"{pool.name}: {o}")
                continue
            if units_per_node(pool, gpu) < gpus:
                unit = "shared-device replicas" if (pool.sharing.timeSlicing or pool.sharing.intel) else resource
                reasons.append(f"{pool.name}: {units_per_node(pool, gpu)} {unit} per node")
                continue
        if pool.vcpu < cpu or pool.memory < mem:
            reasons.append(f"{pool.name}: {pool.vcpu / 1000:g} vCPU and {pool.memory} MiB per node")
            continue
        return None
    want = f"{gpus} {resource}, " if gpus else ""
    if resource == GPU_MILLI_RESOURCE and gpus:
        want = f"{gpus} GPU(s) x {milli} milli-GPU, "
    return f"a pod asking for {want}{cpu / 1000:g} CPU and {mem} MiB memory fits no node pool ({'; '.join(reasons)})"


def _tolerated(taint, pod: PodTemplate) -> bool:
    for t in pod.tolerations:
        if t.effect and t.effect != taint.effect:
            continue
        if t.operator == "Exists" and t.key in ("", taint.key):
            return True
        if t.operator == "Equal" and t.key == taint.key and t.value == taint.value:
            return True
    return False
