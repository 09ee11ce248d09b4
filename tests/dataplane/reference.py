"""Obviously-correct, slow reference for the data plane: a plain event-by-event simulation.

Real queues (deques) of request objects, slots that hold a request or sit free since some time,
and a loop that takes the next event in time order: a completion, an abandonment (a waiting
request reaching its deadline), or an arrival. Completions go before abandonments and both before
arrivals at the same instant; among completions the lowest (end time, slot) goes first. Counts and
time averages are integrated along the sample path. It implements the rules documented in
`gpusim.dataplane.plane` without the Lindley recursion, so the kernel is checked against it.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from gpusim.dataplane.histogram import HistogramConfig, histogram_of

ABSENT, READY, DRAINING = 0, 1, 2


class Req:
    def __init__(self, rid, a, w):
        self.id, self.a, self.w = rid, a, w
        self.s = None


class Slot:
    def __init__(self, free_since):
        self.req = None
        self.end = math.inf
        self.free_since = free_since


class Replica:
    def __init__(self, C, now, speed):
        self.state = READY
        self.speed = speed
        self.slots = [Slot(now) for _ in range(C)]
        self.queue = deque()

    def busy(self):
        return sum(1 for s in self.slots if s.req is not None)


class RefDataPlane:
    def __init__(
        self,
        max_replicas,
        concurrency,
        routing,
        timeout_s=math.inf,
        hist_config=None,
        *,
        max_queue=None,
        batch_slowdown=0.0,
        start_s=0.0,
    ):
        self.R, self.C, self.routing = max_replicas, concurrency, routing
        self.T, self.max_q, self.alpha = timeout_s, max_queue, batch_slowdown
        self.cfg = hist_config or HistogramConfig()
        self.now = start_s
        self.reps = [None] * max_replicas
        self.lb = deque()  # shared queue and held requests
        self.rr = max_replicas - 1
        self.next_id = 0
        self.pending_dropped = 0

    # control
    def add_replica(self, now=None, speed=1.0):
        idx = next(i for i in range(self.R) if self.reps[i] is None)
        self.reps[idx] = Replica(self.C, self.now, speed)
        return idx

    def set_speed(self, idx, speed):
        self.reps[idx].speed = speed

    def drain_replica(self, idx):
        self.reps[idx].state = DRAINING

    def remove_replica(self, idx):
        rep = self.reps[idx]
        dropped = rep.busy() + len(rep.queue)
        self.reps[idx] = None
        self.pending_dropped += dropped
        return dropped

    # helpers
    def _ready(self):
        return [i for i, r in enumerate(self.reps) if r is not None and r.state == READY]

    def _outstanding(self, i):
        r = self.reps[i]
        return r.busy() + len(r.queue)

    def _start(self, rep_idx, slot_idx, req, t):
        rep = self.reps[rep_idx]
        n_active = 1 + rep.busy()
        slot = rep.slots[slot_idx]
        req.s = t
        slot.req = req
        slot.end = t + req.w / rep.speed * (1.0 + self.alpha * (n_active - 1))
        if slot.end == t:  # zero service time: done at once, the slot is free again (free since t)
            slot.req, slot.end, slot.free_since = None, math.inf, t
            self._complete(req, t)

    def _complete(self, req, t):
        self.m["served"] += 1
        self.lat.append(t - req.a)
        self.wait.append(req.s - req.a)

    def _try_start(self, t):
        if self.routing == "shared-queue":
            while self.lb:
                best = None
                for i in self._ready():
                    for k, sl in enumerate(self.reps[i].slots):
                        if sl.req is None:
                            key = (sl.free_since, i * self.C + k)
                            if best is None or key < best[0]:
                                best = (key, i, k)
                if best is None:
                    return
                self._start(best[1], best[2], self.lb.popleft(), t)
        else:
            for i, rep in enumerate(self.reps):
                if rep is None:
                    continue
                while rep.queue:
                    free = [(sl.free_since, k) for k, sl in enumerate(rep.slots) if sl.req is None]
                    if not free:
                        break
                    self._start(i, min(free)[1], rep.queue.popleft(), t)

    def _route(self):
        ready = self._ready()
        if self.routing == "round-robin":
            for k in range(1, self.R + 1):
                c = (self.rr + k) % self.R
                if c in ready:
                    self.rr = c
                    return c
        if self.routing == "least-outstanding":
            return min(ready, key=lambda i: (self._outstanding(i), i))
        return min(ready, key=lambda i: ((self._outstanding(i) + 1.0) / self.reps[i].speed, i))

    def _counts(self):
        ins = np.zeros(self.R)
        qd = np.zeros(self.R)
        for i, rep in enumerate(self.reps):
            if rep is not None:
                ins[i] = rep.busy()
                qd[i] = len(rep.queue)
        return ins, qd, len(self.lb)

    def _advance(self, t):
        dt = t - self.clock
        if dt > 0:
            ins, qd, lb = self._counts()
            self.a_ins += ins * dt
            self.a_q += qd * dt
            self.a_lb += lb * dt
        self.clock = t

    def _waiting(self):
        out = list(self.lb)
        for rep in self.reps:
            if rep is not None:
                out.extend(rep.queue)
        return out

    def serve(self, arr, work, t1):
        t0 = self.now
        self.clock = t0
        self.a_ins = np.zeros(self.R)
        self.a_q = np.zeros(self.R)
        self.a_lb = 0.0
        self.lat, self.wait = lat, wait = [], []
        self.m = m = {"arrived": 0, "served": 0, "timed_out": 0, "dropped": self.pending_dropped}
        self.pending_dropped = 0
        # window start: held requests go to the replicas, free slots take waiting requests
        if self.routing != "shared-queue" and self._ready():
            while self.lb:
                req = self.lb.popleft()
                self.reps[self._route()].queue.append(req)
        self._try_start(t0)
        i, n = 0, len(arr)
        while True:
            done = None
            for ri, rep in enumerate(self.reps):
                if rep is None:
                    continue
                for k, sl in enumerate(rep.slots):
                    if sl.req is not None and (done is None or (sl.end, ri * self.C + k) < done[0]):
                        done = ((sl.end, ri * self.C + k), ri, k)
            t_done = done[0][0] if done else math.inf
            waiting = self._waiting()
            t_ab = min((r.a + self.T for r in waiting), default=math.inf)
            t_arr = arr[i] if i < n else math.inf
            t = min(t_done, t_ab)
            if t <= t1 and t <= t_arr:
                self._advance(t)
                if t_done <= t_ab:
                    # every completion at this instant first, so a request starting now sees them gone
                    for rep in self.reps:
                        for sl in rep.slots if rep is not None else ():
                            if sl.req is not None and sl.end == t:
                                req = sl.req
                                sl.req, sl.end, sl.free_since = None, math.inf, t
                                self._complete(req, t)
                else:
                    for q in [self.lb] + [rep.queue for rep in self.reps if rep is not None]:
                        for req in list(q):
                            if req.a + self.T == t:
                                q.remove(req)
                                m["timed_out"] += 1
                self._try_start(t)
            elif t_arr < t1:
                self._advance(t_arr)
                req = Req(self.next_id, t_arr, work[i])
                self.next_id += 1
                i += 1
                m["arrived"] += 1
                ready = self._ready()
                if not ready:
                    if self.max_q is not None and len(self.lb) >= self.max_q:
                        m["dropped"] += 1
                    else:
                        self.lb.append(req)
                elif self.routing == "shared-queue":
                    if self.max_q is not None and len(self.lb) >= self.max_q * len(ready):
                        m["dropped"] += 1
                    else:
                        self.lb.append(req)
                else:
                    r = self._route()
                    if self.max_q is not None and len(self.reps[r].queue) >= self.max_q:
                        m["dropped"] += 1
                    else:
                        self.reps[r].queue.append(req)
                self._try_start(t_arr)
            else:
                break
        self._advance(t1)
        self.now = t1
        ins, qd, lb = self._counts()
        dt = t1 - t0
        m.update(
            in_flight=int(ins.sum() + qd.sum() + lb),
            in_service_end=ins,
            queued_end=qd,
            lb_queue_end=lb,
            in_service_avg=self.a_ins / dt if dt > 0 else ins,
            queued_avg=self.a_q / dt if dt > 0 else qd,
            lb_queue_avg=self.a_lb / dt if dt > 0 else float(lb),
            latency_counts=histogram_of(lat, self.cfg),
            wait_counts=histogram_of(wait, self.cfg),
            latency_sum=float(sum(lat)),
            wait_sum=float(sum(wait)),
        )
        return m
