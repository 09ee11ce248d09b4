"""Sharing-mode tenancy of training jobs: time-slice co-tenants and dynamic MIG re-partitioning.

Two run components the training jobs consult when a pod starts, stops or is released:

- `TimeSliceTenancy`: who is active on each time-sliced GPU and how much GPU memory they use
  (tenants share compute by time slices and memory without isolation); it answers whether a new
  tenant fits in memory and which tenants must be re-timed when one joins or leaves.
- `DynamicMig`: MIG instances that exist per GPU of a `config: dynamic` pool; a pod bound to slices
  with no instance of its profile waits while the GPU drains (no new pods; running ones finish),
  then for the re-partition time. It hooks the cluster's releases (any pod leaving a draining GPU)
  and calls `on_ready(run)` when a waiting job may start, `on_change()` after a re-partition and
  `kick()` so the scheduler retries (the GPU's slices are free again).
"""

from __future__ import annotations

from collections.abc import Callable

from gpusim.cluster.state import MIG_COMPUTE_SLICES, MIG_MEMORY_SLICES, SHARING_MIG, ClusterState, mig_masks

MIG_MEMORY_FULL = (1 << MIG_MEMORY_SLICES) - 1  # every memory slice taken (0xFF)
MIG_COMPUTE_FULL = (1 << MIG_COMPUTE_SLICES) - 1  # every compute slice taken (0x7F)


class TimeSliceTenancy:
    """Active tenants and committed memory per time-sliced GPU (keys: job ids or replica tuples)."""

    def __init__(self, cluster: ClusterState):
        self.cluster = cluster
        self.tenants: dict[int, set] = {}
        self.memory: dict[int, int] = {}

    def fits_memory(self, gpus, need_mib: int) -> bool:
        """Would a tenant using `need_mib` on each of `gpus` stay within their memory?"""
        total = self.cluster.gpu_mem_total
        return not any(self.memory.get(g, 0) + need_mib > total[g] for g in gpus)

    def n_tenants(self, g: int) -> int:
        return len(self.tenants.get(g, ()))

    def join(self, key, gpus, memory_mib: int) -> set:
        """`key` becomes active on `gpus`; returns every tenant there (to be re-timed)."""
        for g in gpus:
            self.tenants.setdefault(g, set()).add(key)
            self.memory[g] = self.memory.get(g, 0) + memory_mib
        return {j for g in gpus for j in self.tenants[g]}

    def leave(self, key, gpus, memory_mib: int) -> set:
        """`key` leaves `gpus`; returns the tenants that remain there (to be re-timed)."""
        for g in gpus:
            self.tenants[g].discard(key)
            self.memory[g] -= memory_mib
        return {j for g in gpus for j in self.tenants[g]}


class DynamicMig:
    """MIG instances per GPU of dynamic-MIG pools, and the drains and re-partitions that change them."""

    def __init__(self, env, cluster: ClusterState, pools: dict, catalog, on_ready: Callable, on_change: Callable,
                 kick: Callable):  # fmt: skip
        self.env = env
        self.cluster = cluster
        self.pools = pools
        self.catalog = catalog
        self.on_ready = on_ready
        self.on_change = on_change
        self.kick = kick
        self.instances: dict[int, dict[int, str]] = {}  # GPU -> start -> profile
        self.draining: dict[int, list[int]] = {}  # GPU being drained -> actual slice masks while blocked
        self.waiting: dict[int, list] = {}  # GPU -> job runs waiting for its re-partition
        self.reconfiguring: set[int] = set()
        self.reconfigurations = 0

    def connect(self) -> None:
        """Watch every release of a MIG pod on the cluster (jobs, replicas, evicted placeholders)."""
        self.cluster.release_hooks.append(self.after_release)

    def config(self, node: int):
        """The node's sharing mode if it re-partitions on demand (dynamic MIG), else None."""
        mode = self.pools[self.cluster.pool_names[self.cluster.node_pool[node]]].sharing
        return mode if mode.reconfigure_time is not None else None

    def needs_repartition(self, run) -> bool:
        """Dynamic MIG: a pod bound to slices where no instance of its profile exists waits while the
        GPU drains (no new pods; running ones finish), then for the re-partition time.
        """
        waiting = False
        profile = run.alt.offer.mig_profile
        for p in run.placements:
            if self.config(p.node) is None:
                continue
            g = p.gpus[0]
            if self.instances.get(g, {}).get(p.mig_start) == profile:
                continue
            waiting = True
            run.gpus_waiting.add(g)
            self.waiting.setdefault(g, []).append(run)
            if g not in self.draining:
                c = self.cluster
                self.draining[g] = [int(c.gpu_mig_mem_used[g]), int(c.gpu_mig_compute_used[g])]
                self._block_gpu(g)
            self._check_drained(g)
        return waiting

    def _block_gpu(self, g: int) -> None:
        """No new MIG instance on a GPU being re-partitioned: its slice masks read full (the real
        use is kept in `draining`; the free milli-GPU stays the real one for the metrics).
        """
        c = self.cluster
        c.gpu_mig_mem_used[g] = MIG_MEMORY_FULL
        c.gpu_mig_compute_used[g] = MIG_COMPUTE_FULL
        c.touch(int(c.gpu_node[g]))

    def after_release(self, req, placement) -> None:
        """Any pod leaving a draining GPU (a job, a replica, an evicted placeholder): remember its
        slices are free, keep the GPU blocked, and see whether the drain is complete.
        """
        if req.sharing != SHARING_MIG or not placement.gpus:
            return
        g = placement.gpus[0]
        if g not in self.draining:
            return
        mem, comp = mig_masks(req.mig_compute, req.mig_memory, placement.mig_start)
        self.draining[g][0] &= ~mem
        self.draining[g][1] &= ~comp
        self._block_gpu(g)
        self._check_drained(g)

    def _check_drained(self, g: int) -> None:
        # drained: every pod bound to the GPU is one waiting for the re-partition
        waiting = len(self.waiting.get(g, ()))
        if g in self.reconfiguring or int(self.cluster.gpu_tenants[g]) > waiting:
            return
        self.reconfiguring.add(g)
        node = int(self.cluster.gpu_node[g])
        ev = self.env.timeout(self.config(node).reconfigure_time)
        ev.callbacks.append(lambda _e, g=g: self._repartitioned(g))

    def _repartitioned(self, g: int) -> None:
        c = self.cluster
        self.reconfigurations += 1
        instances = self.instances.setdefault(g, {})
        for run in self.waiting.pop(g, []):
            p = next(pl for pl in run.placements if pl.gpus[0] == g)
            o = run.alt.offer
            mem, comp = mig_masks(o.mig_compute, o.mig_memory, p.mig_start)
            for start, name in list(instances.items()):  # instances overlapping the new one go
                prof = self._profile(run, name)
                m2, c2 = mig_masks(prof.compute_slices, prof.memory_slices, start)
                if m2 & mem or c2 & comp:
                    del instances[start]
            instances[p.mig_start] = o.mig_profile
            run.gpus_waiting.discard(g)
            if not run.gpus_waiting:
                self.on_ready(run)
        mem_used, comp_used = self.draining.pop(g)
        self.reconfiguring.discard(g)
        c.gpu_mig_mem_used[g] = mem_used
        c.gpu_mig_compute_used[g] = comp_used
        c.touch(int(c.gpu_node[g]))
        self.on_change()
        self.kick()

    def forget(self, run) -> None:
        """A job waiting for re-partitions was evicted (its node failed): it waits no more."""
        for g in sorted(run.gpus_waiting):
            lst = self.waiting.get(g)
            if lst is not None and run in lst:
                lst.remove(run)
        run.gpus_waiting.clear()

    def collect(self, end_s: float) -> dict:
        return {"summary": {"mig_reconfigurations": self.reconfigurations}}

    def _profile(self, run, name: str):
        node = run.placements[0].node
        return self.catalog.gpu(self.cluster.gpu_model_ids[self.cluster.node_gpu_model[node]]).mig.profile(name)
