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
  pool's provisioning lag. A gang (a group of several pods, bound all at once) can wait while
  some of its pods would fit ready nodes: those pods take that room first (whole GPUs on nodes
  without a sharing mode; upstream's filterOutSchedulable counts pods that fit existing nodes the
  same way), and only the rest ask for room on provisioning or new nodes.
- scale-down: a ready node of an autoscaled pool with no pods for `scale_down_unneeded_time`,
  when no scale-up happened within `scale_down_delay_after_add`, is removed, keeping `min`.

Simplifications, stated: only empty nodes are removed (no pod migration), and the expander
scores whole pod groups, not the upstream per-node-group simulation of every pending pod.

Every scan costs the live nodes of the autoscaled pools, not every node ever created: the
manager keeps each pool's live nodes (provisioning or ready) and the provisioning ones as
indexes, and the empty-since clock as an array over node indices.

Scans skip only work whose outcome is known to be unchanged (tests/test_ca_skips.py compares each
shortcut with the plain scan): pending groups that fit no autoscaled or provisioning pool are left
out of scale-up; a scale-up scan on the same inputs as the last one that picked no pool (pending
groups, provisioning nodes, live counts, and every pool's `ClusterState.pool_version` when a gang
is pending, since a gang's scan reads the ready nodes' room) does nothing; a pool whose nodes did
not change since its last scan (`ClusterState.pool_version`) keeps its empty-node clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpusim.cluster._scan import empty_clock
from gpusim.cluster.state import (
    MILLI,
    NODE_DRAINING,
    NODE_GONE,
    NODE_PROVISIONING,
    NODE_READY,
    SHARING_NONE,
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
    usd_per_hour: float = math.nan  # unknown unless priced


class NodeManager:
    """Adds, readies and removes nodes; bills them; runs the Cluster Autoscaler when any pool autoscales.

    Lifecycle: build (`NodeManager(...)`, the node records of the scenario's pools), `connect(scheduler)`
    (the pending queue it scales for), `start()` (the scan loop), then `nodes_frame(end_s)` and the
    scale-up/down counts for the result. `on_change` is called after every node change (the run samples
    its time series there).
    """

    def __init__(self, env, cluster: ClusterState, cluster_spec, catalog, streams, on_change):
        self.env = env
        self.cluster: ClusterState = cluster
        self.catalog = catalog
        self.on_change = on_change
        self.scheduler = None
        self.cfg = cluster_spec.autoscaler
        self.billing = cluster_spec.billing
        self.pools = {p.name: p for p in cluster_spec.node_pools}
        # each pool's sharing mode, by the cluster's pool index: it sizes a new node's room
        self._modes = [self.pools[name].sharing for name in self.cluster.pool_names]
        self.records: list[NodeRecord] = []
        self._prices: dict[str, float] = {}
        self.rng = streams.stream("cluster-autoscaler/expander")
        self.lag_rng = streams.stream("cluster-autoscaler/provisioning")
        self.last_scale_up = -math.inf
        self.scale_ups = 0
        self.scale_downs = 0
        self.templates: dict[str, int] = {}
        # live-node indexes: pool -> live (provisioning or ready) node indices, ascending;
        # nodes still provisioning, ascending; node -> its billing record
        self.live: dict[str, list[int]] = {name: [] for name in self.pools}
        self._live_arrays: dict[str, np.ndarray] = {}
        self.provisioning_nodes: list[int] = []
        self._record_of: dict[int, NodeRecord] = {}
        self._empty_since = np.full(max(self.cluster.n_nodes, 1), np.nan)
        self._template_fit: dict[tuple[str, PodRequest], bool] = {}
        self._static_cache: dict[tuple[int, PodRequest], bool] = {}
        self._pool_index = {name: self.cluster.pool_names.index(name) for name in self.pools}
        self._reps: list[int] | None = None
        self._autoscaled = [name for name, p in self.pools.items() if p.autoscaling is not None]
        self._autoscaled_pools = frozenset(self._pool_index[name] for name in self._autoscaled)
        self._idle_scan: tuple | None = None  # the inputs of the last scan that picked no pool
        self._nodes_version = 0  # bumped when a node is added, turns ready or is removed
        self._scan_stamp: tuple | None = None  # (pending version, nodes version) of `_scan_inputs`
        self._scan_inputs: tuple = ([], (), False)  # (pending groups, scan inputs, any gang among them)
        # pool -> (live array, pool version, earliest empty-since clock) at its last clock update
        self._clock_memo: dict[str, tuple[np.ndarray, int, float]] = {}
        for i in range(self.cluster.n_nodes):
            pool = self.cluster.pool_names[self.cluster.node_pool[i]]
            if self.cluster.node_state[i] == NODE_GONE:
                self.templates[pool] = i  # a pool with no nodes keeps a template to test fits against
                continue
            self.templates.setdefault(pool, i)
            rec = NodeRecord(i, pool, 0.0, 0.0, usd_per_hour=self.price(self.pools[pool]))
            self.records.append(rec)
            self._record_of[i] = rec
            self.live[pool].append(i)
            if self.cluster.node_state[i] == NODE_PROVISIONING:
                self.provisioning_nodes.append(i)
        self.initial_nodes = len(self.records)  # the scenario's `count`s
        # kept as counters: the engine samples them at every event
        self._billed_count = len(self.records)
        self._ready_count = len(self.records)
        self.autoscaled = any(p.autoscaling is not None for p in self.pools.values())
        self.watchers: list = []  # told `node_ready(i)` and `node_gone(i)` (the failure component)

    def connect(self, scheduler) -> None:
        """The scheduler whose pending pods the Cluster Autoscaler scales for (and kicks when nodes are ready)."""
        self.scheduler = scheduler

    def watch(self, watcher) -> None:
        """`watcher.node_ready(i)` is called after a node turns Ready, `watcher.node_gone(i)` after one is removed."""
        self.watchers.append(watcher)

    def start(self) -> None:
        if self.autoscaled:
            self.env.process(self._loop())

    def could_host(self, req: PodRequest) -> bool:
        """Could an autoscaled pool's empty node take this pod (so it is worth waiting for)?"""
        for name, pool in self.pools.items():
            if pool.autoscaling is None or pool.autoscaling.max == 0 or name not in self.templates:
                continue
            if self._fits_template(name, req):
                return True
        return False

    def _fits_template(self, pool: str, req: PodRequest) -> bool:
        """Would one pod fit an empty node of the pool (static fit and room)? Cached: pools keep their shape."""
        key = (pool, req)
        fit = self._template_fit.get(key)
        if fit is None:
            tmpl = self.templates[pool]
            mode = self.pools[pool].sharing
            fit = self._template_fit[key] = self.static_ok(tmpl, req) and _take(
                _capacity(self.cluster, tmpl, mode), req, mode
            )
        return fit

    # ------------------------------------------------------------------ prices and lags
    def price(self, pool: NodePool) -> float:
        """USD per node-hour (gpusim.hardware.pool_price: the pool's price, its node type's, its GPUs'
        or its vCPUs'); NaN when unknown, never 0 (the price expander ranks unknown prices last).
        """
        p = self._prices.get(pool.name)
        if p is None:
            from gpusim.hardware import pool_price

            known = pool_price(pool, self.catalog)[0]
            p = self._prices[pool.name] = math.nan if known is None else float(known)
        return p

    def provisioning_s(self, pool: NodePool) -> float:
        if pool.autoscaling is not None and pool.autoscaling.provisioning is not None:
            return float(sample_durations(pool.autoscaling.provisioning, self.lag_rng, 1)[0])
        if pool.node_type is not None:
            lag = self.catalog.node_type(pool.node_type).provisioning_s
            if lag is not None:
                return float(lag)
        return 180.0

    # ------------------------------------------------------------------ counts
    def nodes_in(self, pool: str) -> list[int]:
        """The pool's live nodes (provisioning or ready), ascending."""
        return list(self.live[pool])

    def _live_array(self, pool: str) -> np.ndarray:
        arr = self._live_arrays.get(pool)
        if arr is None:
            arr = self._live_arrays[pool] = np.asarray(self.live[pool], dtype=np.int64)
        return arr

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
        sched = self.scheduler
        if sched.pending:
            # let the scheduler use nodes that became ready at this instant before judging what
            # is still pending (else a node ready on a scan tick looks missing and is re-added)
            sched.cycle()
        # a group whose every alternative's first pod fits no autoscaled pool's node shape, nor that
        # of a pool with nodes provisioning, can neither take room on a provisioning node nor be
        # expanded for (both stop at that pod): left out
        # the scan's inputs are only worked out again when the pending queue or the nodes changed
        # (the scheduler's pending version; node additions, readiness and removals)
        stamp = (sched.pending_version, self._nodes_version)
        if stamp != self._scan_stamp:
            relevant = self._autoscaled_pools.union(int(c.node_pool[n]) for n in self.provisioning_nodes)
            pending = self._worth_scanning(sched.pending, relevant)
            pending = [p for p in pending if not p.preemptible or p.priority >= 0] + [
                p for p in pending if p.preemptible and p.priority < 0
            ]
            # What a scan decides depends only on the pending groups (in order), the nodes still
            # provisioning (their room is their static capacity: nothing binds to them) and each
            # autoscaled pool's live count, until the expander picks a pool (the random expander
            # draws there). A scan that picked none changed nothing, so a scan on the same inputs
            # is skipped.
            inputs = (tuple(p.seq for p in pending), tuple(self.provisioning_nodes),
                      tuple(len(self.live[name]) for name in self._autoscaled))  # fmt: skip
            gangs = any(len(reqs) > 1 for p in pending for reqs in p.alternatives)
            self._scan_stamp, self._scan_inputs = stamp, (pending, inputs, gangs)
        else:
            pending, inputs, gangs = self._scan_inputs
        if gangs:  # a gang's scan also reads the ready nodes' free room (`_on_ready_room`)
            inputs = (*inputs, tuple(c.pool_version))
        if not pending or inputs == self._idle_scan:
            return
        picked = False
        # free room on nodes still provisioning (nothing is bound to them yet), in units of the
        # request that will use them: node -> [gpu units, cpu, mem]
        provisioning = _Provisioning(self.provisioning_nodes, c.node_pool)
        room: dict[tuple[int, int], list[int]] = {}
        ready_room: dict[int, list[int]] = {}  # ready node -> its free [GPUs, cpu, mem] left in this scan
        ready_walk: dict = {}  # request -> [its ready nodes, how many of them refused it] (`_on_ready_room`)
        new: dict[tuple[str, int], list[list[int]]] = {}  # (pool, alternative sharing) -> bins
        for pod in pending:
            if any(self._fits_room(reqs, room, provisioning) for reqs in pod.alternatives):
                continue
            choice = self._expand(pod.alternatives, new)
            if choice is None:
                continue
            picked = True
            pool, reqs = choice
            left, taken = reqs, {}
            if len(reqs) > 1:
                # a gang binds all its pods at once, so it can be pending while some of its pods
                # would fit ready nodes: those pods take that room, as the upstream autoscaler's
                # filterOutSchedulable counts pods that fit existing nodes, and only the rest ask
                # for room on nodes provisioning or new
                left, taken = self._on_ready_room(reqs, ready_room, ready_walk)
                if len(left) < len(reqs) and (not left or self._fits_room(left, room, provisioning)):
                    ready_room.update(taken)
                    continue
            tmpl = self.templates[pool]
            key = (pool, reqs[0].sharing)
            bins = new.setdefault(key, [])
            trial = [list(b) for b in bins]
            limit = self.pools[pool].autoscaling.max - len(self.live[pool]) - _new_in(new, pool) + len(bins)
            ok = True
            mode = self.pools[pool].sharing
            for req in left:
                if any(_take(b, req, mode) for b in trial):
                    continue
                cap = _capacity(c, tmpl, mode)
                if len(trial) >= limit or not _take(cap, req, mode):
                    ok = False  # the whole group does not fit within the pool's max
                    break
                trial.append(cap)
            if ok:
                new[key] = trial
                ready_room.update(taken)
        self._idle_scan = None if picked else inputs
        for (pool, _), bins in new.items():
            if bins:
                self.add_nodes(pool, len(bins))

    def _fit_pools(self, pod) -> frozenset[int] | None:
        """The pools (indices) whose node shape some alternative's first pod fits statically; None if
        some pool of the cluster has no template to ask. Cached on the pending group: pools keep
        their shapes.
        """
        fits = pod.ca_pools
        if fits is None:
            reps = self._pool_reps()
            if reps is None:
                return None
            fits = pod.ca_pools = frozenset(
                p for p, node in enumerate(reps) if any(self.static_ok(node, reqs[0]) for reqs in pod.alternatives)
            )
        return fits

    def _hopeless(self, pod, relevant: frozenset[int]) -> bool:
        """Does no alternative's first pod fit a node of a `relevant` pool (autoscaled, or with nodes
        provisioning)? Then `_fits_room` finds no candidate node for the group and `_expand` no pool
        (both stop at that pod), so the scan can leave it out.
        """
        fits = self._fit_pools(pod)
        return fits is not None and fits.isdisjoint(relevant)

    def _worth_scanning(self, pending: list, relevant: frozenset[int]) -> list:
        """The pending groups that are not `_hopeless` against the `relevant` pools, in order."""
        keep = []
        for p in pending:
            fits = p.ca_pools
            if fits is None:
                fits = self._fit_pools(p)
            if fits is None or not fits.isdisjoint(relevant):
                keep.append(p)
        return keep

    def _pool_reps(self) -> list[int] | None:
        """One node of every pool of the cluster, by pool index (the templates), or None if some pool has none."""
        if self._reps is None:
            by_pool = {int(self.cluster.node_pool[t]): t for t in self.templates.values()}
            n = len(self.cluster.pool_names)
            self._reps = [by_pool[p] for p in range(n)] if sorted(by_pool) == list(range(n)) else []
        return self._reps or None

    def _fits_room(self, reqs, room: dict, provisioning: _Provisioning) -> bool:
        """Would the group fit on the free room of nodes already on their way? (takes it if so)"""
        if not provisioning.nodes:
            return False
        trial: dict = {}
        modes = self._modes
        for req in reqs:
            # the static fit is the pool's (every node has its pool's shape): asked once per pool,
            # then only the nodes of fitting pools are walked, in the same order as all of them
            pools = frozenset(p for p, node in provisioning.first.items() if self.static_ok(node, req))
            candidates = provisioning.of_pools(pools)
            # Room only shrinks during a scan, so a node that refused this request on its room (not
            # on this group's trial) refuses it for the rest of the scan: the walk starts after the
            # leading run of such nodes. An untouched node's room is its pool's empty-node capacity:
            # once that cannot take the pod, no untouched node of the pool can.
            skip_key = (req, pools)
            start = provisioning.start.get(skip_key, 0)
            leading = True
            fresh_fails: set[int] = set()
            sharing = req.sharing
            taken = False
            for i in range(start, len(candidates)):
                node, pool = candidates[i]
                key = (node, sharing)
                mode = modes[pool]
                b = trial.get(key)
                if b is None:
                    used = room.get(key)
                    if used is None:
                        if pool in fresh_fails or not _take(b := _capacity(self.cluster, node, mode), req, mode):
                            fresh_fails.add(pool)
                            if leading:
                                start = i + 1
                            continue
                        trial[key] = b
                        taken = True
                        break
                    b = list(used)
                    if _take(b, req, mode):
                        trial[key] = b
                        taken = True
                        break
                    if leading:
                        start = i + 1
                    continue
                if _take(b, req, mode):
                    trial[key] = b
                    taken = True
                    break
                leading = False  # refused on this group's trial room: may fit a later group
            provisioning.start[skip_key] = start
            if not taken:
                return False
        room.update(trial)
        return True

    def _on_ready_room(self, reqs, ready_room: dict, walk: dict) -> tuple[tuple, dict]:
        """A gang's pods that the free room of ready nodes takes, first fit in node order, pod by pod:
        returns (the pods left, in order; the taken room, node -> [GPUs, cpu, mem] left) without
        changing `ready_room`. Whole-GPU pods on nodes without a sharing mode only (idle GPUs are
        their room); other pods are all left.

        `walk` (one per scan) keeps each request's ready nodes and how many of the first of them
        refused it on `ready_room`: room only shrinks during a scan, so they refuse it again and the
        next walk starts after them; within a gang, a pod's walk starts where the last pod's stopped
        (a full pool costs one pass a scan, not one a pod).
        """
        c = self.cluster
        trial: dict[int, list[int]] = {}
        left = []
        # per request in this gang: where its next pod's walk starts (the gang's own room only
        # shrinks too) and whether every node before it refused on `ready_room` alone
        at: dict[PodRequest, list] = {}
        for req in reqs:
            if req.sharing != SHARING_NONE or (req.gpus and req.gpu_milli < MILLI):
                left.append(req)
                continue
            w = walk.get(req)
            if w is None:
                w = walk[req] = [self._ready_fitting(req), 0]
            nodes = w[0]
            pos = at.get(req)
            if pos is None:
                pos = at[req] = [w[1], True]
            i, leading = pos
            while i < len(nodes):
                n = nodes[i]
                b = trial.get(n)
                mine = b is not None
                if b is None:
                    b = ready_room.get(n)
                b = list(b) if b is not None else [int(c.node_gpus_idle[n]), int(c.node_cpu_free[n]),
                                                   int(c.node_mem_free[n])]  # fmt: skip
                if _take(b, req, self._modes[c.node_pool[n]]):
                    trial[n] = b
                    break  # the next pod looks at this node again
                if mine:
                    leading = False
                elif leading:
                    w[1] = i + 1
                i += 1
            pos[0], pos[1] = i, leading
            if i == len(nodes):
                left.append(req)
        return tuple(left), trial

    def _ready_fitting(self, req: PodRequest) -> list[int]:
        """The ready nodes, without a sharing mode, whose pool's shape fits `req`, in node order."""
        c = self.cluster
        pools = [name for name in self.pools if self.live[name] and self.static_ok(self.live[name][0], req)]
        nodes = sorted(n for name in pools for n in self.live[name])
        return [n for n in nodes if c.node_state[n] == NODE_READY and c.node_sharing[n] == SHARING_NONE]

    def static_ok(self, node: int, req: PodRequest) -> bool:
        """Static fit of a request on a node's shape (labels, taints, model, sharing, size), any state.

        Every node of a pool has the pool's shape (the autoscaler copies it from the pool's
        template), so the answer is cached per (pool, request).
        """
        key = (int(self.cluster.node_pool[node]), req)
        ok = self._static_cache.get(key)
        if ok is None:
            ok = self._static_cache[key] = self._static_ok_node(node, req)
        return ok

    def _static_ok_node(self, node: int, req: PodRequest) -> bool:
        c = self.cluster
        return bool(
            c.static_fit(node, req)
            and c.node_cpu_total[node] >= req.cpu_milli
            and c.node_mem_total[node] >= req.memory_mib
        )

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
            if len(self.live[name]) + _new_in(new, name) >= a.max:
                continue
            for reqs in alternatives:
                r = reqs[0]
                if not self._fits_template(name, r):
                    continue
                gpus_left = int(c.node_gpu_count[tmpl]) - r.gpus if r.sharing == SHARING_NONE else 0
                waste = (gpus_left, int(c.node_cpu_total[tmpl]) - r.cpu_milli)
                options.append((name, waste, self.price(pool), self.cfg.priorities.get(name, 0), reqs))
                break
        if not options:
            return None
        if self.cfg.expander == "least-waste":
            best = min(options, key=lambda o: (o[1], o[0]))
        elif self.cfg.expander == "price":  # cheapest known price first; unknown (NaN) prices last
            best = min(options, key=lambda o: (math.isnan(o[2]), 0.0 if math.isnan(o[2]) else o[2], o[0]))
        elif self.cfg.expander == "priority":
            top = max(o[3] for o in options)
            best = min((o for o in options if o[3] == top), key=lambda o: o[0])
        else:
            best = options[int(self.rng.integers(len(options)))]
        return best[0], best[4]

    def add_nodes(self, pool_name: str, k: int, *, replacement: bool = False) -> None:
        """Request `k` new nodes of the pool (ready after its provisioning lag); a `replacement` for a
        failed or interrupted node is not a Cluster Autoscaler scale-up.
        """
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
        if not replacement:
            self.scale_ups += 1
            self.last_scale_up = now
        if c.n_nodes > self._empty_since.size:
            grown = np.full(max(c.n_nodes, 2 * self._empty_since.size), np.nan)
            grown[: self._empty_since.size] = self._empty_since
            self._empty_since = grown
        self._live_arrays.pop(pool_name, None)
        self._nodes_version += 1
        for i in idx:
            rec = NodeRecord(int(i), pool_name, now, math.nan, usd_per_hour=self.price(pool))
            self.records.append(rec)
            self._record_of[int(i)] = rec
            self.live[pool_name].append(int(i))
            self.provisioning_nodes.append(int(i))
            self._billed_count += 1
            ev = self.env.timeout(self.provisioning_s(pool))
            ev.callbacks.append(lambda _e, i=int(i), rec=rec: self._ready(i, rec))
        self.on_change()

    def _ready(self, i: int, rec: NodeRecord) -> None:
        self.cluster.set_node_state(i, NODE_READY)
        self.provisioning_nodes.remove(i)
        self._nodes_version += 1
        rec.ready_s = self.env.now
        self._ready_count += 1
        self.on_change()
        self.scheduler.kick()
        for w in self.watchers:
            w.node_ready(i)

    def set_not_ready(self, i: int) -> None:
        """A failed or cordoned node: NotReady, so no new pods bind there; it stays live and billed."""
        if self.cluster.node_state[i] != NODE_READY:
            return
        self.cluster.set_node_state(i, NODE_DRAINING)
        self._ready_count -= 1
        self.on_change()

    def set_ready_again(self, i: int) -> None:
        """A repaired node is Ready again."""
        if self.cluster.node_state[i] != NODE_DRAINING:
            return
        self.cluster.set_node_state(i, NODE_READY)
        self._ready_count += 1
        self.on_change()
        self.scheduler.kick()
        for w in self.watchers:
            w.node_ready(i)

    def replace_node(self, i: int) -> None:
        """Delete a failed or interrupted node (its billing stops) and request a new node of its pool."""
        pool = self._record_of[i].pool
        self.remove_node(i, scale_down=False)
        self.add_nodes(pool, 1, replacement=True)

    def _scale_down(self) -> None:
        """Only nodes of autoscaled pools can be removed, so only they keep an empty-since clock.

        A pool whose live nodes and `ClusterState.pool_version` are what they were at its last
        scan reads the same states and pod counts, so its clock update would change nothing (every
        empty node already has its clock, every other node none); it keeps its earliest clock from
        then. Since ``now - since`` only grows as `since` shrinks, some node is past
        `scale_down_unneeded_time` exactly when the earliest one is, so such a pool is only walked
        for removals when that holds.
        """
        c = self.cluster
        now = self.env.now
        es = self._empty_since
        scanned = []
        for name, pool in self.pools.items():
            if pool.autoscaling is None:
                continue
            idx = self._live_array(name)
            version = c.pool_version[self._pool_index[name]]
            memo = self._clock_memo.get(name)
            if memo is not None and memo[0] is idx and memo[1] == version:
                earliest = memo[2]
            else:
                earliest = float(empty_clock(idx, c.node_state, c.node_pods, es, float(now), NODE_READY))
                self._clock_memo[name] = (idx, version, earliest)
            scanned.append((name, pool.autoscaling, idx, earliest))
        if now - self.last_scale_up < self.cfg.scale_down_delay_after_add:
            return
        for _name, a, idx, earliest in scanned:
            if not now - earliest >= self.cfg.scale_down_unneeded_time:
                continue  # no node of the pool has been empty long enough
            removable = idx[now - es[idx] >= self.cfg.scale_down_unneeded_time]  # NaN (not empty) compares False
            for i in removable[::-1][: max(0, idx.size - a.min)]:
                self.remove_node(int(i))

    @property
    def empty_since(self) -> dict[int, float]:
        """Ready, empty nodes of autoscaled pools -> since when they have been empty."""
        return {int(i): float(self._empty_since[i]) for i in np.flatnonzero(~np.isnan(self._empty_since))}

    def remove_node(self, i: int, *, scale_down: bool = True) -> None:
        c = self.cluster
        if c.node_state[i] == NODE_READY:
            self._ready_count -= 1
        elif c.node_state[i] == NODE_PROVISIONING:
            self.provisioning_nodes.remove(i)
        c.set_node_state(i, NODE_GONE)
        self._nodes_version += 1
        self._billed_count -= 1
        if i < self._empty_since.size:
            self._empty_since[i] = np.nan
        if scale_down:
            self.scale_downs += 1
        rec = self._record_of[i]
        pool = rec.pool
        self.live[pool].remove(i)
        self._live_arrays.pop(pool, None)
        if math.isnan(rec.removed_s):
            rec.removed_s = self.env.now
        self.on_change()
        for w in self.watchers:
            w.node_gone(i)

    # ------------------------------------------------------------------ results
    def prices(self) -> dict[str, float]:
        """USD per node-hour of every pool (NaN when unknown), in the scenario's pool order."""
        return {name: self.price(pool) for name, pool in self.pools.items()}

    def collect(self, end_s: float) -> dict:
        """The nodes table, the nodes added and the scale-up/down counts; each pool's price for the cost."""
        nodes = self.nodes_frame(end_s)
        summary = {"nodes_added": int(len(nodes) - self.initial_nodes), "cluster_scale_ups": self.scale_ups,
                   "cluster_scale_downs": self.scale_downs}  # fmt: skip
        return {"tables": {"nodes": nodes}, "summary": summary, "facts": {"prices": self.prices()}}

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


class _Provisioning:
    """The nodes still provisioning at one scan, in order, with their pools: `first` holds one node
    per pool (to ask the pool's static fit), `of_pools(pools)` the (node, pool) pairs of those pools.
    """

    __slots__ = ("nodes", "first", "_subsets", "start")

    def __init__(self, nodes, node_pool):
        self.nodes = [(int(n), int(node_pool[n])) for n in nodes]
        self.first: dict[int, int] = {}
        for n, p in self.nodes:
            self.first.setdefault(p, n)
        self._subsets: dict[frozenset, list[tuple[int, int]]] = {frozenset(self.first): self.nodes}
        self.start: dict[tuple, int] = {}  # (request, pools) -> nodes before this index refuse it

    def of_pools(self, pools: frozenset) -> list[tuple[int, int]]:
        got = self._subsets.get(pools)
        if got is None:
            got = self._subsets[pools] = [(n, p) for n, p in self.nodes if p in pools]
        return got


def _new_in(new: dict, pool: str) -> int:
    return sum(len(bins) for (p, _), bins in new.items() if p == pool)


def _capacity(c: ClusterState, node: int, mode) -> list[int]:
    """An empty node's room in its sharing mode's pod units (GPUs, time-slice replicas, MIG compute
    slices): [gpu units, cpu, mem].
    """
    return [mode.node_units(int(c.node_gpu_count[node]), mode.replicas()), int(c.node_cpu_total[node]),
            int(c.node_mem_total[node])]  # fmt: skip


def _take(bin_: list[int], req: PodRequest, mode) -> bool:
    """Take one pod's GPU units (as its sharing mode counts them), CPU and memory from a bin if they fit."""
    g = mode.pod_units(req)
    if bin_[0] >= g and bin_[1] >= req.cpu_milli and bin_[2] >= req.memory_mib:
        bin_[0] -= g
        bin_[1] -= req.cpu_milli
        bin_[2] -= req.memory_mib
        return True
    return False
