"""Old import path of the sharing modes: thin wrappers over `gpusim.sharing`.

Each pool's `sharing` is a mode object (gpusim.sharing.SharingMode) that answers these
questions itself; the functions here take the pool, as the callers of this module did.
"""

from __future__ import annotations

from gpusim.sharing import (  # noqa: F401  (re-exported)
    MIG_PREFIX,
    UNIT_LABEL,
    LayoutError,
    Offer,
    amd_profile,
    mig_layout,
    offer_share,
)


def pool_unit(pool) -> str:
    """The kind of GPU unit the pool advertises (value of UNIT_LABEL)."""
    return pool.sharing.unit()


def units_and_memory(pool, gpu) -> tuple[int, float]:
    """(devices per node as the cluster state holds them, GiB per device)."""
    if gpu is None:
        return pool.gpus_per_node, 0.0
    return pool.sharing.devices(pool.gpus_per_node, gpu)


def pool_sharing(pool) -> int:
    """The cluster state's sharing kind (SHARING_*) of the pool's nodes."""
    return pool.sharing.kind


def offer(pool, gpu, resource: str, count: int) -> Offer | str:
    """How `pool` serves `count` of `resource` per pod, or a reason why it does not."""
    if gpu is None:
        return "no GPUs"
    return pool.sharing.offer(gpu, resource, count)


def replicas(pool) -> int:
    """Pods that can share one device (time-slice replicas, Intel sharedDevNum), else 1."""
    return pool.sharing.replicas()


def switch_overhead(pool) -> float:
    return pool.sharing.switch_overhead


def units_per_node(pool, gpu=None) -> int:
    """GPU units one pod could take from an empty node of the pool (replicas on shared devices,
    logical GPUs on AMD partitions).
    """
    return pool.sharing.units_per_node(pool.gpus_per_node, gpu)
