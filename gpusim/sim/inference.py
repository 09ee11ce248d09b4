"""Inference services on the control plane: replicas as pods, cold starts, autoscaling, and the
compiled request data plane between control events.

Each service owns a `gpusim.dataplane.DataPlane`. Requests are never SimPy events: every
`interval` (and before any replica change) the service hands the requests that arrived since the
last window to the data plane in one call. Replica lifecycle:

  pending  -- the pod waits in the scheduler's queue (maybe for a node the Cluster Autoscaler adds)
  starting -- bound; image pull then model load (cold start) before it takes traffic
  ready    -- in the data plane, taking requests
  draining -- scale-down: takes no new requests, finishes what it holds, then its pod is deleted

Scale-down removes pending replicas first, then starting ones, then the newest ready ones
(Kubernetes' ReplicaSet prefers not-ready and younger pods). A replica's speed is the
performance model's service time on the reference GPU divided by that on its own GPU or slice;
on a time-sliced GPU it is fixed at bind time from the tenants there (not re-timed later).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from gpusim.autoscale import observe
from gpusim.autoscale.hpa import HorizontalPodAutoscaler
from gpusim.autoscale.keda import KEDAScaledObject
from gpusim.autoscale.kpa import KnativePodAutoscaler, WindowAverage
from gpusim.cluster.state import SHARING_TIMESLICE, Placement
from gpusim.dataplane import DataPlane, Histogram
from gpusim.errors import InputError
from gpusim.scenario.models import InferenceWorkload
from gpusim.sim.sharing import offer_share
from gpusim.sim.workload import sample_counts, sample_durations

SERVICE_COLUMNS = [
    "time_s", "service", "arrived", "served", "timed_out", "dropped", "arrival_rps", "ready_replicas",
    "desired_replicas", "pending_replicas", "starting_replicas", "queue_length", "latency_p50_s", "latency_p99_s",
]  # fmt: skip
"""Columns of the `services` time series: one row per service per interval; counts are per
interval, replicas and queue length at its end, latency percentiles of the requests completed in it."""


@lru_cache(maxsize=1)
def _model_load_percentiles() -> np.ndarray:
    text = resources.files("gpusim.traces").joinpath("data/alibaba-genai-2026/model_load_quantiles.yaml").read_text()
    return np.asarray(yaml.safe_load(text)["percentiles_s"], dtype=float)


@dataclass(eq=False)
class Replica:
    index: int
    state: str = "pending"
    alt: object = None
    placements: list[Placement] | None = None
    dp_index: int = -1
    created_s: float = 0.0
    ready_s: float = math.nan
    running_s: float = math.nan  # image pulled: the pod phase turns Running


@dataclass
class _Interval:
    arrived: int = 0
    served: int = 0
    timed_out: int = 0
    dropped: int = 0
    latency: Histogram | None = None


class InferenceService:
    """One inference service's control plane (see the module docstring)."""

    def __init__(self, run, w: InferenceWorkload, streams):
        self.run = run
        self.w = w
        self.env = run.env
        self.name = w.name
        self.rng = streams.stream(f"service/{w.name}/cold-start")
        self.job = run.service_job(w)
        self.alternatives = run.alternatives(self.job)
        if not self.alternatives:
            raise ValueError(f"service {w.name}: no node pool serves its replicas")
        self.ref_gpu, self.work_of = self._work_model()
        self.arrival_s, self.work = self._requests(streams)
        self.next_i = 0
        max_rep = self._max_replicas()
        self.dp = DataPlane(
            max_rep,
            concurrency=w.concurrency,
            routing=w.routing,
            timeout_s=w.timeout,
            max_queue=w.max_queue,
            batch_slowdown=w.batch_slowdown,
        )
        self.replicas: list[Replica] = []
        self.desired = w.replicas
        self.cold_starts = 0
        self.latency = Histogram(self.dp.hist_config)
        self.interval = _Interval(latency=Histogram(self.dp.hist_config))
        self.rows: list[dict] = []
        self.replica_seconds = 0.0
        self.hpa = self.kpa = self.keda = None
        a = w.autoscaling
        if a is not None and a.keda is not None:
            self.keda = KEDAScaledObject(a.keda)
        elif a is not None and a.hpa is not None:
            self.hpa = HorizontalPodAutoscaler(a.hpa)
        elif a is not None and a.kpa is not None:
            self.kpa = KnativePodAutoscaler(a.kpa, ready_pods_at_start=w.replicas, start_s=0.0)
            self.kpa_avg = WindowAverage(max_window_s=a.kpa.stable_window_s)
        self.signals = observe.SignalWindow()  # data-plane integrals since the last autoscaler decision
        self._next_hpa = 0.0
        self._last = None  # the last window's metrics
        self._scale_to(self.desired)
        self.env.process(self._loop())

    # ------------------------------------------------------------------ requests
    def _work_model(self):
        """Reference GPU and a function giving a request's work (seconds on the reference GPU)."""
        from gpusim.hardware import performance as perf

        cat = self.run.sim.catalog
        m = self.w.model
        if m.reference_gpu is None and self.job.gpus == 0:
            raise InputError(
                f"service {self.name}: CPU replicas need model.reference_gpu (the device work is measured on)"
            )
        ref_id = m.reference_gpu or self.run.cluster.gpu_model_ids[_first_model(self.alternatives[0].requests[0])]
        ref = cat.gpu(ref_id)
        if m.llm is not None:
            spec = perf.LlmSpec(m.llm.params_b, m.llm.precision)
            n = max(1, self.job.gpus if self.job.gpu_milli >= 1000 else 1)
            if not perf.llm_fits(ref, spec, n_gpus=n):
                raise InputError(
                    f"service {self.name}: a {m.llm.params_b:g}B {m.llm.precision} model does not fit {n} x {ref.id}; "
                    "give the replica more GPUs or a lower precision"
                )
            return ref, lambda p, o: perf.llm_service_times_s(ref, spec, p, o, n_gpus=n, precision=m.llm.precision)
        return ref, None

    def _requests(self, streams) -> tuple[np.ndarray, np.ndarray]:
        from gpusim.traces import load_requests

        w, horizon = self.w, self.run.sim.scenario.duration
        base = f"service/{w.name}"
        if w.arrivals.trace is not None:
            df, report = load_requests(w.arrivals.trace, streams.stream(base + "/trace"), until_s=horizon)
            self.run.trace_reports.append(report)
            df = df[df["arrival_s"] < horizon]
            t = df["arrival_s"].to_numpy(dtype=float)
            prompt = df["prompt_tokens"].to_numpy() if "prompt_tokens" in df else None
            output = df["output_tokens"].to_numpy() if "output_tokens" in df else None
            service = df["service_s"].to_numpy(dtype=float) if "service_s" in df else None
        else:
            t = w.arrivals.process.sample(streams.stream(base + "/arrivals"), 0.0, horizon)
            prompt = sample_counts(w.arrivals.prompt_tokens, streams.stream(base + "/prompt"), t.size)
            output = sample_counts(w.arrivals.output_tokens, streams.stream(base + "/output"), t.size)
            service = None
        self.output_tokens = None if output is None else np.asarray(output, dtype=float)
        if w.model.llm is not None:
            if prompt is None or output is None:
                raise ValueError(f"service {w.name}: an LLM model needs prompt and output tokens from its arrivals")
            work = self.work_of(prompt, output)
        elif service is not None and w.model.service_time is None:
            work = service
        else:
            work = sample_durations(w.model.service_time, streams.stream(base + "/service"), t.size)
        return np.ascontiguousarray(t, dtype=float), np.ascontiguousarray(work, dtype=float)

    def _speed(self, alt, placements: list[Placement]) -> float:
        """Work seconds per second of a replica on its GPU or slice, relative to the reference GPU."""
        from gpusim.hardware import performance as perf

        c = self.run.cluster
        if not placements[0].gpus:  # a CPU replica: the node type's CPU throughput model
            return self._cpu_speed(placements[0].node)
        g = placements[0].gpus[0]
        gpu = self.run.sim.catalog.gpu(c.gpu_model_ids[c.node_gpu_model[placements[0].node]])
        o = alt.offer
        sh = offer_share(gpu, o)
        if o.sharing == SHARING_TIMESLICE:
            tenants = max(1, int(c.gpu_tenants[g]))
            f = 1.0 if tenants == 1 else (1.0 - alt.ts_overhead) / tenants
            sh = perf.Share(f, f)
        share = sh.compute
        m = self.w.model
        if m.llm is not None:
            spec = perf.LlmSpec(m.llm.params_b, m.llm.precision)
            n = max(1, self.job.gpus if self.job.gpu_milli >= 1000 else 1)
            kw = {"n_gpus": n, "precision": m.llm.precision}
            ref_t = float(perf.llm_service_time_s(self.ref_gpu, spec, 1000, 100, **kw))
            t = float(perf.llm_service_time_s(gpu, spec, 1000, 100, share=sh, **kw))
            return ref_t / t if math.isfinite(t) and t > 0 else 1e-9
        ratio = 1.0
        if gpu.id != self.ref_gpu.id:  # scale by effective compute (software efficiency x peak)
            ratio = (
                perf.efficiency(gpu)
                * (gpu.bf16_tflops or 1)
                / (perf.efficiency(self.ref_gpu) * (self.ref_gpu.bf16_tflops or 1))
            )
        return max(ratio * share, 1e-9)

    def _cpu_speed(self, node: int) -> float:
        from gpusim.hardware import performance as perf

        c = self.run.cluster
        pool = self.run._pools[c.pool_names[c.node_pool[node]]]
        if pool.node_type is None:
            raise InputError(f"service {self.name}: CPU replicas need their pool's node_type (CPU throughput)")
        nt = self.run.sim.catalog.node_type(pool.node_type)
        vcpus = self.job.cpu_milli / 1000 or None
        dev = perf.cpu_device(nt, vcpus=min(vcpus, nt.vcpu) if vcpus else None)
        m = self.w.model
        if m.llm is not None:
            spec = perf.LlmSpec(m.llm.params_b, m.llm.precision)
            ref_t = float(perf.llm_service_time_s(self.ref_gpu, spec, 1000, 100, precision=m.llm.precision))
            t = float(perf.llm_service_time_s(dev, spec, 1000, 100, precision=m.llm.precision))
            return ref_t / t if math.isfinite(t) and t > 0 else 1e-9
        ref = perf.capability(self.ref_gpu, 1.0, 1, "bf16").flops * perf.efficiency(self.ref_gpu)
        return max(perf.capability(dev, 1.0, 1, "bf16").flops * perf.efficiency(dev) / ref, 1e-9)

    def _max_replicas(self) -> int:
        a = self.w.autoscaling
        if a is not None and a.hpa is not None:
            return max(a.hpa.max_replicas, self.w.replicas, 1) + 2
        if a is not None and a.keda is not None:
            return max(a.keda.max_replica_count, self.w.replicas, 1) + 2
        if a is not None and a.kpa is not None and a.kpa.max_scale > 0:
            return max(a.kpa.max_scale, self.w.replicas, 1) + 2
        return max(self.w.replicas, 1) * 4 + 64

    # ------------------------------------------------------------------ data plane
    def advance(self, now: float) -> None:
        """Serve every request that arrived in [data-plane clock, now)."""
        if now <= self.dp.now_s:
            return
        j = int(np.searchsorted(self.arrival_s, now, side="left"))
        i = self.next_i
        m = self.dp.serve(self.arrival_s[i:j], self.work[i:j], now)
        self.next_i = j
        iv = self.interval
        iv.arrived += m.arrived
        iv.served += m.served
        iv.timed_out += m.timed_out
        iv.dropped += m.dropped
        iv.latency += m.latency
        self.latency += m.latency
        dt = m.duration_s
        ready = np.flatnonzero(m.ready)
        self.replica_seconds += dt * ready.size
        self.signals.add(m, 0.0 if self.output_tokens is None else float(self.output_tokens[i:j].sum()))
        if self.kpa is not None:
            total = float(m.concurrency_avg[ready].sum() + m.lb_queue_avg)
            value = total if self.kpa.config.metric == "concurrency" else m.arrival_rate_rps
            self.kpa_avg.add(m.t_start_s, m.t_end_s, value)
        self._last = m

    # ------------------------------------------------------------------ control loop
    def _loop(self):
        tick = self.w.interval
        if self.hpa is not None:
            tick = min(tick, self.hpa.sync_period_s)
        if self.kpa is not None:
            tick = min(tick, self.kpa.tick_interval_s)
        if self.keda is not None:
            tick = min(tick, self.keda.tick_interval_s)
        next_row = self.w.interval
        while True:
            yield self.env.timeout(tick)
            now = self.env.now
            self.advance(now)
            self._finish_drains()
            self._autoscale(now)
            if now + 1e-9 >= next_row:
                self._record(now)
                next_row += self.w.interval

    def _autoscale(self, now: float) -> None:
        live = [r for r in self.replicas if r.state in ("pending", "starting", "ready")]
        ready = [r for r in live if r.state == "ready"]
        if self.hpa is not None:
            if now + 1e-9 < self._next_hpa:
                return
            self._next_hpa = now + self.hpa.sync_period_s
            req = self.job.gpus * self.job.gpu_milli or max(1, self.job.cpu_milli)  # the pod's request of its device
            samples = observe.hpa_samples(self.hpa.config.metrics, live, self.signals, now, req, self.job.gpus == 0)
            self._scale_to(self.hpa.reconcile(now, len(live), samples).desired_replicas)
        elif self.keda is not None:
            values = self.keda.values(lambda sig: self.signals.series(sig, [r.dp_index for r in ready]))
            self._scale_to(self.keda.reconcile(now, len(live), values, len(ready)).desired_replicas)
        elif self.kpa is not None:
            cfg = self.kpa.config
            stable = self.kpa_avg.average(now, cfg.stable_window_s)  # None: no data yet (Knative: no decision)
            panic = self.kpa_avg.average(now, cfg.stable_window_s * cfg.panic_window_percentage / 100)
            d = self.kpa.scale(now, len(ready), stable, panic)
            if d.valid:
                self._scale_to(d.desired_pods)
        self.signals.reset()

    def _scale_to(self, n: int) -> None:
        live = [r for r in self.replicas if r.state in ("pending", "starting", "ready")]
        self.desired = n
        if n > len(live):
            for _ in range(n - len(live)):
                self._create_replica()
            return
        surplus = len(live) - n
        for state in ("pending", "starting", "ready"):
            victims = [r for r in live if r.state == state]
            victims.sort(key=lambda r: -r.created_s)
            for r in victims[:surplus]:
                self._remove(r)
                surplus -= 1
            if surplus == 0:
                break

    def _create_replica(self) -> None:
        r = Replica(index=len(self.replicas), created_s=self.env.now)
        self.replicas.append(r)
        self.run.scheduler.submit(
            [a.requests for a in self.alternatives],
            self.job.priority,
            lambda i, ps, r=r: self._bound(r, self.alternatives[i], ps),
        )
        r.ticket = self.run.scheduler.last_ticket

    def _bound(self, r: Replica, alt, placements: list[Placement]) -> None:
        r.state, r.alt, r.placements = "starting", alt, placements
        if alt.offer.sharing == SHARING_TIMESLICE:  # co-tenant of training jobs (slows them, uses memory)
            self.run.add_ts_tenant(("replica", self.name, r.index), placements, self.job.gpu_memory_mib)
        cs = self.w.cold_start
        pull = float(sample_durations(cs.image_pull, self.rng, 1)[0])
        r.running_s = self.env.now + pull
        delay = pull + self._model_load()
        self.cold_starts += 1
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e, r=r: self._ready(r))

    def _model_load(self) -> float:
        cs = self.w.cold_start
        if cs.model_load is not None:
            return float(sample_durations(cs.model_load, self.rng, 1)[0])
        if cs.model_load_from is not None:
            if not hasattr(self, "_load_pool"):
                from gpusim.traces import load_distribution

                self._load_pool, rep = load_distribution(cs.model_load_from)
                self.run.trace_reports.append(rep)
            return float(self._load_pool[self.rng.integers(0, len(self._load_pool))])
        pct = _model_load_percentiles()
        u = self.rng.random() * 100.0
        return float(np.interp(u, np.arange(pct.size), pct))

    def _ready(self, r: Replica) -> None:
        if r.state != "starting":
            return  # removed while starting
        self.advance(self.env.now)
        r.dp_index = self.dp.add_replica(self.env.now, speed=self._speed(r.alt, r.placements))
        r.state, r.ready_s = "ready", self.env.now

    def _remove(self, r: Replica) -> None:
        if r.state == "pending":
            self.run.scheduler.cancel(r.ticket)
            r.state = "gone"
        elif r.state == "starting":
            self._release(r)
        elif r.state == "ready":
            self.advance(self.env.now)
            self.dp.drain_replica(r.dp_index)
            r.state = "draining"

    def _finish_drains(self) -> None:
        for r in self.replicas:
            if r.state == "draining" and self.dp.is_drained(r.dp_index):
                self.dp.remove_replica(r.dp_index)
                self._release(r)

    def _release(self, r: Replica) -> None:
        if r.alt.offer.sharing == SHARING_TIMESLICE:
            self.run.remove_ts_tenant(("replica", self.name, r.index), r.placements, self.job.gpu_memory_mib)
        for req, p in zip(r.alt.requests, r.placements, strict=True):
            self.run.cluster.release(req, p)
        r.state = "gone"
        self.run._sample()
        self.run.scheduler.kick()

    # ------------------------------------------------------------------ results
    def _record(self, now: float) -> None:
        iv = self.interval
        states = [r.state for r in self.replicas]
        m = self._last
        queue = 0
        if m is not None:
            queue = int(m.queued_end.sum() + m.lb_queue_end)
        self.rows.append(
            {
                "time_s": now,
                "service": self.name,
                "arrived": iv.arrived,
                "served": iv.served,
                "timed_out": iv.timed_out,
                "dropped": iv.dropped,
                "arrival_rps": iv.arrived / self.w.interval,
                "ready_replicas": states.count("ready"),
                "desired_replicas": self.desired,
                "pending_replicas": states.count("pending"),
                "starting_replicas": states.count("starting"),
                "queue_length": queue,
                "latency_p50_s": iv.latency.quantile(0.5),
                "latency_p99_s": iv.latency.quantile(0.99),
            }
        )
        self.interval = _Interval(latency=Histogram(self.dp.hist_config))

    def finish(self, end_s: float) -> dict:
        """Serve up to the end, and the service's headline metrics."""
        self.advance(end_s)
        t = self.dp.totals
        arrived = t["arrived"]
        in_flight = self.dp.in_flight
        target = self.w.slo.latency
        met = _count_within(self.latency, target)
        finished = t["served"] + t["timed_out"] + t["dropped"]
        return {
            "service": self.name,
            "requests": int(self.arrival_s.size),
            "arrived": int(arrived),
            "served": int(t["served"]),
            "timed_out": int(t["timed_out"]),
            "dropped": int(t["dropped"]),
            "in_flight_end": int(in_flight),
            "latency_mean_s": self.latency.mean,
            "latency_p50_s": self.latency.quantile(0.5),
            "latency_p99_s": self.latency.quantile(0.99),
            "slo_attainment": met / finished if finished else math.nan,
            "slo_met": bool(finished and met / finished >= self.w.slo.percentile / 100.0),
            "cold_starts": self.cold_starts,
            "replica_hours": self.replica_seconds / 3600.0,
        }


def _count_within(h: Histogram, target_s: float) -> int:
    """Requests whose latency is at most `target_s` (bins whose upper edge is within the target)."""
    edges = h.config.edges()
    k = int(np.searchsorted(edges, target_s, side="right"))  # counts[0] is underflow, counts[i] is [e_{i-1}, e_i)
    return int(h.counts[:k].sum())


def _first_model(req) -> int:
    mask = req.gpu_model_mask
    return (mask & -mask).bit_length() - 1 if mask else 0
