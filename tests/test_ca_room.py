"""The Cluster Autoscaler's room on provisioning nodes: the indexed walk (pools asked once, leading
refusals skipped) gives the same answers and the same room as walking every provisioning node.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.cluster.state import PodRequest
from gpusim.scenario.loader import load_scenario
from gpusim.sim import cluster_autoscaler as ca
from gpusim.sim.run import Run


def walk_all(nm, reqs, room: dict, provisioning: list[int]) -> bool:
    """The former `_fits_room`: every provisioning node in order, the static fit asked per node."""
    if not provisioning:
        return False
    trial: dict = {}
    pools = nm.cluster.node_pool
    for req in reqs:
        fresh_fails: set[int] = set()
        for node in provisioning:
            if not nm.static_ok(node, req):
                continue
            key = (node, req.sharing)
            mode = nm._modes[int(pools[node])]
            b = trial.get(key)
            if b is None:
                used = room.get(key)
                if used is None:
                    pool = int(pools[node])
                    if pool in fresh_fails:
                        continue
                    b = ca._capacity(nm.cluster, node, mode)
                    if not ca._take(b, req, mode):
                        fresh_fails.add(pool)
                        continue
                    trial[key] = b
                    break
                b = list(used)
            if ca._take(b, req, mode):
                trial[key] = b
                break
        else:
            return False
    room.update(trial)
    return True


def _run():
    pool = {
        "gpus_per_node": 8,
        "gpu_model": "nvidia-h100-80gb",
        "vcpu": 64,
        "memory": "512Gi",
        "autoscaling": {"min": 0, "max": 200, "provisioning": {"distribution": "constant", "value": "1h"}},
    }
    sc = load_scenario({
        "name": "ca-room", "seed": 1, "duration": "1d",
        "cluster": {"node_pools": [
            {"name": "a", "count": 1, **pool},
            {"name": "b", "count": 1, **pool, "labels": {"tier": "b"}, "gpus_per_node": 4},
            {"name": "c", "count": 1, **pool, "vcpu": 16},
        ]},
        "workloads": [{"name": "jobs", "pod": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
                       "generator": {"arrival": {"process": "poisson", "rate": "1/h"}, "gpus": [1],
                                     "duration": {"distribution": "exponential", "mean": "1h"}}}],
    })  # fmt: skip
    return Run(sc, 3)


@pytest.mark.parametrize("seed", range(12))
def test_indexed_walk_equals_walking_every_node(seed):
    rng = np.random.default_rng(seed)
    run = _run()
    nm = run.nodes
    for pool in ("a", "b", "c", "a", "c", "b", "a"):  # interleaved pools, all provisioning for an hour
        nm.add_nodes(pool, int(rng.integers(1, 6)))
    provisioning = list(nm.provisioning_nodes)
    assert len(provisioning) >= 7
    selector = run.cluster.labels.mask(["tier=b"])  # only pool b carries it
    shapes = [PodRequest(cpu_milli=int(rng.choice([1000, 8000, 30000])), memory_mib=int(rng.choice([1024, 65536])),
                         gpus=int(rng.choice([1, 2, 4, 8])), selector_mask=int(selector if rng.random() < 0.2 else 0))
              for _ in range(5)]  # fmt: skip
    room_old: dict = {}
    room_new: dict = {}
    view = ca._Provisioning(provisioning, run.cluster.node_pool)
    for _ in range(300):  # one scan: many groups against the same shrinking room
        k = int(rng.integers(1, 4))
        reqs = [shapes[int(rng.integers(len(shapes)))] for _ in range(k)]
        old = walk_all(nm, reqs, room_old, provisioning)
        new = nm._fits_room(reqs, room_new, view)
        assert old == new
        assert room_old == room_new
    assert any(room_new.values())
    assert selector and not nm.static_ok(provisioning[0], PodRequest(cpu_milli=1, memory_mib=1, selector_mask=selector))
