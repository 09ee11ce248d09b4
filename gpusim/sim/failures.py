"""Node and GPU failures, repair or replacement, and spot interruptions, as a run component.

Each live, Ready node of a GPU pool fails as a Poisson process at its pool's rate per GPU-hour x
its GPUs (`failures.per_gpu_hour`: `catalog` takes the GPU model's published unexpected-interruption
rate, gpusim.hardware.failures). A failure's kind is `gpu` or `node` (host, network, software), drawn
with the study's share of GPU root causes (Llama 3 Table 5: 268 of 419). On a failure the node turns
NotReady (no new pods bind; it stays billed) and every listener is told `node_lost(node, now)`:
training jobs there lose the work since their last checkpoint and are requeued whole (a gang loses
all its pods), placeholders are recreated, inference services drop the replicas there. After the
repair time the node is Ready again (`repair`) or deleted and replaced by a new node of its pool,
ready after the provisioning lag (`replace`).

Nodes of `spot: true` pools are also interrupted at `spot.per_node_hour`: at the notice the node is
cordoned (pods keep running, none binds) and listeners with `node_notice(node, now, notice_s)` are
told (a training job whose checkpoint fits in the notice writes one and leaves); when the notice
ends the node goes away (pods lost as on a failure, billing stops) and a replacement is requested
at once.

Random sources (one stream each, gpusim.sim.random): `failures/nodes` (times to failure),
`failures/kind` (gpu or node), `failures/spot` (times to interruption). A node's clock restarts
whenever it turns Ready (memoryless), and a clock of a node that left is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gpusim.cluster.state import NODE_READY
from gpusim.hardware.failures import HOUR_S, load_failure_catalog

FAILURE_KINDS = ("gpu", "node", "spot")


class FailureInjector:
    """Draws failures and spot interruptions per node and drives repair or replacement.

    Lifecycle: build (`FailureInjector(env, cluster, nodes, spec, pools, streams, on_change)`),
    `connect(listener, ...)` (each gets `node_lost(node, now)`), `start()` (a clock per Ready node;
    the node manager tells it of nodes that turn Ready or go), then `collect(end_s)` (counts by kind,
    node availability).
    """

    def __init__(self, env, cluster, nodes, spec, pools: dict, streams, on_change: Callable[[], None]):
        self.env = env
        self.cluster = cluster
        self.nodes = nodes
        self.spec = spec
        self.on_change = on_change
        self.rng = streams.stream("failures/nodes")
        self.kind_rng = streams.stream("failures/kind")
        self.spot_rng = streams.stream("failures/spot")
        self.listeners: list = []
        fc = load_failure_catalog()
        self.rate_s: dict[int, float] = {}  # pool index -> failures per node-second
        self.repair: dict[int, object] = {}
        self.spot: dict[int, tuple[float, float]] = {}  # pool index -> (interruptions per node-second, notice s)
        self.gpu_share: dict[int, float] = {}
        for pi, name in enumerate(cluster.pool_names):
            pool = pools[name]
            over = spec.pools.get(name)
            rate = over.per_gpu_hour if over is not None and over.per_gpu_hour is not None else spec.per_gpu_hour
            gpus = pool.gpus_per_node if pool.gpu_model is not None else 0
            study = None
            if rate == "catalog":
                study = fc.rate_study(pool.gpu_model)[0] if pool.gpu_model is not None else None
                rate = study.interruptions_per_gpu_hour() if study is not None else 0.0
            else:
                study = fc.rate_study(pool.gpu_model or "default")[0]
            self.rate_s[pi] = float(rate) * gpus / HOUR_S if spec.enabled else 0.0
            gpu_rel = study.gpu_failures_per_gpu_hour() if study is not None else None
            total = study.interruptions_per_gpu_hour() if study is not None else None
            self.gpu_share[pi] = gpu_rel / total if gpu_rel is not None and total else 0.0
            self.repair[pi] = over.repair if over is not None and over.repair is not None else spec.repair
            sp = over.spot if over is not None and over.spot is not None else spec.spot
            if pool.spot and sp is not None and spec.enabled and sp.per_node_hour > 0:
                notice = sp.notice if sp.notice is not None else fc.spot_notice_s(sp.cloud)
                self.spot[pi] = (sp.per_node_hour / HOUR_S, float(notice))
        self._clock: dict[int, int] = {}  # node -> version of its armed clocks
        self._down_since: dict[int, float] = {}  # node -> when it failed or was cordoned
        self.down_s = 0.0  # node-seconds NotReady because of a failure or an interruption notice
        self.counts = dict.fromkeys(FAILURE_KINDS, 0)
        self.repairs_pending = 0

    def connect(self, *listeners) -> None:
        self.listeners.extend(listeners)

    def start(self) -> None:
        self.nodes.watch(self)
        c = self.cluster
        for i in range(c.n_nodes):
            if c.node_state[i] == NODE_READY:
                self.node_ready(i)

    # ------------------------------------------------------------------ clocks
    def node_ready(self, i: int) -> None:
        """A node turned Ready (at the start, after provisioning or a repair): its clocks (re)start."""
        pi = int(self.cluster.node_pool[i])
        v = self._clock[i] = self._clock.get(i, 0) + 1
        rate = self.rate_s.get(pi, 0.0)
        if rate > 0:
            ev = self.env.timeout(float(self.rng.exponential(1.0 / rate)))
            ev.callbacks.append(lambda _e, i=i, v=v: self._fail(i, v))
        spot = self.spot.get(pi)
        if spot is not None:
            ev = self.env.timeout(float(self.spot_rng.exponential(1.0 / spot[0])))
            ev.callbacks.append(lambda _e, i=i, v=v: self._notice(i, v))

    def node_gone(self, i: int) -> None:
        self._clock[i] = self._clock.get(i, 0) + 1  # its armed clocks are stale

    def _live(self, i: int, v: int) -> bool:
        return self._clock.get(i) == v and self.cluster.node_state[i] == NODE_READY

    # ------------------------------------------------------------------ failures
    def _fail(self, i: int, v: int) -> None:
        if not self._live(i, v):
            return
        pi = int(self.cluster.node_pool[i])
        kind = "gpu" if self.kind_rng.random() < self.gpu_share[pi] else "node"
        self.counts[kind] += 1
        self._clock[i] += 1
        self._down(i)
        self._lose(i)
        repair = self.repair[pi]
        self.repairs_pending += 1
        ev = self.env.timeout(repair.time)
        ev.callbacks.append(lambda _e, i=i, action=repair.action: self._repaired(i, action))

    def _repaired(self, i: int, action: str) -> None:
        self.repairs_pending -= 1
        self._up(i)
        if action == "repair":
            self.nodes.set_ready_again(i)
        else:
            self.nodes.replace_node(i)

    def _notice(self, i: int, v: int) -> None:
        """A spot interruption notice: cordon now, the VM goes away when the notice ends."""
        if not self._live(i, v):
            return
        self.counts["spot"] += 1
        self._clock[i] += 1
        self._down(i)
        self.repairs_pending += 1
        notice = self.spot[int(self.cluster.node_pool[i])][1]
        ev = self.env.timeout(notice)
        ev.callbacks.append(lambda _e, i=i: self._interrupted(i))
        for listener in self.listeners:
            if hasattr(listener, "node_notice"):
                listener.node_notice(i, self.env.now, notice)

    def _interrupted(self, i: int) -> None:
        self.repairs_pending -= 1
        self._lose(i)
        self._up(i)
        self.nodes.replace_node(i)

    def _down(self, i: int) -> None:
        self._down_since[i] = self.env.now
        self.nodes.set_not_ready(i)

    def _up(self, i: int) -> None:
        self.down_s += self.env.now - self._down_since.pop(i)

    def _lose(self, i: int) -> None:
        now = self.env.now
        for listener in self.listeners:
            listener.node_lost(i, now)
        self.on_change()

    # ------------------------------------------------------------------ results
    def collect(self, end_s: float) -> dict:
        """Failures by kind and node availability: the share of Ready-capable node time (from each
        node's first Ready to its removal or the end) not lost to a failure or an interruption notice.
        """
        down = self.down_s + sum(end_s - t for t in self._down_since.values())
        node_s = 0.0
        for rec in self.nodes.records:
            if math.isfinite(rec.ready_s) and rec.ready_s < end_s:
                end = rec.removed_s if math.isfinite(rec.removed_s) else end_s
                node_s += max(0.0, min(end, end_s) - rec.ready_s)
        summary = {"failures": sum(self.counts.values())}
        summary.update({f"failures.{k}": n for k, n in self.counts.items()})
        summary["node_downtime_hours"] = down / HOUR_S
        summary["node_availability"] = 1.0 - down / node_s if node_s > 0 else math.nan
        return {"summary": summary}
