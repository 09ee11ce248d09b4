"""A Kubernetes-like scheduler: a pending queue and a scheduling cycle.

Pods wait in the pending queue in the scenario's order (fifo: arrival; priority: higher
priority first, then arrival). A cycle runs whenever something changes (a pod arrives, a pod
finishes): it walks the queue in order and binds every pod the placement policy can place, as
kube-scheduler does — a pod that does not fit does not block those behind it. Within one
cycle a request shape that failed is not tried again (the cluster only fills up during a
cycle), which keeps long queues cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from gpusim.cluster.state import ClusterState, Placement, PodRequest
from gpusim.placement import place


@dataclass(order=True)
class PendingPod:
    """A pod waiting to be bound; ordered by (sort key, arrival sequence)."""

    sort_key: tuple
    seq: int
    request: PodRequest = field(compare=False)
    on_bind: Callable[[Placement], None] = field(compare=False)


class Scheduler:
    """The pending queue plus the scheduling-cycle SimPy process."""

    def __init__(self, sim, cluster: ClusterState, policy: str, queue: str, on_change: Callable[[], None]):
        self.sim = sim
        self.env = sim.env
        self.cluster = cluster
        self.policy = policy
        self.queue_order = queue
        self.rng = sim.streams.stream("scheduler/placement")
        self.pending: list[PendingPod] = []
        self._seq = 0
        self._on_change = on_change
        self._wake = self.env.event()
        self.cycles = 0
        self.env.process(self._loop())

    def submit(self, request: PodRequest, priority: int, on_bind: Callable[[Placement], None]) -> None:
        """Add a pod to the pending queue and ask for a scheduling cycle."""
        key = (-priority,) if self.queue_order == "priority" else ()
        bisect.insort(self.pending, PendingPod(key, self._seq, request, on_bind))
        self._seq += 1
        self.kick()

    def kick(self) -> None:
        """Ask for a scheduling cycle at the current time (several asks coalesce into one)."""
        if not self._wake.triggered:
            self._wake.succeed()

    def _loop(self):
        while True:
            yield self._wake
            self._wake = self.env.event()
            self.cycle()

    def cycle(self) -> None:
        self.cycles += 1
        failed: set[PodRequest] = set()
        kept: list[PendingPod] = []
        bound = False
        for pod in self.pending:
            if pod.request in failed:
                kept.append(pod)
                continue
            placement = place(self.cluster, pod.request, self.policy, self.rng)
            if placement is None:
                failed.add(pod.request)
                kept.append(pod)
                continue
            self.cluster.bind(pod.request, placement)
            pod.on_bind(placement)
            bound = True
        self.pending = kept
        if bound:
            self._on_change()
