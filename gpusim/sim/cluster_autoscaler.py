"""Node lifecycle, the Kubernetes Cluster Autoscaler, and billing.

Every node is billed from the moment it is requested (time 0 for the scenario's initial nodes)
until it is gone, so capacity paid for while it boots or waits out the scale-down delay shows up
in the cost. Per-hour billing rounds each node's billed time up to whole hours.

Cluster Autoscaler (one scan every `scan_interval`):

- scale-up: pending pod groups that no ready node can take now are packed (first fit, GPUs,
  CPU and memory) onto the free room of nodes still provisioning, then onto new nodes of the
  pool the expander picks among the autoscaled pools whose empty node could host the group
  (least-waste: fewest GPUs then CPU left idle on the new node; price: cheapest node; priority:
  highest `priorities` value; random), within each pool's `max`. New nodes are ready after the
  pool's provisioning lag.
- scale-down: a ready node of an autoscaled pool with no pods for `scale_down_unneeded_time`,
  when no scale-up happened within `scale_down_delay_after_add`, is removed, keeping `min`.

Simplifications, stated: only empty nodes are removed (no pod migration), and the expander
scores whole pod groups, not the upstream per-node-group simulation of every pending pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpusim.cluster.state import (
    NODE_GONE,
    NODE_PROVISIONING,
    NODE_READY,
    SHARING_MIG,
    SHARING_NONE,
    SHARING_TIMESLICE,
    ClusterState,
    PodRequest,
)
from gpusim.scenario.models import NodePool
from gpusim.sim.workload import sample_durations

NODE_COLUMNS = ["node", "pool", "requested_s", "ready_s", "removed_s", "usd_per_hour", "billed_hours", "cost_usd"]
"""Columns of the `nodes` table: one row per node that ever existed."""


@dataclass
class NodeRecord:
    node: int
    pool: str
    requested_s: float
    ready_s: float
    removed_s: float = math.nan
    usd_per_hour: float = 0.0


class NodeManager:
    """Adds, readies and removes nodes; bills them; runs the Cluster Autoscaler when any pool autoscales."""

    def __init__(self, run):
        self.run = run
        self.env = run.env
        self.cluster: ClusterState = run.cluster
        self.sim = run.sim
        sc = run.sim.scenario
        self.cfg = sc.cluster.autoscaler
        self.billing = sc.cluster.billing
        self.pools = {p.name: p for p in sc.cluster.node_pools}
        self.records: list[NodeRecord] = []
        self.rng = run.sim.streams.stream("cluster-autoscaler/expander")
        self.lag_rng = run.sim.streams.stream("cluster-autoscaler/provisioning")
        self.empty_since: dict[int, float] = {}
        self.last_scale_up = -math.inf
        self.scale_ups = 0
        self.scale_downs = 0
        self.templates: dict[str, int] = {}
        for i in range(self.cluster.n_nodes):
            pool = self.cluster.pool_names[self.cluster.node_pool[i]]
            if self.cluster.node_state[i] == NODE_GONE:
                self.templates[pool] = i  # a pool with no nodes keeps a template to test fits against
                continue
            self.templates.setdefault(pool, i)
            self.records.append(NodeRecord(i, pool, 0.0, 0.0, usd_per_hour=self.price(self.pools[pool])))
        # kept as counters: the engine samples them at every event
        self._billed_count = len(self.records)
        self._ready_count = len(self.records)
        self.autoscaled = any(p.autoscaling is not None for p in self.pools.values())
        if self.autoscaled:
            self.env.process(self._loop())

    def could_host(self, req: PodRequest) -> bool:
        """Could an autoscaled pool's empty node take this pod (so it is worth waiting for)?"""
        for name, pool in self.pools.items():
            if pool.autoscaling is None or pool.autoscaling.max == 0 or name not in self.templates:
                continue
            tmpl = self.templates[name]
            if self._static_ok(tmpl, req) and _take(_capacity(self.cluster, tmpl, req), req):
                return True
        return False

    # ------------------------------------------------------------------ prices and lags
    def price(self, pool: NodePool) -> float:
        if pool.price_per_hour is not None:
            return pool.price_per_hour
        if pool.node_type is None:
            return 0.0
        nt = self.sim.catalog.node_type(pool.node_type)
        p = nt.spot_usd_per_hour if pool.spot else nt.on_demand_usd_per_hour
        return float(p or 0.0)

    def provisioning_s(self, pool: NodePool) -> float:
        if pool.autoscaling is not None and pool.autoscaling.provisioning is not None:
            return float(sample_durations(pool.autoscaling.provisioning, self.lag_rng, 1)[0])
        if pool.node_type is not None:
            lag = self.sim.catalog.node_type(pool.node_type).provisioning_s
            if lag is not None:
                return float(lag)
        return 180.0

    # ------------------------------------------------------------------ counts
    def nodes_in(self, pool: str, states=(NODE_PROVISIONING, NODE_READY)) -> list[int]:
        c = self.cluster
        pi = c.pool_names.index(pool)
        return [i for i in range(c.n_nodes) if c.node_pool[i] == pi and c.node_state[i] in states]

    def provisioning(self) -> int:
        """Nodes requested and not yet ready."""
        return self._billed_count - self._ready_count

    def nodes_ready(self) -> int:
        return self._ready_count

    def nodes_billed(self) -> int:
        return self._billed_count

    # ------------------------------------------------------------------ loop
    def _loop(self):
        while True:
            yield self.env.timeout(self.cfg.scan_interval)
            self._scale_up()
            self._scale_down()

    def _scale_up(self) -> None:
        c = self.cluster
        sched = self.run.scheduler
        if sched.pending:
            # let the scheduler use nodes that became ready at this instant before judging what
            # is still pending (else a node ready on a scan tick looks missing and is re-added)
            sched.cycle()
        pending = [p for p in sched.pending if not p.preemptible or p.priority >= 0] + [
            p for p in sched.pending if p.preemptible and p.priority < 0
        ]
        if not pending:
            return
        # free room on nodes still provisioning (nothing is bound to them yet), in units of the
        # request that will use them: node -> [gpu units, cpu, mem]
        provisioning = [i for i in range(c.n_nodes) if c.node_state[i] == NODE_PROVISIONING]
        room: dict[tuple[int, int], list[int]] = {}
        new: dict[tuple[str, int], list[list[int]]] = {}  # (pool, alternative sharing) -> bins
        for pod in pending:
            if any(self._fits_room(reqs, room, provisioning) for reqs in pod.alternatives):
                continue
            choice = self._expand(pod.alternatives, new)
            if choice is None:
                continue
            pool, reqs = choice
            tmpl = self.templates[pool]
            key = (pool, reqs[0].sharing)
            bins = new.setdefault(key, [])
            trial = [list(b) for b in bins]
            limit = self.pools[pool].autoscaling.max - len(self.nodes_in(pool)) - _new_in(new, pool) + len(bins)
            ok = True
            for req in reqs:
                if any(_take(b, req) for b in trial):
                    continue
                cap = _capacity(c, tmpl, req)
                if len(trial) >= limit or not _take(cap, req):
                    ok = False  # the whole group does not fit within the pool's max
                    break
                trial.append(cap)
            if ok:
                new[key] = trial
        for (pool, _), bins in new.items():
            if bins:
                self.add_nodes(pool, len(bins))

    def _fits_room(self, reqs, room: dict, provisioning: list[int]) -> bool:
        """Would the group fit on the free room of nodes already on their way? (takes it if so)"""
        if not provisioning:
            return False
        trial: dict = {}
        for req in reqs:
            for node in provisioning:
                if not self._static_ok(node, req):
                    continue
                key = (node, req.sharing)
                b = trial.get(key) or list(room.get(key) or _capacity(self.cluster, node, req))
                if _take(b, req):
                    trial[key] = b
                    break
            else:
                return False
        room.update(trial)
        return True

    def _pool_of_node(self, i: int) -> str:
        return self.cluster.pool_names[self.cluster.node_pool[i]]

    def _static_ok(self, node: int, req: PodRequest) -> bool:
        """Static fit of a request on a node's shape (labels, taints, model, sharing), any state."""
        c = self.cluster
        sel = np.uint64(req.selector_mask & 0xFFFFFFFFFFFFFFFF)
        if (c.node_labels[node] & sel) != sel or int(c.node_taints[node]) & ~req.toleration_mask:
            return False
        if req.gpus > 0:
            model = int(c.node_gpu_model[node])
            if model < 0 or (req.gpu_model_mask and not (req.gpu_model_mask >> model) & 1):
                return False
            if int(c.node_sharing[node]) != req.sharing:
                return False
        return c.node_cpu_total[node] >= req.cpu_milli and c.node_mem_total[node] >= req.memory_mib

    def _expand(self, alternatives, new: dict):
        """The (pool, requests) the expander grows for a pending group, or None if no autoscaled pool
        with room under its max can host it.
        """
        c = self.cluster
        options = []
        for name, pool in self.pools.items():
            a = pool.autoscaling
            if a is None or name not in self.templates:
                continue
            tmpl = self.templates[name]
            if len(self.nodes_in(name)) + _new_in(new, name) >= a.max:
                continue
            for reqs in alternatives:
                r = reqs[0]
                if not self._static_ok(tmpl, r) or not _take(_capacity(c, tmpl, r), r):
                    continue
                gpus_left = int(c.node_gpu_count[tmpl]) - r.gpus if r.sharing == 0 else 0
                waste = (gpus_left, int(c.node_cpu_total[tmpl]) - r.cpu_milli)
                options.append((name, waste, self.price(pool), self.cfg.priorities.get(name, 0), reqs))
                break
        if not options:
            return None
        if self.cfg.expander == "least-waste":
            best = min(options, key=lambda o: (o[1], o[0]))
        elif self.cfg.expander == "price":
            best = min(options, key=lambda o: (o[2], o[0]))
        elif self.cfg.expander == "priority":
            top = max(o[3] for o in options)
            best = min((o for o in options if o[3] == top), key=lambda o: o[0])
        else:
            best = options[int(self.rng.integers(len(options)))]
        return best[0], best[4]

    def add_nodes(self, pool_name: str, k: int) -> None:
        pool = self.pools[pool_name]
        c = self.cluster
        tmpl = self.templates[pool_name]
        now = self.env.now
        labels = {}
        for key, bit in c.labels.bits.items():
            if int(c.node_labels[tmpl]) >> bit & 1:
                lk, _, lv = key.partition("=")
                labels[lk] = lv
        model = c.gpu_model_ids[c.node_gpu_model[tmpl]] if c.node_gpu_model[tmpl] >= 0 else None
        idx = c.add_nodes(
            pool_name,
            k,
            cpu_milli=int(c.node_cpu_total[tmpl]),
            memory_mib=int(c.node_mem_total[tmpl]),
            gpus=int(c.node_gpu_count[tmpl]),
            gpu_model=model,
            gpu_memory_mib=int(c.gpu_mem_total[c.node_gpu_start[tmpl]]) if c.node_gpu_count[tmpl] else 0,
            labels=labels,
            taints=[(pool_t.key, pool_t.value, pool_t.effect) for pool_t in pool.taints],
            state=NODE_PROVISIONING,
            sharing=int(c.node_sharing[tmpl]),
            ts_replicas=int(c.gpu_ts_capacity[c.node_gpu_start[tmpl]]) if c.node_gpu_count[tmpl] else 1,
            names=[f"{pool_name}-{len(self.records) + j}" for j in range(k)],
        )
        self.scale_ups += 1
        self.last_scale_up = now
        for i in idx:
            rec = NodeRecord(int(i), pool_name, now, math.nan, usd_per_hour=self.price(pool))
            self.records.append(rec)
            self._billed_count += 1
            ev = self.env.timeout(self.provisioning_s(pool))
            ev.callbacks.append(lambda _e, i=int(i), rec=rec: self._ready(i, rec))
        self.run._sample()

    def _ready(self, i: int, rec: NodeRecord) -> None:
        self.cluster.node_state[i] = NODE_READY
        self.cluster.touch(i)
        rec.ready_s = self.env.now
        self._ready_count += 1
        self.run._sample()
        self.run.scheduler.kick()

    def _scale_down(self) -> None:
        c = self.cluster
        now = self.env.now
        for i in range(c.n_nodes):
            if c.node_state[i] != NODE_READY or c.node_pods[i] > 0:
                self.empty_since.pop(i, None)
                continue
            self.empty_since.setdefault(i, now)
        if now - self.last_scale_up < self.cfg.scale_down_delay_after_add:
            return
        for name, pool in self.pools.items():
            a = pool.autoscaling
            if a is None:
                continue
            nodes = self.nodes_in(name)
            removable = [
                i for i in nodes
                if i in self.empty_since and now - self.empty_since[i] >= self.cfg.scale_down_unneeded_time
            ]  # fmt: skip
            for i in sorted(removable, reverse=True)[: max(0, len(nodes) - a.min)]:
                self.remove_node(i)

    def remove_node(self, i: int) -> None:
        c = self.cluster
        if c.node_state[i] == NODE_READY:
            self._ready_count -= 1
        c.node_state[i] = NODE_GONE
        c.touch(i)
        self._billed_count -= 1
        self.empty_since.pop(i, None)
        self.scale_downs += 1
        for rec in self.records:
            if rec.node == i and math.isnan(rec.removed_s):
                rec.removed_s = self.env.now
        self.run._sample()

    # ------------------------------------------------------------------ results
    def nodes_frame(self, end_s: float):
        import pandas as pd

        rows = []
        for r in self.records:
            end = r.removed_s if not math.isnan(r.removed_s) else end_s
            hours = max(0.0, end - r.requested_s) / 3600.0
            if self.billing.granularity == "per-hour":
                hours = math.ceil(hours - 1e-12)
            rows.append(
                {
                    "node": self.cluster.node_names[r.node],
                    "pool": r.pool,
                    "requested_s": r.requested_s,
                    "ready_s": r.ready_s,
                    "removed_s": r.removed_s,
                    "usd_per_hour": r.usd_per_hour,
                    "billed_hours": hours,
                    "cost_usd": hours * r.usd_per_hour,
                }
            )
        return pd.DataFrame(rows, columns=NODE_COLUMNS)


def _new_in(new: dict, pool: str) -> int:
    return sum(len(bins) for (p, _), bins in new.items() if p == pool)


def _units(req: PodRequest) -> int:
    """GPU units one pod takes: GPUs, time-slice replicas, or MIG compute slices."""
    if req.gpus == 0:
        return 0
    if req.sharing == SHARING_MIG:
        return req.mig_compute
    if req.sharing == SHARING_NONE and req.gpu_milli < 1000:
        return 1
    return req.gpus


def _capacity(c: ClusterState, node: int, req: PodRequest) -> list[int]:
    """An empty node's room in the request's units: [gpu units, cpu, mem]."""
    gpus = int(c.node_gpu_count[node])
    if req.sharing == SHARING_TIMESLICE and gpus:
        gpus *= int(c.gpu_ts_capacity[c.node_gpu_start[node]])
    elif req.sharing == SHARING_MIG:
        gpus *= 7
    return [gpus, int(c.node_cpu_total[node]), int(c.node_mem_total[node])]


def _take(bin_: list[int], req: PodRequest) -> bool:
    """Take one pod's GPU units, CPU and memory from a bin if they fit."""
    g = _units(req)
    if bin_[0] >= g and bin_[1] >= req.cpu_milli and bin_[2] >= req.memory_mib:
        bin_[0] -= g
        bin_[1] -= req.cpu_milli
        bin_[2] -= req.memory_mib
        return True
    return False
