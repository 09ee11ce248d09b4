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
(Kubernetes' ReplicaSet prefers not-ready and younger pods). Only live replicas (not gone) are
kept, so every tick costs the replicas that exist now, never all that ever did.

Synthetic request arrivals are drawn in chunks of `ARRIVAL_CHUNK_S` simulated seconds as the
clock reaches them, each from the same random streams continuing, so memory stays flat however
long the run (a run no longer than one chunk draws exactly what one draw over the horizon would).
Poisson, diurnal and flash-crowd arrivals are exactly their process across chunk boundaries; the
MMPP and Gamma-renewal processes restart at each boundary (MMPP from its stationary state), an
approximation that is invisible at sojourns of minutes. A replica's speed is the
performance model's service time on the reference GPU divided by that on its own GPU or slice;
on a time-sliced GPU it is fixed at bind time from the tenants there (not re-timed later).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from gpusim.autoscale import observe
from gpusim.autoscale.hpa import CompiledHPA, HorizontalPodAutoscaler, compiled_supported
from gpusim.autoscale.keda import KEDAScaledObject
from gpusim.autoscale.kpa import KnativePodAutoscaler, WindowAverage
from gpusim.cluster.state import SHARING_TIMESLICE, Placement
from gpusim.dataplane import DataPlane, Histogram
from gpusim.dataplane._kernels import ARRIVED, LATENCY_SUM, READY, SERVED, TIMED_OUT, close_quantiles
from gpusim.errors import InputError
from gpusim.scenario.models import InferenceWorkload
from gpusim.sim.sharing import offer_share
from gpusim.sim.workload import sample_counts, sample_durations

SERVICE_COLUMNS = [
    "time_s", "service", "arrived", "served", "timed_out", "dropped", "arrival_rps", "ready_replicas",
    "desired_replicas", "pending_replicas", "starting_replicas", "queue_length", "latency_p50_s", "latency_p99_s",
    "excess_burst_capacity",
]  # fmt: skip
"""Columns of the `services` time series: one row per service per interval (the last one, ending at
the run's end, may be shorter); counts are per interval and `arrival_rps` is over its real length,
replicas and queue length at its end, latency percentiles of the requests completed in it.
`excess_burst_capacity`: the Knative autoscaler's last decision's excess burst capacity (negative:
the activator stays in the request path; -1 also when the target burst capacity is unlimited), NaN
for services without a KPA or before its first decision."""


_QS = np.array([0.5, 0.99])  # the quantiles of each row

ARRIVAL_CHUNK_S = 6 * 3600.0
"""Synthetic request arrivals are drawn this many simulated seconds at a time."""


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
    warm: bool = False  # an initial replica of a warm-started service: ready at once if bound at t=0


@dataclass
class _Interval:
    arrived: int = 0
    served: int = 0
    timed_out: int = 0
    dropped: int = 0
    latency: Histogram | None = None
    tokens: int = 0  # output tokens of the requests completed (LLM serving)


@dataclass(frozen=True)
class ServiceContext:
    """What an inference service uses of the run, and nothing more.

    `job`/`alternatives`: one replica's pod shape and the ways the pools can serve it; `on_change`:
    called after a replica's pod is released (the run samples its time series); `add_ts_tenant` /
    `remove_ts_tenant(key, placements, memory_mib)`: a replica on time-sliced GPUs joins or leaves the
    time-slice tenancy there (training co-tenants slow down, may run out of memory).
    """

    env: object
    cluster: object
    catalog: object
    horizon_s: float
    scheduler: object
    pools: dict
    job: object
    alternatives: list
    trace_reports: list
    on_change: Callable[[], None]
    add_ts_tenant: Callable
    remove_ts_tenant: Callable


class InferenceService:
    """One inference service's control plane (see the module docstring).

    Lifecycle: build (`InferenceService(ctx, w, streams)`: its requests, data plane and autoscaler),
    `start()` (the initial replicas and the control loop), then `finish(end_s)` (headline metrics) and
    `frame()` (its rows of the services table).
    """

    def __init__(
        self,
        ctx: ServiceContext,
        w: InferenceWorkload,
        streams,
        *,
        arrival_streams=None,
        request_filter: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        """`arrival_streams`: where the requests are drawn from (default `streams`); `request_filter`:
        given a chunk's arrival times, the mask of the requests this service takes (a routed
        service's copy on one cluster of a multi-cluster run, gpusim.sim.multicluster).
        """
        self.ctx = ctx
        self.w = w
        self.env = ctx.env
        self.name = w.name
        self.rng = streams.stream(f"service/{w.name}/cold-start")
        self.job = ctx.job
        self.alternatives = ctx.alternatives
        if not self.alternatives:
            raise ValueError(f"service {w.name}: no node pool serves its replicas")
        self._llm = w.llm_serving
        self._replica_models: dict[str, object] = {}  # GPU model id -> the LLM replica model on it
        if self._llm:
            self.ref_gpu, self.work_of = None, None
            self._llm_engine = w.llm_engine()
            first = self.ctx.cluster.gpu_model_ids[_first_model(self.alternatives[0].requests[0])]
            template = self._llm_replica(first)
            self._max_len = self._llm_params[first].max_model_len
        else:
            self.ref_gpu, self.work_of = self._work_model()
        self._streams = streams if arrival_streams is None else arrival_streams
        self._request_filter = request_filter
        self.requests_total = 0
        self._chunk_end = 0.0
        self._trace_loaded = False
        self.arrival_s, self.work = np.zeros(0), np.zeros(0)  # the current chunk
        self._pull_chunk()
        self.next_i = 0
        max_rep = self._max_replicas()
        if self._llm:
            from gpusim.dataplane.llm import LlmPlane

            slo = w.slo
            inf = math.inf
            self.dp = LlmPlane(
                template, max_rep, chunked_prefill=self._llm_engine.enable_chunked_prefill,
                slo_ttft_s=getattr(slo, "ttft", None) or inf, slo_tpot_s=getattr(slo, "tpot", None) or inf,
                slo_e2e_s=(getattr(slo, "e2e", None) or inf) if hasattr(slo, "e2e") else slo.latency,
                timeout_s=w.timeout, max_queue=w.max_queue, routing=w.routing,
            )  # fmt: skip
        else:
            self.dp = DataPlane(
                max_rep,
                concurrency=w.concurrency,
                routing=w.routing,
                timeout_s=w.timeout,
                max_queue=w.max_queue,
                batch_slowdown=w.batch_slowdown,
            )
        self.live: list[Replica] = []  # replicas not gone, in creation order
        self.n_state = dict.fromkeys(("pending", "starting", "ready", "draining"), 0)  # live replicas per state
        self._created = 0
        self.desired = w.replicas
        self.cold_starts = 0
        self.latency = Histogram(self.dp.hist_config)
        self.interval = _Interval(latency=Histogram(self.dp.hist_config))
        self._wait_counts = self.dp.hist_config.empty()  # the kernel's wait histogram (not reported)
        cfg = self.dp.hist_config
        if self._llm:  # the interval's TTFT, TPOT, e2e counts in one array; e2e is the latency row
            from gpusim.dataplane import _llm_kernels as LK

            self._llm_hist = np.zeros((3, cfg.size), dtype=np.int64)
            self.interval.latency = Histogram(cfg, self._llm_hist[LK.H_E2E])
            self.ttft, self.tpot = Histogram(cfg), Histogram(cfg)
            self._tokens_out = 0
            self._tpot_n = 0
        self._hist_geometry = (cfg, bin_edges(cfg), cfg.n_bins)
        self._queue_end = 0  # requests queued at the end of the last window
        self._q_out = np.zeros(3, dtype=np.int64)  # close_interval's (count, p50 index, p99 index)
        self._q_val = np.zeros(2, dtype=np.float64)  # close_quantiles' (p50, p99)
        self._rows = _LlmRows() if self._llm else _Rows()
        self.replica_seconds = 0.0
        self.ready_seconds = 0.0  # time with at least one ready replica (availability)
        self.failed = 0  # requests lost with replicas whose node failed (`node_lost`)
        self.replicas_lost = 0
        self.track_failures = False  # report failed / availability (set by `node_lost`, or a failure model)
        self.hpa = self.kpa = self.keda = None
        a = w.autoscaling
        # only the tokens_per_s signal reads output tokens (a KEDA query may name it too)
        self._reads_tokens = a is not None and (
            a.keda is not None or (a.hpa is not None and any(m.name == "tokens_per_s" for m in a.hpa.metrics))
        )
        if a is not None and a.keda is not None:
            self.keda = KEDAScaledObject(a.keda)
        elif a is not None and a.hpa is not None:
            # per-pod metrics only: one compiled call per sync (the same decisions, tests/autoscale/test_hpa_kernel.py)
            fast = compiled_supported(a.hpa, cpu_replica=self.job.gpus == 0)
            self.hpa = CompiledHPA(a.hpa) if fast else HorizontalPodAutoscaler(a.hpa)
        elif a is not None and a.kpa is not None:
            self.kpa = KnativePodAutoscaler(a.kpa, ready_pods_at_start=w.replicas, start_s=0.0)
            self.kpa_avg = WindowAverage(max_window_s=a.kpa.stable_window_s)
        self.signals = observe.SignalWindow()  # data-plane integrals since the last autoscaler decision
        self._signal_acc = self.signals.slots(self.dp.max_replicas)  # the kernel adds to it in place
        # LLM replicas: KV-cache usage x dt per slot since the last decision (vllm:gpu_cache_usage_perc)
        self._kv_acc = self.signals.kv_slots(self.dp.max_replicas) if self._llm else None
        self._next_hpa = 0.0
        self._last_row_s = 0.0  # end of the last recorded interval
        self._excess_burst = math.nan  # the KPA's last valid decision's excess burst capacity

    def start(self) -> None:
        """Ask for the initial replicas and start the control loop.

        With `warm_start`, the initial replicas that the scheduler binds at t=0 are ready at once
        (a service already running when the window opens): no image pull, no model load, no cold
        start counted. One that cannot be bound at t=0 pays the cold start when it is.
        """
        self._scale_to(self.desired)
        if self.w.warm_start:
            for r in self.live:
                r.warm = True
        self.env.process(self._loop())

    # ------------------------------------------------------------------ requests
    def _work_model(self):
        """Reference GPU and a function giving a request's work (seconds on the reference GPU)."""
        from gpusim.hardware import performance as perf

        cat = self.ctx.catalog
        m = self.w.model
        if m.reference_gpu is None and self.job.gpus == 0:
            raise InputError(
                f"service {self.name}: CPU replicas need model.reference_gpu (the device work is measured on)"
            )
        ref_id = m.reference_gpu or self.ctx.cluster.gpu_model_ids[_first_model(self.alternatives[0].requests[0])]
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

    def _llm_replica(self, gpu_id: str):
        """The LLM replica model (`gpusim.hardware.llm.ReplicaModel`) of this service on `gpu_id` GPUs."""
        rm = self._replica_models.get(gpu_id)
        if rm is None:
            from gpusim.scenario.llm import derive_replica

            if not hasattr(self, "_llm_params"):
                self._llm_params = {}
            params = derive_replica(
                self.w.model, self._llm_engine, gpu_id, max(1, self.job.gpus), catalog=self.ctx.catalog
            )
            self._llm_params[gpu_id] = params
            rm = self._replica_models[gpu_id] = params.replica
        return rm

    def derived_queue_params(self) -> dict:
        """What the LLM-serving model derives on the first pool's GPU: the replica's max_num_seqs and
        KV capacity, and the old queue model's concurrency / batch_slowdown equivalents (at the MLPerf
        Llama-2-70B mean lengths, `gpusim.scenario.llm.derive_replica`) -- the figures a user checks.
        """
        p = next(iter(self._llm_params.values()))
        return {"concurrency": p.concurrency, "batch_slowdown": p.batch_slowdown, "kv_capacity_tokens":
                p.kv_capacity_tokens, "max_num_seqs": p.replica.max_num_seqs}  # fmt: skip

    def _pull_chunk(self) -> None:
        """Replace the current chunk of requests by the next one (the trace is one chunk)."""
        t, work = self._requests(self._streams)
        if self._request_filter is not None:
            keep = self._request_filter(t)
            t, work = np.ascontiguousarray(t[keep]), np.ascontiguousarray(work[keep])
            if self.output_tokens is not None:
                self.output_tokens = self.output_tokens[keep]
        self.arrival_s, self.work = t, work
        self.requests_total += int(t.size)

    def _requests(self, streams) -> tuple[np.ndarray, np.ndarray]:
        from gpusim.traces import load_requests

        w, horizon = self.w, self.ctx.horizon_s
        base = f"service/{w.name}"
        if w.arrivals.trace is not None:
            if self._trace_loaded:
                return np.zeros(0), np.zeros(0)
            self._trace_loaded = True
            self._chunk_end = horizon
            df, report = load_requests(w.arrivals.trace, streams.stream(base + "/trace"), until_s=horizon)
            self.ctx.trace_reports.append(report)
            df = df[df["arrival_s"] < horizon]
            t = df["arrival_s"].to_numpy(dtype=float)
            prompt = df["prompt_tokens"].to_numpy() if "prompt_tokens" in df else None
            output = df["output_tokens"].to_numpy() if "output_tokens" in df else None
            service = df["service_s"].to_numpy(dtype=float) if "service_s" in df else None
        else:
            # streams.stream(name) hands out the same generator for a name on every call
            t0 = self._chunk_end
            t1 = min(t0 + ARRIVAL_CHUNK_S, horizon)
            self._chunk_end = t1
            t = w.arrivals.process.sample(streams.stream(base + "/arrivals"), t0, t1)
            prompt = sample_counts(w.arrivals.prompt_tokens, streams.stream(base + "/prompt"), t.size)
            output = sample_counts(w.arrivals.output_tokens, streams.stream(base + "/output"), t.size)
            service = None
        self.output_tokens = None if output is None else np.asarray(output, dtype=float)
        if self._llm:
            if prompt is None or output is None:
                raise InputError(f"service {w.name}: an LLM-serving model needs prompt and output tokens per request "
                                 "(a trace with both, e.g. azure-llm, or arrivals.prompt_tokens / output_tokens)")  # fmt: skip
            return np.ascontiguousarray(t, dtype=float), self._lengths(prompt, output)
        if w.model.llm is not None:
            if prompt is None or output is None:
                raise ValueError(f"service {w.name}: an LLM model needs prompt and output tokens from its arrivals")
            work = self.work_of(prompt, output)
        elif service is not None and w.model.service_time is None:
            work = service
        else:
            work = sample_durations(w.model.service_time, streams.stream(base + "/service"), t.size)
        return np.ascontiguousarray(t, dtype=float), np.ascontiguousarray(work, dtype=float)

    def _lengths(self, prompt, output) -> np.ndarray:
        """(prompt, output) tokens per request as the engine takes them: at least 1 each, generation
        stops at max_model_len (vLLM), a prompt of max_model_len tokens or more is refused (it is given
        a length no KV cache holds, so the replica rejects it at arrival).
        """
        p = np.maximum(np.asarray(prompt, dtype=np.int64), 1)
        o = np.maximum(np.asarray(output, dtype=np.int64), 1)
        L = int(self._max_len)
        too_long = p >= L
        o = np.where(too_long, o, np.minimum(o, L - p))
        p = np.where(too_long, np.int64(1) << 40, p)
        return np.ascontiguousarray(np.column_stack([p, o]), dtype=np.int64)

    def _speed(self, alt, placements: list[Placement]) -> float:
        """Work seconds per second of a replica on its GPU or slice, relative to the reference GPU."""
        from gpusim.hardware import performance as perf

        c = self.ctx.cluster
        if not placements[0].gpus:  # a CPU replica: the node type's CPU throughput model
            return self._cpu_speed(placements[0].node)
        g = placements[0].gpus[0]
        gpu = self.ctx.catalog.gpu(c.gpu_model_ids[c.node_gpu_model[placements[0].node]])
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

        c = self.ctx.cluster
        pool = self.ctx.pools[c.pool_names[c.node_pool[node]]]
        if pool.node_type is None:
            raise InputError(f"service {self.name}: CPU replicas need their pool's node_type (CPU throughput)")
        nt = self.ctx.catalog.node_type(pool.node_type)
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
    def _take(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """The requests arriving in [last taken, now), drawing further chunks as the clock reaches them."""
        i = self.next_i
        j = int(self.arrival_s.searchsorted(now, side="left"))
        self.next_i = j
        if now <= self._chunk_end or self._chunk_end >= self.ctx.horizon_s:
            tokens = self._tokens(i, j) if self._reads_tokens else 0.0
            return self.arrival_s[i:j], self.work[i:j], tokens
        parts_t, parts_w = [self.arrival_s[i:j]], [self.work[i:j]]
        tokens = self._tokens(i, j)  # before the next chunk replaces output_tokens
        while now > self._chunk_end and self._chunk_end < self.ctx.horizon_s:
            self._pull_chunk()
            j = int(np.searchsorted(self.arrival_s, now, side="left"))
            parts_t.append(self.arrival_s[:j])
            parts_w.append(self.work[:j])
            tokens += self._tokens(0, j)
            self.next_i = j
        return np.concatenate(parts_t), np.concatenate(parts_w), tokens

    def _tokens(self, i: int, j: int) -> float:
        """Output tokens of requests i..j of the current chunk (the tokens/s signal; 0 when no
        autoscaler reads it: nothing else does).
        """
        if self.output_tokens is None or not self._reads_tokens:
            return 0.0
        return float(self.output_tokens[i:j].sum())

    def advance(self, now: float) -> None:
        """Serve every request that arrived in [data-plane clock, now).

        The kernel adds the window's latencies to the interval's counts in place; its other outputs
        are read from the data plane's window arrays (no per-window objects).
        """
        dp = self.dp
        t0 = dp.now_s
        if now <= t0:
            return
        if self._llm:
            self._advance_llm(now, t0)
            return
        iv = self.interval
        if (
            not self._reads_tokens and (now <= self._chunk_end or self._chunk_end >= self.ctx.horizon_s)
            and dp.serve_range(self.arrival_s, self.work, self.next_i, now, iv.latency.counts, self._wait_counts,
                               self._signal_acc)
        ):  # fmt: skip
            # the same figures as below, from one compiled call (no chunk to draw, no buffer to grow)
            self.next_i, arrived, served, timed_out, dropped, n_ready, queue_end = dp.range_i.tolist()
            lat_sum, lb_avg = dp.range_f.tolist()
            iv.arrived += arrived
            iv.served += served
            iv.timed_out += timed_out
            iv.dropped += dropped
            iv.latency.sum_s += lat_sum
            self.latency.sum_s += lat_sum
            dt = now - t0
            self.replica_seconds += dt * n_ready
            if n_ready:
                self.ready_seconds += dt
            sg = self.signals  # add_totals(dt, lb_avg, arrived, 0.0), written out
            sg.lb_queue_dt += lb_avg * dt
            sg.dt += dt
            sg.arrivals += arrived
            sg.output_tokens += 0.0
            if self.kpa is not None:
                in_service_avg, queued_avg, lb_avg, _ = dp.window_averages(dt)
                total = float((in_service_avg + queued_avg)[dp.state == READY].sum() + lb_avg)
                value = total if self.kpa.config.metric == "concurrency" else (arrived / dt if dt > 0 else 0.0)
                self.kpa_avg.add(t0, now, value)
            self._queue_end = queue_end
            return
        t, work, tokens = self._take(now)
        dropped = dp.serve_into(t, work, now, iv.latency.counts, self._wait_counts, self._signal_acc)
        acc_i = dp.acc_i
        arrived = int(acc_i[ARRIVED])
        iv.arrived += arrived
        iv.served += int(acc_i[SERVED])
        iv.timed_out += int(acc_i[TIMED_OUT])
        iv.dropped += dropped
        lat_sum = float(dp.acc_f[LATENCY_SUM])
        iv.latency.sum_s += lat_sum
        self.latency.sum_s += lat_sum  # its counts take the interval's at each row
        dt = now - t0
        n_ready = int(dp._ist[6])  # replicas ready during the window
        self.replica_seconds += dt * n_ready
        if n_ready:
            self.ready_seconds += dt
        R = dp.max_replicas
        lb_avg = float(dp.q_area[R] / dt) if dt > 0 else float(dp.queued_end[R])
        self.signals.add_totals(dt, lb_avg, arrived, tokens)  # the per-slot integrals: added by the kernel
        if self.kpa is not None:
            in_service_avg, queued_avg, lb_avg, _ = dp.window_averages(dt)
            total = float((in_service_avg + queued_avg)[dp.state == READY].sum() + lb_avg)
            value = total if self.kpa.config.metric == "concurrency" else (arrived / dt if dt > 0 else 0.0)
            self.kpa_avg.add(t0, now, value)
        self._queue_end = int(dp.queued_end.sum())  # at the replicas and the balancer

    def _advance_llm(self, now: float, t0: float) -> None:
        """`advance` for LLM-serving replicas (`gpusim.dataplane.llm.LlmPlane`)."""
        from gpusim.dataplane import _llm_kernels as LK

        dp = self.dp
        t, work, tokens = self._take(now)
        iv = self.interval
        dp.serve(t, work[:, 0], work[:, 1], now, self._llm_hist, self._signal_acc, self._kv_acc)
        win, acc = dp.window, dp.acc
        arrived = int(win[LK.A_ARRIVED])
        iv.arrived += arrived
        iv.served += int(win[LK.A_DONE])
        iv.dropped += int(win[LK.A_DROPPED] + win[LK.A_REJECTED])
        iv.timed_out += dp.timed_out
        e2e = float(acc[LK.A_E2E_SUM])
        iv.latency.sum_s += e2e
        self.latency.sum_s += e2e
        self.ttft.sum_s += float(acc[LK.A_TTFT_SUM])
        self.tpot.sum_s += float(acc[LK.A_TPOT_SUM])
        self._tpot_n += int(win[LK.A_TPOT_N])
        self._tokens_out += int(win[LK.A_TOKENS])
        iv.tokens += int(win[LK.A_TOKENS])
        dt = now - t0
        n_ready = dp.n_ready()
        self.replica_seconds += dt * n_ready
        if n_ready:
            self.ready_seconds += dt
        held = dp.held_at_balancer  # waiting at the balancer for a ready replica (a gauge at the window end)
        self.signals.add_totals(dt, float(held), arrived, tokens)
        if self.kpa is not None:
            ready = dp.state == READY
            total = held + sum(dp.held(i) for i in np.flatnonzero(ready))
            value = float(total) if self.kpa.config.metric == "concurrency" else (arrived / dt if dt > 0 else 0.0)
            self.kpa_avg.add(t0, now, value)
        self._queue_end = dp.waiting() + held

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
            if self.n_state["draining"]:
                self._finish_drains()
            self._autoscale(now)
            if now + 1e-9 >= next_row:
                self._record(now)
                next_row += self.w.interval

    def _n_live(self) -> int:
        """Replicas that count for the autoscaler: pending, starting and ready (not draining)."""
        n = self.n_state
        return n["pending"] + n["starting"] + n["ready"]

    def _set_state(self, r: Replica, state: str) -> None:
        if r.state != "gone":
            self.n_state[r.state] -= 1
        if state != "gone":
            self.n_state[state] += 1
        r.state = state

    def _autoscale(self, now: float) -> None:
        if self.hpa is not None:
            if now + 1e-9 < self._next_hpa:
                return
            self._next_hpa = now + self.hpa.sync_period_s
            req = self.job.gpus * self.job.gpu_milli or max(1, self.job.cpu_milli)  # the pod's request of its device
            ns = self.n_state
            n_pending, n_loading = ns["pending"], 0
            if ns["starting"]:  # pulling the image (a Pending pod) or loading the model (Running, not ready)
                for r in self.live:
                    if r.state == "starting":
                        if now >= r.running_s:
                            n_loading += 1
                        else:
                            n_pending += 1
            if isinstance(self.hpa, CompiledHPA):
                n_live = self._n_live()
                d = self.hpa.sync(now, n_live, self.signals, self.dp.state, ns["ready"], n_pending, n_loading, req)
                if d == n_live:
                    self.desired = d  # what _scale_to does when nothing changes
                else:
                    self._scale_to(d)
            else:
                slots = observe.SlotView(self.dp.state, ns["ready"], n_pending, n_loading)
                # the samples skip draining replicas themselves
                samples = observe.hpa_samples_grouped(
                    self.hpa.config.metrics, self.live, self.signals, now, req, self.job.gpus == 0, slots
                )
                self._scale_to(self.hpa.reconcile(now, self._n_live(), samples).desired_replicas)
        elif self.keda is not None:
            ready_dp = [r.dp_index for r in self.live if r.state == "ready"]
            values = self.keda.values(lambda sig: self.signals.series(sig, ready_dp))
            self._scale_to(self.keda.reconcile(now, self._n_live(), values, len(ready_dp)).desired_replicas)
        elif self.kpa is not None:
            cfg = self.kpa.config
            stable = self.kpa_avg.average(now, cfg.stable_window_s)  # None: no data yet (Knative: no decision)
            panic = self.kpa_avg.average(now, cfg.stable_window_s * cfg.panic_window_percentage / 100)
            d = self.kpa.scale(now, self.n_state["ready"], stable, panic)
            if d.valid:
                self._excess_burst = float(d.excess_burst_capacity)
                self._scale_to(d.desired_pods)
        self.signals.reset()

    def _scale_to(self, n: int) -> None:
        self.desired = n
        n_live = self._n_live()
        if n > n_live:
            for _ in range(n - n_live):
                self._create_replica()
            return
        if n == n_live:
            return
        live = [r for r in self.live if r.state != "draining"]
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
        r = Replica(index=self._created, created_s=self.env.now)
        self._created += 1
        self.live.append(r)
        self.n_state["pending"] += 1
        self.ctx.scheduler.submit(
            [a.requests for a in self.alternatives],
            self.job.priority,
            lambda i, ps, r=r: self._bound(r, self.alternatives[i], ps),
        )
        r.ticket = self.ctx.scheduler.last_ticket

    def _bound(self, r: Replica, alt, placements: list[Placement]) -> None:
        self._set_state(r, "starting")
        r.alt, r.placements = alt, placements
        if alt.offer.sharing == SHARING_TIMESLICE:  # co-tenant of training jobs (slows them, uses memory)
            self.ctx.add_ts_tenant(("replica", self.name, r.index), placements, self.job.gpu_memory_mib)
        if r.warm and self.env.now == 0.0:  # warm start: already running when the window opens
            r.running_s = self.env.now
            self._ready(r)
            return
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
                self.ctx.trace_reports.append(rep)
            return float(self._load_pool[self.rng.integers(0, len(self._load_pool))])
        pct = _model_load_percentiles()
        u = self.rng.random() * 100.0
        return float(np.interp(u, np.arange(pct.size), pct))

    def _ready(self, r: Replica) -> None:
        if r.state != "starting":
            return  # removed while starting
        self.advance(self.env.now)
        if self._llm:
            c = self.ctx.cluster
            gpu_id = c.gpu_model_ids[c.node_gpu_model[r.placements[0].node]]
            r.dp_index = self.dp.add_replica(self._llm_replica(gpu_id), self.env.now)
        else:
            r.dp_index = self.dp.add_replica(self.env.now, speed=self._speed(r.alt, r.placements))
        self._set_state(r, "ready")
        r.ready_s = self.env.now

    def _remove(self, r: Replica) -> None:
        if r.state == "pending":
            self.ctx.scheduler.cancel(r.ticket)
            self._set_state(r, "gone")
            self.live.remove(r)
        elif r.state == "starting":
            self._release(r)
        elif r.state == "ready":
            self.advance(self.env.now)
            self.dp.drain_replica(r.dp_index)
            self._set_state(r, "draining")

    def _finish_drains(self) -> None:
        if not self.n_state["draining"]:
            return
        for r in [r for r in self.live if r.state == "draining"]:
            if self.dp.is_drained(r.dp_index):
                self.dp.remove_replica(r.dp_index)
                self._release(r)

    def _release(self, r: Replica) -> None:
        if r.alt.offer.sharing == SHARING_TIMESLICE:
            self.ctx.remove_ts_tenant(("replica", self.name, r.index), r.placements, self.job.gpu_memory_mib)
        for req, p in zip(r.alt.requests, r.placements, strict=True):
            self.ctx.cluster.release(req, p)
        self._set_state(r, "gone")
        self.live.remove(r)
        self.ctx.on_change()
        self.ctx.scheduler.kick()

    def node_lost(self, node: int, now: float) -> int:
        """Node `node` failed at `now` (the env's clock): the replicas bound there are gone at once.

        Call it before the node leaves the cluster: each lost replica's resources are released
        there. Requests in service or queued at a lost replica fail (counted in `failed`, never
        lost: arrived = served + timed_out + dropped + failed + in flight); under shared-queue the
        requests waiting at the load balancer stay there. The Deployment recreates the lost
        replicas at once (the autoscaler's desired count stands): new pods go through scheduling
        and the cold start. Returns the number of replicas lost.
        """
        self.track_failures = True
        self.advance(now)
        lost = [
            r for r in self.live
            if r.state in ("starting", "ready", "draining") and r.placements
            and any(p.node == node for p in r.placements)
        ]  # fmt: skip
        for r in lost:
            if r.state in ("ready", "draining"):
                self.failed += self.dp.remove_replica(r.dp_index, failed=True)
            self._release(r)
        self.replicas_lost += len(lost)
        if lost:
            self._scale_to(self.desired)
        return len(lost)

    # ------------------------------------------------------------------ results
    def _record(self, now: float) -> None:
        iv = self.interval
        ns = self.n_state
        p50, p99 = self._close_interval()
        length = now - self._last_row_s
        rate = iv.arrived / length if length > 0 else math.nan
        values = (
            now, iv.arrived, iv.served, iv.timed_out, iv.dropped, rate, ns["ready"], self.desired,
            ns["pending"], ns["starting"], self._queue_end, p50, p99, self._excess_burst,
        )  # fmt: skip
        if self._llm:
            from gpusim.dataplane import _llm_kernels as LK

            t50, t99 = self._close_counts(self._llm_hist[LK.H_TTFT], self.ttft.counts)
            o50, o99 = self._close_counts(self._llm_hist[LK.H_TPOT], self.tpot.counts)
            values += (t50, t99, o50, o99, iv.tokens / length if length > 0 else math.nan)
            iv.tokens = 0
        self._rows.append(*values)
        self._last_row_s = now
        iv.arrived = iv.served = iv.timed_out = iv.dropped = 0

    def _close_interval(self) -> tuple[float, float]:
        """The interval's latency p50 and p99 (nearest rank, as `Histogram.quantile`; NaN if none);
        its counts go to the run's and are zeroed.
        """
        iv = self.interval
        iv.latency.sum_s = 0.0
        return self._close_counts(iv.latency.counts, self.latency.counts)

    def _close_counts(self, counts: np.ndarray, total: np.ndarray) -> tuple[float, float]:
        """p50 and p99 of an interval's counts, which go to the run's `total` and are zeroed."""
        cfg, edges, _ = self._hist_geometry
        close_quantiles(counts, total, _QS, edges, cfg.lo_s, cfg.hi_s, self._q_out, self._q_val)
        if self._q_out[0] == 0:
            return math.nan, math.nan
        p50, p99 = self._q_val.tolist()
        return p50, p99

    def frame(self):
        """The service's rows of the `services` table (SERVICE_COLUMNS)."""
        return self._rows.frame(self.name)

    def finish(self, end_s: float) -> dict:
        """Serve up to the end, record the last (maybe partial) interval, and the service's headline
        metrics. p99 and SLO attainment are over the same finished requests, timed-out and dropped
        ones counting as misses (`gpusim.metrics.summary.slo_stats_from_histogram`): p99 is ``inf``
        when the misses alone exceed the tail, so p99 within the target goes with `slo_met`
        (for a p99 objective).
        """
        from gpusim.metrics.summary import slo_stats_from_histogram

        self.advance(end_s)
        if end_s > self._last_row_s + 1e-9:  # the loop never runs at the horizon itself
            self._record(end_s)
        self._close_interval()  # a window shorter than 1e-9 s after the last row
        if self._llm:
            return self._finish_llm(end_s)
        t = self.dp.totals
        arrived = t["arrived"]
        in_flight = self.dp.in_flight
        target = self.w.slo.latency
        missed = int(t["timed_out"] + t["dropped"] + self.failed)
        counts, edges = self.latency.counts, bin_edges(self.latency.config)
        tail = slo_stats_from_histogram(counts, edges, missed, target, 99.0)
        slo = slo_stats_from_histogram(counts, edges, missed, target, self.w.slo.percentile)
        row = {
            "service": self.name,
            "requests": int(self.requests_total),
            "arrived": int(arrived),
            "served": int(t["served"]),
            "timed_out": int(t["timed_out"]),
            "dropped": int(t["dropped"]),
            "in_flight_end": int(in_flight),
            "latency_mean_s": self.latency.mean,
            "latency_p50_s": self.latency.quantile(0.5),
            "latency_p99_s": tail["latency_p_s"],
            "slo_attainment": slo["slo_attainment"],
            "slo_met": slo["slo_met"],
            "cold_starts": self.cold_starts,
            "replica_hours": self.replica_seconds / 3600.0,
        }
        if self.track_failures:
            row["failed"] = int(self.failed)
            row["replicas_lost"] = int(self.replicas_lost)
            row["availability"] = self.ready_seconds / end_s if end_s > 0 else math.nan
            row["sla_999_met"] = self._sla_met(end_s)
        return row

    def _sla_met(self, end_s: float) -> bool:
        """Whether the service's uptime (some replica Ready) met a 99.9% SLA over the run."""
        from gpusim.hardware.failures import sla_met

        return bool(end_s > 0 and sla_met(min(self.ready_seconds, end_s), end_s, 0.999))

    def _finish_llm(self, end_s: float) -> dict:
        """`finish` of an LLM-serving service: the old columns (latency = end to end) plus TTFT / TPOT
        percentiles and attainment. `dropped` counts the requests refused for length too (`rejected`:
        a prompt of max_model_len tokens or more, vLLM's 400 Bad Request), so that arrived = served +
        timed_out + dropped + failed + in flight; the refused are client errors and stay out of the
        latency statistics, while every quantile and attainment counts the requests timed out (held
        at the balancer with no replica ready), dropped (a full queue) or failed as misses. SLO attainment is the share of requests meeting
        every limit of `slo` at once (exact, per request, not from the histograms).
        """
        from gpusim.dataplane import _llm_kernels as LK
        from gpusim.metrics.summary import slo_stats_from_histogram

        for row, total in ((LK.H_TTFT, self.ttft.counts), (LK.H_TPOT, self.tpot.counts)):
            self._close_counts(self._llm_hist[row], total)
        t = self.dp.totals
        slo = self.w.slo
        e2e_limit = slo.latency if hasattr(slo, "latency") else (slo.e2e or math.inf)
        ttft_limit, tpot_limit = getattr(slo, "ttft", None) or math.inf, getattr(slo, "tpot", None) or math.inf
        missed = int(t["dropped"] + t["timed_out"] + t["failed"])  # the refused (a 400 for length) are left out
        edges = bin_edges(self.latency.config)
        e2e = slo_stats_from_histogram(self.latency.counts, edges, missed, e2e_limit, 99.0)
        ttft = slo_stats_from_histogram(self.ttft.counts, edges, missed, ttft_limit, 99.0)
        tpot_counts = self.tpot.counts.copy()
        tpot_counts[0] += t["completed"] - self._tpot_n  # one-token outputs: no TPOT (0, within any limit)
        tpot = slo_stats_from_histogram(tpot_counts, edges, missed, tpot_limit, 99.0)
        finished = t["completed"] + missed
        attainment = t["slo_ok"] / finished if finished else math.nan
        pct = slo.percentile

        def att(stats, limit):
            return stats["slo_attainment"] if math.isfinite(limit) else math.nan

        row = {
            "service": self.name,
            "requests": int(self.requests_total),
            "arrived": int(t["arrived"]),
            "served": int(t["completed"]),
            "timed_out": int(t["timed_out"]),
            "dropped": int(t["dropped"] + t["rejected"]),
            "in_flight_end": int(self.dp.in_flight),
            "latency_mean_s": self.latency.mean,
            "latency_p50_s": self.latency.quantile(0.5),
            "latency_p99_s": e2e["latency_p_s"],
            "slo_attainment": attainment,
            "slo_met": bool(finished and attainment >= pct / 100.0 - 1e-12),
            "cold_starts": self.cold_starts,
            "replica_hours": self.replica_seconds / 3600.0,
            "failed": int(t["failed"]),
            "replicas_lost": int(self.replicas_lost),
            "availability": self.ready_seconds / end_s if end_s > 0 else math.nan,
            "sla_999_met": self._sla_met(end_s),
            "ttft_mean_s": self.ttft.mean,
            "ttft_p50_s": self.ttft.quantile(0.5),
            "ttft_p99_s": ttft["latency_p_s"],
            "tpot_mean_s": self.tpot.sum_s / self._tpot_n if self._tpot_n else math.nan,
            "tpot_p50_s": self.tpot.quantile(0.5),
            "tpot_p99_s": tpot["latency_p_s"],
            "ttft_attainment": att(ttft, ttft_limit),
            "tpot_attainment": att(tpot, tpot_limit),
            "e2e_attainment": att(e2e, e2e_limit),
            "rejected": int(t["rejected"]),
            "preemptions": int(t["preemptions"]),
            "output_tokens": int(t["output_tokens"]),
            "output_tokens_per_s": t["output_tokens"] / end_s if end_s > 0 else math.nan,
        }
        row.update({f"llm_{k}": v for k, v in self.derived_queue_params().items()})
        return row


class _Rows:
    """The services time series of one service, row after row in one typed buffer (8 bytes a value,
    not a dict a row); the count columns are integers below 2**53, so they are exact as doubles.
    """

    _FLOAT = ("time_s", "arrival_rps", "latency_p50_s", "latency_p99_s", "excess_burst_capacity")
    _COLS = [c for c in SERVICE_COLUMNS if c != "service"]
    _FRAME_COLUMNS = SERVICE_COLUMNS

    def __init__(self):
        from array import array

        self.buf = array("d")

    def append(self, *values) -> None:
        if len(values) != len(self._COLS):
            raise ValueError(f"a services row has {len(self._COLS)} values, got {len(values)}")
        self.buf.extend(values)

    def __len__(self) -> int:
        return len(self.buf) // len(self._COLS)

    def frame(self, service: str):
        import pandas as pd

        rows = np.frombuffer(self.buf, dtype=np.float64).reshape(len(self), len(self._COLS)) if len(self) else None
        data = {}
        for k, c in enumerate(self._COLS):
            col = np.empty(0) if rows is None else rows[:, k]
            data[c] = col.astype(np.float64 if c in self._FLOAT else np.int64)
        data["service"] = np.full(len(self), service, dtype=object)
        return pd.DataFrame(data, columns=self._FRAME_COLUMNS)


LLM_SERVICE_COLUMNS = ["ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "output_tokens_per_s"]
"""Columns LLM-serving services add to the `services` time series (NaN in other services' rows;
absent when no service serves an LLM): TTFT and TPOT percentiles of the requests that had their
first token / completed in the interval, output tokens per second of the requests completed."""


class _LlmRows(_Rows):
    _FLOAT = _Rows._FLOAT + tuple(LLM_SERVICE_COLUMNS)
    _COLS = _Rows._COLS + LLM_SERVICE_COLUMNS
    _FRAME_COLUMNS = SERVICE_COLUMNS + LLM_SERVICE_COLUMNS


def _quantiles(h: Histogram, qs: tuple[float, ...]) -> list[float]:
    """`h.quantile(q)` for each q, from one cumulative sum (nearest rank, as `Histogram.quantile`)."""
    counts = h.counts
    cum = np.cumsum(counts)
    n = int(cum[-1]) if cum.size else 0
    if n == 0:
        return [math.nan] * len(qs)
    cfg = h.config
    out = []
    for q in qs:
        rank = max(1, int(math.ceil(q * n - 1e-9)))
        idx = int(np.searchsorted(cum, rank, side="left"))
        if idx == 0:
            out.append(cfg.lo_s)
        elif idx == cfg.n_bins + 1:
            out.append(cfg.hi_s)
        else:
            edges = bin_edges(cfg)
            out.append(float(math.sqrt(edges[idx - 1] * edges[idx])))
    return out


@lru_cache(maxsize=16)
def bin_edges(cfg) -> np.ndarray:
    return cfg.edges()


def _first_model(req) -> int:
    mask = req.gpu_model_mask
    return (mask & -mask).bit_length() - 1 if mask else 0
