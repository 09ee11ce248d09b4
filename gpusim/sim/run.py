"""`Run`: one simulation assembled from components with a fixed lifecycle.

    build -> connect -> start -> run -> collect

- build: each component is constructed from narrow, explicit dependencies (the clock, the
  cluster state, its own random streams, callables for what it tells others);
- connect: the components that need each other (built in either order) are wired;
- start: processes start in a fixed order (scheduler, node lifecycle and Cluster Autoscaler,
  training arrivals, each inference service, the overprovisioning placeholders), then the first
  sample; SimPy runs same-time events in the order they were scheduled, so this order is part of
  the result;
- run: the clock runs to the horizon, and with `drain` on until every training job is done;
- collect: every component hands its part of the result (tables, summary keys, run info) to one
  `Collector`, which derives the headline figures from the merged tables and builds the
  `RunResult`.

No component reads another's private attributes: they talk through the methods named here.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime

from gpusim.metrics.summary import cost_summary, summarize
from gpusim.scenario.models import InferenceWorkload, Scenario
from gpusim.sim.cluster_autoscaler import NodeManager
from gpusim.sim.environment import SimEnvironment
from gpusim.sim.failures import FailureInjector
from gpusim.sim.inference import SERVICE_COLUMNS, InferenceService, ServiceContext
from gpusim.sim.scheduler import Scheduler
from gpusim.sim.tenancy import DynamicMig, TimeSliceTenancy
from gpusim.sim.training import Overprovisioning, PodShapes, TrainingJobs
from gpusim.sim.workload import build_jobs

DRAIN_CAP = 1000
"""With `drain`, the run goes on until every job finished, but at most this many x `duration`; jobs
still left then are reported (`drain_cap_hit`, `drain_stopped_s`), as is a drain that stopped
because nothing pending can ever start (`drain_stalled`).
"""

PROGRESS_STEPS = 200
"""The clock runs to the horizon in this many steps (progress is reported after each)."""


class Sampler:
    """The recorder's time series: the cluster's GPU counts, the training jobs' pending and running
    counts and the node counts, sampled after every change (`sample` is every component's
    `on_change`).
    """

    def __init__(self, cluster, recorder, env):
        self.cluster = cluster
        self.recorder = recorder
        self.env = env
        self.jobs = None
        self.nodes = None

    def connect(self, jobs: TrainingJobs, nodes: NodeManager) -> None:
        self.jobs = jobs
        self.nodes = nodes

    def sample(self) -> None:
        c = self.cluster
        self.recorder.sample(
            self.env.now,
            gpus_busy=c.busy_gpus,
            gpus_allocated=c.allocated_milli / 1000.0,
            gpus_total=c.live_gpus,
            pending=self.jobs.pending,
            running=self.jobs.running,
            nodes_ready=self.nodes.nodes_ready(),
            nodes_billed=self.nodes.nodes_billed(),
        )

    def collect(self, end_s: float) -> dict:
        """The last sample (after the services served up to the end), then the time series."""
        self.sample()
        return {"tables": {"timeseries": self.recorder.timeseries_frame()}}


class ServicePart:
    """An inference service as a run component: its `finish(end_s)` row and its rows of the
    services table, as a part of the result.
    """

    def __init__(self, service: InferenceService):
        self.service = service

    def start(self) -> None:
        self.service.start()

    def track_failures(self) -> None:
        """A failure model runs: report failed requests, replicas lost and availability in every seed."""
        self.service.track_failures = True

    def node_lost(self, node: int, now: float) -> None:
        """A node failed: the service drops its replicas there (their requests fail) and recreates them."""
        self.service.node_lost(node, now)

    def collect(self, end_s: float) -> dict:
        return {"service_rows": [self.service.finish(end_s)], "service_frames": [self.service.frame()]}


class Collector:
    """Merges the components' parts (in the order they are added) into one `RunResult`.

    A part is a dict with any of: `tables` (name -> DataFrame: jobs, timeseries, nodes), `summary`
    (keys added to the summary after the derived headline figures, in part order), `info` (run
    info), `facts` (inputs of derived figures, e.g. `prices`), `service_rows`, `service_frames`.
    """

    def __init__(self):
        self.tables: dict = {}
        self.summary_parts: list[dict] = []
        self.info: dict = {}
        self.facts: dict = {}
        self.service_rows: list[dict] = []
        self.service_frames: list = []

    def add(self, part: dict) -> None:
        self.tables.update(part.get("tables", {}))
        if part.get("summary"):
            self.summary_parts.append(part["summary"])
        self.info.update(part.get("info", {}))
        self.facts.update(part.get("facts", {}))
        self.service_rows += part.get("service_rows", [])
        self.service_frames += part.get("service_frames", [])

    def summary(self, end_s: float, warmup_s: float, gpus_now: int) -> dict:
        """Headline figures from the tables (jobs, GPU time, requests, cost), then each part's keys."""
        jobs, ts, nodes = self.tables["jobs"], self.tables["timeseries"], self.tables["nodes"]
        peak_gpus = int(ts["gpus_total"].max()) if len(ts) else gpus_now
        summary = summarize(jobs, ts, end_s=end_s, gpus_total=peak_gpus, warmup_s=warmup_s)
        summary.update(service_summary(self.service_rows))
        summary.update(cost_summary(nodes, summary, self.facts["prices"], end_s))
        for part in self.summary_parts:
            summary.update(part)
        return summary

    def services_frame(self):
        import pandas as pd

        if self.service_frames:
            return pd.concat(self.service_frames, ignore_index=True)
        return pd.DataFrame([], columns=SERVICE_COLUMNS)


class Run:
    """One simulation: the components of a scenario at a seed, their lifecycle, and the result."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        catalog=None,
        *,
        drain_cap: float = DRAIN_CAP,
        env=None,
        stream_prefix: str = "",
        service_options: dict | None = None,
    ):
        """`env`, `stream_prefix`: a shared clock and this run's stream-name prefix (a member of a
        multi-cluster run, gpusim.sim.multicluster); `service_options`: service name -> extra keyword
        arguments of its `InferenceService` (a routed service's copy: its share of the requests).
        """
        # ---- build
        self.scenario = scenario
        self.seed = seed
        self.sim = sim = SimEnvironment(scenario, seed, catalog, env=env, stream_prefix=stream_prefix)
        env, cluster = sim.env, sim.cluster
        self.env, self.cluster = env, cluster
        self.sampler = Sampler(cluster, sim.recorder, env)
        on_change = self.sampler.sample
        build = build_jobs(scenario, sim.streams, sim.catalog)
        self.trace_reports = build.trace_reports
        self.timeslice = TimeSliceTenancy(cluster)
        self.scheduler = Scheduler(env, cluster, scenario.scheduler.policy, scenario.scheduler.queue,
                                   sim.streams.stream("scheduler/placement"), on_change)  # fmt: skip
        self.nodes = NodeManager(env, cluster, scenario.cluster, sim.catalog, sim.streams, on_change)
        self.shapes = PodShapes(cluster, scenario, sim.catalog, self.nodes)
        pools = self.shapes.pools
        self.training = TrainingJobs(env, cluster, sim.recorder, sim.catalog, scenario, build.jobs, self.shapes,
                                     self.scheduler, self.timeslice, on_change)  # fmt: skip
        self.mig = DynamicMig(env, cluster, pools, sim.catalog, self.training.mig_ready, on_change,
                              self.scheduler.kick)  # fmt: skip
        self.services = [
            ServicePart(
                InferenceService(self._service_context(w), w, sim.streams, **(service_options or {}).get(w.name, {}))
            )
            for w in scenario.workloads
            if isinstance(w, InferenceWorkload)
        ]
        self.placeholders = Overprovisioning(scenario.cluster.overprovisioning, self.shapes, self.scheduler,
                                             on_change)  # fmt: skip
        self.failures = None
        if scenario.failures is not None:
            self.failures = FailureInjector(env, cluster, self.nodes, scenario.failures, pools, sim.streams, on_change)
        self.drain_cap = drain_cap
        self.drain_stop: dict = {}
        self.end_s = scenario.duration
        # ---- connect
        self.sampler.connect(self.training, self.nodes)
        self.mig.connect()
        self.training.connect(self.mig)
        self.nodes.connect(self.scheduler)
        if self.failures is not None:
            self.failures.connect(self.training, self.placeholders, *self.services)
            for svc in self.services:
                svc.track_failures()
        self._started = False

    def _service_context(self, w: InferenceWorkload) -> ServiceContext:
        job = self.shapes.service_job(w)
        return ServiceContext(
            env=self.env, cluster=self.cluster, catalog=self.sim.catalog, horizon_s=self.scenario.duration,
            scheduler=self.scheduler, pools=self.shapes.pools, job=job, alternatives=self.shapes.alternatives(job),
            trace_reports=self.trace_reports, on_change=self.sampler.sample, add_ts_tenant=self.training.add_ts_tenant,
            remove_ts_tenant=self.training.remove_ts_tenant,
        )  # fmt: skip

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start every component's processes, in the fixed order, then take the first sample."""
        if self._started:
            return
        self._started = True
        self.scheduler.start()
        self.nodes.start()
        self.training.start()
        for svc in self.services:
            svc.start()
        self.placeholders.start()
        if self.failures is not None:
            self.failures.start()
        self.sampler.sample()

    def run(self, progress: Callable[[float, float], None] | None = None) -> float:
        """Run the clock to the horizon (and, with `drain`, on until every training job is done);
        returns the run's end time.
        """
        with rarer_young_collections():
            return self._run(progress)

    def _run(self, progress: Callable[[float, float], None] | None) -> float:
        self.start()
        env, horizon = self.env, self.scenario.duration
        for i in range(1, PROGRESS_STEPS + 1):
            env.run(until=horizon * i / PROGRESS_STEPS)
            if progress:
                progress(env.now, horizon)
        jobs = self.training
        drain = self.scenario.drain and not self.services  # services run on forever: such runs stop at `duration`
        if drain:
            # run on until every training job has finished; the clock advances in steps, since the
            # Cluster Autoscaler and crash-loop back-offs keep scheduling events
            step = max(horizon / PROGRESS_STEPS, 60.0)
            cap = self.drain_cap * horizon
            while jobs.unfinished():
                if env.now >= cap:
                    self.drain_stop = {"drain_cap_hit": True}
                    break
                nxt = env.peek()
                # none running, or all crash-looping (a MIG re-partition in progress still makes progress)
                stuck = not jobs.making_progress()
                repairing = self.failures is not None and self.failures.repairs_pending
                if nxt == float("inf") or (
                    stuck and jobs.all_arrived() and not self.nodes.provisioning() and not repairing
                ):
                    # nothing pending can start: no job will finish, no node will arrive
                    self.drain_stop = {"drain_cap_hit": False, "drain_stalled": True}
                    break
                env.run(until=max(env.now + step, nxt + 1e-9))
            if self.drain_stop:
                self.drain_stop["drain_stopped_s"] = float(env.now)
        end_s = max(horizon, env.now)
        if drain and not jobs.unfinished():
            # drained: the run ends when the last job finished, not at the clock's last step
            end_s = max(horizon, jobs.last_end_s(default=horizon))
        self.end_s = end_s
        return end_s

    def components(self) -> list:
        """The components in collect order: the services serve up to the end before the last sample;
        the summary keys of each part follow in this order.
        """
        extra = [self.failures] if self.failures is not None else []
        return [*self.services, self.sampler, self.nodes, self.scheduler, self.training, self.mig, self,
                self.placeholders, *extra]  # fmt: skip

    def collect(self, end_s: float) -> dict:
        """The clock's own part: why draining stopped, the events processed, the traces read."""
        info = {"events": self.env.events_processed, "trace_reports": self.trace_reports}
        return {"summary": dict(self.drain_stop), "info": info}

    def result(self, *, started_at: str | None = None, wall0: float | None = None):
        """Collect every component's part into a `RunResult`."""
        import pandas as pd

        from gpusim._version import __version__
        from gpusim.report.result import RunResult

        end_s = self.end_s
        collector = Collector()
        for component in self.components():
            collector.add(component.collect(end_s))
        summary = collector.summary(end_s, self.scenario.output.warmup, self.cluster.live_gpus)
        wall_s = time.perf_counter() - wall0 if wall0 is not None else math.nan
        events = collector.info["events"]
        meta = {
            "started_at": started_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_s": wall_s,
            "events": events,
            "events_per_s": events / wall_s if wall_s > 0 else None,
            "scheduling_cycles": collector.info["scheduling_cycles"],
            "trace_reports": [
                {
                    "path": str(r.path),
                    "format": r.trace_format,
                    "rows_read": r.rows_read,
                    "rows_skipped": r.rows_skipped,
                    "examples": [str(e) for e in r.examples],
                }
                for r in collector.info["trace_reports"]
            ],
        }
        t = collector.tables
        return RunResult(
            scenario=self.scenario, seed=self.seed, summary=summary, jobs=t["jobs"], timeseries=t["timeseries"],
            run_info=meta, version=__version__, services=collector.services_frame(),
            service_summary=pd.DataFrame(collector.service_rows), nodes=t["nodes"],
        )  # fmt: skip


def service_summary(rows: list[dict]) -> dict:
    """Headline request metrics over all services (request-weighted SLO attainment, worst p99);
    with a failure model, failed requests (misses), the lowest availability and whether every
    service met a 99.9% SLA; with LLM services, the worst TTFT and TPOT p99.
    """
    if not rows:
        return {}

    def done(r: dict) -> int:
        return r["served"] + r["timed_out"] + r["dropped"] + r.get("failed", 0)

    finished = sum(done(r) for r in rows)
    attained = sum(r["slo_attainment"] * done(r) for r in rows
                   if r["slo_attainment"] == r["slo_attainment"])  # fmt: skip
    out = {
        "requests": sum(r["arrived"] for r in rows),
        "requests_served": sum(r["served"] for r in rows),
        "requests_timed_out": sum(r["timed_out"] for r in rows),
        "requests_dropped": sum(r["dropped"] for r in rows),
        "requests_in_flight_end": sum(r["in_flight_end"] for r in rows),
        "latency_p50_s": max(r["latency_p50_s"] for r in rows),
        "latency_p99_s": max(r["latency_p99_s"] for r in rows),
        "slo_attainment": attained / finished if finished else math.nan,
        "cold_starts": sum(r["cold_starts"] for r in rows),
    }
    tracked = [r for r in rows if "availability" in r]
    if tracked:
        out["requests_failed"] = sum(r["failed"] for r in tracked)
        out["replicas_lost"] = sum(r["replicas_lost"] for r in tracked)
        out["service_availability_min"] = min(r["availability"] for r in tracked)
        out["sla_999_met"] = all(r["sla_999_met"] for r in tracked)
    llm = [r for r in rows if "ttft_p99_s" in r]
    if llm:
        out["ttft_p99_s"] = max(r["ttft_p99_s"] for r in llm)
        out["tpot_p99_s"] = max(r["tpot_p99_s"] for r in llm)
    return out


# the young generation's threshold while a run's clock runs (Python's default is 700); see
# `rarer_young_collections`
RUN_GC_THRESHOLD = 10_000
_gc_lock = threading.Lock()
_gc_runs = 0  # runs in progress in this process (threads of a sweep share the collector)
_gc_saved: tuple[int, ...] | None = None  # the thresholds to restore when the last run ends


@contextmanager
def rarer_young_collections():
    """Run Python's cyclic garbage collector less often while a run's clock runs (`Run.run`; and
    while `simulate` builds the run and collects its tables): its young generation's threshold
    goes from the default 700 to `RUN_GC_THRESHOLD` tracked objects, and back when the last run
    in progress ends.

    Why: a run's medium-lived objects (replicas, placements, timeouts) live through a few young
    collections at 700, are promoted and trigger full collections, each walking every object in
    the process (the imported libraries' too): at 7,100 nodes and 50 services a simulated day
    had 337 young and 3 full collections, 0.26 s, against 0.004 s at a tenth of the size. At
    10,000 the same day has 8 young collections and no full one in its clock, and 0.025 s of
    collections in all with its build and tables. Reference counting still frees everything
    else at once; only cyclic garbage waits a little longer. Nothing the simulation computes
    depends on when the collector runs. A threshold the process set higher (or 0, collection
    off) is left as it is, and so is one changed while the run ran.
    """
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            old = gc.get_threshold()
            _gc_saved = old if 0 < old[0] < RUN_GC_THRESHOLD else None
            if _gc_saved is not None:
                gc.set_threshold(RUN_GC_THRESHOLD, *old[1:])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0 and _gc_saved is not None:
                if gc.get_threshold()[0] == RUN_GC_THRESHOLD:
                    gc.set_threshold(*_gc_saved)
                _gc_saved = None
