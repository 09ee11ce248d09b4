"""A Kubernetes-like scheduler: a pending queue and a scheduling cycle.

Pods wait in the pending queue in the scenario's order (fifo: arrival; priority: higher
priority first, then arrival). A pod that does not fit does not block those behind it, as in
kube-scheduler. Like kube-scheduler's unschedulable queue, pods that failed are retried only
after an event that frees resources (a pod finishing, a node arriving); a newly arrived pod is
tried at once.

Within one cycle the cluster only fills up, so a pod shape that failed is not tried again, and
a pod that asks more than the largest free amount on any ready node it could use (idle GPUs,
free share of one GPU, CPU, memory, over its candidate nodes; over every node for `random`, which
draws on every attempt) is skipped without calling the placement policy. Both are necessary
conditions, so pruning never changes a decision; it keeps long queues cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gpusim.cluster._scan import largest_free
from gpusim.cluster.state import NODE_READY, SHARING_NONE, ClusterState, Placement, PodRequest
from gpusim.placement import bind_gang, candidates, draws_on_every_attempt, place, place_gang


@dataclass(order=True)
class PendingPod:
    """A pod group waiting to be bound (one pod, or the pods of a gang-scheduled job); ordered by
    (sort key, arrival sequence).
    """

    sort_key: tuple
    seq: int
    alternatives: list[tuple[PodRequest, ...]] = field(compare=False)
    on_bind: Callable[[int, list[Placement]], None] = field(compare=False)
    shapes: list[tuple[tuple, tuple]] = field(compare=False, default_factory=list)
    priority: int = field(compare=False, default=0)
    preemptible: bool = field(compare=False, default=False)
    ca_pools: frozenset | None = field(compare=False, default=None)  # the Cluster Autoscaler's cache


def _may_fit(constraints: tuple, size: tuple, caps: tuple) -> bool:
    """Necessary condition: some ready node has at least what one pod of the group asks."""
    gpus, milli, cpu, mem = size
    idle, share, cpu_free, mem_free = caps
    if cpu > cpu_free or mem > mem_free:
        return False
    if gpus and constraints[4] == SHARING_NONE:
        if milli >= 1000 and gpus > idle:
            return False
        if milli < 1000 and milli > share:
            return False
    return True


def _shape(requests: tuple[PodRequest, ...]) -> tuple[tuple, tuple]:
    r = requests[0]
    constraints = (len(requests), r.gpu_model_mask, r.selector_mask, r.toleration_mask, r.sharing, r.mig_compute,
                   r.mig_memory, r.mig_starts_mask)  # fmt: skip
    return constraints, (r.gpus, r.gpu_milli if r.gpus else 0, r.cpu_milli, r.memory_mib)


class Scheduler:
    """The pending queue plus the scheduling-cycle SimPy process.

    Lifecycle: build (`Scheduler(env, cluster, policy, queue, rng, on_change)`; `rng` is the
    placement policy's random stream, `on_change` is called after a cycle bound pods), `start()`
    (the cycle process), then `collect(end_s)` (the preemption count; cycles for the run info).
    """

    def __init__(self, env, cluster: ClusterState, policy: str, queue: str, rng, on_change: Callable[[], None]):
        self.env = env
        self.cluster = cluster
        self.policy = policy
        self._every_node = draws_on_every_attempt(policy)  # the free-room filter's nodes (see _largest_free)
        self.queue_order = queue
        self.rng = rng
        self.pending: list[PendingPod] = []
        self.pending_version = 0  # bumped whenever `pending` changes (submit, cancel, a cycle that binds)
        self._new: list[PendingPod] = []
        self._retry_all = False
        self._seq = 0
        self._on_change = on_change
        self._wake = self.env.event()
        self.cycles = 0
        self.attempts = 0
        self.preemptions = 0
        self._evict_callbacks: dict[int, Callable[[], None]] = {}
        self.bound_placeholders: list[tuple[int, int, tuple, list[Placement]]] = []  # (seq, priority, reqs, placements)

    def start(self) -> None:
        self.env.process(self._loop())

    def collect(self, end_s: float) -> dict:
        return {"summary": {"preemptions": self.preemptions}, "info": {"scheduling_cycles": self.cycles}}

    def submit(
        self,
        alternatives: list[tuple[PodRequest, ...]],
        priority: int,
        on_bind: Callable[[int, list[Placement]], None],
        *,
        on_evict: Callable[[], None] | None = None,
    ) -> None:
        """Add a pod group to the pending queue and ask for a scheduling cycle.

        `alternatives`: the group's requests for each kind of node that can serve it (e.g. whole
        GPUs, or time-slice replicas), tried in order; `on_bind(index, placements)` says which.
        """
        key = (-priority,) if self.queue_order == "priority" else ()
        pod = PendingPod(key, self._seq, list(alternatives), on_bind, [_shape(a) for a in alternatives], priority)
        if on_evict is not None:  # a placeholder: bound placeholders can be preempted by higher-priority pods
            pod.preemptible = True
            self._evict_callbacks[pod.seq] = on_evict
        bisect.insort(self.pending, pod)
        self.pending_version += 1
        self._new.append(pod)
        self.last_ticket = pod.seq
        self._seq += 1
        self._wake_up()

    def cancel(self, ticket: int) -> bool:
        """Remove a pending pod group (e.g. a replica scaled down before it was bound)."""
        before = len(self.pending)
        self.pending = [p for p in self.pending if p.seq != ticket]
        self.pending_version += 1
        self._new = [p for p in self._new if p.seq != ticket]
        return len(self.pending) < before

    def evict_node(self, node: int) -> int:
        """A node failed: its bound placeholders are released and recreated (pending again), as the
        Deployment does; returns how many.
        """
        victims = [v for v in self.bound_placeholders if any(p.node == node for p in v[3])]
        for v in victims:
            for req, p in zip(v[2], v[3], strict=True):
                self.cluster.release(req, p)
            self.bound_placeholders.remove(v)
            self._evict_callbacks.pop(v[0])()
        return len(victims)

    def kick(self) -> None:
        """Resources were freed: retry every pending pod at the current time."""
        self._retry_all = True
        self._wake_up()

    def _wake_up(self) -> None:
        if not self._wake.triggered:  # several asks at one time coalesce into one cycle
            self._wake.succeed()

    def _preempt_for(self, pod: PendingPod, requests) -> list[Placement] | None:
        """kube-scheduler preemption, reduced to placeholders: evict lower-priority placeholder pods
        (newest first) until the pod fits; keep the ones its placement does not need.
        """
        victims = [v for v in self.bound_placeholders if v[1] < pod.priority]
        released = []
        placements = None
        for v in reversed(victims):
            for req, p in zip(v[2], v[3], strict=True):
                self.cluster.release(req, p)
            released.append(v)
            if len(requests) == 1:
                p = place(self.cluster, requests[0], self.policy, self.rng)
                placements = None if p is None else [p]
            else:
                placements = place_gang(self.cluster, list(requests), self.policy, self.rng)
            if placements is not None:
                break
        if placements is not None:  # reserve the pod's room, then put back what still fits
            bind_gang(self.cluster, list(requests), placements)
        evicted = []
        for v in released:
            try:
                bind_gang(self.cluster, list(v[2]), v[3])
            except ValueError:
                evicted.append(v)
        if placements is not None:
            for req, p in zip(requests, placements, strict=True):
                self.cluster.release(req, p)  # the caller binds it
        for v in evicted:
            self.bound_placeholders.remove(v)
            self.preemptions += 1
            callback = self._evict_callbacks.pop(v[0])
            self.env.process(_later(self.env, callback))
        return placements

    def _largest_free(self, shape: tuple, req: PodRequest, caps: dict) -> tuple[int, int, int, int]:
        """`largest_free` over the nodes that could take `req` (`placement.candidates`: a pod for one
        pool looks at that pool's nodes), kept in `caps` until the next bind per what the candidates
        depend on (the pod's constraints, and whether it asks for GPUs: see `_shape`). Over every
        node for a policy that draws on every attempt (`random`): a tighter filter would skip
        attempts, and so draws, that it has always made.
        """
        key = None if self._every_node else (shape[0], shape[1][0] > 0)
        got = caps.get(key)
        if got is None:
            c = self.cluster
            nodes = np.arange(c.n_nodes) if self._every_node else candidates(c, req)
            got = largest_free(c.node_state, c.node_gpus_idle, c.node_cpu_free, c.node_mem_free, c.node_gpu_start,
                               c.node_gpu_count, c.gpu_free_milli, nodes, NODE_READY)  # fmt: skip
            caps[key] = got
        return got

    def _loop(self):
        while True:
            yield self._wake
            self._wake = self.env.event()
            self.cycle()

    def cycle(self) -> None:
        self.cycles += 1
        if self._retry_all:
            candidates = self.pending
        else:
            candidates = sorted(self._new)
        self._retry_all = False
        self._new = []
        failed: set[tuple] = set()
        placed: set[int] = set()
        caps: dict = {}  # largest free room per candidate nodes, computed on first need, cleared by each bind
        for pod in candidates:
            for i, requests in enumerate(pod.alternatives):
                shape = pod.shapes[i]
                if shape in failed:
                    continue
                can_preempt = (
                    bool(self.bound_placeholders)
                    and not pod.preemptible
                    and any(v[1] < pod.priority for v in self.bound_placeholders)
                )
                if not can_preempt and not _may_fit(shape[0], shape[1], self._largest_free(shape, requests[0], caps)):
                    continue
                self.attempts += 1
                if len(requests) == 1:
                    p = place(self.cluster, requests[0], self.policy, self.rng)
                    placements = None if p is None else [p]
                else:  # gang: all pods at once or none, holding nothing while it waits
                    placements = place_gang(self.cluster, list(requests), self.policy, self.rng)
                if placements is None and self.bound_placeholders and not pod.preemptible:
                    placements = self._preempt_for(pod, requests)
                if placements is None:
                    failed.add(shape)
                    continue
                bind_gang(self.cluster, list(requests), placements)
                if pod.preemptible:
                    self.bound_placeholders.append((pod.seq, pod.priority, requests, placements))
                pod.on_bind(i, placements)
                placed.add(pod.seq)
                caps.clear()
                break
        if placed:
            self.pending = [p for p in self.pending if p.seq not in placed]
            self.pending_version += 1
            self._on_change()


def _later(env, callback):
    """Run `callback` as its own event at the current time (not inside the scheduling cycle)."""
    yield env.timeout(0)
    callback()
