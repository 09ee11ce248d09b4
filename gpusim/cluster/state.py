"""The cluster as structure-of-arrays, owned by one `ClusterState` object.

Per node: pool, GPU model, CPU and memory (total and free), the node's slice of the GPU arrays,
labels and taints as 64-bit masks, and lifecycle state. Per GPU: owning node, free milli-GPU
(1000 = idle), memory total and committed, time-slice tenants, and MIG slot occupancy as
bitmasks. The placement kernels read these arrays directly; `NodeView`/`GpuView` are thin
read-only views for the API and tests, never what a hot path walks.

GPU sharing modes are per node (`node_sharing`): SHARING_NONE (whole GPUs, and milli-GPU shares
of one GPU as in Alibaba's GPU-sharing clusters), SHARING_TIMESLICE (each GPU advertised as
`gpu_ts_capacity` replicas, a pod takes replicas, co-tenants share time) and SHARING_MIG (a pod
takes one MIG instance: `compute` and `memory` slices starting at an allowed start index; the
GPU's occupancy is two bitmasks, 7 compute slices and 8 memory slices). A GPU request matches
only nodes of its own mode.

Time-slicing follows the NVIDIA device plugin: a pod asking k replicas takes k replica slots,
each from the GPU with the most free replicas (the plugin's distributed allocation), so they land
on distinct GPUs while there are any, and several on one GPU only when they must (the plugin
gives no extra compute for that). MIG follows hardware-facts 1.3: profile (c, m) at start s holds
memory slices [s, s+m) and compute slices [s, min(s+c, 7)); instances may not overlap on either.

`gpu_free_milli` stays meaningful in every mode, so allocation metrics are comparable:
a time-sliced GPU with t of N replicas taken has ``1000 - 1000 t // N`` free; a MIG GPU has
125 milli-GPU per free memory slice. `gpu_tenants` counts pods (replicas) on each GPU, and
`gpu_mem_committed` the GPU memory they declared (never a filter). `node_affinity` /
`node_tag_counts` record which GPU pod shapes run on each node (for gpu-clustering) and
`node_version` increments on every bind/release (call `touch` after any other change), so
derived per-node caches (FGD's fragmentation) know when to refresh.

Aggregates are also kept as running counters, on bind, release and node state changes
(`set_node_state`), so the engine can sample them at every event for free: GPUs on live nodes
(`live_gpus`), milli-GPU allocated on live nodes (`allocated_milli`), GPUs with a tenant
(`busy_gpus`) and live nodes per pool (`pool_live_nodes`). They hold when every change goes
through those methods; `gpus_total`, `gpu_milli_allocated()` and `gpus_busy()` recompute the same
from the arrays (for kernels that bind on the arrays directly, and for tests to compare).

Units: CPU in milli-cores, memory in MiB, GPU shares in milli-GPU (1/1000 of one GPU).

Labels and taints are interned into bit positions when the cluster is built: a pod's
nodeSelector becomes a mask that must be a subset of the node's label mask, and its tolerations
become the mask of taints it tolerates; a node passes when every NoSchedule/NoExecute taint it
carries is tolerated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpusim.cluster._bind import bind_none, release_none

NODE_PROVISIONING = 0
NODE_READY = 1
NODE_DRAINING = 2
NODE_GONE = 3
NODE_STATE_NAMES = {0: "provisioning", 1: "ready", 2: "draining", 3: "gone"}

MILLI = 1000  # milli-GPU in one GPU

SHARING_NONE = 0
SHARING_TIMESLICE = 1
SHARING_MIG = 2
SHARING_NAMES = {SHARING_NONE: "none", SHARING_TIMESLICE: "time-slicing", SHARING_MIG: "mig"}
MAX_TAG = 62  # GPU-clustering affinity tags 0..62 live in a uint64 mask per node
ROOM_BLOCK_SHIFT = 6  # `ClusterState.room` bounds the room of blocks of 2**6 = 64 nodes
MIG_COMPUTE_SLICES = 7
MIG_MEMORY_SLICES = 8
MIG_SLICE_MILLI = MILLI // MIG_MEMORY_SLICES  # a MIG memory slice counts as 125 milli-GPU
MAX_BITS = 63  # bit 63 is reserved: "no node has this", so a mask with it matches nothing
NEVER_BIT = 1 << 63


@dataclass(frozen=True, slots=True)
class PodRequest:
    """What one pod asks of a node, resolved against the cluster's interned labels and taints.

    ``gpus`` GPUs each with ``gpu_milli`` milli-GPU (1000 for whole GPUs; below 1000 only when
    ``gpus == 1``, a fractional share as in Alibaba's GPU-sharing clusters).
    ``gpu_model_mask``: bit i set = GPU model index i allowed; 0 = any model.
    ``selector_mask``: label bits the node must carry. ``toleration_mask``: taint bits tolerated.
    """

    cpu_milli: int
    memory_mib: int
    gpus: int = 0
    gpu_milli: int = MILLI
    gpu_model_mask: int = 0
    selector_mask: int = 0
    toleration_mask: int = 0
    # what kind of GPU resource: SHARING_NONE (gpus x gpu_milli), SHARING_TIMESLICE (`gpus`
    # time-slice replicas) or SHARING_MIG (one instance of `mig_compute`/`mig_memory` slices
    # at a start in `mig_starts_mask`, bit s = start s allowed)
    sharing: int = SHARING_NONE
    mig_compute: int = 0
    mig_memory: int = 0
    mig_starts_mask: int = 0
    # GPU memory the pod declares it uses (committed on bind; never a filter: time-sliced
    # tenants share memory without isolation, and exceeding it is the engine's OOM model)
    gpu_memory_mib: int = 0

    @property
    def gpu_milli_total(self) -> int:
        return self.gpus * self.gpu_milli

    @property
    def affinity_tag(self) -> int:
        """GPU-clustering tag: -1 CPU-only, 0 a share of a GPU (fractional, time-slice, MIG),
        k for k whole GPUs (capped at 62), as in the FGD artifact's `GetGpuAffinityFromPodAnnotation`.
        """
        if self.gpus <= 0:
            return -1
        if self.sharing != SHARING_NONE or self.gpu_milli < MILLI:
            return 0
        return min(self.gpus, MAX_TAG)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a pod is bound: a node index and the global indices of its GPUs.

    One entry per GPU asked (whole/fractional: distinct GPUs; time-slice: one entry per replica,
    a GPU repeats when it hosts several of the pod's replicas; MIG: the one GPU, with
    `mig_start` the instance's first memory slice).
    """

    node: int
    gpus: tuple[int, ...] = ()
    mig_start: int = -1  # MIG instance start index (memory-slice axis), -1 if not MIG


class _BitTable:
    """Interns strings into bit positions of a uint64 mask."""

    def __init__(self, what: str):
        self.what = what
        self.bits: dict[str, int] = {}

    def bit(self, key: str) -> int:
        if key not in self.bits:
            if len(self.bits) >= MAX_BITS:
                raise ValueError(f"more than {MAX_BITS} distinct {self.what} in one cluster")
            self.bits[key] = len(self.bits)
        return self.bits[key]

    def mask(self, keys) -> int:
        m = 0
        for k in keys:
            m |= 1 << self.bit(k)
        return m


def _as_u64(mask: int) -> np.uint64:
    return np.uint64(mask & 0xFFFFFFFFFFFFFFFF)


def _ts_free_milli(tenants: int, capacity: int) -> int:
    """Free milli-GPU of a time-sliced GPU: each replica stands for 1/capacity of it."""
    return MILLI - (MILLI * tenants) // capacity if capacity > 0 else MILLI


def mig_masks(compute: int, memory: int, start: int) -> tuple[int, int]:
    """Memory- and compute-slice bitmasks of a MIG instance (hardware-facts 1.3 simulator rule).

    An instance of `compute` c and `memory` m slices at `start` s holds memory slices [s, s+m)
    and compute slices [s, min(s+c, 7)).
    """
    mem = ((1 << memory) - 1) << start
    hi = min(start + compute, MIG_COMPUTE_SLICES)
    comp = ((1 << (hi - start)) - 1) << start if hi > start else 0
    return mem, comp


def mig_valid_starts(compute: int, memory: int) -> list[int]:
    """Start indices `nvidia-smi mig -lgipp` lists for a (compute, memory) profile.

    Starts are aligned to the memory size and the instance must fit both axes:
    ``s % m == 0``, ``s + m <= 8`` and ``s + c <= 7``. This reproduces the published table
    (1g {0..6}, 1g.2xmem {0,2,4,6}, 2g {0,2,4}, 3g {0,4}, 4g {0}, 7g {0}).
    """
    return [
        s
        for s in range(0, MIG_MEMORY_SLICES, memory)
        if s + memory <= MIG_MEMORY_SLICES and s + compute <= MIG_COMPUTE_SLICES
    ]


def toleration_matches(key: str, operator: str, value: str, effect: str, taint_key: str, taint_value: str,
                       taint_effect: str) -> bool:  # fmt: skip
    """Kubernetes toleration matching: an empty effect matches every effect; operator Exists matches
    the key (an empty key every taint), Equal the key and the value.
    """
    if effect and effect != taint_effect:
        return False
    if operator == "Exists":
        return key in ("", taint_key)
    return key == taint_key and value == taint_value


class ClusterState:
    """All nodes and GPUs of one simulated cluster, as arrays.

    Build it empty and add nodes with `add_nodes` (the engine does so from the scenario's node
    pools, the cluster autoscaler later at run time). Each array is the first `n_nodes` (or
    `n_gpus`) entries of a buffer that doubles when full, so adding nodes costs what it adds,
    not a copy of the whole cluster, and every hot-path array stays contiguous with a fixed
    dtype. An added node's arrays are new views: hold the state, not its arrays, across an
    `add_nodes`.
    """

    _NODE_FIELDS = {
        "node_pool": np.int32,
        "node_gpu_model": np.int32,
        "node_cpu_total": np.int64,
        "node_cpu_free": np.int64,
        "node_mem_total": np.int64,
        "node_mem_free": np.int64,
        "node_gpu_start": np.int32,
        "node_gpu_count": np.int32,
        "node_gpus_idle": np.int32,
        "node_labels": np.uint64,
        "node_taints": np.uint64,
        "node_state": np.int8,
        "node_pods": np.int32,
        "node_sharing": np.int8,
        # bit t set = some pod with GPU-affinity tag t runs here (see PodRequest.affinity_tag)
        "node_affinity": np.uint64,
        # bumped on every bind/release on the node, so derived per-node caches know they are stale
        "node_version": np.int64,
        # nodes with one shape id were added alike (pool, size, GPUs, labels, taints, sharing): with
        # no pods on them they look the same to every check and score (placement's `feasible_in`)
        "node_shape": np.int32,
    }
    _GPU_FIELDS = {
        "gpu_node": np.int32,
        "gpu_free_milli": np.int32,
        "gpu_mem_total": np.int64,
        "gpu_mem_committed": np.int64,
        "gpu_tenants": np.int32,
        "gpu_mig_mem_used": np.uint8,
        "gpu_mig_compute_used": np.uint8,
        "gpu_ts_capacity": np.int32,
    }

    def __init__(self, gpu_model_ids: list[str] | None = None, pool_names: list[str] | None = None):
        self.gpu_model_ids: list[str] = list(gpu_model_ids or [])
        self.pool_names: list[str] = list(pool_names or [])
        self.node_names: list[str] = []
        self.labels = _BitTable("node labels")
        self.taints = _BitTable("node taints")
        # taint bit -> (key, value, effect), to resolve tolerations
        self.taint_specs: list[tuple[str, str, str]] = []
        self.n_nodes = 0
        self.n_gpus = 0
        self.max_gpus_per_node = 0
        self._shape_ids: dict[tuple, int] = {}  # what nodes were added with -> their node_shape
        # the buffers the arrays are views of (see the class docstring)
        self._node_buf = {name: np.zeros(0, dtype=dtype) for name, dtype in self._NODE_FIELDS.items()}
        # pods per (node, GPU-affinity tag); node_affinity is its nonzero mask
        self._node_buf["node_tag_counts"] = np.zeros((0, MAX_TAG + 1), dtype=np.int32)
        self._gpu_buf = {name: np.zeros(0, dtype=dtype) for name, dtype in self._GPU_FIELDS.items()}
        self._view(self._node_buf, 0)
        self._view(self._gpu_buf, 0)
        # FGD: the target workload's typical pods (gpusim.placement.fgd.TargetWorkload) and the
        # per-node fragmentation caches derived from it; set by the engine or the experiment
        self.target_workload = None
        self._derived_caches: dict = {}
        # called after every release of a MIG pod (the engine keeps GPUs that are being
        # re-partitioned blocked); releases of other pods call none, so they can run compiled
        self.release_hooks: list = []
        # running aggregates (see the module docstring)
        self._gpus_live = 0
        self._milli_allocated = 0
        self._gpus_busy = 0
        self.pool_live_nodes: list[int] = [0] * len(self.pool_names)
        # per pool: bumped on every bind, release, state change or touch of one of its nodes and
        # when nodes are added, so a periodic scan of a pool (the Cluster Autoscaler's empty-node
        # clock) knows when nothing it reads has changed (kernels that bind on the arrays directly,
        # e.g. placement's pack_sequence, do not bump it)
        self.pool_version: list[int] = [0] * len(self.pool_names)
        self.node_states_version = 0  # bumped by set_node_state (derived ready masks know when to refresh)
        # per block of 64 nodes (node >> ROOM_BLOCK_SHIFT), two columns (one array for the kernels):
        # `room_block`, at least the most wholly free GPUs on any node of the block (any state), or
        # -1 when the block changed since it was counted, and `room_shape`, with a counted block the
        # node shape (`node_shape`, below 64) all its nodes share when none of them has a pod, else
        # -1. Every bind (the kernels' own too), release, touch and added node marks its block -1;
        # placement's `feasible_in` counts a marked block when a whole-GPU pod first looks at it,
        # skips the blocks without room, and its alike-node dedupe passes a block of empty nodes
        # alike once it has looked at one like them
        self.room = np.zeros((0, 2), dtype=np.int32)

    @property
    def room_block(self) -> np.ndarray:
        """`room`'s first column (a view): each block's wholly free GPUs bound, -1 if to be counted."""
        return self.room[:, 0]

    @property
    def room_shape(self) -> np.ndarray:
        """`room`'s second column (a view): the shape of a counted block whose nodes are all empty."""
        return self.room[:, 1]

    # ------------------------------------------------------------------ building
    def gpu_model_index(self, model_id: str | None) -> int:
        if model_id is None:
            return -1
        if model_id not in self.gpu_model_ids:
            self.gpu_model_ids.append(model_id)
        return self.gpu_model_ids.index(model_id)

    def pool_index(self, pool: str) -> int:
        if pool not in self.pool_names:
            self.pool_names.append(pool)
            self.pool_live_nodes.append(0)
            self.pool_version.append(0)
        return self.pool_names.index(pool)

    def taint_mask(self, taints: list[tuple[str, str, str]]) -> int:
        """Mask of the scheduling taints (NoSchedule, NoExecute); PreferNoSchedule never filters."""
        m = 0
        for key, value, effect in taints:
            if effect == "PreferNoSchedule":
                continue
            name = f"{key}={value}:{effect}"
            new = name not in self.taints.bits
            bit = self.taints.bit(name)
            if new:
                self.taint_specs.append((key, value, effect))
            m |= 1 << bit
        return m

    def add_nodes(
        self,
        pool: str,
        count: int,
        *,
        cpu_milli: int,
        memory_mib: int,
        gpus: int = 0,
        gpu_model: str | None = None,
        gpu_memory_mib: int = 0,
        labels: dict[str, str] | None = None,
        taints: list[tuple[str, str, str]] | None = None,
        state: int = NODE_READY,
        names: list[str] | None = None,
        sharing: int = SHARING_NONE,
        ts_replicas: int = 1,
    ) -> np.ndarray:
        """Append `count` identical nodes; returns their indices."""
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        pool_i = self.pool_index(pool)
        model_i = self.gpu_model_index(gpu_model) if gpus > 0 else -1
        label_mask = self.labels.mask(f"{k}={v}" for k, v in (labels or {}).items())
        taint_mask = self.taint_mask(list(taints or []))
        first = self.n_nodes
        start = self.n_gpus + gpus * np.arange(count, dtype=np.int64)
        shape_key = (pool_i, cpu_milli, memory_mib, gpus, model_i, gpu_memory_mib, label_mask, taint_mask, sharing,
                     ts_replicas)  # fmt: skip
        shape = self._shape_ids.setdefault(shape_key, len(self._shape_ids))
        new_nodes = {
            "node_pool": np.full(count, pool_i),
            "node_gpu_model": np.full(count, model_i),
            "node_cpu_total": np.full(count, cpu_milli),
            "node_cpu_free": np.full(count, cpu_milli),
            "node_mem_total": np.full(count, memory_mib),
            "node_mem_free": np.full(count, memory_mib),
            "node_gpu_start": start,
            "node_gpu_count": np.full(count, gpus),
            "node_gpus_idle": np.full(count, gpus),
            "node_labels": np.full(count, _as_u64(label_mask)),
            "node_taints": np.full(count, _as_u64(taint_mask)),
            "node_state": np.full(count, state),
            "node_pods": np.zeros(count),
            "node_sharing": np.full(count, sharing),
            "node_affinity": np.zeros(count),
            "node_version": np.zeros(count),
            "node_shape": np.full(count, shape),
        }
        new_nodes["node_tag_counts"] = 0
        self._append(self._node_buf, first, count, new_nodes)
        g = gpus * count
        new_gpus = {
            "gpu_node": np.repeat(np.arange(first, first + count), gpus),
            "gpu_free_milli": np.full(g, MILLI),
            "gpu_mem_total": np.full(g, gpu_memory_mib),
            "gpu_mem_committed": np.zeros(g),
            "gpu_tenants": np.zeros(g),
            "gpu_mig_mem_used": np.zeros(g),
            "gpu_mig_compute_used": np.zeros(g),
            "gpu_ts_capacity": np.full(g, ts_replicas if sharing == SHARING_TIMESLICE else 0),
        }
        self._append(self._gpu_buf, self.n_gpus, g, new_gpus)
        self.node_names.extend(names or [f"{pool}-{i}" for i in range(first, first + count)])
        self.n_nodes += count
        self.n_gpus += g
        n_blocks = ((self.n_nodes - 1) >> ROOM_BLOCK_SHIFT) + 1
        if n_blocks > self.room.shape[0]:
            more = np.full((n_blocks - self.room.shape[0], 2), -1, dtype=np.int32)
            self.room = np.concatenate([self.room, more])
        self.room[first >> ROOM_BLOCK_SHIFT :, 0] = -1
        self.max_gpus_per_node = max(self.max_gpus_per_node, gpus)
        if state != NODE_GONE:
            self._gpus_live += g
            self.pool_live_nodes[pool_i] += count
        self.pool_version[pool_i] += 1
        return np.arange(first, first + count)

    def _append(self, bufs: dict, n: int, count: int, values: dict) -> None:
        """Write `count` new rows of each array after its first `n` (growing its buffer to at
        least double when full) and make the arrays views of the first ``n + count`` rows.
        """
        need = n + count
        for name, buf in bufs.items():
            if buf.shape[0] < need:
                grown = np.zeros((max(need, 2 * buf.shape[0]), *buf.shape[1:]), dtype=buf.dtype)
                grown[:n] = buf[:n]
                bufs[name] = buf = grown
            buf[n:need] = values[name]
        self._view(bufs, need)

    def _view(self, bufs: dict, n: int) -> None:
        for name, buf in bufs.items():
            setattr(self, name, buf[:n])

    def __getstate__(self) -> dict:
        """Pickled and deep-copied as the buffers' used rows; `__setstate__` makes the arrays views
        of them again (copying each array on its own would cut it from its buffer).
        """
        d = self.__dict__.copy()
        for name in (*self._node_buf, *self._gpu_buf):
            del d[name]
        d["_node_buf"] = {k: v[: self.n_nodes] for k, v in self._node_buf.items()}
        d["_gpu_buf"] = {k: v[: self.n_gpus] for k, v in self._gpu_buf.items()}
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._view(self._node_buf, self.n_nodes)
        self._view(self._gpu_buf, self.n_gpus)

    def set_node_state(self, node: int, state: int) -> None:
        """Change a node's lifecycle state (provisioning, ready, gone), keeping the aggregates."""
        old = int(self.node_state[node])
        self.node_state[node] = state
        self.node_states_version += 1
        if (old == NODE_GONE) != (state == NODE_GONE):
            sign = -1 if state == NODE_GONE else 1
            start, n = int(self.node_gpu_start[node]), int(self.node_gpu_count[node])
            self._gpus_live += sign * n
            self._milli_allocated += sign * int(np.sum(MILLI - self.gpu_free_milli[start : start + n], dtype=np.int64))
            self.pool_live_nodes[int(self.node_pool[node])] += sign
        self.node_version[node] += 1
        self.pool_version[int(self.node_pool[node])] += 1

    # ------------------------------------------------------------------ requests
    def make_request(
        self,
        *,
        cpu_milli: int,
        memory_mib: int,
        gpus: int = 0,
        gpu_milli: int = MILLI,
        gpu_models: list[str] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict] | None = None,
        sharing: int = SHARING_NONE,
        mig_compute: int = 0,
        mig_memory: int = 0,
        mig_starts: list[int] | None = None,
        gpu_memory_mib: int = 0,
    ) -> PodRequest:
        """Resolve a pod's requests, selector and tolerations against this cluster's tables.

        A selector term no node carries gets a fresh bit no node has, so it matches nothing.
        GPU models not present in the cluster are ignored; if none remain the pod fits nowhere.

        Sharing modes: ``sharing=SHARING_NONE`` asks ``gpus`` GPUs of ``gpu_milli`` each;
        ``SHARING_TIMESLICE`` asks ``gpus`` time-slice replicas (``gpu_milli`` is ignored);
        ``SHARING_MIG`` asks one MIG instance of ``mig_compute`` compute and ``mig_memory``
        memory slices (``gpus`` is forced to 1) at one of ``mig_starts`` (default: the starts
        `mig_valid_starts` derives from the profile geometry).
        """
        model_mask = 0
        if gpu_models:
            for m in gpu_models:
                if m in self.gpu_model_ids:
                    model_mask |= 1 << self.gpu_model_ids.index(m)
            if model_mask == 0:
                model_mask = NEVER_BIT  # no node has this model: unschedulable
        selector_mask = 0
        for k, v in (node_selector or {}).items():
            key = f"{k}={v}"
            if key in self.labels.bits:
                selector_mask |= 1 << self.labels.bits[key]
            else:
                selector_mask |= NEVER_BIT  # a label no node carries: matches nothing
        starts_mask = 0
        if sharing == SHARING_MIG:
            if not (1 <= mig_compute <= MIG_COMPUTE_SLICES and 1 <= mig_memory <= MIG_MEMORY_SLICES):
                raise ValueError(
                    f"MIG profile needs 1..7 compute and 1..8 memory slices, got {mig_compute}c/{mig_memory}m"
                )
            starts = mig_valid_starts(mig_compute, mig_memory) if mig_starts is None else mig_starts
            for st in starts:
                if not 0 <= st < MIG_MEMORY_SLICES:
                    raise ValueError(f"MIG start {st} outside 0..7")
                starts_mask |= 1 << int(st)
            gpus = 1
        elif sharing not in (SHARING_NONE, SHARING_TIMESLICE):
            raise ValueError(f"unknown sharing mode {sharing}")
        if sharing == SHARING_NONE and gpus > 1 and gpu_milli < MILLI:
            raise ValueError("a fraction of a GPU is only allowed with gpus == 1")
        return PodRequest(
            cpu_milli=int(cpu_milli),
            memory_mib=int(memory_mib),
            gpus=int(gpus),
            gpu_milli=int(gpu_milli) if sharing == SHARING_NONE else MILLI,
            gpu_model_mask=model_mask,
            selector_mask=selector_mask,
            toleration_mask=self.toleration_mask(tolerations or []),
            sharing=int(sharing),
            mig_compute=int(mig_compute),
            mig_memory=int(mig_memory),
            mig_starts_mask=starts_mask,
            gpu_memory_mib=int(gpu_memory_mib),
        )

    def toleration_mask(self, tolerations: list[dict]) -> int:
        """Kubernetes toleration matching: operator Exists (empty key = all) or Equal; empty effect = all."""
        mask = 0
        for bit, taint in enumerate(self.taint_specs):
            if any(
                toleration_matches(t.get("key") or "", t.get("operator") or "Equal", t.get("value") or "",
                                   t.get("effect") or "", *taint)
                for t in tolerations
            ):  # fmt: skip
                mask |= 1 << bit
        return mask

    def set_target_workload(self, workload) -> None:
        """Set the workload distribution FGD measures fragmentation against (a `TargetWorkload`)."""
        self.target_workload = workload
        self._derived_caches.clear()

    def touch(self, node: int) -> None:
        """Mark a node changed outside bind/release (e.g. MIG re-partitioning), so caches refresh."""
        self.room[node >> ROOM_BLOCK_SHIFT, 0] = -1
        self.node_version[node] += 1
        self.pool_version[int(self.node_pool[node])] += 1

    # ------------------------------------------------------------------ binding
    def node_eligible(self, node: int, req: PodRequest) -> bool:
        """Static filter of a ready node: `static_fit` and the node is ready (not free resources)."""
        return self.node_state[node] == NODE_READY and self.static_fit(node, req)

    def static_fit(self, node: int, req: PodRequest) -> bool:
        """The one static-feasibility predicate: selector, taints, GPU model and sharing mode, in any
        node state (the scheduler's filter, the autoscaler's templates and the references share it).

        A GPU request only matches nodes of its own sharing mode: whole/fractional GPUs on
        SHARING_NONE nodes, replicas on time-slicing nodes, MIG instances on MIG nodes.
        """
        sel = _as_u64(req.selector_mask)
        if (self.node_labels[node] & sel) != sel:
            return False
        if int(self.node_taints[node]) & ~req.toleration_mask:
            return False
        if req.gpus > 0:
            model = int(self.node_gpu_model[node])
            if model < 0:
                return False
            if req.gpu_model_mask and not (req.gpu_model_mask >> model) & 1:
                return False
            if int(self.node_sharing[node]) != req.sharing:
                return False
        return True

    def static_fit_nodes(self, req: PodRequest) -> np.ndarray:
        """The nodes not gone that pass `static_fit` for `req`, in index order (its array form)."""
        n = self.n_nodes
        sel = _as_u64(req.selector_mask)
        ok = (self.node_state[:n] != NODE_GONE) & ((self.node_labels[:n] & sel) == sel)
        ok &= (self.node_taints[:n] & ~_as_u64(req.toleration_mask)) == 0
        if req.gpus > 0:
            model = self.node_gpu_model[:n]
            ok &= (model >= 0) & (self.node_sharing[:n] == req.sharing)
            if req.gpu_model_mask:
                bit = np.left_shift(np.uint64(1), np.maximum(model, 0).astype(np.uint64))
                ok &= (_as_u64(req.gpu_model_mask) & bit) != 0
        return np.flatnonzero(ok)

    def _check_gpus(self, req: PodRequest, placement: Placement) -> None:
        n = placement.node
        if len(placement.gpus) != req.gpus:
            raise ValueError(f"placement has {len(placement.gpus)} GPUs, request asks {req.gpus}")
        for g in placement.gpus:
            if not 0 <= g < self.n_gpus or self.gpu_node[g] != n:
                raise ValueError(f"GPU {g} is not on node {n}")
        if req.gpus and int(self.node_sharing[n]) != req.sharing:
            raise ValueError(f"node {n} does not offer {SHARING_NAMES[req.sharing]} GPUs")
        if req.sharing == SHARING_NONE:
            if len(set(placement.gpus)) != len(placement.gpus):
                raise ValueError("whole or fractional GPUs must be distinct")
            for g in placement.gpus:
                if self.gpu_free_milli[g] < req.gpu_milli:
                    raise ValueError(f"GPU {g} cannot take {req.gpu_milli} milli-GPU")
        elif req.sharing == SHARING_TIMESLICE:
            for g in set(placement.gpus):
                k = placement.gpus.count(g)
                if self.gpu_tenants[g] + k > self.gpu_ts_capacity[g]:
                    raise ValueError(f"GPU {g} has no {k} free time-slice replicas")
        else:
            if req.gpus != 1:
                raise ValueError("a MIG request takes exactly one instance")
            g, s = placement.gpus[0], placement.mig_start
            if not (0 <= s < MIG_MEMORY_SLICES) or not (req.mig_starts_mask >> s) & 1:
                raise ValueError(f"MIG start {s} is not allowed for this profile")
            mem, comp = mig_masks(req.mig_compute, req.mig_memory, s)
            if mem >> MIG_MEMORY_SLICES:
                raise ValueError(f"MIG instance at {s} runs past the last memory slice")
            if int(self.gpu_mig_mem_used[g]) & mem or int(self.gpu_mig_compute_used[g]) & comp:
                raise ValueError(f"MIG instance at {s} overlaps one already on GPU {g}")

    def bind(self, req: PodRequest, placement: Placement) -> None:
        """Commit a placement; raises (changing nothing) if it would overbook the node or a GPU."""
        n = placement.node
        if req.sharing == SHARING_NONE and len(placement.gpus) == req.gpus and 0 <= n < self.n_nodes:
            # whole GPUs or a fractional share: compiled (gpusim.cluster._bind); the Python path below
            # only when it does not fit, to raise the precise error
            ok, d_alloc, d_busy = bind_none(
                n, np.array(placement.gpus, dtype=np.int64), req.gpu_milli, req.gpu_memory_mib, req.cpu_milli,
                req.memory_mib, req.affinity_tag, self.n_gpus, self.node_sharing, self.gpu_node, self.node_cpu_free,
                self.node_mem_free, self.node_pods, self.node_version, self.node_tag_counts, self.node_affinity,
                self.node_gpus_idle, self.gpu_tenants, self.gpu_mem_committed, self.gpu_free_milli,
            )  # fmt: skip
            if ok:
                self.pool_version[self.node_pool[n]] += 1
                self.room[n >> ROOM_BLOCK_SHIFT, 0] = -1
                if self.node_state[n] != NODE_GONE:
                    self._milli_allocated += d_alloc
                self._gpus_busy += d_busy
                return
        if self.node_cpu_free[n] < req.cpu_milli or self.node_mem_free[n] < req.memory_mib:
            raise ValueError(f"node {n} lacks CPU or memory for {req}")
        self._check_gpus(req, placement)
        self.room[n >> ROOM_BLOCK_SHIFT, 0] = -1
        self.node_cpu_free[n] -= req.cpu_milli
        self.node_mem_free[n] -= req.memory_mib
        self.node_pods[n] += 1
        self.node_version[n] += 1
        self.pool_version[self.node_pool[n]] += 1
        tag = req.affinity_tag
        if tag >= 0:
            self.node_tag_counts[n, tag] += 1
            self.node_affinity[n] |= np.uint64(1 << tag)
        before = self._free_of(placement.gpus)
        for g in placement.gpus:
            if self.gpu_tenants[g] == 0:
                self.node_gpus_idle[n] -= 1
            self.gpu_tenants[g] += 1
            self.gpu_mem_committed[g] += req.gpu_memory_mib
            if req.sharing == SHARING_NONE:
                self.gpu_free_milli[g] -= req.gpu_milli
            elif req.sharing == SHARING_TIMESLICE:
                self.gpu_free_milli[g] = _ts_free_milli(int(self.gpu_tenants[g]), int(self.gpu_ts_capacity[g]))
        if req.sharing == SHARING_MIG and req.gpus:
            g = placement.gpus[0]
            mem, comp = mig_masks(req.mig_compute, req.mig_memory, placement.mig_start)
            self.gpu_mig_mem_used[g] |= np.uint8(mem)
            self.gpu_mig_compute_used[g] |= np.uint8(comp)
            self.gpu_free_milli[g] = MILLI - MIG_SLICE_MILLI * int(self.gpu_mig_mem_used[g]).bit_count()
        self._count_gpus(n, before)

    def release(self, req: PodRequest, placement: Placement) -> None:
        """Undo `bind`."""
        n = placement.node
        if req.sharing == SHARING_NONE and 0 <= n < self.n_nodes:
            # compiled (gpusim.cluster._bind); an index out of range takes the Python path below
            ok, d_alloc, d_busy = release_none(
                n, np.array(placement.gpus, dtype=np.int64), req.gpu_milli, req.gpu_memory_mib, req.cpu_milli,
                req.memory_mib, req.affinity_tag, self.node_cpu_free, self.node_mem_free, self.node_pods,
                self.node_version, self.node_tag_counts, self.node_affinity, self.node_gpus_idle, self.gpu_tenants,
                self.gpu_mem_committed, self.gpu_free_milli,
            )  # fmt: skip
        else:
            ok = False
        if ok:
            self.pool_version[self.node_pool[n]] += 1
            self.room[n >> ROOM_BLOCK_SHIFT, 0] = -1
            if self.node_state[n] != NODE_GONE:
                self._milli_allocated += d_alloc
            self._gpus_busy += d_busy
            if self.node_cpu_free[n] > self.node_cpu_total[n] or self.node_mem_free[n] > self.node_mem_total[n]:
                raise ValueError(f"release of {req} on node {n} frees more than it holds")
            return  # release hooks watch MIG pods only
        self.room[n >> ROOM_BLOCK_SHIFT, 0] = -1
        self.node_cpu_free[n] += req.cpu_milli
        self.node_mem_free[n] += req.memory_mib
        self.node_pods[n] -= 1
        self.node_version[n] += 1
        self.pool_version[self.node_pool[n]] += 1
        tag = req.affinity_tag
        if tag >= 0:
            self.node_tag_counts[n, tag] -= 1
            if self.node_tag_counts[n, tag] == 0:
                self.node_affinity[n] &= ~np.uint64(1 << tag)
        before = self._free_of(placement.gpus)
        for g in placement.gpus:
            self.gpu_tenants[g] -= 1
            self.gpu_mem_committed[g] -= req.gpu_memory_mib
            if req.sharing == SHARING_NONE:
                self.gpu_free_milli[g] += req.gpu_milli
            elif req.sharing == SHARING_TIMESLICE:
                self.gpu_free_milli[g] = _ts_free_milli(int(self.gpu_tenants[g]), int(self.gpu_ts_capacity[g]))
            if self.gpu_tenants[g] == 0:
                self.node_gpus_idle[n] += 1
        if req.sharing == SHARING_MIG and req.gpus:
            g = placement.gpus[0]
            mem, comp = mig_masks(req.mig_compute, req.mig_memory, placement.mig_start)
            self.gpu_mig_mem_used[g] &= np.uint8(~mem & 0xFF)
            self.gpu_mig_compute_used[g] &= np.uint8(~comp & 0xFF)
            self.gpu_free_milli[g] = MILLI - MIG_SLICE_MILLI * int(self.gpu_mig_mem_used[g]).bit_count()
        self._count_gpus(n, before)
        if self.node_cpu_free[n] > self.node_cpu_total[n] or self.node_mem_free[n] > self.node_mem_total[n]:
            raise ValueError(f"release of {req} on node {n} frees more than it holds")
        if req.sharing == SHARING_MIG:
            for hook in self.release_hooks:
                hook(req, placement)

    def _free_of(self, gpus: tuple[int, ...]) -> dict[int, int]:
        return {g: int(self.gpu_free_milli[g]) for g in gpus}

    def _count_gpus(self, node: int, before: dict[int, int]) -> None:
        """Fold the change of the GPUs' free milli-GPU since `before` into the counters."""
        live = self.node_state[node] != NODE_GONE
        for g, was in before.items():
            now = int(self.gpu_free_milli[g])
            if live:
                self._milli_allocated += was - now
            self._gpus_busy += (now < MILLI) - (was < MILLI)

    # ------------------------------------------------------------------ aggregates
    @property
    def live_gpus(self) -> int:
        """GPUs on nodes that are not gone (provisioning ones included); a running counter."""
        return self._gpus_live

    @property
    def allocated_milli(self) -> int:
        """Milli-GPU allocated on nodes that are not gone; a running counter."""
        return self._milli_allocated

    @property
    def busy_gpus(self) -> int:
        """GPUs with at least one tenant; a running counter."""
        return self._gpus_busy

    @property
    def gpus_total(self) -> int:
        """GPUs on nodes that are not gone, counted from the arrays."""
        ready = self.node_state[self.gpu_node] != NODE_GONE if self.n_gpus else np.zeros(0, bool)
        return int(np.count_nonzero(ready))

    def gpu_milli_allocated(self) -> int:
        """Milli-GPU allocated on nodes that are not gone, summed from the arrays."""
        live = self.node_state[self.gpu_node] != NODE_GONE
        return int(np.sum(MILLI - self.gpu_free_milli[live], dtype=np.int64))

    def gpus_busy(self) -> int:
        """GPUs with at least one tenant, counted from the arrays."""
        return int(np.count_nonzero(self.gpu_free_milli < MILLI))

    def aggregates(self) -> dict[str, object]:
        """The running counters, named as `aggregates_from_arrays` names them."""
        return {
            "gpus_total": self._gpus_live,
            "gpu_milli_allocated": self._milli_allocated,
            "gpus_busy": self._gpus_busy,
            "pool_live_nodes": list(self.pool_live_nodes),
        }

    def aggregates_from_arrays(self) -> dict[str, object]:
        """The same aggregates recomputed from the arrays (the slow, obviously right way)."""
        live_node = self.node_state[: self.n_nodes] != NODE_GONE
        pools = [int(np.count_nonzero(live_node & (self.node_pool == i))) for i in range(len(self.pool_names))]
        return {
            "gpus_total": self.gpus_total,
            "gpu_milli_allocated": self.gpu_milli_allocated(),
            "gpus_busy": self.gpus_busy(),
            "pool_live_nodes": pools,
        }

    # ------------------------------------------------------------------ views
    def node(self, i: int) -> NodeView:
        return NodeView(self, i)

    def nodes(self) -> list[NodeView]:
        return [NodeView(self, i) for i in range(self.n_nodes)]

    def gpu(self, g: int) -> GpuView:
        return GpuView(self, g)


class NodeView:
    """Read-only view of one node for the API and tests."""

    __slots__ = ("_s", "index")

    def __init__(self, state: ClusterState, index: int):
        self._s = state
        self.index = index

    name = property(lambda self: self._s.node_names[self.index])
    pool = property(lambda self: self._s.pool_names[self._s.node_pool[self.index]])
    cpu_milli_free = property(lambda self: int(self._s.node_cpu_free[self.index]))
    memory_mib_free = property(lambda self: int(self._s.node_mem_free[self.index]))
    state = property(lambda self: NODE_STATE_NAMES[int(self._s.node_state[self.index])])
    sharing = property(lambda self: SHARING_NAMES[int(self._s.node_sharing[self.index])])
    pods = property(lambda self: int(self._s.node_pods[self.index]))

    @property
    def gpu_model(self) -> str | None:
        m = int(self._s.node_gpu_model[self.index])
        return self._s.gpu_model_ids[m] if m >= 0 else None

    @property
    def gpus(self) -> list[GpuView]:
        s, i = self._s, self.index
        start = int(s.node_gpu_start[i])
        return [GpuView(s, g) for g in range(start, start + int(s.node_gpu_count[i]))]

    def __repr__(self) -> str:
        return f"Node({self.name}, pool={self.pool}, gpus={len(self.gpus)}, state={self.state})"


class GpuView:
    """Read-only view of one GPU."""

    __slots__ = ("_s", "index")

    def __init__(self, state: ClusterState, index: int):
        self._s = state
        self.index = index

    node = property(lambda self: int(self._s.gpu_node[self.index]))
    free_milli = property(lambda self: int(self._s.gpu_free_milli[self.index]))
    tenants = property(lambda self: int(self._s.gpu_tenants[self.index]))
    ts_capacity = property(lambda self: int(self._s.gpu_ts_capacity[self.index]))
    memory_committed_mib = property(lambda self: int(self._s.gpu_mem_committed[self.index]))
    mig_memory_used = property(lambda self: int(self._s.gpu_mig_mem_used[self.index]))
    mig_compute_used = property(lambda self: int(self._s.gpu_mig_compute_used[self.index]))

    def __repr__(self) -> str:
        return f"Gpu({self.index}, node={self.node}, free_milli={self.free_milli})"
