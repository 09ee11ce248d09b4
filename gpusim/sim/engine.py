"""`simulate(scenario, seed) -> RunResult`: build -> run -> collect.

Training progress is analytic: a bound job's duration is its work at full speed on a whole GPU;
it progresses at a rate set by how it shares GPUs (1 on whole GPUs and milli-GPU shares, the
instance's compute fraction on a MIG slice, an equal time slice minus the context-switch
overhead on a time-sliced GPU with co-tenants). When the rate changes the finish is rescheduled.
On finishing, a job releases its resources and wakes the scheduler.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from gpusim._version import __version__
from gpusim.cluster.state import SHARING_MIG, SHARING_NONE, SHARING_TIMESLICE, Placement, PodRequest
from gpusim.metrics.summary import cost_summary, summarize
from gpusim.placement import TargetWorkload, fits_anywhere_empty
from gpusim.scenario.loader import load_scenario
from gpusim.scenario.models import InferenceWorkload, Scenario
from gpusim.sharing import UNIT_LABEL, Offer, SharingMode, default_mode, offer_share
from gpusim.sim.cluster_autoscaler import NodeManager
from gpusim.sim.environment import SimEnvironment
from gpusim.sim.inference import SERVICE_COLUMNS, InferenceService, ServiceContext
from gpusim.sim.random import draw_seed
from gpusim.sim.scheduler import Scheduler
from gpusim.sim.tenancy import DynamicMig, TimeSliceTenancy
from gpusim.sim.workload import JobSpec, build_jobs

DRAIN_CAP = 1000
"""With `drain`, the run goes on until every job finished, but at most this many x `duration`; jobs
still left then are reported (`drain_cap_hit`, `drain_stopped_s`), as is a drain that stopped
because nothing pending can ever start (`drain_stalled`).
"""

CRASHLOOP_BACKOFF_S = (10.0, 300.0)
"""kubelet restart back-off: 10 s doubling per restart, capped at 5 minutes."""


@dataclass(frozen=True)
class Alternative:
    """One way the cluster can serve a job's pods: the requests and how its pools share GPUs."""

    requests: tuple[PodRequest, ...]
    offer: Offer
    ts_overhead: float = 0.0
    fail_gt_one: bool = False
    mode: SharingMode | None = field(default=None, compare=False)  # the mode of the (last) pool offering it


class JobRun:
    """A bound job: its remaining work (seconds at full speed) and current rate.

    Progress is analytic. Whenever the rate changes (a co-tenant arrives on or leaves a
    time-sliced GPU, an out-of-memory crash stops the job) the remaining work is updated and a
    new finish event is scheduled; earlier finish events become stale (version counter).
    """

    __slots__ = ("job", "alt", "placements", "remaining", "rate", "last", "version", "restarts", "active", "gpus",
                 "gpus_waiting", "speed")  # fmt: skip

    def __init__(self, job: JobSpec, alt: Alternative, placements: list[Placement], now: float):
        self.job = job
        self.alt = alt
        self.placements = placements
        self.remaining = job.duration_s
        self.rate = 0.0
        self.last = now
        self.version = 0
        self.restarts = 0
        self.active = False
        self.gpus = sorted({g for p in placements for g in p.gpus})
        self.gpus_waiting: set[int] = set()
        self.speed = alt.offer.compute_fraction  # rate on its own (no co-tenants), 1 = as the duration says


class TrainingRun:
    """The control plane of one run: job arrivals, binding, sharing slowdowns, crashes, completion."""

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
        self.unschedulable: dict[int, str] = {}  # job id -> kube-scheduler's reason
        self.failed: dict[int, str] = {}
        self.oom_kills = 0
        self.runs: dict[int, JobRun] = {}
        self.timeslice = TimeSliceTenancy(self.cluster)
        self.scheduler = Scheduler(
            sim, self.cluster, sim.scenario.scheduler.policy, sim.scenario.scheduler.queue, self._sample
        )
        self._alternatives: dict[tuple, list[Alternative]] = {}
        self._fits: dict[PodRequest, bool] = {}
        self._gang_caps: dict[PodRequest, int] = {}
        self._reasons: dict[tuple, str] = {}
        self._pools = {p.name: p for p in sim.scenario.cluster.node_pools}
        self._work = {w.name: w.work for w in sim.scenario.workloads if getattr(w, "work", None) is not None}
        self.mig = DynamicMig(self.env, self.cluster, self._pools, sim.catalog, self._mig_ready, self._sample,
                              self.scheduler.kick)  # fmt: skip
        self.mig.connect()
        if sim.scenario.scheduler.policy == "fgd":
            # FGD measures fragmentation against the workload's typical pods (Weng et al. 2023).
            reqs = [alts[0].requests[0] for j in self.jobs if (alts := self.alternatives(j)) for _ in range(j.num_pods)]
            if reqs:
                self.cluster.set_target_workload(TargetWorkload.from_requests(reqs))
        self.arrived = 0
        self.nodes = NodeManager(self.env, self.cluster, sim.scenario.cluster, sim.catalog, sim.streams, self._sample)
        self.nodes.connect(self.scheduler)
        self.nodes.start()
        self.env.process(self._arrivals())
        self.services = []
        for w in sim.scenario.workloads:
            if isinstance(w, InferenceWorkload):
                svc = InferenceService(self._service_context(w), w, sim.streams)
                svc.start()
                self.services.append(svc)
        self.placeholders_bound = 0
        self.placeholders_unschedulable = 0
        self.placeholder_reason = ""
        op = sim.scenario.cluster.overprovisioning
        if op is not None:
            w = InferenceWorkload.model_construct(name="overprovisioning", pod=op.pod)
            job = self.service_job(w)
            alts = [a.requests for a in self.alternatives(job) if self._could_ever_fit(a.requests[0])]
            if not alts:  # fits no node even when empty: it would stay Pending and hold no capacity
                self.placeholders_unschedulable = op.replicas
                self.placeholder_reason = self._reason(job, op.pod)
            else:
                for _ in range(op.replicas):
                    self._submit_placeholder(alts, op.priority)
        self._sample()

    def _service_context(self, w: InferenceWorkload) -> ServiceContext:
        job = self.service_job(w)
        return ServiceContext(
            env=self.env, cluster=self.cluster, catalog=self.sim.catalog, horizon_s=self.sim.scenario.duration,
            scheduler=self.scheduler, pools=self._pools, job=job, alternatives=self.alternatives(job),
            trace_reports=self.trace_reports, on_change=self._sample, add_ts_tenant=self.add_ts_tenant,
            remove_ts_tenant=self.remove_ts_tenant,
        )  # fmt: skip

    def _could_ever_fit(self, req: PodRequest) -> bool:
        """Static feasibility, once per request shape: pools never change shape, so neither does it."""
        fit = self._fits.get(req)
        if fit is None:
            fit = self._fits[req] = fits_anywhere_empty(self.cluster, req) or self.nodes.could_host(req)
        return fit

    def _gang_capacity(self, req: PodRequest) -> int:
        """At most how many pods of this shape the cluster could hold at once: over the pools, the
        largest node count (`count` or the autoscaling `max`) x the pods one empty node takes. An
        upper bound (GPU units, CPU, memory; a MIG layout or GPU topology can only lower it), so
        a gang above it can never be bound whole.
        """
        cap = self._gang_caps.get(req)
        if cap is not None:
            return cap
        c = self.cluster
        cap = 0
        for name, node in self.nodes.templates.items():
            pool = self._pools[name]
            n = max(pool.count, pool.autoscaling.max if pool.autoscaling is not None else 0)
            if not n or not self.nodes._static_ok(node, req):
                continue
            per = 1 << 40
            if req.gpus > 0:  # the pool's sharing mode: pods of this shape on one empty node's devices
                per = pool.sharing.pods_per_node(int(c.node_gpu_count[node]), pool.sharing.replicas(), req)
            if req.cpu_milli:
                per = min(per, int(c.node_cpu_total[node]) // req.cpu_milli)
            if req.memory_mib:
                per = min(per, int(c.node_mem_total[node]) // req.memory_mib)
            cap += n * per
        self._gang_caps[req] = cap
        return cap

    def _reason(self, job: JobSpec, pod=None) -> str:
        """Why a job fits no node, in kube-scheduler's words (gpusim.metrics.summary.unschedulable_reason)."""
        key = (job.workload, job.gpu_resource, job.gpus, job.gpu_milli, job.cpu_milli, job.memory_mib)
        why = self._reasons.get(key)
        if why is None:
            from gpusim.metrics.summary import unschedulable_reason

            if pod is None:
                pod = next((w.pod for w in self.sim.scenario.workloads if w.name == job.workload), None)
            req = {"gpu_resource": job.gpu_resource, "gpus": job.gpus, "gpu_milli": job.gpu_milli,
                   "cpu_milli": job.cpu_milli, "memory_mib": job.memory_mib}  # fmt: skip
            why = self._reasons[key] = unschedulable_reason(req, pod, self.sim.scenario, self.sim.catalog)
        return why

    def _gang_reason(self, job: JobSpec) -> str:
        """A gang with more pods than the cluster could ever hold at once (kube-scheduler's wording,
        as `gpusim check` words it: gpusim.scenario.checks.unschedulable_reason).
        """
        from gpusim.scenario.checks import unschedulable_reason

        total = sum(max(p.count, p.autoscaling.max if p.autoscaling is not None else 0) for p in self._pools.values())
        return unschedulable_reason(total, {f"Insufficient {job.gpu_resource or 'cpu'}": total})

    def _submit_placeholder(self, alts, priority: int) -> None:
        def bound(_i, _ps):
            self.placeholders_bound += 1
            self._sample()

        def evicted():  # the Deployment recreates the placeholder: pending again
            self.placeholders_bound -= 1
            self._submit_placeholder(alts, priority)

        self.scheduler.submit(alts, priority, bound, on_evict=evicted)

    def service_job(self, w: InferenceWorkload) -> JobSpec:
        """The pod shape of one replica of an inference service, as a job spec."""
        resource, gpus, milli = w.pod.resources.gpu_request()
        return JobSpec(
            job_id=-1, name=w.name, workload=w.name, arrival_s=0.0, duration_s=math.inf, num_pods=1, gpus=gpus,
            gpu_milli=milli if gpus else 1000, gpu_resource=resource, cpu_milli=w.pod.resources.cpu_milli(),
            memory_mib=w.pod.resources.memory_mib(), gpu_models=(), priority=w.pod.priority, qos="",
            gpu_memory_mib=int(w.pod.gpu_memory or 0), node_selector=tuple(sorted(w.pod.node_selector.items())),
            tolerations=tuple(tuple(sorted(t.model_dump().items())) for t in w.pod.tolerations),
        )  # fmt: skip

    # ------------------------------------------------------------------ requests
    def alternatives(self, job: JobSpec) -> list[Alternative]:
        """The ways the cluster's pools can serve the job's pods, one request per sharing kind."""
        key = (job.gpus, job.gpu_milli, job.gpu_resource, job.cpu_milli, job.memory_mib, job.gpu_models,
               job.node_selector, job.tolerations, job.num_pods, job.gpu_memory_mib)  # fmt: skip
        alts = self._alternatives.get(key)
        if alts is not None:
            return alts
        selector = dict(job.node_selector)
        tolerations = [dict(t) for t in job.tolerations]
        common = {"cpu_milli": job.cpu_milli, "memory_mib": job.memory_mib, "tolerations": tolerations}
        alts = []
        if job.gpus == 0:
            req = self.cluster.make_request(**common, node_selector=selector)
            alts.append(Alternative((req,) * job.num_pods, Offer(SHARING_NONE), mode=default_mode()))
        else:
            groups: dict[tuple, tuple[Offer, list[str], SharingMode]] = {}
            for pool in self._pools.values():
                if pool.gpu_model is None or (job.gpu_models and pool.gpu_model not in job.gpu_models):
                    continue
                o = pool.sharing.offer(self.sim.catalog.gpu(pool.gpu_model), job.gpu_resource, job.gpus)
                if isinstance(o, str):
                    continue
                gkey = (o.sharing, o.mig_profile, o.unit)
                prev = groups.get(gkey)
                starts = tuple(sorted(set(o.mig_starts) | set(prev[0].mig_starts if prev else ())))
                models = (prev[1] if prev else []) + [pool.gpu_model]
                groups[gkey] = (
                    replace(o, mig_starts=starts),
                    models,
                    pool.sharing,
                )
            for (sharing, _, unit), (o, models, mode) in groups.items():
                req = self.cluster.make_request(
                    **common,
                    node_selector={**selector, UNIT_LABEL: unit},
                    gpus=job.gpus,
                    gpu_milli=job.gpu_milli,
                    gpu_models=sorted(set(models)),
                    sharing=sharing,
                    mig_compute=o.mig_compute,
                    mig_memory=o.mig_memory,
                    mig_starts=list(o.mig_starts) or None,
                    gpu_memory_mib=job.gpu_memory_mib,
                )
                alts.append(Alternative((req,) * job.num_pods, o, mode.switch_overhead, mode.fail_gt_one, mode))
        self._alternatives[key] = alts
        return alts

    # ------------------------------------------------------------------ lifecycle
    def _arrivals(self):
        env = self.env
        for job in self.jobs:
            if job.arrival_s > env.now:
                yield env.timeout(job.arrival_s - env.now)
            self.arrived += 1
            alts = [a for a in self.alternatives(job) if self._could_ever_fit(a.requests[0])]
            if not alts:
                # fits no node even when empty: Kubernetes would leave it Pending forever
                self.unschedulable[job.job_id] = self._reason(job)
                continue
            if job.num_pods > 1:
                # a gang binds all its pods at once: more pods than the cluster could ever hold never bind
                alts = [a for a in alts if self._gang_capacity(a.requests[0]) >= job.num_pods]
                if not alts:
                    self.unschedulable[job.job_id] = self._gang_reason(job)
                    continue
            self.pending += 1
            self.scheduler.submit(
                [a.requests for a in alts], job.priority, lambda i, ps, job=job, alts=alts: self._bind(job, alts[i], ps)
            )
            self._sample()

    def _bind(self, job: JobSpec, alt: Alternative, placements: list[Placement]) -> None:
        self.pending -= 1
        c = self.cluster
        self.recorder.job_started(
            job.job_id,
            self.env.now,
            ",".join(c.node_names[p.node] for p in placements),
            ",".join(dict.fromkeys(c.pool_names[c.node_pool[p.node]] for p in placements)),
            ";".join(
                ",".join(str(g) for g in p.gpus) + (f"@mig{p.mig_start}" if p.mig_start >= 0 else "")
                for p in placements
            ),
        )
        if alt.fail_gt_one and job.gpus > 1:
            # kubelet admission of the NVIDIA device plugin rejects the pod
            self._release(job, alt, placements)
            self.failed[job.job_id] = (
                f"UnexpectedAdmissionError: request for '{job.gpu_resource}: {job.gpus}' too large: "
                "maximum request size for shared resources is 1"
            )
            self.recorder.job_finished(job.job_id, self.env.now)
            self._sample()
            self.scheduler.kick()
            return
        self.running += 1
        run = JobRun(job, alt, placements, self.env.now)
        run.speed = self._speed(job, alt, placements)
        self.runs[job.job_id] = run
        self._start(run)

    def _start(self, run: JobRun) -> None:
        """The container starts: on a time-sliced GPU it may run out of memory (no isolation); on a
        dynamic-MIG GPU it may first need a new instance (drain, then re-partition).
        """
        if run.alt.offer.sharing == SHARING_MIG and self.mig.needs_repartition(run):
            return
        if run.alt.offer.sharing == SHARING_TIMESLICE:
            need = run.job.gpu_memory_mib
            if not self.timeslice.fits_memory(run.gpus, need):
                self.oom_kills += 1
                run.restarts += 1
                backoff = min(CRASHLOOP_BACKOFF_S[0] * 2 ** min(run.restarts - 1, 16), CRASHLOOP_BACKOFF_S[1])
                ev = self.env.timeout(backoff)
                ev.callbacks.append(lambda _e, run=run: self._start(run))
                return
            affected = self.timeslice.join(run.job.job_id, run.gpus, need)
            run.active = True
            self._retime(affected)
        else:
            run.active = True
            self._set_rate(run, run.speed)

    def _mig_ready(self, run: JobRun) -> None:
        """Its dynamic-MIG instances exist now: the job starts (only now)."""
        self.recorder.start_s[run.job.job_id] = self.env.now
        run.active = True
        self._set_rate(run, run.speed)

    def _speed(self, job: JobSpec, alt: Alternative, placements: list[Placement]) -> float:
        """A job's rate alone on its GPUs: the slice's compute fraction, or, when its workload measures
        durations on a reference GPU, the performance model's ratio of training throughputs.
        """
        work = self._work.get(job.workload)
        if work is None or job.gpus == 0:
            return alt.offer.compute_fraction
        from gpusim.hardware import performance as perf

        c, cat = self.cluster, self.sim.catalog
        gpu = cat.gpu(c.gpu_model_ids[c.node_gpu_model[placements[0].node]])
        ref = cat.gpu(work.reference_gpu)
        prof = perf.TrainingProfile(work.compute_fraction, work.scaling_efficiency_per_doubling, reference=ref)
        n = job.gpus * job.num_pods
        share = offer_share(gpu, alt.offer)
        return perf.training_rate(gpu, prof, n, share) / perf.training_rate(ref, prof, n)

    def add_ts_tenant(self, key, placements: list[Placement], memory_mib: int) -> None:
        """A pod other than a training job (an inference replica) on time-sliced GPUs: it takes a
        time slice and memory there, so training co-tenants slow down and may run out of memory.
        """
        self._retime(self.timeslice.join(key, {g for p in placements for g in p.gpus}, memory_mib))

    def remove_ts_tenant(self, key, placements: list[Placement], memory_mib: int) -> None:
        self._retime(self.timeslice.leave(key, {g for p in placements for g in p.gpus}, memory_mib))

    def _rate(self, run: JobRun) -> float:
        if run.alt.offer.sharing != SHARING_TIMESLICE:
            return run.speed
        worst = run.speed
        for g in run.gpus:  # the slowest of its GPUs, as the sharing mode slows co-tenants down
            worst = min(worst, run.alt.mode.tenant_rate(run.speed, self.timeslice.n_tenants(g)))
        return worst

    def _retime(self, job_ids) -> None:
        for j in sorted(k for k in job_ids if isinstance(k, int)):  # replicas (tuple keys) keep their speed
            run = self.runs.get(j)
            if run is not None and run.active:
                self._set_rate(run, self._rate(run))

    def _set_rate(self, run: JobRun, rate: float) -> None:
        now = self.env.now
        run.remaining = max(run.remaining - run.rate * (now - run.last), 0.0)
        run.last = now
        if rate == run.rate and run.version:
            return
        run.rate = rate
        run.version += 1
        if math.isfinite(run.remaining) and rate > 0:
            ev = self.env.timeout(run.remaining / rate)
            ev.callbacks.append(lambda _e, run=run, v=run.version: self._finish(run, v))

    def _finish(self, run: JobRun, version: int) -> None:
        if version != run.version:
            return  # the rate changed since this finish was scheduled
        job = run.job
        del self.runs[job.job_id]
        self.running -= 1
        affected: set = set()
        if run.alt.offer.sharing == SHARING_TIMESLICE:
            affected = self.timeslice.leave(job.job_id, run.gpus, job.gpu_memory_mib)
        self._release(job, run.alt, run.placements)
        self.recorder.job_finished(job.job_id, self.env.now, restarts=run.restarts)
        self._retime(affected)
        self._sample()
        self.scheduler.kick()

    def _release(self, job: JobSpec, alt: Alternative, placements: list[Placement]) -> None:
        for req, p in zip(alt.requests, placements, strict=True):
            self.cluster.release(req, p)

    def _sample(self) -> None:
        c = self.cluster
        self.recorder.sample(
            self.env.now,
            gpus_busy=c.busy_gpus,
            gpus_allocated=c.allocated_milli / 1000.0,
            gpus_total=c.live_gpus,
            pending=self.pending,
            running=self.running,
            nodes_ready=self.nodes.nodes_ready(),
            nodes_billed=self.nodes.nodes_billed(),
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
    if not isinstance(scenario, Scenario):
        from gpusim.errors import InputError

        raise InputError(f"{scenario.name} is an experiment, not a cluster simulation: run it with `gpusim run`")
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
    drain_stop: dict = {}  # why draining stopped with jobs left, for the summary
    if scenario.drain and not run.services:  # services run on forever: such runs stop at `duration`
        # run on until every training job has finished; the clock advances in steps, since the
        # Cluster Autoscaler and crash-loop back-offs keep scheduling events
        step = max(horizon / steps, 60.0)
        cap = DRAIN_CAP * horizon
        while run.running or run.pending or run.arrived < len(run.jobs):
            if sim.env.now >= cap:
                drain_stop = {"drain_cap_hit": True}
                break
            nxt = sim.env.peek()
            # none running, or all crash-looping (a MIG re-partition in progress still makes progress)
            stuck = not any(r.active or r.gpus_waiting for r in run.runs.values())
            if nxt == float("inf") or (stuck and run.arrived == len(run.jobs) and not run.nodes.provisioning()):
                # nothing pending can start: no job will finish, no node will arrive
                drain_stop = {"drain_cap_hit": False, "drain_stalled": True}
                break
            sim.env.run(until=max(sim.env.now + step, nxt + 1e-9))
        if drain_stop:
            drain_stop["drain_stopped_s"] = float(sim.env.now)
    end_s = max(horizon, sim.env.now)
    if scenario.drain and not run.services and not (run.running or run.pending) and run.arrived == len(run.jobs):
        # drained: the run ends when the last job finished, not at the clock's last step
        last = max(sim.recorder.end_s.values(), default=horizon)
        end_s = max(horizon, last)

    for r in run.runs.values():  # jobs still running or crash-looping at the end
        sim.recorder.restarts[r.job.job_id] = r.restarts
    service_rows = [svc.finish(end_s) for svc in run.services]
    run._sample()
    jobs = sim.recorder.jobs_frame(run.jobs, unschedulable=run.unschedulable, failed=run.failed)
    ts = sim.recorder.timeseries_frame()
    nodes = run.nodes.nodes_frame(end_s)
    peak_gpus = int(ts["gpus_total"].max()) if len(ts) else sim.cluster.live_gpus
    summary = summarize(jobs, ts, end_s=end_s, gpus_total=peak_gpus, warmup_s=scenario.output.warmup)
    summary.update(service_summary(service_rows))
    prices = {p.name: run.nodes.price(p) for p in scenario.cluster.node_pools}
    summary.update(cost_summary(nodes, summary, prices, end_s))
    summary["nodes_added"] = int(len(nodes) - scenario_initial_nodes(scenario))
    summary["cluster_scale_ups"] = run.nodes.scale_ups
    summary["cluster_scale_downs"] = run.nodes.scale_downs
    summary["preemptions"] = run.scheduler.preemptions
    summary["oom_kills"] = run.oom_kills
    summary["mig_reconfigurations"] = run.mig.reconfigurations
    summary.update(drain_stop)
    if run.placeholders_unschedulable:
        summary["overprovisioning_unschedulable"] = run.placeholders_unschedulable
        summary["overprovisioning_unschedulable_reason"] = run.placeholder_reason
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
    import pandas as pd

    if run.services:
        services = pd.concat([svc.frame() for svc in run.services], ignore_index=True)
    else:
        services = pd.DataFrame([], columns=SERVICE_COLUMNS)
    return RunResult(
        scenario=scenario, seed=seed, summary=summary, jobs=jobs, timeseries=ts, run_info=meta, version=__version__,
        services=services, service_summary=pd.DataFrame(service_rows), nodes=nodes,
    )  # fmt: skip


def scenario_initial_nodes(scenario: Scenario) -> int:
    return sum(p.count for p in scenario.cluster.node_pools)


def service_summary(rows: list[dict]) -> dict:
    """Headline request metrics over all services (request-weighted SLO attainment, worst p99)."""
    if not rows:
        return {}
    finished = sum(r["served"] + r["timed_out"] + r["dropped"] for r in rows)
    attained = sum(r["slo_attainment"] * (r["served"] + r["timed_out"] + r["dropped"]) for r in rows
                   if r["slo_attainment"] == r["slo_attainment"])  # fmt: skip
    return {
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
