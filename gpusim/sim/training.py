"""Training jobs on the control plane: pod shapes, arrivals, binding, sharing slowdowns, crashes,
completion, and the overprovisioning placeholders.

Three run components (gpusim.sim.run assembles them):

- `PodShapes`: the ways the cluster's pools can serve a job's pods (`alternatives`), an inference
  replica's pod shape (`service_job`), and the static questions asked of a shape once (could it
  ever fit; how many pods of it the cluster could ever hold at once; kube-scheduler's reason why
  not).
- `TrainingJobs`: the jobs' arrivals and lifecycle. Progress is analytic: a bound job's duration is
  its work at full speed on a whole GPU; it progresses at a rate set by how it shares GPUs (1 on
  whole GPUs and milli-GPU shares, the instance's compute fraction on a MIG slice, an equal time
  slice minus the context-switch overhead on a time-sliced GPU with co-tenants). When the rate
  changes the finish is rescheduled. On finishing, a job releases its resources and wakes the
  scheduler.
- `Overprovisioning`: the cluster's placeholder pods (lowest priority, evicted for real pods and
  recreated, as the cluster-overprovisioner Deployment does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from gpusim.cluster.state import SHARING_MIG, SHARING_NONE, SHARING_TIMESLICE, Placement, PodRequest
from gpusim.placement import TargetWorkload, fits_anywhere_empty
from gpusim.scenario.models import InferenceWorkload
from gpusim.sharing import UNIT_LABEL, Offer, SharingMode, default_mode, offer_share
from gpusim.sim.workload import JobSpec

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
                 "gpus_waiting", "speed", "stopping")  # fmt: skip

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
        self.stopping = False  # writing a last checkpoint before its node goes away (no progress)


class JobProgress:
    """A job's progress across attempts when failures or checkpoints are modelled.

    From its last checkpoint (`done`: the work saved, 0 at first), an attempt runs a timeline at
    full speed: first `restart` (reloading the checkpoint; only after an interruption), then
    segments of `interval` work followed by a checkpoint of `cost`, the last segment (which ends
    the job) without one. A checkpoint counts once written. The run's remaining time is the
    attempt's `span` minus its position, so the position follows from the rate model. When an
    attempt ends, its time is booked, in seconds at full speed (x the job's GPUs for GPU-hours):
    `useful` (work kept), `lost` (work since the last checkpoint, recomputed later, a checkpoint cut
    short included), `checkpoint` (checkpoints written), `restart` (reloads) and `allocated` (wall
    time bound).
    """

    __slots__ = ("work", "interval", "cost", "restart_cost", "done", "lead", "span", "bound_s", "failures",
                 "useful", "lost", "checkpoint", "restart", "allocated", "restarts")  # fmt: skip

    def __init__(self, work_s: float, ckpt):
        self.work = work_s
        self.interval = ckpt.interval if ckpt is not None else math.inf
        self.cost = ckpt.cost if ckpt is not None else 0.0
        self.restart_cost = ckpt.restart if ckpt is not None else 0.0
        self.done = 0.0
        self.lead = 0.0
        self.span = math.nan
        self.bound_s = math.nan
        self.failures = 0
        self.useful = self.lost = self.checkpoint = self.restart = self.allocated = 0.0
        self.restarts = 0

    def _segments(self, work_s: float) -> int:
        if math.isfinite(self.interval) and math.isfinite(work_s):
            return max(1, math.ceil(work_s / self.interval - 1e-12))
        return 1

    def open(self, now: float) -> float:
        """A new attempt is bound: returns its remaining time (a restart first, after an interruption)."""
        left = self.work - self.done
        self.lead = self.restart_cost if self.failures else 0.0
        self.span = self.lead + left + self.cost * (self._segments(left) - 1)
        self.bound_s = now
        return self.span

    def position(self, remaining: float, now: float) -> float:
        """Where in the attempt a bound job is, given its remaining time (a job that never ends: from
        the wall time bound).
        """
        if math.isfinite(self.span):
            return self.span - remaining
        return now - self.bound_s

    def close(self, u: float, now: float, how: str) -> None:
        """The attempt ends at position `u`: `finished`; `failed` (the work since the last checkpoint is
        lost); `checkpointed` (it wrote a checkpoint of all its work first, taking `cost`, as on a spot
        interruption notice); or `running` (the run's end: that work is kept as useful so far).
        """
        self.allocated += now - self.bound_s
        self.restart += min(u, self.lead)
        u = max(0.0, u - self.lead)
        left = self.work - self.done
        n = self._segments(left)
        seg = self.interval + self.cost
        k = min(int(math.floor(u / seg)), n - 1) if math.isfinite(seg) else 0
        off = u - k * seg if k else u  # into segment k: its work, then (but for the last) its checkpoint
        self.useful += k * self.interval if k else 0.0
        self.checkpoint += k * self.cost
        saved = k * self.interval if k else 0.0
        if how == "failed":
            self.lost += off
            self.failures += 1
        elif how == "checkpointed":
            work = min(off, self.interval)
            self.useful += work
            self.checkpoint += (off - work) + self.cost  # a regular checkpoint under way, then this one
            saved += work
            self.failures += 1
        else:  # finished (the last segment has no checkpoint) or still running
            work = min(off, self.interval) if k < n - 1 else off
            self.useful += work
            self.checkpoint += off - work
            saved += work
        self.done = self.work if how == "finished" else self.done + saved


class PodShapes:
    """How the pools serve pod shapes: alternatives per job, and static answers cached per shape.

    Dependencies: the cluster state, the scenario (its pools and workloads), the catalog, and the
    node manager (`could_host`, `templates`, `static_ok`: what autoscaled pools could add).
    """

    def __init__(self, cluster, scenario, catalog, nodes):
        self.cluster = cluster
        self.scenario = scenario
        self.catalog = catalog
        self.nodes = nodes
        self.pools = {p.name: p for p in scenario.cluster.node_pools}
        self._alternatives: dict[tuple, list[Alternative]] = {}
        self._fits: dict[PodRequest, bool] = {}
        self._gang_caps: dict[PodRequest, int] = {}
        self._reasons: dict[tuple, str] = {}

    def could_ever_fit(self, req: PodRequest) -> bool:
        """Static feasibility, once per request shape: pools never change shape, so neither does it."""
        fit = self._fits.get(req)
        if fit is None:
            fit = self._fits[req] = fits_anywhere_empty(self.cluster, req) or self.nodes.could_host(req)
        return fit

    def gang_capacity(self, req: PodRequest) -> int:
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
            pool = self.pools[name]
            n = max(pool.count, pool.autoscaling.max if pool.autoscaling is not None else 0)
            if not n or not self.nodes.static_ok(node, req):
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

    def reason(self, job: JobSpec, pod=None) -> str:
        """Why a job fits no node, in kube-scheduler's words (gpusim.metrics.summary.unschedulable_reason)."""
        key = (job.workload, job.gpu_resource, job.gpus, job.gpu_milli, job.cpu_milli, job.memory_mib)
        why = self._reasons.get(key)
        if why is None:
            from gpusim.metrics.summary import unschedulable_reason

            if pod is None:
                pod = next((w.pod for w in self.scenario.workloads if w.name == job.workload), None)
            req = {"gpu_resource": job.gpu_resource, "gpus": job.gpus, "gpu_milli": job.gpu_milli,
                   "cpu_milli": job.cpu_milli, "memory_mib": job.memory_mib}  # fmt: skip
            why = self._reasons[key] = unschedulable_reason(req, pod, self.scenario, self.catalog)
        return why

    def gang_reason(self, job: JobSpec) -> str:
        """A gang with more pods than the cluster could ever hold at once (kube-scheduler's wording,
        as `gpusim check` words it: gpusim.scenario.checks.unschedulable_reason).
        """
        from gpusim.scenario.checks import unschedulable_reason

        total = sum(max(p.count, p.autoscaling.max if p.autoscaling is not None else 0) for p in self.pools.values())
        return unschedulable_reason(total, {f"Insufficient {job.gpu_resource or 'cpu'}": total})

    @staticmethod
    def service_job(w: InferenceWorkload) -> JobSpec:
        """The pod shape of one replica of an inference service, as a job spec."""
        resource, gpus, milli = w.pod.resources.gpu_request()
        return JobSpec(
            job_id=-1, name=w.name, workload=w.name, arrival_s=0.0, duration_s=math.inf, num_pods=1, gpus=gpus,
            gpu_milli=milli if gpus else 1000, gpu_resource=resource, cpu_milli=w.pod.resources.cpu_milli(),
            memory_mib=w.pod.resources.memory_mib(), gpu_models=(), priority=w.pod.priority, qos="",
            gpu_memory_mib=int(w.pod.gpu_memory or 0), node_selector=tuple(sorted(w.pod.node_selector.items())),
            tolerations=tuple(tuple(sorted(t.model_dump().items())) for t in w.pod.tolerations),
        )  # fmt: skip

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
            for pool in self.pools.values():
                if pool.gpu_model is None or (job.gpu_models and pool.gpu_model not in job.gpu_models):
                    continue
                o = pool.sharing.offer(self.catalog.gpu(pool.gpu_model), job.gpu_resource, job.gpus)
                if isinstance(o, str):
                    continue
                gkey = (o.sharing, o.mig_profile, o.unit)
                prev = groups.get(gkey)
                starts = tuple(sorted(set(o.mig_starts) | set(prev[0].mig_starts if prev else ())))
                models = (prev[1] if prev else []) + [pool.gpu_model]
                groups[gkey] = (replace(o, mig_starts=starts), models, pool.sharing)
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


class TrainingJobs:
    """The training jobs of one run: arrivals, binding, sharing slowdowns, crashes, completion.

    Lifecycle: build (`TrainingJobs(...)`, given the built jobs), `connect(mig)` (the dynamic-MIG
    component that may hold a job until its instances exist), `start()` (the arrival process), then
    `collect(end_s)` (the jobs table and the out-of-memory count).
    """

    def __init__(self, env, cluster, recorder, catalog, scenario, jobs: list[JobSpec], shapes: PodShapes,
                 scheduler, timeslice, on_change: Callable[[], None]):  # fmt: skip
        self.env = env
        self.cluster = cluster
        self.recorder = recorder
        self.catalog = catalog
        self.jobs = jobs
        self.shapes = shapes
        self.scheduler = scheduler
        self.timeslice = timeslice
        self.on_change = on_change
        self.mig = None
        self.running = 0
        self.pending = 0
        self.arrived = 0
        self.unschedulable: dict[int, str] = {}  # job id -> kube-scheduler's reason
        self.failed: dict[int, str] = {}
        self.oom_kills = 0
        self.runs: dict[int, JobRun] = {}
        self._work = {w.name: w.work for w in scenario.workloads if getattr(w, "work", None) is not None}
        self._ckpt = {w.name: w.checkpoint for w in scenario.workloads if getattr(w, "checkpoint", None) is not None}
        self._backoff = {
            w.name: w.backoff_limit for w in scenario.workloads if getattr(w, "backoff_limit", None) is not None
        }
        self.track = getattr(scenario, "failures", None) is not None  # failure accounting in the result
        self.progress: dict[int, JobProgress] = {}  # job id -> progress across attempts (failures, checkpoints)
        self._alts: dict[int, list[Alternative]] = {}  # job id -> its alternatives, to requeue it after a failure
        if scenario.scheduler.policy == "fgd":
            # FGD measures fragmentation against the workload's typical pods (Weng et al. 2023).
            reqs = [
                alts[0].requests[0] for j in self.jobs if (alts := shapes.alternatives(j)) for _ in range(j.num_pods)
            ]
            if reqs:
                cluster.set_target_workload(TargetWorkload.from_requests(reqs))

    def connect(self, mig) -> None:
        self.mig = mig

    def start(self) -> None:
        self.env.process(self._arrivals())

    # ------------------------------------------------------------------ state, for the run's clock
    def all_arrived(self) -> bool:
        return self.arrived == len(self.jobs)

    def unfinished(self) -> bool:
        """Jobs still to arrive, pending or running."""
        return bool(self.running or self.pending or self.arrived < len(self.jobs))

    def making_progress(self) -> bool:
        """Some bound job runs (or waits for a MIG re-partition, which ends); False when every bound job
        crash-loops or none is bound.
        """
        return any(r.active or r.gpus_waiting for r in self.runs.values())

    def last_end_s(self, default: float) -> float:
        return max(self.recorder.end_s.values(), default=default)

    # ------------------------------------------------------------------ lifecycle
    def _arrivals(self):
        env = self.env
        shapes = self.shapes
        for job in self.jobs:
            if job.arrival_s > env.now:
                yield env.timeout(job.arrival_s - env.now)
            self.arrived += 1
            alts = [a for a in shapes.alternatives(job) if shapes.could_ever_fit(a.requests[0])]
            if not alts:
                # fits no node even when empty: Kubernetes would leave it Pending forever
                self.unschedulable[job.job_id] = shapes.reason(job)
                continue
            if job.num_pods > 1:
                # a gang binds all its pods at once: more pods than the cluster could ever hold never bind
                alts = [a for a in alts if shapes.gang_capacity(a.requests[0]) >= job.num_pods]
                if not alts:
                    self.unschedulable[job.job_id] = shapes.gang_reason(job)
                    continue
            self.pending += 1
            if self.track:
                self._alts[job.job_id] = alts
            self._submit(job, alts)
            self.on_change()

    def _submit(self, job: JobSpec, alts: list[Alternative]) -> None:
        self.scheduler.submit(
            [a.requests for a in alts], job.priority, lambda i, ps, job=job, alts=alts: self._bind(job, alts[i], ps)
        )

    def _bind(self, job: JobSpec, alt: Alternative, placements: list[Placement]) -> None:
        self.pending -= 1
        c = self.cluster
        first_start = self.recorder.start_s.get(job.job_id)
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
            self._release(alt, placements)
            self.failed[job.job_id] = (
                f"UnexpectedAdmissionError: request for '{job.gpu_resource}: {job.gpus}' too large: "
                "maximum request size for shared resources is 1"
            )
            self.recorder.job_finished(job.job_id, self.env.now)
            self.on_change()
            self.scheduler.kick()
            return
        self.running += 1
        run = JobRun(job, alt, placements, self.env.now)
        run.speed = self._speed(job, alt, placements)
        ckpt = self._ckpt.get(job.workload)
        if self.track or ckpt is not None:
            prog = self.progress.get(job.job_id)
            if prog is None:
                prog = self.progress[job.job_id] = JobProgress(job.duration_s, ckpt)
            elif first_start is not None:  # requeued after a failure: it started first back then
                self.recorder.start_s[job.job_id] = first_start
            run.remaining = prog.open(self.env.now)
            run.restarts = prog.restarts
        self.runs[job.job_id] = run
        self._start(run)

    def _start(self, run: JobRun) -> None:
        """The container starts: on a time-sliced GPU it may run out of memory (no isolation); on a
        dynamic-MIG GPU it may first need a new instance (drain, then re-partition).
        """
        if self.runs.get(run.job.job_id) is not run:
            return  # evicted while crash-looping (its node failed)
        if run.alt.offer.sharing == SHARING_MIG and self.mig.needs_repartition(run):
            return
        if run.alt.offer.sharing == SHARING_TIMESLICE:
            need = run.job.gpu_memory_mib
            if not self.timeslice.fits_memory(run.gpus, need):
                self.oom_kills += 1
                run.restarts += 1
                if self._backoff_exceeded(run):
                    self._give_up(run)
                    return
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

    def mig_ready(self, run: JobRun) -> None:
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

        c, cat = self.cluster, self.catalog
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
            if run is not None and run.active and not run.stopping:
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
        self._release(run.alt, run.placements)
        prog = self.progress.get(job.job_id)
        if prog is not None:
            prog.close(prog.span, self.env.now, "finished")
        self.recorder.job_finished(job.job_id, self.env.now, restarts=run.restarts)
        self._retime(affected)
        self.on_change()
        self.scheduler.kick()

    # ------------------------------------------------------------------ failures
    def node_lost(self, node: int, now: float) -> None:
        """A node failed or went away: every job with a pod there loses all its pods (a gang too),
        the work since its last checkpoint, and is requeued whole.
        """
        hit = [r for r in self.runs.values() if any(p.node == node for p in r.placements)]
        for run in sorted(hit, key=lambda r: r.job.job_id):
            self._evict(run)

    def node_notice(self, node: int, now: float, notice_s: float) -> None:
        """A spot interruption notice for `node`: each job there whose checkpoint fits in the notice
        (`checkpoint.on_notice`, cost < notice) stops computing, writes a checkpoint of all its work,
        and leaves (requeued whole); the others run on until the node goes.
        """
        hit = [r for r in self.runs.values() if any(p.node == node for p in r.placements)]
        for run in sorted(hit, key=lambda r: r.job.job_id):
            ckpt = self._ckpt.get(run.job.workload)
            if ckpt is None or not ckpt.on_notice or ckpt.cost >= notice_s or run.stopping or not run.active:
                continue
            self._set_rate(run, 0.0)  # progress frozen while it writes the checkpoint
            run.stopping = True
            ev = self.env.timeout(ckpt.cost)
            ev.callbacks.append(lambda _e, run=run: self._checkpointed(run))

    def _checkpointed(self, run: JobRun) -> None:
        if self.runs.get(run.job.job_id) is run:  # not lost meanwhile (another node of its gang failed)
            self._evict(run, "checkpointed")

    def _evict(self, run: JobRun, how: str = "failed") -> None:
        job = run.job
        now = self.env.now
        run.remaining = max(run.remaining - run.rate * (now - run.last), 0.0)
        run.last = now
        run.version += 1  # its finish event is stale now
        affected: set = set()
        if run.alt.offer.sharing == SHARING_TIMESLICE and run.active:
            affected = self.timeslice.leave(job.job_id, run.gpus, job.gpu_memory_mib)
        if run.gpus_waiting:
            self.mig.forget(run)
        run.active = False
        del self.runs[job.job_id]
        self.running -= 1
        self._release(run.alt, run.placements)
        prog = self.progress[job.job_id]
        prog.close(prog.position(run.remaining, now), now, how)
        prog.restarts = run.restarts
        self._retime(affected)
        if self._backoff_exceeded(run):
            self._failed_job(run)
        else:
            self.pending += 1
            self._submit(job, self._alts[job.job_id])
        self.scheduler.kick()

    def _backoff_exceeded(self, run: JobRun) -> bool:
        """The job's pod failures (attempts lost with a node, container crashes) exceed its workload's
        backoffLimit: the Job controller marks it failed (`failed + 1 > backoffLimit`).
        """
        limit = self._backoff.get(run.job.workload)
        if limit is None:
            return False
        prog = self.progress.get(run.job.job_id)
        return run.restarts + (prog.failures if prog is not None else 0) > limit

    def _failed_job(self, run: JobRun) -> None:
        """Record a job the Job controller gave up on (its resources are released already)."""
        job = run.job
        self.failed[job.job_id] = (
            f"BackoffLimitExceeded: Job has reached the specified backoff limit ({self._backoff[job.workload]})"
        )
        self.recorder.job_finished(job.job_id, self.env.now, restarts=run.restarts)
        self.on_change()

    def _give_up(self, run: JobRun) -> None:
        """A bound job crashed once too often at its start: it leaves the node, failed."""
        job = run.job
        del self.runs[job.job_id]
        self.running -= 1
        self._release(run.alt, run.placements)
        prog = self.progress.get(job.job_id)
        if prog is not None:  # nothing ran in this attempt: its bound time is booked, no work
            prog.close(prog.position(run.remaining, self.env.now), self.env.now, "running")
            prog.restarts = run.restarts
        self._failed_job(run)
        self.scheduler.kick()

    def _release(self, alt: Alternative, placements: list[Placement]) -> None:
        for req, p in zip(alt.requests, placements, strict=True):
            self.cluster.release(req, p)

    # ------------------------------------------------------------------ results
    def collect(self, end_s: float) -> dict:
        """The jobs table and the out-of-memory count (jobs still running or crash-looping keep their
        restart count).
        """
        for r in self.runs.values():
            self.recorder.restarts[r.job.job_id] = r.restarts
        jobs = self.recorder.jobs_frame(self.jobs, unschedulable=self.unschedulable, failed=self.failed)
        summary = {"oom_kills": self.oom_kills}
        if self.track:
            jobs, more = self._failure_accounting(jobs, end_s)
            summary.update(more)
        return {"tables": {"jobs": jobs}, "summary": summary}

    def _failure_accounting(self, jobs, end_s: float):
        """The jobs table's `failures` column (after `restarts`) and the GPU-hour accounting:
        allocated = useful + recomputed + checkpoint + restart + stalled (bound without progress:
        slowdowns, crash loops, MIG waits), with lost = recomputed + checkpoint + restart.
        """
        import numpy as np

        now = self.env.now
        for r in self.runs.values():  # attempts still bound at the end
            prog = self.progress[r.job.job_id]
            remaining = max(r.remaining - r.rate * (now - r.last), 0.0)
            prog.close(prog.position(remaining, now), now, "running")
        counts = np.array([self.progress[j.job_id].failures if j.job_id in self.progress else 0 for j in self.jobs],
                          dtype=np.int64)  # fmt: skip
        jobs.insert(int(jobs.columns.get_loc("restarts")) + 1, "failures", counts)
        tot = dict.fromkeys(("allocated", "useful", "lost", "checkpoint", "restart"), 0.0)
        for j in self.jobs:
            prog = self.progress.get(j.job_id)
            if prog is None:
                continue
            g = j.gpus * j.num_pods * j.gpu_milli / 1000.0 / 3600.0  # GPU-hours per second
            for k in tot:
                tot[k] += getattr(prog, k) * g
        lost = tot["lost"] + tot["checkpoint"] + tot["restart"]
        stalled = tot["allocated"] - tot["useful"] - lost  # a residual: rounding noise is none
        if abs(stalled) <= 1e-9 * max(tot["allocated"], 1.0):
            stalled = 0.0
        summary = {
            "jobs_hit_by_failures": int((counts > 0).sum()),
            "job_failures": int(counts.sum()),
            "training_gpu_hours_allocated": tot["allocated"],
            "training_gpu_hours_useful": tot["useful"],
            "gpu_hours_recomputed": tot["lost"],
            "gpu_hours_checkpoint": tot["checkpoint"],
            "gpu_hours_restart": tot["restart"],
            "gpu_hours_stalled": stalled,
            "lost_gpu_hours": lost,
            "goodput": tot["useful"] / tot["allocated"] if tot["allocated"] > 0 else math.nan,
        }
        return jobs, summary


class Overprovisioning:
    """The cluster's overprovisioning placeholders: `replicas` pods of the lowest priority that hold
    capacity until a real pod preempts one; the Deployment then recreates it (pending again).
    """

    def __init__(self, spec, shapes: PodShapes, scheduler, on_change: Callable[[], None]):
        self.spec = spec
        self.shapes = shapes
        self.scheduler = scheduler
        self.on_change = on_change
        self.bound = 0
        self.unschedulable = 0
        self.reason = ""

    def start(self) -> None:
        op = self.spec
        if op is None:
            return
        w = InferenceWorkload.model_construct(name="overprovisioning", pod=op.pod)
        job = self.shapes.service_job(w)
        alts = [a.requests for a in self.shapes.alternatives(job) if self.shapes.could_ever_fit(a.requests[0])]
        if not alts:  # fits no node even when empty: it would stay Pending and hold no capacity
            self.unschedulable = op.replicas
            self.reason = self.shapes.reason(job, op.pod)
            return
        for _ in range(op.replicas):
            self._submit(alts, op.priority)

    def node_lost(self, node: int, now: float) -> None:
        """Placeholders on a failed node are recreated (pending again)."""
        self.scheduler.evict_node(node)

    def _submit(self, alts, priority: int) -> None:
        def bound(_i, _ps):
            self.bound += 1
            self.on_change()

        def evicted():  # the Deployment recreates the placeholder: pending again
            self.bound -= 1
            self._submit(alts, priority)

        self.scheduler.submit(alts, priority, bound, on_evict=evicted)

    def collect(self, end_s: float) -> dict:
        if not self.unschedulable:
            return {}
        return {"summary": {"overprovisioning_unschedulable": self.unschedulable,
                            "overprovisioning_unschedulable_reason": self.reason}}  # fmt: skip
