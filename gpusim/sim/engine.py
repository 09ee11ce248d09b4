"""`simulate(scenario, seed) -> RunResult`: build -> run -> collect.

Training progress is analytic: a bound job runs for its duration (its remaining work divided
by its current rate, 1.0 until GPU sharing slows jobs down), then releases its resources and
wakes the scheduler.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gpusim._version import __version__
from gpusim.cluster.state import Placement, PodRequest
from gpusim.metrics.summary import summarize
from gpusim.placement import TargetWorkload, fits_anywhere_empty
from gpusim.scenario.loader import load_scenario
from gpusim.scenario.models import GPU_MILLI_RESOURCE, Scenario
from gpusim.sim.environment import FRACTIONAL_LABEL, SimEnvironment
from gpusim.sim.random import draw_seed
from gpusim.sim.scheduler import Scheduler
from gpusim.sim.workload import JobSpec, build_jobs


class TrainingRun:
    """The control plane of one run: job arrivals, binding, completion, recording."""

    def __init__(self, sim: SimEnvironment):
        self.sim = sim
        self.env = sim.env
        self.cluster = sim.cluster
        self.recorder = sim.recorder
        build = build_jobs(sim.scenario, sim.streams, sim.catalog)
        self.jobs: list[JobSpec] = build.jobs
        self.trace_reports = build.trace_reports
        self.running = 0
        self.pending = 0
        self.unschedulable: set[int] = set()
        self.scheduler = Scheduler(
            sim, self.cluster, sim.scenario.scheduler.policy, sim.scenario.scheduler.queue, self._sample
        )
        self._requests: dict[tuple, PodRequest] = {}
        self._resource_models = self._models_by_resource()
        if sim.scenario.scheduler.policy == "fgd":
            # FGD measures fragmentation against the workload's typical pods (Weng et al. 2023).
            reqs = [self._request(j) for j in self.jobs for _ in range(j.num_pods)]
            if reqs:
                self.cluster.set_target_workload(TargetWorkload.from_requests(reqs))
        self.env.process(self._arrivals())
        self._sample()

    def _models_by_resource(self) -> dict[str, list[str]]:
        """Which of the cluster's GPU models each device plugin resource name is served by."""
        out: dict[str, list[str]] = {}
        for model_id in self.cluster.gpu_model_ids:
            out.setdefault(self.sim.catalog.gpu(model_id).resource_name, []).append(model_id)
        return out

    def _request(self, job: JobSpec) -> PodRequest:
        key = (job.gpus, job.gpu_milli, job.gpu_resource, job.cpu_milli, job.memory_mib, job.gpu_models,
               job.node_selector, job.tolerations)  # fmt: skip
        req = self._requests.get(key)
        if req is None:
            selector = dict(job.node_selector)
            models = list(job.gpu_models)
            if job.gpus and job.gpu_resource == GPU_MILLI_RESOURCE:
                selector[FRACTIONAL_LABEL[0]] = FRACTIONAL_LABEL[1]
            elif job.gpus:
                served = self._resource_models.get(job.gpu_resource, [])
                models = [m for m in models if m in served] if models else served
                models = models or ["<none>"]  # no node serves this resource: unschedulable
            req = self.cluster.make_request(
                cpu_milli=job.cpu_milli,
                memory_mib=job.memory_mib,
                gpus=job.gpus,
                gpu_milli=job.gpu_milli,
                gpu_models=models or None,
                node_selector=selector,
                tolerations=[dict(t) for t in job.tolerations],
            )
            self._requests[key] = req
        return req

    def _arrivals(self):
        env = self.env
        for job in self.jobs:
            if job.arrival_s > env.now:
                yield env.timeout(job.arrival_s - env.now)
            req = self._request(job)
            if not fits_anywhere_empty(self.cluster, req):
                # fits no node even when empty: Kubernetes would leave it Pending forever
                self.unschedulable.add(job.job_id)
                continue
            self.pending += 1
            self.scheduler.submit(
                (req,) * job.num_pods, job.priority, lambda ps, job=job, req=req: self._bind(job, req, ps)
            )
            self._sample()

    def _bind(self, job: JobSpec, req: PodRequest, placements: list[Placement]) -> None:
        self.pending -= 1
        self.running += 1
        c = self.cluster
        self.recorder.job_started(
            job.job_id,
            self.env.now,
            ",".join(c.node_names[p.node] for p in placements),
            ",".join(dict.fromkeys(c.pool_names[c.node_pool[p.node]] for p in placements)),
            ";".join(",".join(str(g) for g in p.gpus) for p in placements),
        )
        if math.isfinite(job.duration_s):
            self.env.process(self._run(job, req, placements))

    def _run(self, job: JobSpec, req: PodRequest, placements: list[Placement]):
        yield self.env.timeout(job.duration_s)
        for p in placements:
            self.cluster.release(req, p)
        self.running -= 1
        self.recorder.job_finished(job.job_id, self.env.now)
        self._sample()
        self.scheduler.kick()

    def _sample(self) -> None:
        c = self.cluster
        self.recorder.sample(
            self.env.now,
            gpus_busy=c.gpus_busy(),
            gpus_allocated=c.gpu_milli_allocated() / 1000.0,
            gpus_total=c.gpus_total,
            pending=self.pending,
            running=self.running,
        )


def simulate(
    scenario: Scenario | str | dict,
    seed: int | None = None,
    *,
    progress: Callable[[float, float], None] | None = None,
):
    """Run one simulation and return its `RunResult`.

    `seed` overrides the scenario's seed; with neither, a seed is drawn and recorded.
    `progress(now_s, horizon_s)` is called as simulated time advances (for progress bars).
    """
    from gpusim.report.result import RunResult

    scenario = load_scenario(scenario)
    if seed is None:
        seed = scenario.seed if scenario.seed is not None else draw_seed()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall0 = time.perf_counter()

    sim = SimEnvironment(scenario, seed)
    run = TrainingRun(sim)
    horizon = scenario.duration
    steps = 200
    for i in range(1, steps + 1):
        sim.env.run(until=horizon * i / steps)
        if progress:
            progress(sim.env.now, horizon)
    if scenario.drain:
        sim.env.run()
    end_s = max(horizon, sim.env.now)

    jobs = sim.recorder.jobs_frame(run.jobs, unschedulable=run.unschedulable)
    ts = sim.recorder.timeseries_frame()
    summary = summarize(jobs, ts, end_s=end_s, gpus_total=sim.cluster.gpus_total, warmup_s=scenario.output.warmup)
    wall_s = time.perf_counter() - wall0
    meta = {
        "started_at": started_at,
        "wall_s": wall_s,
        "events": sim.env.events_processed,
        "events_per_s": sim.env.events_processed / wall_s if wall_s > 0 else None,
        "scheduling_cycles": run.scheduler.cycles,
        "trace_reports": [
            {
                "path": str(r.path),
                "format": r.trace_format,
                "rows_read": r.rows_read,
                "rows_skipped": r.rows_skipped,
                "examples": [str(e) for e in r.examples],
            }
            for r in run.trace_reports
        ],
    }
    return RunResult(
        scenario=scenario, seed=seed, summary=summary, jobs=jobs, timeseries=ts, run_info=meta, version=__version__
    )
