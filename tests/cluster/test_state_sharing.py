"""Cluster state bookkeeping for whole, fractional, time-sliced and MIG GPUs."""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.cluster.state import (
    SHARING_MIG,
    SHARING_TIMESLICE,
    ClusterState,
    Placement,
    mig_masks,
    mig_valid_starts,
)


def mig_cluster(n_gpus=1):
    s = ClusterState()
    s.add_nodes("mig", 1, cpu_milli=64000, memory_mib=512000, gpus=n_gpus, gpu_model="A100", sharing=SHARING_MIG)
    return s


def test_mig_valid_starts_match_nvidia_smi_lgipp():
    # hardware-facts 1.3: Placements of profiles 19, 15, 14, 9, 5, 0
    assert mig_valid_starts(1, 1) == [0, 1, 2, 3, 4, 5, 6]
    assert mig_valid_starts(1, 2) == [0, 2, 4, 6]
    assert mig_valid_starts(2, 2) == [0, 2, 4]
    assert mig_valid_starts(3, 4) == [0, 4]
    assert mig_valid_starts(4, 4) == [0]
    assert mig_valid_starts(7, 8) == [0]


def test_mig_masks_follow_the_slice_rule():
    assert mig_masks(3, 4, 0) == (0b00001111, 0b0000111)  # 3g@0 strands compute slice 3
    assert mig_masks(3, 4, 4) == (0b11110000, 0b1110000)
    assert mig_masks(1, 1, 6) == (0b01000000, 0b1000000)
    assert mig_masks(7, 8, 0) == (0xFF, 0x7F)


def test_memory_slice_7_after_1g_at_6_is_usable_only_by_profiles_reaching_it():
    s = mig_cluster()
    one_g = s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=1, mig_memory=1, mig_starts=[6])
    s.bind(one_g, Placement(0, (0,), 6))
    for c, m, start in [(1, 2, 6), (3, 4, 4), (7, 8, 0)]:  # all need compute slice 6: conflict
        req = s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=c, mig_memory=m)
        with pytest.raises(ValueError, match="overlaps"):
            s.bind(req, Placement(0, (0,), start))
    assert int(s.gpu_mig_mem_used[0]) == 0b01000000
    assert s.gpu_free_milli[0] == 875


def test_two_3g_instances_land_at_0_and_4_and_a_third_fails():
    from gpusim.placement import place

    s = mig_cluster()
    req = s.make_request(cpu_milli=1000, memory_mib=1000, sharing=SHARING_MIG, mig_compute=3, mig_memory=4)
    rng = np.random.default_rng(0)
    starts = []
    for _ in range(2):
        p = place(s, req, "best-fit", rng)
        s.bind(req, p)
        starts.append(p.mig_start)
    assert starts == [0, 4]
    assert place(s, req, "best-fit", rng) is None
    assert s.gpu_free_milli[0] == 0 and s.gpus_busy() == 1


def test_mig_bind_rejects_a_start_outside_the_profile():
    s = mig_cluster()
    req = s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=2, mig_memory=2)
    with pytest.raises(ValueError, match="not allowed"):
        s.bind(req, Placement(0, (0,), 6))
    with pytest.raises(ValueError):
        s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=8, mig_memory=2)


def test_mig_release_frees_the_slices():
    s = mig_cluster()
    req = s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=4, mig_memory=4)
    s.bind(req, Placement(0, (0,), 0))
    assert s.node_gpus_idle[0] == 0
    s.release(req, Placement(0, (0,), 0))
    assert s.gpu_mig_mem_used[0] == 0 and s.gpu_mig_compute_used[0] == 0
    assert s.gpu_free_milli[0] == 1000 and s.node_gpus_idle[0] == 1


def ts_cluster(replicas=4, gpus=2):
    s = ClusterState()
    s.add_nodes(
        "ts",
        1,
        cpu_milli=64000,
        memory_mib=512000,
        gpus=gpus,
        gpu_model="T4",
        sharing=SHARING_TIMESLICE,
        ts_replicas=replicas,
    )
    return s


def test_time_slice_replicas_spread_over_distinct_gpus_first():
    from gpusim.placement import place

    s = ts_cluster(replicas=4, gpus=2)
    req = s.make_request(cpu_milli=0, memory_mib=0, gpus=3, sharing=SHARING_TIMESLICE, gpu_memory_mib=5000)
    p = place(s, req, "first-fit", np.random.default_rng(0))
    assert p.gpus == (0, 1, 0)
    s.bind(req, p)
    assert list(s.gpu_tenants) == [2, 1]
    assert list(s.gpu_free_milli) == [500, 750]
    assert list(s.gpu_mem_committed) == [10000, 5000]
    big = s.make_request(cpu_milli=0, memory_mib=0, gpus=6, sharing=SHARING_TIMESLICE)
    assert place(s, big, "first-fit", np.random.default_rng(0)) is None  # 5 replicas left
    five = s.make_request(cpu_milli=0, memory_mib=0, gpus=5, sharing=SHARING_TIMESLICE)
    p5 = place(s, five, "spread", np.random.default_rng(0))
    s.bind(five, p5)
    assert list(s.gpu_tenants) == [4, 4] and s.gpu_milli_allocated() == 2000
    with pytest.raises(ValueError, match="replicas"):
        s.bind(s.make_request(cpu_milli=0, memory_mib=0, gpus=1, sharing=SHARING_TIMESLICE), Placement(0, (0,)))
    s.release(five, p5)
    s.release(req, p)
    assert list(s.gpu_tenants) == [0, 0] and list(s.gpu_free_milli) == [1000, 1000]
    assert s.node_gpus_idle[0] == 2


def test_sharing_modes_only_match_their_own_nodes():
    from gpusim.placement import fits_anywhere_empty, place

    s = ts_cluster()
    whole = s.make_request(cpu_milli=0, memory_mib=0, gpus=1)
    assert place(s, whole, "first-fit", np.random.default_rng(0)) is None
    assert not fits_anywhere_empty(s, whole)
    mig = s.make_request(cpu_milli=0, memory_mib=0, sharing=SHARING_MIG, mig_compute=1, mig_memory=1)
    assert not fits_anywhere_empty(s, mig)
    assert fits_anywhere_empty(s, s.make_request(cpu_milli=0, memory_mib=0, gpus=8, sharing=SHARING_TIMESLICE))
    assert not fits_anywhere_empty(s, s.make_request(cpu_milli=0, memory_mib=0, gpus=9, sharing=SHARING_TIMESLICE))


def test_bind_is_atomic_and_rejects_overbooking():
    s = ClusterState()
    s.add_nodes("p", 2, cpu_milli=8000, memory_mib=1000, gpus=2, gpu_model="T4")
    share = s.make_request(cpu_milli=1000, memory_mib=100, gpus=1, gpu_milli=600)
    s.bind(share, Placement(0, (0,)))
    snapshot = {k: v.copy() for k, v in vars(s).items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError):
        s.bind(share, Placement(0, (0,)))  # 400 left < 600
    with pytest.raises(ValueError):
        s.bind(share, Placement(0, (2,)))  # GPU 2 is on node 1
    two = s.make_request(cpu_milli=0, memory_mib=0, gpus=2)
    with pytest.raises(ValueError):
        s.bind(two, Placement(1, (2, 2)))  # the same GPU twice
    for k, v in snapshot.items():
        assert np.array_equal(getattr(s, k), v), k
    with pytest.raises(ValueError):
        s.make_request(cpu_milli=0, memory_mib=0, gpus=2, gpu_milli=500)


def test_affinity_tags_and_views():
    s = ClusterState()
    s.add_nodes("p", 1, cpu_milli=8000, memory_mib=1000, gpus=4, gpu_model="T4")
    share = s.make_request(cpu_milli=0, memory_mib=0, gpus=1, gpu_milli=300)
    two = s.make_request(cpu_milli=0, memory_mib=0, gpus=2)
    cpu = s.make_request(cpu_milli=100, memory_mib=0)
    assert (share.affinity_tag, two.affinity_tag, cpu.affinity_tag) == (0, 2, -1)
    s.bind(share, Placement(0, (0,)))
    s.bind(two, Placement(0, (1, 2)))
    s.bind(cpu, Placement(0))
    assert int(s.node_affinity[0]) == 0b101 and s.node(0).pods == 3
    s.release(share, Placement(0, (0,)))
    assert int(s.node_affinity[0]) == 0b100
    v = s.node_version[0]
    s.touch(0)
    assert s.node_version[0] == v + 1
    g = s.gpu(1)
    assert (g.tenants, g.free_milli, g.ts_capacity, g.mig_memory_used) == (1, 0, 0, 0)
    assert s.node(0).sharing == "none"
