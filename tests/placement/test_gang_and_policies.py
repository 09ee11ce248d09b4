"""Gang placement, policy behaviour on hand-made clusters, and FGD's fragmentation measure."""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.cluster.state import ClusterState, Placement
from gpusim.placement import bind_gang, place, place_gang
from gpusim.placement.fgd import TargetWorkload
from gpusim.placement.reference import frag_amount


def cluster(nodes=3, gpus=4, cpu=32000):
    s = ClusterState()
    s.add_nodes("p", nodes, cpu_milli=cpu, memory_mib=256000, gpus=gpus, gpu_model="A100")
    return s


def arrays(s):
    return {k: v.copy() for k, v in vars(s).items() if isinstance(v, np.ndarray)}


def same(s, snap):
    return all(np.array_equal(getattr(s, k), v) for k, v in snap.items() if k != "node_version")


def test_gang_all_or_nothing_leaves_no_partial_resources():
    s = cluster(nodes=2, gpus=4)
    snap = arrays(s)
    job = [s.make_request(cpu_milli=1000, memory_mib=1000, gpus=4) for _ in range(3)]
    assert place_gang(s, job, "best-fit", np.random.default_rng(0)) is None  # needs 12 of 8 GPUs
    assert same(s, snap)
    fits = job[:2]
    ps = place_gang(s, fits, "best-fit", np.random.default_rng(0))
    assert ps is not None and sorted(p.node for p in ps) == [0, 1]
    assert same(s, snap)  # the state is never left holding the gang
    bind_gang(s, fits, ps)
    assert s.gpus_busy() == 8


def test_gang_placements_see_each_other():
    s = cluster(nodes=1, gpus=4)
    job = [s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=600) for _ in range(4)]
    ps = place_gang(s, job, "best-fit", np.random.default_rng(0))
    assert [p.gpus for p in ps] == [(0,), (1,), (2,), (3,)]  # 600 + 600 never share a GPU


def test_bind_gang_rolls_back_when_a_bind_fails():
    s = cluster(nodes=1, gpus=2)
    snap = arrays(s)
    reqs = [s.make_request(cpu_milli=0, memory_mib=0, gpus=1)] * 2
    with pytest.raises(ValueError):
        bind_gang(s, reqs, [Placement(0, (0,)), Placement(0, (0,))])
    assert same(s, snap)


def test_unknown_policy_names_the_known_ones():
    s = cluster()
    with pytest.raises(ValueError, match="fgd"):
        place(s, s.make_request(cpu_milli=0, memory_mib=0), "tetris", np.random.default_rng(0))


def test_best_fit_packs_spread_spreads_first_fit_takes_first():
    s = cluster(nodes=3, gpus=4)
    one = s.make_request(cpu_milli=1000, memory_mib=1000, gpus=1)
    s.bind(one, Placement(1, (4,)))
    rng = np.random.default_rng(0)
    assert place(s, one, "first-fit", rng).node == 0
    assert place(s, one, "best-fit", rng) == Placement(1, (5,))
    assert place(s, one, "gpu-packing", rng).node == 1
    assert place(s, one, "spread", rng).node == 0  # least allocated CPU/memory, lowest index
    nodes = {place(s, one, "random", np.random.default_rng(k)).node for k in range(30)}
    assert nodes == {0, 1, 2}


def test_fractional_share_goes_to_the_fullest_gpu_that_fits():
    s = cluster(nodes=1, gpus=4)
    a = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=500)
    b = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=700)
    s.bind(a, Placement(0, (1,)))
    s.bind(b, Placement(0, (2,)))
    small = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=250)
    assert place(s, small, "first-fit", np.random.default_rng(0)).gpus == (2,)  # 300 left
    mid = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=400)
    assert place(s, mid, "first-fit", np.random.default_rng(0)).gpus == (1,)  # 500 left


def test_gpu_clustering_prefers_nodes_with_the_same_pod_shape():
    s = cluster(nodes=3, gpus=4)
    share = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=300)
    two = s.make_request(cpu_milli=0, memory_mib=0, gpus=2)
    s.bind(two, Placement(0, (0, 1)))
    s.bind(share, Placement(1, (4,)))
    rng = np.random.default_rng(0)
    assert place(s, two, "gpu-clustering", rng).node == 0
    assert place(s, share, "gpu-clustering", rng).node == 1
    four = s.make_request(cpu_milli=0, memory_mib=0, gpus=4)
    assert place(s, four, "gpu-clustering", rng).node == 2  # the idle node beats foreign tags


def test_frag_amount_examples_from_the_paper_definition():
    # typical pods: 50% want 1 x 500m, 50% want 2 whole GPUs; node with GPUs free [1000, 300]
    w = TargetWorkload.from_requests(
        [
            ClusterState().make_request(cpu_milli=1000, memory_mib=0, gpus=1, gpu_milli=500),
            ClusterState().make_request(cpu_milli=1000, memory_mib=0, gpus=2),
        ],
        popularity=1.0,
    )
    # share pod fits (GPU 0): only the 300 left on GPU 1 is fragment; 2-GPU pod cannot fit: all 1300
    # (weights are pod counts, 1 each: divide by 2 for the expected milli-GPU)
    assert frag_amount(8000, [1000, 300], 0, w) / 2 == pytest.approx(0.5 * 300 + 0.5 * 1300)
    assert frag_amount(500, [1000, 300], 0, w) / 2 == pytest.approx(1300)  # too little CPU: all
    assert frag_amount(8000, [1000, 1000], 0, w) == 0
    assert frag_amount(8000, [0, 0], 0, w) == 0


def test_fgd_avoids_creating_fragments():
    """With only 2-GPU pods expected, FGD puts a share on a node where it strands least."""
    s = cluster(nodes=2, gpus=2)
    share = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=500)
    s.bind(share, Placement(1, (2,)))  # node 1 is already broken for 2-GPU pods
    s.set_target_workload(TargetWorkload.from_requests([s.make_request(cpu_milli=0, memory_mib=0, gpus=2)]))
    p = place(s, share, "fgd", np.random.default_rng(0))
    assert p == Placement(1, (2,))  # fill the half-used GPU rather than break node 0
    assert place(s, share, "best-fit", np.random.default_rng(0)) == Placement(1, (2,))


def test_typical_pods_keep_the_popular_shapes():
    s = ClusterState()
    reqs = (
        [s.make_request(cpu_milli=1000, memory_mib=0, gpus=1)] * 60
        + [s.make_request(cpu_milli=2000, memory_mib=0, gpus=1, gpu_milli=500)] * 36
        + [s.make_request(cpu_milli=3000, memory_mib=0)] * 4
    )
    w = TargetWorkload.from_requests(reqs)  # 60 + 36 = 96% >= 95%: the CPU-only shape is dropped
    assert len(w) == 2
    assert w.freq.tolist() == pytest.approx([60 / 96, 36 / 96])
    assert TargetWorkload.from_requests(reqs, popularity=1.0).gpus.tolist() == [1, 1, 0]


def test_fgd_cache_survives_added_nodes_and_binds():
    from gpusim.placement.reference import REFERENCE_POLICIES

    s = cluster(nodes=2, gpus=2)
    share = s.make_request(cpu_milli=100, memory_mib=1, gpus=1, gpu_milli=300)
    s.set_target_workload(TargetWorkload.from_requests([share, s.make_request(cpu_milli=100, memory_mib=1, gpus=2)]))
    for _ in range(3):
        s.bind(share, place(s, share, "fgd", None))
    s.add_nodes("q", 2, cpu_milli=8000, memory_mib=1000, gpus=2, gpu_model="A100")
    for _ in range(6):
        p = place(s, share, "fgd", None)
        assert p == REFERENCE_POLICIES["fgd"](s, share, None)
        s.bind(share, p)
    assert s.gpu_milli_allocated() == 9 * 300


def test_target_workload_from_frequencies_only():
    w = TargetWorkload(
        cpu_milli=np.array([1000, 0]), gpu_milli=np.array([500, 0]), gpus=np.array([1, 0]),
        model_mask=np.array([0, 0], dtype=np.uint64), freq=np.array([0.75, 0.25]),
    )  # fmt: skip
    assert w.weight.tolist() == [750000, 250000]
    assert w.arrays[0].shape == (2, 5)
