"""Turn the scenario's workloads into job specs: flat, immutable records with arrival times.

Generated jobs are drawn up front (the arrival window is finite), each workload from its own
random streams: ``workload/<name>/arrivals``, ``.../gpus`` and ``.../duration``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpusim.scenario.models import (
    ArrivalProcess,
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
    """One training job as submitted: a single pod holding all its GPUs on one node."""

    job_id: int
    name: str
    workload: str
    arrival_s: float
    duration_s: float
    gpus: int
    gpu_resource: str
    cpu_milli: int
    memory_mib: int
    priority: int
    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[tuple[tuple[str, str], ...], ...]


def sample_arrivals(
    process: ArrivalProcess, rng: np.random.Generator, start_s: float, end_s: float, max_n: int | None
) -> np.ndarray:
    """Arrival times in [start_s, end_s), sorted."""
    if process.process == "deterministic":
        times = start_s + np.arange(0, (end_s - start_s) * process.rate) / process.rate
    else:  # poisson: draw inter-arrival gaps in blocks until past the end
        chunks, t = [], start_s
        block = max(16, int((end_s - start_s) * process.rate * 1.1) + 16)
        while t < end_s:
            gaps = rng.exponential(1.0 / process.rate, size=block)
            times_block = t + np.cumsum(gaps)
            chunks.append(times_block)
            t = float(times_block[-1])
            if max_n is not None and sum(c.size for c in chunks) >= max_n:
                break
        times = np.concatenate(chunks) if chunks else np.zeros(0)
    times = times[times < end_s]
    if max_n is not None:
        times = times[:max_n]
    return times


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


def _pod_fields(pod: PodTemplate) -> dict:
    g = pod.resources.gpu_resource()
    return {
        "gpu_resource": g[0] if g else "nvidia.com/gpu",
        "gpus": int(g[1]) if g else 0,
        "cpu_milli": pod.resources.cpu_milli(),
        "memory_mib": pod.resources.memory_mib(),
        "priority": pod.priority,
        "node_selector": tuple(sorted(pod.node_selector.items())),
        "tolerations": tuple(tuple(sorted(t.model_dump(exclude_defaults=False).items())) for t in pod.tolerations),
    }


def build_jobs(scenario: Scenario, streams: RandomStreams) -> list[JobSpec]:
    """All jobs of all workloads, sorted by arrival time (ties keep workload order)."""
    jobs: list[tuple[float, int, dict]] = []
    order = 0
    for w in scenario.workloads:
        for fields in _workload_jobs(w, scenario, streams):
            jobs.append((fields["arrival_s"], order, fields))
            order += 1
    jobs.sort(key=lambda x: (x[0], x[1]))
    return [JobSpec(job_id=i, **f) for i, (_, _, f) in enumerate(jobs)]


def _workload_jobs(w: TrainingWorkload, scenario: Scenario, streams: RandomStreams):
    if w.jobs is not None:
        for i, job in enumerate(w.jobs):
            yield {
                "name": job.name or f"{w.name}-{i}",
                "workload": w.name,
                "arrival_s": float(job.arrival),
                "duration_s": float(job.duration),
                **_pod_fields(job.pod or w.pod),
            }
        return
    gen = w.generator
    end = gen.end if gen.end is not None else scenario.duration
    end = min(end, scenario.duration)
    base = f"workload/{w.name}"
    arrivals = sample_arrivals(gen.arrival, streams.stream(base + "/arrivals"), gen.start, end, gen.max_jobs)
    n = arrivals.size
    gpus = sample_counts(gen.gpus, streams.stream(base + "/gpus"), n)
    durations = sample_durations(gen.duration, streams.stream(base + "/duration"), n)
    pod = _pod_fields(w.pod)
    for i in range(n):
        yield {
            "name": f"{w.name}-{i}",
            "workload": w.name,
            "arrival_s": float(arrivals[i]),
            "duration_s": float(durations[i]),
            **{**pod, "gpus": int(gpus[i])},
        }
