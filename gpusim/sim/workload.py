"""Turn the scenario's workloads into job specs: flat, immutable records with arrival times.

Every training workload, whether written inline, generated or replayed from a trace, becomes
the same records (`gpusim.traces.records.TRAINING_COLUMNS`) and then `JobSpec`s. Generated jobs
are drawn up front (the arrival window is finite), each workload from its own random streams
(``workload/<name>/arrivals``, ``/gpus``, ``/pods``, ``/duration``, ``/shapes``, ``/trace``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gpusim.hardware import Catalog
from gpusim.scenario.models import (
    GPU_MILLI_RESOURCE,
    ChoiceCount,
    ChoiceDuration,
    ConstantCount,
    ConstantDuration,
    ExponentialDuration,
    LognormalDuration,
    PodTemplate,
    Scenario,
    TrainingWorkload,
    UniformDuration,
)
from gpusim.sim.random import RandomStreams


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One training job as submitted: `num_pods` identical pods, each holding `gpus` GPUs
    (of `gpu_milli` milli-GPU each) on one node, bound all at once.
    """

    job_id: int
    name: str
    workload: str
    arrival_s: float
    duration_s: float  # inf: never leaves
    num_pods: int
    gpus: int
    gpu_milli: int
    gpu_resource: str
    cpu_milli: int
    memory_mib: int
    gpu_models: tuple[str, ...]  # catalog ids allowed; () = any
    priority: int
    qos: str
    gpu_memory_mib: int  # GPU memory actually used per GPU (time-slicing OOM model); 0 = not modelled
    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[tuple[tuple[str, str], ...], ...]


@dataclass
class WorkloadBuild:
    """Jobs of all workloads plus what the trace readers reported (rows skipped and why)."""

    jobs: list[JobSpec]
    trace_reports: list


def sample_durations(dist, rng: np.random.Generator, n: int) -> np.ndarray:
    if isinstance(dist, ConstantDuration):
        return np.full(n, dist.value)
    if isinstance(dist, ExponentialDuration):
        return rng.exponential(dist.mean, size=n)
    if isinstance(dist, LognormalDuration):
        return dist.median * np.exp(dist.sigma * rng.standard_normal(n))
    if isinstance(dist, UniformDuration):
        return rng.uniform(dist.low, dist.high, size=n)
    if isinstance(dist, ChoiceDuration):
        return rng.choice(np.asarray(dist.values, float), size=n, p=_probs(dist.weights, len(dist.values)))
    raise TypeError(f"unknown duration distribution {dist!r}")


def sample_counts(dist, rng: np.random.Generator, n: int) -> np.ndarray:
    if isinstance(dist, ConstantCount):
        return np.full(n, dist.value, dtype=np.int64)
    if isinstance(dist, ChoiceCount):
        return rng.choice(np.asarray(dist.values, np.int64), size=n, p=_probs(dist.weights, len(dist.values)))
    raise TypeError(f"unknown count distribution {dist!r}")


def _probs(weights, n):
    if weights is None:
        return None
    w = np.asarray(weights, float)
    return w / w.sum()


def inline_jobs(w: TrainingWorkload) -> list:
    """(index, job) of inline jobs in arrival order (stable), the order their records take."""
    return sorted(enumerate(w.jobs), key=lambda ij: ij[1].arrival)


def _placement_fields(pod: PodTemplate) -> dict:
    return {
        "node_selector": tuple(sorted(pod.node_selector.items())),
        "tolerations": tuple(tuple(sorted(t.model_dump().items())) for t in pod.tolerations),
    }


def _template_record(pod: PodTemplate) -> dict:
    resource, gpus, milli = pod.resources.gpu_request()
    return {
        "gpus": gpus,
        "gpu_milli": milli if gpus else 0,
        "cpu_milli": pod.resources.cpu_milli(),
        "memory_mib": pod.resources.memory_mib(),
        "gpu_models": "",
        "priority": pod.priority,
        "qos": "",
        "num_pods": 1,
    }


def workload_records(w: TrainingWorkload, scenario: Scenario, streams: RandomStreams) -> tuple[pd.DataFrame, list]:
    """The workload's jobs as training records (TRAINING_COLUMNS), and any trace read reports."""
    from gpusim.traces import load_distribution, load_training_trace
    from gpusim.traces.generators import empirical_job_shapes
    from gpusim.traces.records import training_frame

    base = f"workload/{w.name}"
    reports: list = []
    if w.trace is not None:
        df, report = load_training_trace(w.trace, streams.stream(base + "/trace"), until_s=scenario.duration)
        reports.append(report)
        df = df[df["arrival_s"] < scenario.duration].reset_index(drop=True)
        return df, reports

    cols: dict[str, list] = {}
    if w.jobs is not None:
        rows = []
        for i, job in inline_jobs(w):
            rows.append(
                {
                    **_template_record(job.pod or w.pod),
                    "name": job.name or f"{w.name}-{i}",
                    "arrival_s": float(job.arrival),
                    "duration_s": float(job.duration),
                    "num_pods": job.pods,
                }
            )
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        return training_frame(cols), reports

    gen = w.generator
    end = min(gen.end if gen.end is not None else scenario.duration, scenario.duration)
    arrivals = gen.arrival.sample(streams.stream(base + "/arrivals"), gen.start, end)
    if gen.max_jobs is not None:
        arrivals = arrivals[: gen.max_jobs]
    n = arrivals.size
    template = _template_record(w.pod)
    shapes = None
    shape_durations = None
    if gen.shapes_from is not None:
        recs, report = load_training_trace(gen.shapes_from, streams.stream(base + "/shapes-trace"))
        reports.append(report)
        shapes = empirical_job_shapes(recs)
        shape_durations = recs["duration_s"].to_numpy()
    if gen.gpus is not None:
        frame = {k: np.full(n, v) if not isinstance(v, str) else [v] * n for k, v in template.items()}
        frame["gpus"] = sample_counts(gen.gpus, streams.stream(base + "/gpus"), n)
        frame["gpu_milli"] = np.where(frame["gpus"] > 0, template["gpu_milli"] or 1000, 0)
    else:
        picked = shapes.iloc[streams.stream(base + "/shapes").integers(0, len(shapes), size=n)].reset_index(drop=True)
        frame = {c: picked[c].to_numpy() for c in picked.columns}
    frame["num_pods"] = sample_counts(gen.pods, streams.stream(base + "/pods"), n)
    if gen.duration is not None:
        durations = sample_durations(gen.duration, streams.stream(base + "/duration"), n)
    else:
        if gen.durations_from is not None:
            src = gen.durations_from
            if src.format in ("philly-runtime", "genai-model-load"):
                pool, report = load_distribution(src)
            else:
                recs, report = load_training_trace(src, streams.stream(base + "/durations-trace"))
                pool = recs["duration_s"].to_numpy()
            reports.append(report)
        else:
            pool = shape_durations
        pool = np.asarray(pool, float)
        pool = pool[np.isfinite(pool) & (pool > 0)]
        durations = pool[streams.stream(base + "/duration").integers(0, pool.size, size=n)]
    frame.update({"name": [f"{w.name}-{i}" for i in range(n)], "arrival_s": arrivals, "duration_s": durations})
    return training_frame(frame), reports


def sharing_target(w: TrainingWorkload, scenario: Scenario, catalog: Catalog):
    """(sharing, GPU model) a trace-driven workload's pods are mapped onto, or None.

    The mapping applies when every GPU pool the workload's pods can select (node selector)
    shares its GPUs one and the same way (time-slicing, MIG, AMD partitions or Intel sharing, on
    one GPU model), and the pod template asks for the vendor's plain GPU resource (or none): a
    template naming a specific shared resource keeps it. Mixed targets are not mapped.
    """
    uses_trace = w.trace is not None or (w.generator is not None and w.generator.shapes_from is not None
                                         and w.generator.gpus is None)  # fmt: skip
    if not uses_trace:
        return None
    sel = w.pod.node_selector
    pools = [p for p in scenario.cluster.node_pools if p.gpu_model is not None and p.gpus_per_node > 0
             and all(p.labels.get(k) == v for k, v in sel.items())]  # fmt: skip
    if not pools:
        return None
    keys = {(p.gpu_model, p.sharing.model_dump_json()) for p in pools}
    if len(keys) != 1:
        return None
    pool = pools[0]
    if not pool.sharing.remaps_trace_pods:  # whole and fractional GPUs keep the trace's request
        return None
    gpu = catalog.gpu(pool.gpu_model)
    resource = w.pod.resources.gpu_request()[0]
    if resource and resource not in (gpu.resource_name, f"{gpu.resource_name}.shared"):
        return None
    return pool.sharing, gpu


def build_jobs(scenario: Scenario, streams: RandomStreams, catalog: Catalog) -> WorkloadBuild:
    """All jobs of all workloads, sorted by arrival time (ties keep workload order)."""
    code_map = catalog.openb_model_map()
    jobs: list[tuple[float, int, dict]] = []
    reports: list = []
    order = 0
    for w in scenario.workloads:
        if not isinstance(w, TrainingWorkload):
            continue
        records, rep = workload_records(w, scenario, streams)
        reports += rep
        target = sharing_target(w, scenario, catalog)
        mapped = None
        if target is not None and len(records):
            # a trace replayed onto shared GPUs: each pod asks what SHARING_MAPPING says
            from gpusim.traces.replay import map_records_to_sharing

            recs = records.assign(gpu_memory_mib=int(w.pod.gpu_memory or 0))
            m = map_records_to_sharing(recs, target[0], target[1])
            mapped = (m["gpu_resource"].tolist(), m["gpu_count"].tolist())
        pods = [job.pod or w.pod for _, job in inline_jobs(w)] if w.jobs is not None else None
        for i, r in enumerate(records.itertuples(index=False)):
            pod = pods[i] if pods is not None else w.pod
            resource = pod.resources.gpu_request()[0]
            gpus, milli = int(r.gpus), (int(r.gpu_milli) if r.gpus else 1000)
            if mapped is not None and gpus > 0:
                resource, gpus, milli = mapped[0][i], int(mapped[1][i]), 1000
            elif r.gpus > 0 and r.gpu_milli < 1000:
                resource = GPU_MILLI_RESOURCE
            models = tuple(code_map.get(m, m) for m in str(r.gpu_models).split("|") if m)
            fields = {
                "name": str(r.name),
                "workload": w.name,
                "arrival_s": float(r.arrival_s),
                "duration_s": float(r.duration_s),
                "num_pods": int(r.num_pods),
                "gpus": gpus,
                "gpu_milli": milli,
                "gpu_resource": resource,
                "cpu_milli": int(r.cpu_milli),
                "memory_mib": int(r.memory_mib),
                "gpu_models": models,
                "priority": int(r.priority),
                "qos": str(r.qos),
                "gpu_memory_mib": int(pod.gpu_memory or 0),
                **_placement_fields(pod),
            }
            jobs.append((fields["arrival_s"], order, fields))
            order += 1
    jobs.sort(key=lambda x: (x[0], x[1]))
    return WorkloadBuild([JobSpec(job_id=i, **f) for i, (_, _, f) in enumerate(jobs)], reports)
