"""`place_gang` for whole and fractional GPUs runs compiled (`_kernels.gang_sequence`); on random
clusters and gangs it gives the placements of the pod-by-pod Python loop and leaves every array,
version and counter as that loop does (bind then release of each tentatively placed pod).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from placement_cases import random_cluster, random_request

import gpusim.placement as placement
from gpusim.cluster.state import SHARING_NONE
from gpusim.placement import K, place_gang

POLICIES = [p for p, pid in placement.POLICY_IDS.items() if pid not in placement._GANG_SLOW_POLICIES]


def _state_of(s) -> dict:
    out = {name: getattr(s, name).copy() for name in {**s._NODE_FIELDS, **s._GPU_FIELDS}}
    out["tags"] = s.node_tag_counts.copy()
    out["agg"] = s.aggregates()
    out["pool_version"] = list(s.pool_version)
    return out


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) and (not isinstance(a[k], np.ndarray) or a[k].dtype == b[k].dtype) for k in a
    )


@pytest.mark.parametrize("seed", range(40))
def test_compiled_gang_equals_pod_by_pod(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    state = random_cluster(rng)
    policy = POLICIES[seed % len(POLICIES)]
    tried = 0
    for _ in range(25):
        req = random_request(state, rng)
        if req.sharing != SHARING_NONE:
            continue
        k = int(rng.integers(2, 7))
        reqs = [req] * k if rng.random() < 0.7 else [req] + [random_request(state, rng) for _ in range(k - 1)]
        if any(r.sharing != SHARING_NONE for r in reqs):
            continue
        plain_state = copy.deepcopy(state)
        with monkeypatch.context() as m:
            m.setattr(placement, "_GANG_SLOW_POLICIES", tuple(placement.POLICY_IDS.values()))
            want = place_gang(plain_state, reqs, policy, np.random.default_rng(0))
        got = place_gang(state, reqs, policy, np.random.default_rng(0))
        assert got == want, (policy, reqs)
        assert _equal(_state_of(state), _state_of(plain_state))
        tried += 1
        if got is not None:
            placement.bind_gang(state, reqs, got)  # fill the cluster up as the run goes
    assert tried > 3


def test_both_outcomes_are_exercised(monkeypatch):
    """Over the seeds above, gangs both fit and do not fit (else the comparison proves little)."""
    placed = refused = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        state = random_cluster(rng)
        for _ in range(25):
            req = random_request(state, rng)
            if req.sharing != SHARING_NONE:
                continue
            got = place_gang(state, [req] * int(rng.integers(2, 7)), POLICIES[seed % len(POLICIES)], rng)
            placed += got is not None
            refused += got is None
    assert placed > 20 and refused > 20
    assert K.gang_sequence is not None
