"""The scheduler's free-room filter skips pods that cannot fit without calling the policy. It must
never change a decision, and so never the random numbers a policy draws: `random` draws two for
every attempt, feasible or not, so its filter is the one over every Ready node that it always was
(a pod for a full pool is still attempted while another pool has room). Other policies draw
nothing and filter over the pod's own candidate nodes.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from gpusim.cluster.state import ClusterState
from gpusim.sim.scheduler import Scheduler


class CountingRng:
    """A numpy Generator that counts the numbers `random` hands out."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)
        self.drawn = 0

    def random(self, size=None):
        self.drawn += 1 if size is None else int(np.prod(size))
        return self._rng.random(size)


def _cluster() -> ClusterState:
    s = ClusterState()
    for pool in ("a", "b"):
        s.add_nodes(pool, 1, cpu_milli=64000, memory_mib=262144, gpus=8, gpu_model="m", gpu_memory_mib=80000,
                    labels={"role": pool})  # fmt: skip
    return s


@pytest.mark.parametrize("policy, draws", [("random", 2), ("best-fit", 0)])
def test_a_pod_for_a_full_pool_draws_what_it_always_drew(policy, draws):
    s = _cluster()
    full = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=8, gpu_models=["m"], node_selector={"role": "b"})
    s.bind(full, _only_fit(s, full))
    env = simpy.Environment()
    rng = CountingRng(0)
    sched = Scheduler(env, s, policy, "fifo", rng, lambda: None)
    bound = []
    want_b = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_models=["m"], node_selector={"role": "b"})
    sched.submit([(want_b,)], 0, lambda i, ps: bound.append(ps))
    sched.cycle()
    assert bound == []  # pool b is full: the pod waits
    assert rng.drawn == draws


def _only_fit(s: ClusterState, req):
    from gpusim.placement import place

    p = place(s, req, "best-fit", np.random.default_rng(0))
    assert p is not None
    return p
