"""One LLM serving replica as a compiled model: prefill and decode, continuous batching in the KV cache.

`LlmReplica` serves the requests of a window ``[clock, t_end)`` in one kernel call and carries its
state (waiting queue, sequences in decode, the request under prefill, the replica clock) to the
next window, like `gpusim.dataplane.DataPlane`. Speeds come from `gpusim.hardware.llm.ReplicaModel`:
an engine iteration over ``D`` decode sequences holding ``S`` KV tokens plus ``P`` prefill tokens
with ``Q`` causal (query, key) pairs takes ``fixed_s + per_token_s (D + P) + per_ctx_s S + per_pair_s Q``.

Scheduling follows vLLM (v0 scheduler; Vidur's ``VLLMReplicaScheduler`` implements the same rule):

* Requests wait FCFS. A waiting request is admitted when fewer than ``max_num_seqs`` sequences are
  held and the KV cache keeps at least the watermark (1 % of its tokens) free after its prompt.
* Default (no chunked prefill): an iteration prefills as many waiting prompts as the token budget
  ``max_num_batched_tokens`` takes (the first always), and decodes pause; otherwise it decodes one
  token for every running sequence. With ``chunked_prefill=True`` (vLLM's chunked prefill,
  Sarathi-Serve): every iteration decodes all running sequences and fills the rest of the budget
  with prompt chunks, FCFS, so decodes never stall behind a long prompt.
* A prefill produces the request's first token (TTFT = first token - arrival); each decode
  iteration one more. Output length counts every generated token, the first included.
* Preemption with recompute: before a decode iteration every sequence needs one more KV slot.
  While they do not all fit, the most recently admitted sequence is preempted: its KV is freed and
  it goes to the front of the waiting queue, to prefill its prompt and the tokens generated so far
  again (its TTFT stays the first one).
* KV is counted in tokens (vLLM's 16-token blocks round each sequence up by at most 15 tokens).
  A request whose prompt + output can never fit is rejected at arrival; a full waiting queue
  (``queue_capacity``) drops arrivals.

Recorded per request in mergeable histograms (`HistogramConfig`): TTFT when the first token is out;
TPOT ((finish - first token) / (output - 1), for outputs of 2 tokens or more) and end-to-end latency
at completion, and whether all three met the SLOs. Counts and sums are exact. Memory is fixed at
construction (queue capacity + max_num_seqs slots), never grows with the number of requests.

A run of decode iterations with the same batch is advanced in closed form (a sequence stores the
step it joined at and the step it finishes at), so the cost per request is a few heap operations,
not one per generated token.

`LlmPlane` is what the engine's inference services use (`gpusim.sim.inference`). Standalone: per LLM service build ``rm = gpusim.hardware.llm.
replica_model(gpu, llm_arch(model), precision, tp)`` and ``svc = LlmService(rm, max_replicas,
chunked_prefill=..., slo_ttft_s=..., slo_tpot_s=..., slo_e2e_s=...)``; at every control event set
``svc.ready[i]`` (True once replica slot ``i`` is ready, False while absent or draining) and call
``svc.serve(t_end, arrivals_s, prompt_tokens, output_tokens)`` with the window's arrivals. The
`LlmServiceWindow` it returns carries the window's counts, merged TTFT/TPOT/e2e histograms (add
them up over windows) and per-replica ``held`` / ``waiting`` for the autoscalers' concurrency and
queue-length metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpusim.dataplane import _llm_kernels as K
from gpusim.dataplane.histogram import Histogram, HistogramConfig
from gpusim.hardware.llm import ReplicaModel

LLM_ROUTING = ("round-robin", "least-outstanding")
"""How an LLM service's load balancer can pick a replica (`LlmService`, `LlmPlane`)."""


@dataclass(frozen=True)
class LlmWindowMetrics:
    """What one replica did in one window (counts are of this window only)."""

    t_start: float
    t_end: float
    arrived: int
    completed: int
    first_tokens: int
    preemptions: int
    dropped: int
    rejected: int
    slo_met: int
    output_tokens: int  # of the requests completed in this window
    iterations: int
    busy_s: float
    seq_seconds: float  # integral of the sequences held (decode + prefill) over the window's iterations
    kv_token_seconds: float
    ttft: Histogram
    tpot: Histogram
    e2e: Histogram

    @property
    def output_tokens_per_s(self) -> float:
        span = self.t_end - self.t_start
        return self.output_tokens / span if span > 0 else math.nan


class LlmReplica:
    """A vLLM-style replica of `ReplicaModel` speed; call `serve` once per window, in time order."""

    def __init__(
        self,
        model: ReplicaModel,
        *,
        chunked_prefill: bool = False,
        queue_capacity: int = 1 << 16,
        watermark_fraction: float = 0.01,
        slo_ttft_s: float = math.inf,
        slo_tpot_s: float = math.inf,
        slo_e2e_s: float = math.inf,
        histogram: HistogramConfig | None = None,
        record: int = 0,
        t0: float = 0.0,
    ):
        if model.kv_capacity_tokens <= 0:
            raise ValueError(f"{model.model_id} in {model.precision} does not fit {model.tp} x {model.gpu_id}")
        if queue_capacity < 1 or model.max_num_seqs < 1:
            raise ValueError("queue_capacity and max_num_seqs must be >= 1")
        self.model = model
        self.histogram = histogram or HistogramConfig()
        m = int(model.max_num_seqs)
        prm = np.zeros(K.N_PARAMS, dtype=np.float64)
        prm[K.P_FIXED] = model.fixed_s
        prm[K.P_TOKEN] = model.per_token_s
        prm[K.P_CTX] = model.per_ctx_s
        prm[K.P_PAIR] = model.per_pair_s
        prm[K.P_CAP] = float(model.kv_capacity_tokens)
        prm[K.P_MAXSEQ] = float(m)
        prm[K.P_BUDGET] = float(model.max_num_batched_tokens)
        prm[K.P_WATERMARK] = math.floor(watermark_fraction * model.kv_capacity_tokens)
        prm[K.P_CHUNKED] = 1.0 if chunked_prefill else 0.0
        prm[K.P_SLO_TTFT], prm[K.P_SLO_TPOT], prm[K.P_SLO_E2E] = slo_ttft_s, slo_tpot_s, slo_e2e_s
        self._prm = prm
        self._ist = np.zeros(K.N_IST, dtype=np.int64)
        self._ist[K.I_FREE] = m
        self._fst = np.zeros(K.N_FST, dtype=np.float64)
        self._fst[K.F_CLOCK] = t0
        self._q_f = np.zeros((queue_capacity, 2), dtype=np.float64)
        self._q_i = np.zeros((queue_capacity, 3), dtype=np.int64)
        self._s_f = np.zeros((m, 2), dtype=np.float64)
        self._s_i = np.zeros((m + 1, 7), dtype=np.int64)  # row m: the list sentinel
        self._s_i[m, K.S_PREV] = self._s_i[m, K.S_NEXT] = m
        self._h = np.zeros((m, 2), dtype=np.int64)
        self._free = np.arange(m - 1, -1, -1, dtype=np.int64)
        self._tb_f = np.zeros((m + 1, 2), dtype=np.float64)
        self._tb_i = np.zeros((m + 1, 3), dtype=np.int64)
        self._edges = self.histogram.edges()
        self._btab = self.histogram.lookup()
        self._hist = np.zeros((3, self.histogram.size), dtype=np.int64)
        self._acc_i = np.zeros(K.N_ACC_I, dtype=np.int64)
        self._acc_f = np.zeros(K.N_ACC_F, dtype=np.float64)
        self.records = np.zeros((record, 3), dtype=np.float64)
        """(arrival, first token, finish) of the first ``record`` completed requests (tests, small runs)."""

    @property
    def clock(self) -> float:
        """End of the last iteration the replica ran (>= the last window's end)."""
        return float(self._fst[K.F_CLOCK])

    @property
    def waiting(self) -> int:
        return int(self._ist[K.I_QLEN])

    @property
    def running(self) -> int:
        """Sequences held: in decode, plus the one under chunked prefill."""
        return int(self._ist[K.I_NRUN] + self._ist[K.I_PFACT])

    @property
    def kv_tokens(self) -> int:
        return int(self._ist[K.I_KV] + self._ist[K.I_RES])

    def serve(self, t_end: float, arrivals_s, prompt_tokens, output_tokens) -> LlmWindowMetrics:
        """Serve the window ending at ``t_end``: its arrivals (sorted, in ``[clock, t_end)``) with their lengths."""
        arr = np.ascontiguousarray(arrivals_s, dtype=np.float64)
        p = np.ascontiguousarray(prompt_tokens, dtype=np.int64)
        o = np.ascontiguousarray(output_tokens, dtype=np.int64)
        if not (arr.shape == p.shape == o.shape) or arr.ndim != 1:
            raise ValueError("arrivals_s, prompt_tokens and output_tokens must be 1-D arrays of one length")
        if arr.size and (np.any(np.diff(arr) < 0) or arr[-1] >= t_end):
            raise ValueError("arrivals must be sorted and before t_end")
        t_start = self.clock
        i0, f0 = self._acc_i.copy(), self._acc_f.copy()
        self._hist[:] = 0
        K.serve_window(
            float(t_end), arr, p, o, self._prm, self._ist, self._fst, self._q_f, self._q_i, self._s_f, self._s_i,
            self._h, self._free, self._tb_f, self._tb_i, self._hist, self._edges, self._btab, self._acc_i,
            self._acc_f, self.records,
        )  # fmt: skip
        di, df = self._acc_i - i0, self._acc_f - f0
        cfg = self.histogram
        return LlmWindowMetrics(
            t_start=t_start, t_end=float(t_end), arrived=int(di[K.A_ARRIVED]), completed=int(di[K.A_DONE]),
            first_tokens=int(di[K.A_FIRST]), preemptions=int(di[K.A_PREEMPT]), dropped=int(di[K.A_DROPPED]),
            rejected=int(di[K.A_REJECTED]), slo_met=int(di[K.A_SLO_OK]), output_tokens=int(di[K.A_TOKENS]),
            iterations=int(di[K.A_ITER]), busy_s=float(df[K.A_BUSY]), seq_seconds=float(df[K.A_RUN_INT]),
            kv_token_seconds=float(df[K.A_KV_INT]),
            ttft=Histogram(cfg, self._hist[K.H_TTFT].copy(), float(df[K.A_TTFT_SUM])),
            tpot=Histogram(cfg, self._hist[K.H_TPOT].copy(), float(df[K.A_TPOT_SUM])),
            e2e=Histogram(cfg, self._hist[K.H_E2E].copy(), float(df[K.A_E2E_SUM])),
        )  # fmt: skip

    def totals(self) -> dict:
        """Cumulative counts since construction (arrived = completed + rejected + dropped + in flight)."""
        a = self._acc_i
        return {
            "arrived": int(a[K.A_ARRIVED]), "completed": int(a[K.A_DONE]), "first_tokens": int(a[K.A_FIRST]),
            "preemptions": int(a[K.A_PREEMPT]), "dropped": int(a[K.A_DROPPED]), "rejected": int(a[K.A_REJECTED]),
            "slo_met": int(a[K.A_SLO_OK]), "output_tokens": int(a[K.A_TOKENS]), "in_flight": self.waiting + self.running,
        }  # fmt: skip


@dataclass(frozen=True)
class LlmServiceWindow:
    """What the replicas of one service did in one window, summed (histograms merged)."""

    t_start: float
    t_end: float
    arrived: int
    unroutable: int  # arrivals while no replica was ready (dropped)
    completed: int
    first_tokens: int
    preemptions: int
    dropped: int
    rejected: int
    slo_met: int
    output_tokens: int
    busy_s: float
    seq_seconds: float
    ttft: Histogram
    tpot: Histogram
    e2e: Histogram
    held: np.ndarray  # per replica at the window end: sequences held (decode + prefill)
    waiting: np.ndarray  # per replica at the window end: requests waiting


class LlmService:
    """``n_replicas`` identical `LlmReplica` state machines served by one kernel call per window.

    Arrivals are routed over the replicas marked ready by `routing`: ``round-robin`` (the cycle
    continues across windows) or ``least-outstanding`` (to the replica holding the fewest requests
    at the arrival's time, waiting or running; ties: lowest index; `K.serve_service_lor`);
    replicas not ready take no arrivals and finish what they hold. The histograms are the
    service's (every replica records into them). Memory: fixed at construction, as for one replica.
    """

    def __init__(
        self,
        model: ReplicaModel,
        n_replicas: int,
        *,
        chunked_prefill: bool = False,
        queue_capacity: int = 1 << 14,
        watermark_fraction: float = 0.01,
        slo_ttft_s: float = math.inf,
        slo_tpot_s: float = math.inf,
        slo_e2e_s: float = math.inf,
        histogram: HistogramConfig | None = None,
        t0: float = 0.0,
        routing: str = "round-robin",
    ):
        if n_replicas < 1:
            raise ValueError("n_replicas must be >= 1")
        if routing not in LLM_ROUTING:
            raise ValueError(f"routing must be one of {', '.join(LLM_ROUTING)}, got {routing!r}")
        self.routing = routing
        one = LlmReplica(
            model, chunked_prefill=chunked_prefill, queue_capacity=queue_capacity,
            watermark_fraction=watermark_fraction, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s,
            slo_e2e_s=slo_e2e_s, histogram=histogram, t0=t0,
        )  # fmt: skip
        self.model = model
        self.histogram = one.histogram
        self.n_replicas = n_replicas
        self._edges, self._btab = one._edges, one._btab
        self._hist = one._hist

        def stack(a):
            return np.ascontiguousarray(np.broadcast_to(a, (n_replicas, *a.shape)).copy())

        self._prm = stack(one._prm)  # one row per replica (`serve_service` reads prm[r])
        self._ist, self._fst = stack(one._ist), stack(one._fst)
        self._q_f, self._q_i = stack(one._q_f), stack(one._q_i)
        self._s_f, self._s_i, self._h = stack(one._s_f), stack(one._s_i), stack(one._h)
        self._free, self._tb_f, self._tb_i = stack(one._free), stack(one._tb_f), stack(one._tb_i)
        self._acc_i, self._acc_f = stack(one._acc_i), stack(one._acc_f)
        self._rec = np.zeros((0, 3), dtype=np.float64)
        self.ready = np.ones(n_replicas, dtype=np.bool_)
        """Which replicas take new arrivals (set entries False to drain a replica)."""
        self._rr = 0
        self._t = float(t0)
        self.unroutable = 0

    def serve(self, t_end: float, arrivals_s, prompt_tokens, output_tokens) -> LlmServiceWindow:
        """Serve the window ``[previous t_end, t_end)``: its arrivals (sorted) with their lengths."""
        arr = np.ascontiguousarray(arrivals_s, dtype=np.float64)
        p = np.ascontiguousarray(prompt_tokens, dtype=np.int64)
        o = np.ascontiguousarray(output_tokens, dtype=np.int64)
        if not (arr.shape == p.shape == o.shape) or arr.ndim != 1:
            raise ValueError("arrivals_s, prompt_tokens and output_tokens must be 1-D arrays of one length")
        if arr.size and (arr[-1] >= t_end or np.any(arr[1:] < arr[:-1])):
            raise ValueError("arrivals must be sorted and before t_end")
        unroutable = 0
        if not self.ready.any() and arr.size:
            unroutable = int(arr.size)
            self.unroutable += unroutable
        i0, f0 = self._acc_i.sum(axis=0), self._acc_f.sum(axis=0)
        self._hist[:] = 0
        _serve(self, float(t_end), arr, p, o, self._hist)
        di, df = self._acc_i.sum(axis=0) - i0, self._acc_f.sum(axis=0) - f0
        cfg = self.histogram
        t_start, self._t = self._t, float(t_end)
        return LlmServiceWindow(
            t_start=t_start, t_end=float(t_end), arrived=int(di[K.A_ARRIVED]) + unroutable, unroutable=unroutable,
            completed=int(di[K.A_DONE]), first_tokens=int(di[K.A_FIRST]), preemptions=int(di[K.A_PREEMPT]),
            dropped=int(di[K.A_DROPPED]), rejected=int(di[K.A_REJECTED]), slo_met=int(di[K.A_SLO_OK]),
            output_tokens=int(di[K.A_TOKENS]), busy_s=float(df[K.A_BUSY]), seq_seconds=float(df[K.A_RUN_INT]),
            ttft=Histogram(cfg, self._hist[K.H_TTFT].copy(), float(df[K.A_TTFT_SUM])),
            tpot=Histogram(cfg, self._hist[K.H_TPOT].copy(), float(df[K.A_TPOT_SUM])),
            e2e=Histogram(cfg, self._hist[K.H_E2E].copy(), float(df[K.A_E2E_SUM])),
            held=self._ist[:, K.I_NRUN] + self._ist[:, K.I_PFACT], waiting=self._ist[:, K.I_QLEN].copy(),
        )  # fmt: skip


def _serve(s: LlmService, t_end: float, arr, p, o, hist) -> None:
    """One window of `s` by its routing (the kernel adds the latencies to `hist`)."""
    if s.routing == "least-outstanding":
        K.serve_service_lor(
            t_end, arr, p, o, s.ready, s._prm, s._ist, s._fst, s._q_f, s._q_i, s._s_f, s._s_i, s._h, s._free,
            s._tb_f, s._tb_i, hist, s._edges, s._btab, s._acc_i, s._acc_f, s._rec,
        )  # fmt: skip
        return
    s._rr = int(
        K.serve_service(
            t_end, arr, p, o, s.ready, s._rr, s._prm, s._ist, s._fst, s._q_f, s._q_i, s._s_f, s._s_i, s._h,
            s._free, s._tb_f, s._tb_i, hist, s._edges, s._btab, s._acc_i, s._acc_f, s._rec,
        )
    )  # fmt: skip


def replica_params(
    model: ReplicaModel,
    *,
    chunked_prefill: bool = False,
    watermark_fraction: float = 0.01,
    slo_ttft_s: float = math.inf,
    slo_tpot_s: float = math.inf,
    slo_e2e_s: float = math.inf,
) -> np.ndarray:
    """The kernel's parameter row of one replica (what `LlmReplica` builds)."""
    prm = np.zeros(K.N_PARAMS, dtype=np.float64)
    prm[K.P_FIXED] = model.fixed_s
    prm[K.P_TOKEN] = model.per_token_s
    prm[K.P_CTX] = model.per_ctx_s
    prm[K.P_PAIR] = model.per_pair_s
    prm[K.P_CAP] = float(model.kv_capacity_tokens)
    prm[K.P_MAXSEQ] = float(model.max_num_seqs)
    prm[K.P_BUDGET] = float(model.max_num_batched_tokens)
    prm[K.P_WATERMARK] = math.floor(watermark_fraction * model.kv_capacity_tokens)
    prm[K.P_CHUNKED] = 1.0 if chunked_prefill else 0.0
    prm[K.P_SLO_TTFT], prm[K.P_SLO_TPOT], prm[K.P_SLO_E2E] = slo_ttft_s, slo_tpot_s, slo_e2e_s
    return prm


ABSENT, READY, DRAINING = 0, 1, 2  # as gpusim.dataplane._kernels (the autoscalers' slot view reads them)


class LlmPlane:
    """The data plane of an LLM inference service in the engine: `max_replicas` replica slots, each
    absent, ready (takes arrivals, routed over the ready ones by `routing` as in `LlmService`) or
    draining (takes none, finishes what it holds), served by one kernel call per window (`serve`),
    like `gpusim.dataplane.DataPlane`.

    A slot's replica model (`add_replica`) may differ per replica (another GPU). Requests arriving
    while no replica is ready wait at the load balancer (at most `max_queue` of them; beyond, they
    are dropped), as `gpusim.dataplane.DataPlane` holds them: when a replica is ready at a later
    window start they are dispatched first, in arrival order, their latencies counted from their
    arrival; one still held at ``arrival + timeout_s`` (checked at window ends) times out. Once at a
    replica a request waits as long as it takes (vLLM has no request timeout).
    `remove_replica(idx, failed=True)` is a pod lost with its node: what it holds fails.
    Accounting: ``arrived = completed + rejected + dropped + timed_out + failed + in_flight`` at
    every window end (in flight: held, waiting at a replica, or running).
    The window's TTFT, TPOT and e2e latencies are *added* to the counts arrays passed to `serve`.
    """

    def __init__(
        self,
        template: ReplicaModel,
        max_replicas: int,
        *,
        chunked_prefill: bool = False,
        queue_capacity: int = 1 << 14,
        watermark_fraction: float = 0.01,
        slo_ttft_s: float = math.inf,
        slo_tpot_s: float = math.inf,
        slo_e2e_s: float = math.inf,
        histogram: HistogramConfig | None = None,
        start_s: float = 0.0,
        timeout_s: float = math.inf,
        max_queue: int | None = None,
        routing: str = "round-robin",
    ):
        svc = LlmService(
            template, max_replicas, chunked_prefill=chunked_prefill, queue_capacity=queue_capacity,
            watermark_fraction=watermark_fraction, histogram=histogram, t0=start_s, routing=routing,
        )  # fmt: skip
        self._svc = svc
        self._kw = {"chunked_prefill": chunked_prefill, "watermark_fraction": watermark_fraction,
                    "slo_ttft_s": slo_ttft_s, "slo_tpot_s": slo_tpot_s, "slo_e2e_s": slo_e2e_s}  # fmt: skip
        self.max_num_seqs = int(template.max_num_seqs)
        self.max_replicas = int(max_replicas)
        self.hist_config = svc.histogram
        self.now_s = float(start_s)
        self.state = np.zeros(self.max_replicas, dtype=np.int8)
        self.models: list[ReplicaModel | None] = [None] * self.max_replicas
        svc.ready[:] = False
        # a fresh slot's state (every slot starts as slot 0 does)
        self._fresh = [a[0].copy() for a in self._slot_arrays()]
        self._busy_prev = np.zeros(self.max_replicas)
        self.totals = {"arrived": 0, "completed": 0, "rejected": 0, "dropped": 0, "failed": 0, "preemptions": 0,
                       "output_tokens": 0, "slo_ok": 0}  # fmt: skip
        self.failed = 0  # as DataPlane.failed (kept equal to totals["failed"])
        self.totals["timed_out"] = 0
        self.timeout_s = float(timeout_s)
        self.max_queue = max_queue
        self._held_t = np.zeros(0)  # requests held at the balancer (no replica was ready)
        self._held_p = np.zeros(0, dtype=np.int64)
        self._held_o = np.zeros(0, dtype=np.int64)
        self.timed_out = 0  # the last window's
        self.acc = np.zeros(K.N_ACC_F)  # the window's summed acc_f (TTFT/TPOT/e2e sums, busy, ...)
        self.window = np.zeros(K.N_ACC_I, dtype=np.int64)  # the window's summed acc_i

    def _slot_arrays(self):
        s = self._svc
        return (s._ist, s._fst, s._q_f, s._q_i, s._s_f, s._s_i, s._h, s._free, s._tb_f, s._tb_i, s._acc_i, s._acc_f)

    # ---- replica changes (between windows, at now_s)
    def add_replica(self, model: ReplicaModel, now: float | None = None) -> int:
        """Make the lowest absent slot a ready replica of `model` from `now`; return its index."""
        if int(model.max_num_seqs) != self.max_num_seqs:
            raise ValueError("every replica of a service has the same max_num_seqs")
        if model.kv_capacity_tokens <= 0:
            raise ValueError(f"{model.model_id} in {model.precision} does not fit {model.tp} x {model.gpu_id}")
        free = np.flatnonzero(self.state == ABSENT)
        if free.size == 0:
            raise RuntimeError(f"all {self.max_replicas} replica slots are in use")
        idx = int(free[0])
        self._reset(idx)
        self._svc._prm[idx] = replica_params(model, **self._kw)
        self._svc._fst[idx, K.F_CLOCK] = self.now_s if now is None else max(float(now), self.now_s)
        self._busy_prev[idx] = 0.0
        self.models[idx] = model
        self.state[idx] = READY
        self._svc.ready[idx] = True
        return idx

    def _reset(self, idx: int) -> None:
        for a, fresh in zip(self._slot_arrays(), self._fresh, strict=True):
            a[idx] = fresh

    def drain_replica(self, idx: int) -> None:
        if self.state[idx] == ABSENT:
            raise ValueError(f"replica {idx} is absent")
        self.state[idx] = DRAINING
        self._svc.ready[idx] = False

    def held(self, idx: int) -> int:
        """Requests replica `idx` holds: waiting, in decode or under prefill."""
        ist = self._svc._ist[idx]
        return int(ist[K.I_QLEN] + ist[K.I_NRUN] + ist[K.I_PFACT])

    def is_drained(self, idx: int) -> bool:
        return self.held(idx) == 0

    def remove_replica(self, idx: int, failed: bool = False) -> int:
        """Free slot `idx`; return the requests it held (counted as failed, or dropped)."""
        if self.state[idx] == ABSENT:
            raise ValueError(f"replica {idx} is absent")
        n = self.held(idx)
        self.totals["failed" if failed else "dropped"] += n
        self.failed = self.totals["failed"]
        self._reset(idx)
        self.state[idx] = ABSENT
        self._svc.ready[idx] = False
        self.models[idx] = None
        return n

    def waiting(self) -> int:
        """Requests waiting at the replicas (not yet admitted into a batch)."""
        return int(self._svc._ist[:, K.I_QLEN].sum())

    @property
    def held_at_balancer(self) -> int:
        return int(self._held_t.size)

    @property
    def in_flight(self) -> int:
        ist = self._svc._ist
        return int(ist[:, K.I_QLEN].sum() + ist[:, K.I_NRUN].sum() + ist[:, K.I_PFACT].sum()) + self.held_at_balancer

    def n_ready(self) -> int:
        return int((self.state == READY).sum())

    # ---- serving
    def serve(self, arrival_s, prompt_tokens, output_tokens, t_end: float, hist: np.ndarray,
              signals: np.ndarray | None = None, kv: np.ndarray | None = None) -> None:  # fmt: skip
        """Serve the window ``[now_s, t_end)``: its arrivals (sorted) with their lengths.

        The window's TTFT, TPOT and e2e latencies are added to ``hist`` (int64, shape (3, size)); its
        summed counts are in `window` and `acc`. `signals` (shape (4, max_replicas), as
        `gpusim.autoscale.observe.SignalWindow.acc`) gets, for each replica ready in the window, the
        vLLM gauges at the window end times dt: (running + waiting, waiting, busy fraction, dt);
        `kv` the KV-cache usage fraction times dt.
        """
        s = self._svc
        t0, t1 = self.now_s, float(t_end)
        arr = np.ascontiguousarray(arrival_s, dtype=np.float64)
        p = np.ascontiguousarray(prompt_tokens, dtype=np.int64)
        o = np.ascontiguousarray(output_tokens, dtype=np.int64)
        n_new = int(arr.size)
        held_before = self.held_at_balancer
        unroutable = 0  # arrivals beyond max_queue while held
        self.timed_out = 0
        if not s.ready.any():  # hold at the balancer; nothing reaches a replica
            ht, hp, ho = (
                np.concatenate([a, b]) for a, b in ((self._held_t, arr), (self._held_p, p), (self._held_o, o))
            )
            if self.max_queue is not None and ht.size > self.max_queue:
                unroutable = int(ht.size - self.max_queue)
                ht, hp, ho = ht[: self.max_queue], hp[: self.max_queue], ho[: self.max_queue]
            late = ht + self.timeout_s <= t1
            if late.any():
                self.timed_out = int(late.sum())
                ht, hp, ho = ht[~late], hp[~late], ho[~late]
            self._held_t, self._held_p, self._held_o = ht, hp, ho
            arr, p, o = arr[:0], p[:0], o[:0]
            held_before = 0
        elif held_before:  # dispatched first, in arrival order, at this window's start
            arr = np.concatenate([self._held_t, arr])
            p = np.concatenate([self._held_p, p])
            o = np.concatenate([self._held_o, o])
            self._held_t, self._held_p, self._held_o = self._held_t[:0], self._held_p[:0], self._held_o[:0]
        i0, f0 = s._acc_i.sum(axis=0), s._acc_f.sum(axis=0)
        busy0 = s._acc_f[:, K.A_BUSY].copy()
        _serve(s, t1, arr, p, o, hist)
        di = s._acc_i.sum(axis=0) - i0
        self.acc[:] = s._acc_f.sum(axis=0) - f0
        di[K.A_ARRIVED] += n_new - int(arr.size)  # counted when they arrive, once (not when dispatched)
        di[K.A_DROPPED] += unroutable
        self.window[:] = di
        self.totals["timed_out"] += self.timed_out
        t = self.totals
        t["arrived"] += int(di[K.A_ARRIVED])
        t["completed"] += int(di[K.A_DONE])
        t["rejected"] += int(di[K.A_REJECTED])
        t["dropped"] += int(di[K.A_DROPPED])
        t["preemptions"] += int(di[K.A_PREEMPT])
        t["output_tokens"] += int(di[K.A_TOKENS])
        t["slo_ok"] += int(di[K.A_SLO_OK])
        dt = t1 - t0
        if dt > 0 and (signals is not None or kv is not None):
            ready = self.state == READY
            ist = s._ist
            running = (ist[:, K.I_NRUN] + ist[:, K.I_PFACT]).astype(np.float64)
            waiting = ist[:, K.I_QLEN].astype(np.float64)
            if signals is not None:
                busy = np.minimum((s._acc_f[:, K.A_BUSY] - busy0) / dt, 1.0)
                for k, v in enumerate((running + waiting, waiting, busy)):
                    row = signals[k, : self.max_replicas]
                    np.add(row, v * dt, out=row, where=ready)
                row = signals[3, : self.max_replicas]
                np.add(row, dt, out=row, where=ready)
            if kv is not None:
                cap = np.maximum(s._prm[:, K.P_CAP], 1.0)
                used = (ist[:, K.I_KV] + ist[:, K.I_RES]) / cap
                np.add(kv[: self.max_replicas], used * dt, out=kv[: self.max_replicas], where=ready)
        self.now_s = t1

    def conservation_gap(self) -> int:
        t = self.totals
        return t["arrived"] - (
            t["completed"] + t["rejected"] + t["dropped"] + t["timed_out"] + t["failed"] + self.in_flight
        )
