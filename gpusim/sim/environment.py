"""One `SimEnvironment` per run owns everything the run touches: the SimPy clock, the validated
scenario, the random streams, the cluster state and the recorder. Nothing is global, so two
simulations in one process never interfere.
"""

from __future__ import annotations

import simpy

from gpusim.cluster.state import NODE_GONE, NODE_READY, ClusterState
from gpusim.hardware import Catalog, load_catalog
from gpusim.metrics.recorder import Recorder
from gpusim.scenario.models import Scenario
from gpusim.sim.random import RandomStreams
from gpusim.sim.sharing import UNIT_LABEL, pool_sharing, pool_unit, replicas, units_and_memory


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for benchmarks)."""

    def __init__(self):
        super().__init__()
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()


class SimEnvironment:
    """The run's world: clock, scenario, random streams, cluster and recorder."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        catalog: Catalog | None = None,
        *,
        env: simpy.Environment | None = None,
        stream_prefix: str = "",
    ):
        """`env`: an existing clock to share (several clusters of one multi-cluster run); its events
        are counted only if it is a `CountingEnvironment`. `stream_prefix`: prepended to every random
        stream's name (``cluster/<member>/``), so one member's numbers never depend on another's.
        """
        self.scenario = scenario
        self.seed = seed
        self.env = env if env is not None else CountingEnvironment()
        self.streams = RandomStreams(seed, stream_prefix)
        self.catalog = catalog or load_catalog(scenario.catalog)
        self.cluster = build_cluster(scenario, self.catalog)
        self.recorder = Recorder(scenario.output.timeseries_interval)

    @property
    def now(self) -> float:
        return self.env.now


def build_cluster(scenario: Scenario, catalog: Catalog) -> ClusterState:
    """Cluster state with every node pool's nodes, ready at time 0."""
    state = ClusterState(pool_names=[p.name for p in scenario.cluster.node_pools])
    for pool in scenario.cluster.node_pools:
        labels = dict(pool.labels)
        gpu = catalog.gpu(pool.gpu_model) if pool.gpu_model is not None else None
        devices, mem_gib = units_and_memory(pool, gpu)
        if gpu is not None:
            labels[UNIT_LABEL] = pool_unit(pool)
        template = pool.count == 0  # a pool with no nodes yet keeps one gone node as its shape
        state.add_nodes(
            pool.name,
            pool.count or 1,
            cpu_milli=pool.vcpu,
            memory_mib=pool.memory,
            gpus=devices,
            gpu_model=pool.gpu_model,
            gpu_memory_mib=int(mem_gib * 1024),
            labels=labels,
            sharing=pool_sharing(pool),
            ts_replicas=replicas(pool),
            state=NODE_GONE if template else NODE_READY,
            taints=[(t.key, t.value, t.effect) for t in pool.taints],
        )
    return state
