"""Cluster state: structure-of-arrays owned by one object, with thin Python views."""

from gpusim.cluster.state import (
    NODE_DRAINING,
    NODE_GONE,
    NODE_PROVISIONING,
    NODE_READY,
    ClusterState,
    GpuView,
    NodeView,
    Placement,
    PodRequest,
)

__all__ = [
    "ClusterState",
    "GpuView",
    "NodeView",
    "Placement",
    "PodRequest",
    "NODE_PROVISIONING",
    "NODE_READY",
    "NODE_DRAINING",
    "NODE_GONE",
]
