"""The Cluster Autoscaler's cheap scans give exactly the results of the straightforward ones.

Five shortcuts (gpusim/sim/cluster_autoscaler.py): a pending group whose first pod fits no pool's
node shape is left out of the scale-up scan (`_hopeless`); a scale-up scan on the inputs of the
last scan that picked no pool is skipped (`_idle_scan`); those inputs are reused while the pending
queue and the nodes are unchanged (`_scan_stamp`); a pool whose live nodes and
`pool_version` did not change keeps its empty-node clock and its earliest clock (`_clock_memo`);
a gang's walk over ready nodes starts after those that refused its request earlier in the scan
(`_on_ready_room`'s `walk`).
Each is compared here with the plain scan on random autoscaled runs (several pools, labels, gangs,
pods that fit no pool, an HPA-scaled service, low-priority placeholders, every expander), and on
random walks of the state for the clock.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gpusim.cluster.state import NODE_DRAINING, NODE_GONE, NODE_READY, Placement, PodRequest
from gpusim.scenario.loader import load_scenario
from gpusim.sim import cluster_autoscaler as ca
from gpusim.sim.engine import simulate
from gpusim.sim.run import Run
from gpusim.sim.scheduler import PendingPod

COUNTS = {"hopeless": 0, "idle": 0, "memo": 0, "stamp": 0, "walk": 0}


def _plain(monkeypatch):
    """The scans without the shortcuts: every group walked, every scan run, every clock recomputed."""
    up, down = ca.NodeManager._scale_up, ca.NodeManager._scale_down

    def scale_up(self):
        self._idle_scan = None
        self._scan_stamp = None
        up(self)

    def scale_down(self):
        self._clock_memo.clear()
        down(self)

    monkeypatch.setattr(ca.NodeManager, "_scale_up", scale_up)
    monkeypatch.setattr(ca.NodeManager, "_scale_down", scale_down)
    monkeypatch.setattr(ca.NodeManager, "_worth_scanning", lambda self, pending, relevant: list(pending))
    ready = ca.NodeManager._on_ready_room  # every gang walks the ready nodes from the first
    monkeypatch.setattr(ca.NodeManager, "_on_ready_room", lambda self, reqs, room, walk: ready(self, reqs, room, {}))


def _counting(monkeypatch):
    """The shortcuts as shipped, counting how often each one is taken (so the test exercises them)."""
    up, down, hopeless = ca.NodeManager._scale_up, ca.NodeManager._scale_down, ca.NodeManager._hopeless
    worth = ca.NodeManager._worth_scanning

    def scale_up(self):
        before = self._idle_scan
        sched = self.scheduler
        if before is not None and sched.pending:
            sched.cycle()  # what the scan does first (a second cycle at one instant binds nothing new)
            relevant = self._autoscaled_pools.union(int(self.cluster.node_pool[n]) for n in self.provisioning_nodes)
            pending = [p for p in sched.pending if not hopeless(self, p, relevant)]
            order = [p for p in pending if not p.preemptible or p.priority >= 0]
            order += [p for p in pending if p.preemptible and p.priority < 0]
            inputs = (tuple(p.seq for p in order), tuple(self.provisioning_nodes),
                      tuple(len(self.live[n]) for n in self._autoscaled))  # fmt: skip
            gangs = any(len(reqs) > 1 for p in order for reqs in p.alternatives)
            if self._scan_stamp == (sched.pending_version, self._nodes_version):  # the cached inputs hold
                COUNTS["stamp"] += 1
                assert self._scan_inputs == (order, inputs, gangs)
            if gangs:  # a gang's scan also reads the ready nodes' free room
                inputs = (*inputs, tuple(self.cluster.pool_version))
            COUNTS["idle"] += order != [] and inputs == before
        up(self)

    def scale_down(self):
        memo = dict(self._clock_memo)
        down(self)
        COUNTS["memo"] += sum(1 for k, v in self._clock_memo.items() if memo.get(k) is v)

    def worth_scanning(self, pending, relevant):
        keep = worth(self, pending, relevant)
        assert keep == [p for p in pending if not hopeless(self, p, relevant)]
        COUNTS["hopeless"] += len(pending) - len(keep)
        return keep

    ready = ca.NodeManager._on_ready_room

    def on_ready_room(self, reqs, room, walk):
        out = ready(self, reqs, room, walk)
        COUNTS["walk"] += sum(walk[r][1] for r in set(reqs) if r in walk)  # nodes later walks skip
        return out

    monkeypatch.setattr(ca.NodeManager, "_scale_up", scale_up)
    monkeypatch.setattr(ca.NodeManager, "_scale_down", scale_down)
    monkeypatch.setattr(ca.NodeManager, "_worth_scanning", worth_scanning)
    monkeypatch.setattr(ca.NodeManager, "_on_ready_room", on_ready_room)


def random_scenario(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    expander = ["least-waste", "price", "priority", "random"][seed % 4]

    def pool(name, **kw):
        lag = {"distribution": "uniform", "low": "1m", "high": f"{int(rng.integers(3, 20))}m"}
        return {"name": name, "count": int(rng.integers(0, 3)), "gpu_model": "nvidia-h100-80gb",
                "gpus_per_node": int(rng.choice([4, 8])), "vcpu": int(rng.choice([32, 96])), "memory": "512Gi",
                "autoscaling": {"min": 0, "max": int(rng.integers(2, 9)), "provisioning": lag}, **kw}  # fmt: skip

    pools = [
        pool("a"),
        pool("b", labels={"tier": "b"}, price_per_hour=float(rng.uniform(5, 30))),
        {"name": "static", "count": 2, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8, "vcpu": 64,
         "memory": "512Gi", "labels": {"tier": "static"}},
    ]  # fmt: skip
    if rng.random() < 0.5:
        pools.append(pool("c", price_per_hour=float(rng.uniform(5, 30))))
    rate = f"{int(rng.integers(4, 20))}/h"
    workloads = [
        {"name": "jobs", "pod": {"resources": {"requests": {"cpu": "4"}, "limits": {"nvidia.com/gpu": 1}}},
         "generator": {"arrival": {"process": "poisson", "rate": rate}, "gpus": [1, 2, 4, 8],
                       "duration": {"distribution": "exponential", "mean": "40m"}}},
        {"name": "tier-b", "pod": {"resources": {"limits": {"nvidia.com/gpu": 2}}, "nodeSelector": {"tier": "b"}},
         "generator": {"arrival": {"process": "poisson", "rate": "3/h"}, "gpus": 2,
                       "pods": {"distribution": "choice", "values": [1, 2, 3]},
                       "duration": {"distribution": "exponential", "mean": "1h"}}},
        # fits the static pool only (by label): pending there, never a reason to scale
        {"name": "static-only", "pod": {"resources": {"limits": {"nvidia.com/gpu": 8}},
                                        "nodeSelector": {"tier": "static"}},
         "generator": {"arrival": {"process": "poisson", "rate": "4/h"}, "gpus": 8,
                       "duration": {"distribution": "exponential", "mean": "2h"}}},
        {"type": "inference", "name": "svc", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
         "model": {"service_time": {"distribution": "exponential", "mean": "2s"}},
         "arrivals": {"process": {"process": "mmpp", "rates": ["1/s", f"{int(rng.integers(4, 12))}/s"],
                                  "mean_sojourn": ["20m", "5m"]}},
         "replicas": 1, "concurrency": 2, "cold_start": {"image_pull": "30s"}, "slo": {"latency": "10s"},
         "autoscaling": {"hpa": {"min_replicas": 1, "max_replicas": 12, "metrics": [{"name": "concurrency",
                                                                                    "target": 1.5}]}}},
    ]  # fmt: skip
    cluster = {"node_pools": pools,
               "autoscaler": {"expander": expander, "priorities": {"a": 1, "b": 2, "c": int(rng.integers(0, 4))},
                              "scale_down_unneeded_time": f"{int(rng.integers(2, 10))}m",
                              "scale_down_delay_after_add": f"{int(rng.integers(0, 6))}m"}}  # fmt: skip
    if rng.random() < 0.5:
        cluster["overprovisioning"] = {"replicas": int(rng.integers(1, 3)),
                                       "pod": {"resources": {"limits": {"nvidia.com/gpu": 2}}}}  # fmt: skip
    return {"name": f"ca-skips-{seed}", "seed": seed, "duration": "8h", "cluster": cluster,
            "scheduler": {"policy": "best-fit"}, "workloads": workloads, "output": {"timeseries_interval": "1m"}}  # fmt: skip


def _outputs(data: dict):
    r = simulate(load_scenario(data, check=False), seed=data["seed"])
    return r.summary, r.jobs, r.timeseries, r.nodes, r.services


@pytest.mark.parametrize("seed", range(8))
def test_shortcut_scans_equal_plain_scans(seed, monkeypatch):
    data = random_scenario(seed)
    with monkeypatch.context() as m:
        _plain(m)
        plain = _outputs(data)
    fast = _outputs(data)
    assert plain[0].keys() == fast[0].keys()
    for k, v in plain[0].items():
        w = fast[0][k]
        assert v == w or (isinstance(v, float) and math.isnan(v) and math.isnan(w)), k
    for a, b in zip(plain[1:], fast[1:], strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert fast[0]["cluster_scale_ups"] > 0


def test_shortcuts_are_taken(monkeypatch):
    """On these runs every shortcut is taken many times (else the comparison above proves nothing)."""
    for k in COUNTS:
        COUNTS[k] = 0
    _counting(monkeypatch)
    downs = 0
    for seed in range(4):
        downs += _outputs(random_scenario(seed))[0]["cluster_scale_downs"]
    assert COUNTS["hopeless"] > 50 and COUNTS["idle"] > 50 and COUNTS["memo"] > 500 and COUNTS["stamp"] > 50, COUNTS
    assert COUNTS["walk"] > 20, COUNTS
    assert downs > 0


def _clock_run():
    sc = load_scenario({
        "name": "clock", "seed": 1, "duration": "1d",
        "cluster": {"node_pools": [
            {"name": "a", "count": 6, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 4, "vcpu": 32,
             "memory": "256Gi", "autoscaling": {"min": 1, "max": 12}},
            {"name": "b", "count": 4, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 8, "vcpu": 32,
             "memory": "256Gi", "autoscaling": {"min": 0, "max": 12}, "labels": {"tier": "b"}},
            {"name": "s", "count": 2, "gpu_model": "nvidia-h100-80gb", "gpus_per_node": 8, "vcpu": 32,
             "memory": "256Gi", "labels": {"tier": "s"}},
        ], "autoscaler": {"scale_down_unneeded_time": "5m", "scale_down_delay_after_add": "0s"}},
        "workloads": [{"name": "jobs", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
                       "jobs": [{"arrival": 0.0, "duration": 60.0}]}],
    })  # fmt: skip
    return Run(sc, 1)


@pytest.mark.parametrize("seed", range(6))
def test_empty_clock_memo_equals_recomputing(seed):
    """Random binds, releases, node state changes, additions and removals between scans: the clock,
    the earliest clock and the removals equal a recomputation from the arrays at every scan.
    """
    rng = np.random.default_rng(seed)
    run = _clock_run()
    nm, c, env = run.nodes, run.cluster, run.env
    nm.scheduler = run.scheduler
    bound: list = []
    req = PodRequest(cpu_milli=1000, memory_mib=1024, gpus=1)
    removed = 0
    now = 0.0
    for _step in range(400):
        for _ in range(int(rng.integers(0, 3))):  # a quiet scan (nothing changed) is common
            op = rng.random()
            live = [i for name in nm.live for i in nm.live[name]]
            ready = [i for i in live if c.node_state[i] == NODE_READY]
            if op < 0.35 and ready:
                n = int(rng.choice(ready))
                start, cnt = int(c.node_gpu_start[n]), int(c.node_gpu_count[n])
                free = [g for g in range(start, start + cnt) if c.gpu_tenants[g] == 0]
                if free:
                    p = Placement(n, (free[0],), 0)
                    c.bind(req, p)
                    bound.append(p)
            elif op < 0.7 and bound:
                p = bound.pop(int(rng.integers(len(bound))))
                c.release(req, p)
            elif op < 0.8 and ready:
                n = int(rng.choice(ready))
                if c.node_pods[n] == 0:
                    nm.set_not_ready(n)
            elif op < 0.85:
                drained = [i for i in live if c.node_state[i] == NODE_DRAINING]
                if drained:
                    nm.set_ready_again(int(rng.choice(drained)))
            elif op < 0.9:
                nm.add_nodes(str(rng.choice(["a", "b"])), int(rng.integers(1, 3)))
        now += 10.0
        env.run(until=now)  # provisioning nodes turn ready on the clock
        expected = _plain_clock(nm, c, env.now)
        live_before = {name: list(nm.live[name]) for name in nm.live}
        nm._scale_down()
        for name, es_plain in expected.items():
            idx = np.asarray(live_before[name], dtype=np.int64)
            # the plain removals: empty long enough, highest index first, keeping `min`
            a = nm.pools[name].autoscaling
            gone = []
            if env.now - nm.last_scale_up >= nm.cfg.scale_down_delay_after_add:
                due = idx[env.now - es_plain >= nm.cfg.scale_down_unneeded_time]
                gone = [int(i) for i in due[::-1][: max(0, idx.size - a.min)]]
            assert nm.live[name] == [i for i in live_before[name] if i not in gone], name
            removed += len(gone)
            kept = np.isin(idx, gone, invert=True)
            assert np.array_equal(nm._empty_since[idx][kept], es_plain[kept], equal_nan=True), name
            memo_idx, _v, earliest = nm._clock_memo[name]
            if np.array_equal(memo_idx, idx):
                clocks = es_plain[~np.isnan(es_plain)]
                assert earliest == (clocks.min() if clocks.size else math.inf)
        bound = [p for p in bound if c.node_state[p.node] != NODE_GONE]
    assert removed > 0


def _plain_clock(nm, c, now):
    """The empty-since clock of every autoscaled pool's live nodes, recomputed from the arrays."""
    out = {}
    for name, pool in nm.pools.items():
        if pool.autoscaling is None:
            continue
        idx = np.asarray(nm.live[name], dtype=np.int64)
        es = nm._empty_since[idx].copy()
        empty = (c.node_state[idx] == NODE_READY) & (c.node_pods[idx] == 0)
        es[~empty] = np.nan
        es[empty & np.isnan(es)] = now
        out[name] = es
    return out


@pytest.mark.parametrize("static_provisioning", [False, True])
def test_hopeless_groups_find_no_room_and_no_pool(static_provisioning):
    """A group `_hopeless` marks takes no provisioning room and the expander finds no pool for it;
    the mark is exactly "no alternative's first pod fits, statically, a node of an autoscaled pool
    or of a pool with nodes provisioning" (a replacement node of a static pool counts).
    """
    rng = np.random.default_rng(5 + static_provisioning)
    run = _clock_run()
    nm, c = run.nodes, run.cluster
    nm.add_nodes("a", 2)
    nm.add_nodes("b", 2)
    if static_provisioning:
        nm.add_nodes("s", 1, replacement=True)
    prov = ca._Provisioning(nm.provisioning_nodes, c.node_pool)
    relevant = nm._autoscaled_pools.union(int(c.node_pool[n]) for n in nm.provisioning_nodes)
    assert (c.pool_names.index("s") in relevant) == static_provisioning
    masks = [0, c.labels.mask(["tier=b"]), c.labels.mask(["tier=s"]), 1 << 40]  # the last: no node has it
    marked = served = 0
    for _ in range(300):
        alts = []
        for _a in range(int(rng.integers(1, 3))):
            sel = int(rng.choice(masks))
            k = int(rng.integers(1, 4))
            alts.append(tuple(PodRequest(cpu_milli=int(rng.choice([1000, 64000])), memory_mib=1024,
                                         gpus=int(rng.choice([1, 8, 16])), selector_mask=sel) for _ in range(k)))  # fmt: skip
        pod = PendingPod((), 0, alts, lambda i, ps: None)
        reps = {int(c.node_pool[t]): t for t in nm.templates.values()}
        plain = not any(nm.static_ok(reps[p], reqs[0]) for reqs in alts for p in relevant)
        assert nm._hopeless(pod, relevant) == plain
        if plain:
            marked += 1
            assert not any(nm._fits_room(reqs, {}, prov) for reqs in alts)
            assert nm._expand(alts, {}) is None
        elif any(nm._fits_room(reqs, {}, prov) for reqs in alts) or nm._expand(alts, {}) is not None:
            served += 1  # a group left in does find room or a pool, some of the time
    assert 0 < marked < 300 and served > 0


@pytest.mark.parametrize("seed", range(6))
def test_ready_room_walk_equals_walking_from_the_first_node(seed):
    """Gangs one after another in one scan, each one's taken room kept or dropped (a gang over its
    pool's max takes none): with the scan's walk, each gang gets what a walk from the first ready
    node gives it.
    """
    rng = np.random.default_rng(seed)
    run = _clock_run()
    nm, c = run.nodes, run.cluster
    for n in range(c.n_nodes):  # fill the ready nodes unevenly
        for g in range(int(c.node_gpu_start[n]), int(c.node_gpu_start[n] + c.node_gpu_count[n])):
            if rng.random() < 0.5:
                c.bind(PodRequest(cpu_milli=1000, memory_mib=1024, gpus=1), Placement(n, (g,), 0))
    shapes = [PodRequest(cpu_milli=int(k) * 1000, memory_mib=1024, gpus=int(g)) for k, g in ((1, 1), (2, 2), (4, 4))]
    room: dict = {}
    walk: dict = {}
    for _ in range(30):
        req = shapes[int(rng.integers(len(shapes)))]
        reqs = tuple([req] * int(rng.integers(2, 6)))
        got = nm._on_ready_room(reqs, room, walk)
        assert got == nm._on_ready_room(reqs, room, {})
        if rng.random() < 0.6:
            room.update(got[1])
    assert any(w[1] > 0 for w in walk.values())  # the walk did skip nodes
