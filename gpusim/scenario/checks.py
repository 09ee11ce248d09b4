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
    tolerated,
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
    """Sharing configuration each pool's GPU model can actually do (each mode checks itself)."""
    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        path = ("cluster", "node_pools", i, "sharing")
        mode = pool.sharing
        if pool.gpu_model is None:
            if mode.needs_gpu:
                out.append((path, "GPU sharing needs a gpu_model and gpus_per_node > 0"))
            continue
        out += [(path + sub, msg) for sub, msg in mode.check(catalog.gpu(pool.gpu_model), catalog)]
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


def check_failures(scenario: Scenario) -> list[tuple[tuple, str]]:
    """`failures.pools` names pools of the cluster."""
    f = getattr(scenario, "failures", None)
    if f is None:
        return []
    names = [p.name for p in scenario.cluster.node_pools]
    return [(("failures", "pools", k), f"no node pool named {k!r}; pools: {', '.join(names)}")
            for k in f.pools if k not in names]  # fmt: skip


def check_scenario(scenario: Scenario) -> list[tuple[tuple, str]]:
    """All semantic problems of a parsed scenario."""
    from gpusim.hardware import UnknownIdError, load_catalog
    from gpusim.scenario.registry import scenario_checks

    problems: list[tuple[tuple, str]] = check_trace_files(scenario) + check_catalog_mig(scenario)
    for check in scenario_checks():  # registered by the packages above (the sweep's factor paths)
        problems += check(scenario)
    problems += check_pool_sizes(scenario) + check_mig_counts(scenario) + check_generators(scenario)
    problems += check_failures(scenario)
    if any(p[0][0] == "catalog" for p in problems):
        return problems
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
            if not w.llm_serving and w.model.reference_gpu is not None:
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
    problems += check_models(scenario, catalog)
    problems += check_llm_services(scenario, catalog)
    if not problems:
        problems += check_never_fits(scenario, catalog)
    return problems


def _fits_some_pool(scenario: Scenario, catalog, pod: PodTemplate, gpus: int) -> str | None:
    resource, _, milli = pod.resources.gpu_request()
    cpu, mem = pod.resources.cpu_milli(), pod.resources.memory_mib()
    reasons = []
    for pool in scenario.cluster.node_pools:
        if any(pool.labels.get(k) != v for k, v in pod.node_selector.items()):
            reasons.append(f"{pool.name}: nodeSelector does not match its labels")
            continue
        untolerated = [t for t in pool.taints if t.effect != "PreferNoSchedule" and not tolerated(t, pod.tolerations)]
        if untolerated:
            t = untolerated[0]
            reasons.append(f"{pool.name}: untolerated taint {t.key}={t.value}:{t.effect}")
            continue
        if gpus > 0:
            gpu = catalog.gpu(pool.gpu_model) if pool.gpu_model else None
            o = _offer(pool, gpu, resource, gpus)
            if isinstance(o, str):
                reasons.append(f"{pool.name}: {o}")
                continue
            units = pool.sharing.units_per_node(pool.gpus_per_node, gpu)
            if units < gpus:
                reasons.append(f"{pool.name}: {units} {pool.sharing.capacity_unit_name(resource)} per node")
                continue
        if pool.vcpu < cpu or pool.memory < mem:
            reasons.append(f"{pool.name}: {pool.vcpu / 1000:g} vCPU and {pool.memory} MiB per node")
            continue
        return None
    want = f"{gpus} {resource}, " if gpus else ""
    if resource == GPU_MILLI_RESOURCE and gpus:
        want = f"{gpus} GPU(s) x {milli} milli-GPU, "
    return f"a pod asking for {want}{cpu / 1000:g} CPU and {mem} MiB memory fits no node pool ({'; '.join(reasons)})"


def _offer(pool, gpu, resource: str, count: int):
    """How the pool's sharing mode serves the request, or why not (a str)."""
    return "no GPUs" if gpu is None else pool.sharing.offer(gpu, resource, count)


# --------------------------------------------------------------------------- pods that can never run
def unschedulable_reason(total_nodes: int, reasons: dict[str, int]) -> str:
    """kube-scheduler's FitError wording: ``0/152 nodes are available: 152 Insufficient nvidia.com/gpu.``

    `reasons` maps a reason ("Insufficient nvidia.com/gpu", "node(s) didn't match Pod's node
    affinity/selector", "node(s) had untolerated taint {k: v}") to the number of nodes it ruled
    out; they are listed sorted, as the scheduler does (framework.FitError.Error).
    """
    parts = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return f"0/{total_nodes} nodes are available: {parts}." if parts else f"0/{total_nodes} nodes are available."


def _node_fit_reasons(scenario: Scenario, catalog, pod: PodTemplate, gpus: int) -> tuple[int, dict[str, int], int]:
    """(nodes in the cluster at most, reasons per node that can never take the pod, nodes that can)."""
    resource, _, _ = pod.resources.gpu_request()
    cpu, mem = pod.resources.cpu_milli(), pod.resources.memory_mib()
    total = fits = 0
    reasons: dict[str, int] = {}
    for pool in scenario.cluster.node_pools:
        n = max(pool.count, pool.autoscaling.max if pool.autoscaling else 0)
        total += n
        why = []
        if any(pool.labels.get(k) != v for k, v in pod.node_selector.items()):
            why.append("node(s) didn't match Pod's node affinity/selector")
        else:
            untolerated = [
                t for t in pool.taints if t.effect != "PreferNoSchedule" and not tolerated(t, pod.tolerations)
            ]
            if untolerated:
                t = untolerated[0]
                why.append(f"node(s) had untolerated taint {{{t.key}: {t.value}}}")
            else:
                if gpus > 0:
                    gpu = catalog.gpu(pool.gpu_model) if pool.gpu_model else None
                    o = _offer(pool, gpu, resource, gpus)
                    if isinstance(o, str) or pool.sharing.units_per_node(pool.gpus_per_node, gpu) < gpus:
                        why.append(f"Insufficient {resource}")
                if pool.vcpu < cpu:
                    why.append("Insufficient cpu")
                if pool.memory < mem:
                    why.append("Insufficient memory")
        for r in why:
            reasons[r] = reasons.get(r, 0) + n
        if not why:
            fits += n
    return total, reasons, fits


def check_never_fits(scenario: Scenario, catalog) -> list[tuple[tuple, str]]:
    """Gangs with more pods than nodes that could ever hold one, and placeholder pods that fit no node."""
    out = []
    for wi, w in enumerate(scenario.workloads):
        if w.type != "training" or w.generator is None or w.generator.gpus is None:
            continue
        gen = w.generator
        pods = [gen.pods.value] if gen.pods.distribution == "constant" else list(gen.pods.values)
        gpus_list = [gen.gpus.value] if gen.gpus.distribution == "constant" else list(gen.gpus.values)
        for g in sorted(set(gpus_list)):
            total, reasons, fits = _node_fit_reasons(scenario, catalog, w.pod, g)
            if fits == 0:
                continue  # reported by _fits_some_pool
            # Each pod holds all its GPUs on one node: a node takes at most units // g pods of the gang.
            per_node_cap = _pods_per_node(scenario, catalog, w.pod, g)
            for p in sorted(set(pods)):
                if p > per_node_cap:
                    out.append(
                        (
                            ("workloads", wi, "generator", "pods"),
                            f"a gang of {p} pods x {g} GPU(s) can never be scheduled: the cluster holds at most "
                            f"{per_node_cap} such pods at once ({unschedulable_reason(total, {f'Insufficient {w.pod.resources.gpu_request()[0]}': total})})",
                        )
                    )
    for wi, w in enumerate(scenario.workloads):
        if w.type != "training" or w.jobs is None:
            continue
        for j, job in enumerate(w.jobs):
            pod = job.pod or w.pod
            g = pod.resources.gpu_request()[1]
            if job.pods > 1 and job.pods > _pods_per_node(scenario, catalog, pod, g):
                total = sum(
                    max(p.count, p.autoscaling.max if p.autoscaling else 0) for p in scenario.cluster.node_pools
                )
                out.append(
                    (
                        ("workloads", wi, "jobs", j, "pods"),
                        f"a gang of {job.pods} pods x {g} GPU(s) can never be scheduled "
                        f"({unschedulable_reason(total, {f'Insufficient {pod.resources.gpu_request()[0]}': total})})",
                    )
                )
    op = scenario.cluster.overprovisioning
    if op is not None:
        res = check_pod_resources(op.pod, ("cluster", "overprovisioning", "pod"))
        if res:
            return out + res
        g = op.pod.resources.gpu_request()[1]
        total, reasons, fits = _node_fit_reasons(scenario, catalog, op.pod, g)
        if fits == 0:
            out.append(
                (
                    ("cluster", "overprovisioning", "pod"),
                    f"the overprovisioning placeholder fits no node, so it would stay pending and hold no capacity "
                    f"({unschedulable_reason(total, reasons)})",
                )
            )
    return out


def _pods_per_node(scenario: Scenario, catalog, pod: PodTemplate, gpus: int) -> int:
    """Most pods of this shape the whole cluster (at its autoscaling maximum) can hold at once."""
    resource = pod.resources.gpu_request()[0]
    cpu, mem = pod.resources.cpu_milli(), pod.resources.memory_mib()
    cap = 0
    for pool in scenario.cluster.node_pools:
        n = max(pool.count, pool.autoscaling.max if pool.autoscaling else 0)
        if any(pool.labels.get(k) != v for k, v in pod.node_selector.items()):
            continue
        if any(t.effect != "PreferNoSchedule" and not tolerated(t, pod.tolerations) for t in pool.taints):
            continue
        per = 10**9
        if gpus > 0:
            gpu = catalog.gpu(pool.gpu_model) if pool.gpu_model else None
            if isinstance(_offer(pool, gpu, resource, gpus), str):
                continue
            per = pool.sharing.units_per_node(pool.gpus_per_node, gpu) // gpus
        if cpu:
            per = min(per, pool.vcpu // cpu)
        if mem:
            per = min(per, pool.memory // mem)
        cap += n * per
    return cap


def check_pool_sizes(scenario: Scenario) -> list[tuple[tuple, str]]:
    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        a = pool.autoscaling
        if a is not None and not a.min <= pool.count <= a.max:
            out.append(
                (
                    ("cluster", "node_pools", i, "count"),
                    f"count {pool.count} is outside the pool's autoscaling bounds min {a.min} .. max {a.max}",
                )
            )
    return out


def check_catalog_mig(scenario: Scenario) -> list[tuple[tuple, str]]:
    """MIG profile placements given in a scenario's catalog block lie on the 8 memory slices."""
    out = []
    cat = scenario.catalog
    for gi, g in enumerate((cat.gpu_models or []) if cat else []):
        if g.mig is None:
            continue
        for pi, p in enumerate(g.mig.profiles):
            bad = [s for s in p.placements if not 0 <= s <= 8 - p.memory_slices]
            if bad or not p.placements:
                out.append(
                    (
                        ("catalog", "gpu_models", gi, "mig", "profiles", pi, "placements"),
                        f"MIG placements must be start slices 0..{8 - p.memory_slices} for a profile of "
                        f"{p.memory_slices} memory slice(s) (8 in all); got {list(p.placements)}",
                    )
                )
    return out


def check_mig_counts(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Each pool's sharing block on its own, before the catalog is read (e.g. MIG instance counts)."""
    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        out += [(("cluster", "node_pools", i, "sharing") + sub, msg) for sub, msg in pool.sharing.check_config()]
    return out


def check_models(scenario: Scenario, catalog) -> list[tuple[tuple, str]]:
    """Catalog ids named by workloads; LLMs whose weights fit no GPU a replica could get."""
    from gpusim.hardware import UnknownIdError

    out = []
    for wi, w in enumerate(scenario.workloads):
        if w.type == "training" and w.work is not None:
            try:
                catalog.gpu(w.work.reference_gpu)
            except UnknownIdError as e:
                out.append((("workloads", wi, "work", "reference_gpu"), str(e)))
        if w.type != "inference" or w.llm_serving or w.model.llm is None:
            continue
        from gpusim.hardware import performance as perf

        spec = perf.LlmSpec(w.model.llm.params_b, w.model.llm.precision)
        resource, n, milli = w.pod.resources.gpu_request()
        if n == 0 or resource.startswith("nvidia.com/mig-") or milli < 1000:
            continue
        if w.model.reference_gpu is not None:
            try:
                ref = catalog.gpu(w.model.reference_gpu)
            except UnknownIdError:
                continue
            if not perf.llm_fits(ref, spec, n_gpus=n):
                out.append((("workloads", wi, "model", "llm"),
                            f"a {spec.params_b:g}B {w.model.llm.precision} model does not fit {n} x {ref.id} "
                            "(reference_gpu); give the replica more GPUs or a lower precision"))  # fmt: skip
            continue
        pools = []
        for pool in scenario.cluster.node_pools:
            if pool.gpu_model is None or not pool.sharing.whole_device_units:
                continue
            if any(pool.labels.get(k) != v for k, v in w.pod.node_selector.items()):
                continue
            pools.append(pool)
        misfits = [p for p in pools if not perf.llm_fits(catalog.gpu(p.gpu_model), spec, n_gpus=n)]
        if pools and len(misfits) == len(pools):
            shown = ", ".join(f"{p.name} ({n} x {p.gpu_model})" for p in misfits)
            out.append((("workloads", wi, "model", "llm"),
                        f"a {spec.params_b:g}B {w.model.llm.precision} model does not fit the GPUs of any pool a replica "
                        f"can use: {shown}; give the replica more GPUs or a lower precision"))  # fmt: skip
    return out


def llm_service_pools(scenario: Scenario, w) -> list[tuple[int, object]]:
    """(index, pool) of the pools whose whole GPUs an LLM-serving replica of `w` could get."""
    out = []
    for i, pool in enumerate(scenario.cluster.node_pools):
        if pool.gpu_model is None or not pool.sharing.whole_device_units:
            continue
        if any(pool.labels.get(k) != v for k, v in w.pod.node_selector.items()):
            continue
        out.append((i, pool))
    return out


def check_llm_services(scenario: Scenario, catalog) -> list[tuple[tuple, str]]:
    """LLM-serving services (`model: {id: ...}`): whole GPUs per replica, tensor parallelism equal
    to them, a model that fits those GPUs with KV room for one request (`scenario.llm.check_llm_service`)
    on every pool a replica could use; autoscaler signals only LLM replicas have.
    """
    from gpusim.scenario.llm import check_llm_service

    out = []
    for wi, w in enumerate(scenario.workloads):
        if w.type != "inference":
            continue
        wpath = ("workloads", wi)
        a = w.autoscaling
        if not w.llm_serving:
            if a is not None and a.hpa is not None:
                for mi, m in enumerate(a.hpa.metrics):
                    if m.name == "kv_cache_usage":
                        out.append((wpath + ("autoscaling", "hpa", "metrics", mi, "name"),
                                    "kv_cache_usage (vllm:gpu_cache_usage_perc) needs an LLM-serving model "
                                    "(`model: {id: ...}`)"))  # fmt: skip
            continue
        resource, n, milli = w.pod.resources.gpu_request()
        if n == 0 or resource.startswith("nvidia.com/mig-") or milli < 1000:
            out.append((wpath + ("pod", "resources"),
                        f"an LLM-serving replica needs whole GPUs (the model is sharded over them); got "
                        f"{'no GPU' if n == 0 else resource}"))  # fmt: skip
            continue
        pools = llm_service_pools(scenario, w)
        if not pools:
            continue  # the pod checks say it fits no pool
        engine = w.llm_engine()
        seen = set()
        for _pi, pool in pools:
            if pool.gpu_model in seen:
                continue
            seen.add(pool.gpu_model)
            for path, msg in check_llm_service(w.model, engine, pool.gpu_model, n, catalog):
                if path[0] == "pod":
                    path = ("pod", "resources", "limits")
                elif path[0] == "engine" and path[1] == "max_num_seqs" and w.concurrency != 1:
                    path = ("concurrency",)
                elif path[0] == "engine" and w.engine is None:  # vLLM's defaults: point at the model
                    path = ("model",)
                    msg = f"(engine defaults) {msg}"
                where = f" (pool {pool.name}: {n} x {pool.gpu_model})" if len(pools) > 1 else ""
                out.append((wpath + path, msg + where))
    return out


MAX_GENERATED_JOBS = 10_000_000
"""Most training jobs one generator may be expected to create (set max_jobs to cap it)."""


def check_generators(scenario: Scenario) -> list[tuple[tuple, str]]:
    """A generator window inside the run, and a job count that fits in memory."""
    out = []
    for wi, w in enumerate(scenario.workloads):
        if w.type != "training" or w.generator is None:
            continue
        gen = w.generator
        end = gen.end if gen.end is not None else scenario.duration
        if gen.start >= scenario.duration:
            out.append((("workloads", wi, "generator", "start"),
                        f"start ({gen.start:g} s) is not before the scenario's duration ({scenario.duration:g} s): "
                        "no job would ever arrive"))  # fmt: skip
            continue
        a = gen.arrival
        rate = max(
            [float(getattr(a, k)) for k in ("rate", "mean_rate", "peak_rate") if getattr(a, k, None) is not None]
            + [float(max(getattr(a, "rates", None) or [0.0]))]
        )
        expected = rate * max(0.0, min(end, scenario.duration) - gen.start)
        if gen.max_jobs is not None:
            expected = min(expected, gen.max_jobs)
        if expected > MAX_GENERATED_JOBS:
            out.append((("workloads", wi, "generator", "arrival"),
                        f"this generator would create about {expected:.3g} jobs; at most {MAX_GENERATED_JOBS:,} "
                        "(lower the rate or set max_jobs)"))  # fmt: skip
    return out


def check_experiment(scenario, base_dir) -> list[tuple[tuple, str]]:
    """What `gpusim run` would find wrong with an experiment file, found without running it:
    the check its kind registered (see gpusim.scenario.registry).
    """
    from gpusim.scenario.registry import experiment_kinds

    kind = experiment_kinds().get(scenario.experiment.kind)
    return list(kind.check(scenario, base_dir)) if kind is not None else []
