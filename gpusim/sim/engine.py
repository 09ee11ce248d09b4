"""`simulate(scenario, seed) -> RunResult`: build -> run -> collect.

Training progress is analytic: a bound job runs for its duration (its remaining work divided
by its current rate, 1.0 until GPU sharing slows jobs down), then releases its resources and
wakes the scheduler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from gpusim._version import __version__
from gpusim.cluster.state import Placement
from gpusim.metrics.summary import summarize
from gpusim.scenario import load_scenario
from gpusim.scenario.models import Scenario
from gpusim.sim.environment import SimEnvironment
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
        self.jobs: list[JobSpec] = build_jobs(sim.scenario, sim.streams)
        self.running = 0
        self.pending = 0
        self.scheduler = Scheduler(
            sim, self.cluster, sim.scenario.scheduler.policy, sim.scenario.scheduler.queue, self._sample
        )
        self._requests = {}
        self.env.process(self._arrivals())
        self._sample()

    def _request(self, job: JobSpec):
        key = (job.gpus, job.cpu_milli, job.memory_mib, job.node_selector, job.tolerations)
        req = self._requests.get(key)
        if req is None:
            req = self.cluster.make_request(
                cpu_milli=job.cpu_milli,
                memory_mib=job.memory_mib,
                gpus=job.gpus,
                node_selector=dict(job.node_selector),
                tolerations=[dict(t) for t in job.tolerations],
            )
            self._requests[key] = req
        return req

    def _arrivals(self):
        env = self.env
        for job in self.jobs:
            if job.arrival_s > env.now:
                yield env.timeout(job.arrival_s - env.now)
            self.pending += 1
            req = self._request(job)
            self.scheduler.submit(req, job.priority, lambda p, job=job, req=req: self._bind(job, req, p))
            self._sample()

    def _bind(self, job: JobSpec, req, placement: Placement) -> None:
        self.pending -= 1
        self.running += 1
        node = placement.node
        self.recorder.job_started(
            job.job_id,
            self.env.now,
            self.cluster.node_names[node],
            self.cluster.pool_names[self.cluster.node_pool[node]],
            ",".join(str(g) for g in placement.gpus),
        )
        self.env.process(self._run(job, req, placement))

    def _run(self, job: JobSpec, req, placement: Placement):
        yield self.env.timeout(job.duration_s)
        self.cluster.release(req, placement)
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

    jobs = sim.recorder.jobs_frame(run.jobs)
    ts = sim.recorder.timeseries_frame()
    summary = summarize(jobs, ts, end_s=end_s, gpus_total=sim.cluster.gpus_total, warmup_s=scenario.output.warmup)
    wall_s = time.perf_counter() - wall0
    meta = {
        "started_at": started_at,
        "wall_s": wall_s,
        "events": sim.env.events_processed,
        "events_per_s": sim.env.events_processed / wall_s if wall_s > 0 else None,
        "scheduling_cycles": run.scheduler.cycles,
    }
    return RunResult(
        scenario=scenario, seed=seed, summary=summary, jobs=jobs, timeseries=ts, run_info=meta, version=__version__
    )
