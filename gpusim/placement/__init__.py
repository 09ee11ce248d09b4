"""Placement: choose a node (and its GPUs) for a pod, or say it is unschedulable.

One entry point, `place(state, request, policy, rng)`, is what the engine calls. Policies are
registered by name in `POLICIES`; each is a function
``(state: ClusterState, req: PodRequest, rng: numpy.random.Generator) -> Placement | None``.
Ties always break on the lowest node index, then the lowest GPU index, so results never depend
on iteration order or threads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gpusim.cluster.state import ClusterState, Placement, PodRequest
from gpusim.placement import reference

PolicyFn = Callable[[ClusterState, PodRequest, np.random.Generator], Placement | None]

POLICIES: dict[str, PolicyFn] = {
    "first-fit": reference.first_fit,
    "best-fit": reference.best_fit,
}


def policy_names() -> list[str]:
    return sorted(POLICIES)


def place(
    state: ClusterState, req: PodRequest, policy: str, rng: np.random.Generator
) -> Placement | None:
    """Return where `req` goes under `policy`, or None if no ready node can take it now."""
    return POLICIES[policy](state, req, rng)


def fits_anywhere_empty(state: ClusterState, req: PodRequest) -> bool:
    """Could `req` fit on some node if that node were empty? (static feasibility)."""
    return reference.fits_empty(state, req)
