"""The request data plane of one inference service: replicas, routing, queues, latency.

Requests are not SimPy events. Between two control events the set of ready replicas and their
speeds is fixed, so the control plane hands every request that arrives in the window
``[t_start, t_end)`` to `DataPlane.serve` in one call; a compiled kernel serves them and carries
queue state to the next window. The control plane changes replicas only between windows.

Model
-----
* A replica slot is absent, ready (takes new requests) or draining (takes none, finishes what it
  holds). Each replica has ``concurrency`` server slots; a request's service time is
  ``work / speed * (1 + batch_slowdown * (n_active - 1))`` where ``n_active`` counts the requests
  in service on that replica when it starts, itself included. ``batch_slowdown = 0`` gives
  independent slots (a multi-server queue); ``batch_slowdown > 0`` models batched LLM decoding,
  whose per-request time grows as the batch fills (``concurrency`` is then the max batch size):
  throughput with n active is ``n / (1 + batch_slowdown (n - 1))`` times one request's. The time is
  fixed when the request starts (no re-timing when the batch later shrinks or grows).
* Queues are FCFS and served by the Lindley recursion (start = max(arrival, earliest free slot));
  a free slot is chosen by earliest free time, then lowest index.
* Routing: ``round-robin`` (cyclic over ready replicas), ``least-outstanding`` (fewest requests
  at the replica, queued or in service; Envoy's least-request with a full scan), ``join-shortest-
  queue`` (shortest expected delay ``(outstanding + 1) / speed``; the same as least-outstanding
  when speeds are equal), each with a FCFS queue per replica; and ``shared-queue``, one FCFS queue
  at the load balancer feeding the slot of any ready replica that has been free longest (with c
  replicas of concurrency 1 this is exactly M/M/c). Ties go to the lowest index.
* At every window start, requests that have not started are re-dispatched with the new replica
  set and speeds, in arrival order: under per-replica routing to the replica that holds them
  (draining replicas finish their queue), under shared-queue through the load balancer (so a new
  replica takes waiting requests at once, and a draining or removed one hands its queue back).
* Timeout: a request whose wait (start - arrival) would exceed ``timeout_s`` leaves the queue at
  ``arrival + timeout_s`` as timed out; it never holds a slot. ``max_queue`` (optional) bounds the
  requests waiting at a replica (shared-queue: ``max_queue`` x ready replicas at the balancer); an
  arrival that finds it full is dropped.
* **No ready replica.** A request that arrives when no replica is ready waits at the load balancer
  (up to ``max_queue`` of them). When a replica is ready at a later window start, the held requests
  are dispatched first, in arrival order; a held request still waiting at ``arrival + timeout_s``
  times out then. Nothing is lost silently.
* ``remove_replica`` is a pod kill: requests in service there are dropped (counted as dropped);
  its queue is dropped too under per-replica routing, re-dispatched under shared-queue. The
  graceful path is `drain_replica`, then `remove_replica` once `is_drained`.

Accounting: arrivals count in the window they arrive; completions and timeouts in the window
whose ``(t_start, t_end]`` holds their time; at every window end
``arrived = served + timed_out + dropped + in_flight`` (cumulative), where in-flight requests are
queued, held or in service. Memory is bounded by the in-flight requests, never by the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gpusim.dataplane import _kernels as K
from gpusim.dataplane.histogram import Histogram, HistogramConfig

ROUTING = {
    "round-robin": K.ROUND_ROBIN,
    "least-outstanding": K.LEAST_OUTSTANDING,
    "join-shortest-queue": K.JOIN_SHORTEST_QUEUE,
    "shared-queue": K.SHARED_QUEUE,
}
ABSENT, READY, DRAINING = K.ABSENT, K.READY, K.DRAINING

_INITIAL_CAPACITY = 1024


@lru_cache(maxsize=16)
def _bin_tables(cfg: HistogramConfig) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, bin-guess table) of a histogram geometry, read-only: planes share them."""
    edges, btab = cfg.edges(), cfg.lookup()
    edges.flags.writeable = False
    btab.flags.writeable = False
    return edges, btab


@dataclass(frozen=True)
class WindowMetrics:
    """What one `DataPlane.serve` window produced. Per-replica arrays have length max_replicas.

    ``queued_*`` are requests waiting at each replica (always 0 under shared-queue, whose queue is
    ``lb_queue_*``); ``concurrency_* = in_service_* + queued_*`` is what a pod's queue-proxy sees.
    ``*_avg`` are time averages over the window, ``*_end`` the values at ``t_end_s``.
    ``utilisation`` = busy slot-seconds / (concurrency x window length).
    """

    t_start_s: float
    t_end_s: float
    arrived: int
    served: int
    timed_out: int
    dropped: int
    in_flight: int
    replica_state: np.ndarray
    in_service_avg: np.ndarray
    in_service_end: np.ndarray
    queued_avg: np.ndarray
    queued_end: np.ndarray
    utilisation: np.ndarray
    lb_queue_avg: float
    lb_queue_end: int
    latency: Histogram
    wait: Histogram

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    @property
    def ready(self) -> np.ndarray:
        """Boolean mask of the replicas that were ready in this window."""
        return self.replica_state == READY

    @property
    def concurrency_avg(self) -> np.ndarray:
        return self.in_service_avg + self.queued_avg

    @property
    def concurrency_end(self) -> np.ndarray:
        return self.in_service_end + self.queued_end

    @property
    def arrival_rate_rps(self) -> float:
        return self.arrived / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def completion_rate_rps(self) -> float:
        return self.served / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def in_system_avg(self) -> float:
        """Time-averaged requests in the system (queued anywhere or in service): L in Little's law."""
        return float(self.in_service_avg.sum() + self.queued_avg.sum() + self.lb_queue_avg)


class DataPlane:
    """Structure-of-arrays state of one service's replicas and queues; see the module docstring.

    The engine calls, in time order: `serve` for each window up to a control event, then the
    replica changes of that event (`add_replica`, `set_speed`, `drain_replica`, `remove_replica`),
    which take effect at the data plane's clock `now_s` (the end of the last window).
    """

    def __init__(
        self,
        max_replicas: int,
        concurrency: int = 1,
        routing: str = "shared-queue",
        timeout_s: float = math.inf,
        hist_config: HistogramConfig | None = None,
        *,
        max_queue: int | None = None,
        batch_slowdown: float = 0.0,
        start_s: float = 0.0,
    ):
        if int(max_replicas) < 1:
            raise ValueError(f"max_replicas must be >= 1, got {max_replicas}")
        if int(concurrency) < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if routing not in ROUTING:
            raise ValueError(f"routing must be one of {sorted(ROUTING)}, got {routing!r}")
        if not (timeout_s > 0):
            raise ValueError(f"timeout_s must be > 0 (math.inf for none), got {timeout_s}")
        if max_queue is not None and int(max_queue) < 0:
            raise ValueError(f"max_queue must be >= 0 or None, got {max_queue}")
        if not (0.0 <= batch_slowdown <= 1.0):
            raise ValueError(f"batch_slowdown must be in [0, 1], got {batch_slowdown}")
        self.max_replicas = R = int(max_replicas)
        self.concurrency = C = int(concurrency)
        self.routing = routing
        self.timeout_s = float(timeout_s)
        self.max_queue = None if max_queue is None else int(max_queue)
        self.batch_slowdown = float(batch_slowdown)
        self.hist_config = hist_config or HistogramConfig()
        self.now_s = float(start_s)

        # fixed-size state in two packed buffers (see `_kernels.service_window`); the names are views
        self._fs = np.zeros(2 + R + 2 * R * C, dtype=np.float64)
        self._js = np.zeros(5 + (R + 1) + 8 + R * C, dtype=np.int64)
        fs, js = self._fs, self._js
        self._pf, self.speed = fs[0:2], fs[2 : 2 + R]
        self._busy, self._sh_t = fs[2 + R : 2 + R + R * C], fs[2 + R + R * C : 2 + R + 2 * R * C]
        self._pi, self._outstanding, self._ist = js[0:5], js[5 : 6 + R], js[6 + R : 14 + R]
        self._sh_slot = js[14 + R : 14 + R + R * C]
        # the histogram's bin edges and bin-guess table (for the kernels' histogram updates): one
        # read-only pair per geometry, shared by every plane (50 services read one copy, not 50)
        self._edges, self._btab = _bin_tables(self.hist_config)
        # pi[4]: no max_queue, so the hot loop needs no scan of the waiting requests
        fast = max_queue is None
        self._pi[:] = [ROUTING[routing], C, R, -1 if max_queue is None else int(max_queue), int(fast)]
        self._pf[:] = [self.timeout_s, self.batch_slowdown]
        self._hist_size = self.hist_config.size

        self.state = np.zeros(R, dtype=np.int8)
        self._hf = np.zeros((_INITIAL_CAPACITY, 4), dtype=np.float64)
        self._hi = np.zeros((_INITIAL_CAPACITY, 3), dtype=np.int64)
        self._held_f = np.zeros((_INITIAL_CAPACITY, 2), dtype=np.float64)
        self._held_id = np.zeros(_INITIAL_CAPACITY, dtype=np.int64)
        self._ist[2] = R - 1  # round-robin starts at replica 0
        # cumulative (arrived, served, timed_out, dropped) and the requests dropped with replicas
        # removed since the last window (reported in the next window's dropped); the kernels add to it
        self._tot = np.zeros(5, dtype=np.int64)
        self.failed = 0  # requests lost with replicas removed by `remove_replica(idx, failed=True)`
        # per-window outputs, preallocated and zeroed at each window (views of two buffers)
        self._wf = np.zeros(2 + (R + 1) + R, dtype=np.float64)
        self._wi = np.zeros(4 + R + (R + 1), dtype=np.int64)
        self.acc_f, self.q_area, self.s_area = self._wf[:2], self._wf[2 : R + 3], self._wf[R + 3 :]
        self.acc_i, self.in_service_end, self.queued_end = self._wi[:4], self._wi[4 : R + 4], self._wi[R + 4 :]
        self._u_f = np.zeros((_INITIAL_CAPACITY, 2), dtype=np.float64)  # re-dispatch scratch (written before read)
        self._u_i = np.zeros((_INITIAL_CAPACITY, 2), dtype=np.int64)
        self._no_signals = np.zeros((4, R), dtype=np.float64)  # `sig` when the caller keeps none
        self.range_i = np.zeros(7, dtype=np.int64)  # `serve_range`'s figures (see there)
        self.range_f = np.zeros(2, dtype=np.float64)

    # ---- replica changes (between windows, at now_s) ----------------------------------------

    def _check_idx(self, idx: int) -> int:
        idx = int(idx)
        if not (0 <= idx < self.max_replicas):
            raise IndexError(f"replica index {idx} out of range [0, {self.max_replicas})")
        return idx

    def add_replica(self, now: float | None = None, speed: float = 1.0) -> int:
        """Make the lowest absent slot a ready replica with free slots from `now`; return its index.

        `now` defaults to the clock; a later time means the replica takes requests (they queue
        there) but starts serving only then.
        """
        now = self.now_s if now is None else float(now)
        if now < self.now_s - 1e-9 * max(1.0, abs(self.now_s)):
            raise ValueError(f"add_replica at {now} is before the data plane clock {self.now_s}")
        free = np.flatnonzero(self.state == ABSENT)
        if free.size == 0:
            raise RuntimeError(f"all {self.max_replicas} replica slots are in use")
        idx = int(free[0])
        self.set_speed(idx, speed)
        self.state[idx] = READY
        self._busy[idx * self.concurrency : (idx + 1) * self.concurrency] = now
        return idx

    def set_speed(self, idx: int, speed: float) -> None:
        """Work units per second of replica `idx` for requests that start from now on."""
        idx = self._check_idx(idx)
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be positive and finite, got {speed}")
        self.speed[idx] = float(speed)

    def drain_replica(self, idx: int) -> None:
        """Stop sending new requests to `idx`; it finishes what it holds."""
        idx = self._check_idx(idx)
        if self.state[idx] == ABSENT:
            raise ValueError(f"replica {idx} is absent")
        self.state[idx] = DRAINING

    def remove_replica(self, idx: int, failed: bool = False) -> int:
        """Free slot `idx` now; return the number of requests dropped with it (see module doc).

        ``failed=True``: the replica died with its node; its requests count in `failed`, not in
        ``totals["dropped"]`` (`conservation_gap` counts both).
        """
        idx = self._check_idx(idx)
        if self.state[idx] == ABSENT:
            raise ValueError(f"replica {idx} is absent")
        dropped = int(K.remove_replica(idx, self.now_s, self._pi[0], self._hf, self._hi, self._ist, self._outstanding))
        self.state[idx] = ABSENT
        if failed:
            self.failed += dropped
        else:
            self._tot[4] += dropped
            self._tot[3] += dropped
        return dropped

    def drained_at(self, idx: int) -> float:
        """Time the requests replica `idx` is committed to will be finished (now_s if none)."""
        idx = self._check_idx(idx)
        n = int(self._ist[0])
        hf, hi = self._hf[:n], self._hi[:n]
        mine = hi[:, 1] == idx
        if self._pi[0] == K.SHARED_QUEUE:  # not-started ones go back to the balancer
            mine &= (hi[:, 2] >= 0) & (hf[:, 2] <= self.now_s)
        return float(max(self.now_s, hf[mine, 0].max())) if mine.any() else self.now_s

    def is_drained(self, idx: int, now: float | None = None) -> bool:
        """True if replica `idx` holds no request that is still in flight at `now` (default: clock)."""
        now = self.now_s if now is None else float(now)
        return self.drained_at(idx) <= now

    @property
    def in_flight(self) -> int:
        """Requests queued, held or in service now."""
        return int(self._ist[0] + self._ist[1])

    def n_ready(self) -> int:
        return int((self.state == READY).sum())

    # ---- serving -----------------------------------------------------------------------------

    def _grow_heap(self, need: int) -> None:
        cap = self._hf.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap)
        hf = np.zeros((new, 4), dtype=np.float64)
        hi = np.zeros((new, 3), dtype=np.int64)
        hf[:cap] = self._hf
        hi[:cap] = self._hi
        self._hf, self._hi = hf, hi

    def _grow_held(self, need: int) -> None:
        cap = self._held_f.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap)
        held_f = np.zeros((new, 2), dtype=np.float64)
        held_id = np.zeros(new, dtype=np.int64)
        held_f[:cap] = self._held_f
        held_id[:cap] = self._held_id
        self._held_f, self._held_id = held_f, held_id

    def serve(self, arrival_s, work, t_end: float) -> WindowMetrics:
        """Serve the requests arriving in ``[now_s, t_end)`` (sorted) and advance the clock to t_end."""
        lat_hist = np.zeros(self._hist_size, dtype=np.int64)
        wait_hist = np.zeros(self._hist_size, dtype=np.int64)
        t0 = self.now_s
        dropped = self.serve_into(arrival_s, work, t_end, lat_hist, wait_hist)
        t1 = self.now_s
        R = self.max_replicas
        acc_i, acc_f = self.acc_i, self.acc_f
        in_service_avg, queued_avg, lb_avg, util = self.window_averages(t1 - t0)
        return WindowMetrics(
            t_start_s=t0,
            t_end_s=t1,
            arrived=int(acc_i[K.ARRIVED]),
            served=int(acc_i[K.SERVED]),
            timed_out=int(acc_i[K.TIMED_OUT]),
            dropped=dropped,
            in_flight=self.in_flight,
            replica_state=self.state.copy(),
            in_service_avg=in_service_avg,
            in_service_end=self.in_service_end.copy(),
            queued_avg=queued_avg,
            queued_end=self.queued_end[:R].copy(),
            utilisation=util,
            lb_queue_avg=lb_avg,
            lb_queue_end=int(self.queued_end[R]),
            latency=Histogram(self.hist_config, lat_hist, float(acc_f[K.LATENCY_SUM])),
            wait=Histogram(self.hist_config, wait_hist, float(acc_f[K.WAIT_SUM])),
        )

    def serve_into(
        self, arrival_s, work, t_end: float, lat_hist: np.ndarray, wait_hist: np.ndarray, signals=None
    ) -> int:
        """`serve` without building its `WindowMetrics`: the window's latencies and waits are *added*
        to the counts arrays `lat_hist` and `wait_hist` (int64, `hist_config.size`), its other outputs
        are left in `acc_i`, `acc_f`, `q_area`, `s_area`, `in_service_end` and `queued_end` (valid until
        the next window; `window_averages` turns them into `serve`'s averages). `signals`, a float64
        array of shape (4, max_replicas), gets each ready slot's (concurrency x dt, queued x dt,
        utilisation x dt, dt) added (`observe.SignalWindow.acc`). Returns the window's dropped
        requests (those of replicas removed since the last window included).
        """
        sig = self._no_signals if signals is None else signals
        arrival_s = np.ascontiguousarray(arrival_s, dtype=np.float64)
        work = np.ascontiguousarray(work, dtype=np.float64)
        t0, t1 = self.now_s, float(t_end)
        if arrival_s.ndim != 1 or arrival_s.shape != work.shape:
            raise ValueError("arrival_s and work must be 1-D arrays of the same length")
        if not t1 >= t0:
            raise ValueError(f"t_end {t1} is before the window start {t0}")
        n = arrival_s.shape[0]
        ist = self._ist
        acc_i = self.acc_i
        pending = int(ist[0] + ist[1])
        self._grow_heap(pending + 1)
        self._grow_held(pending + 1)
        if self._u_f.shape[0] < pending + 1:
            cap = max(pending + 1, 2 * self._u_f.shape[0])
            self._u_f = np.zeros((cap, 2), dtype=np.float64)
            self._u_i = np.zeros((cap, 2), dtype=np.int64)
        i = 0
        resume = False
        while True:
            i = int(
                K.service_window(
                    arrival_s,
                    work,
                    i,
                    resume,
                    t0,
                    t1,
                    self._fs,
                    self._js,
                    self._edges,
                    self._btab,
                    self.state,
                    self._hf,
                    self._hi,
                    self._held_f,
                    self._held_id,
                    self._u_f,
                    self._u_i,
                    self._wf,
                    self._wi,
                    lat_hist,
                    wait_hist,
                    sig,
                )  # fmt: skip
            )
            if i < 0:  # bad input (the kernel's check_window): nothing was changed
                raise ValueError(
                    {1: f"arrivals must lie in [{t0}, {t1})", 2: "arrival_s must be sorted"}.get(
                        -i, "work must be finite and >= 0"
                    )
                )
            if i >= n:
                break
            # a buffer filled up mid-window: grow it and resume at arrival i
            if ist[0] >= self._hf.shape[0]:
                self._grow_heap(2 * self._hf.shape[0])
            if ist[1] >= self._held_f.shape[0]:
                self._grow_held(2 * self._held_f.shape[0])
            resume = True

        dropped = int(acc_i[K.DROPPED]) + int(self._tot[4])
        tot = self._tot
        tot[:4] += acc_i  # arrived, served, timed_out, dropped (acc_i's layout)
        tot[4] = 0
        self.now_s = t1
        return dropped

    def serve_range(self, arrival_all, work_all, i: int, t_end: float, lat_hist, wait_hist, signals) -> bool:
        """`serve_into` of the requests ``arrival_all[i:j]`` arriving before `t_end` (sorted, contiguous
        float64 arrays; ``arrival_all[i]`` not before the clock), in one compiled call with the window's
        figures: True with ``range_i = (j, arrived, served, timed_out, dropped, ready replicas,
        queued at the end)`` (dropped includes those of replicas removed since the last window) and
        ``range_f = (latency sum, balancer queue time average)``; False, having changed nothing,
        when the buffers must grow first or the input is bad (call `serve_into`).
        """
        t0, t1 = self.now_s, float(t_end)
        if not t1 > t0:
            return False
        ri = self.range_i
        j = K.service_advance(arrival_all, work_all, i, t1, t0, self._fs, self._js, self._edges, self._btab, self.state,
                              self._hf, self._hi, self._held_f, self._held_id, self._u_f, self._u_i, self._wf, self._wi,
                              lat_hist, wait_hist, signals, ri, self.range_f, self._tot)  # fmt: skip
        if j < 0:
            if j == -2:
                raise RuntimeError("service_advance stopped part way despite its capacity check")
            return False
        self.now_s = t1  # the kernel added the window to the totals and the pending drops to range_i's
        return True

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative arrived, served, timed_out and dropped requests (a new dict each time)."""
        a, s, t, d, _ = self._tot.tolist()
        return {"arrived": a, "served": s, "timed_out": t, "dropped": d}

    def window_averages(self, dt: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """(in_service_avg, queued_avg, lb_queue_avg, utilisation) of the last window of length `dt`,
        as `WindowMetrics` carries them (new arrays; the values at the end when `dt` is 0).
        """
        R = self.max_replicas
        if dt > 0:
            in_service_avg = self.s_area / dt
            queued_avg = self.q_area[:R] / dt
            lb_avg = float(self.q_area[R] / dt)
            util = self.s_area / (self.concurrency * dt)
        else:
            in_service_avg = self.in_service_end.astype(np.float64)
            queued_avg = self.queued_end[:R].astype(np.float64)
            lb_avg = float(self.queued_end[R])
            util = self.in_service_end / self.concurrency
        return in_service_avg, queued_avg, lb_avg, util

    def conservation_gap(self) -> int:
        """Arrived - (served + timed_out + dropped + failed + in_flight), cumulative; 0 when nothing is lost."""
        t = self.totals
        return t["arrived"] - (t["served"] + t["timed_out"] + t["dropped"] + self.failed + self.in_flight)
