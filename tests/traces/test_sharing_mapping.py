"""The documented mapping of trace pods (gpus x gpu-milli) onto shared pools (replay.SHARING_MAPPING)."""

from __future__ import annotations

import pandas as pd
import pytest

from gpusim.hardware import load_catalog
from gpusim.traces.replay import map_records_to_sharing, sharing_request

CAT = load_catalog()
A100 = CAT.gpu("nvidia-a100-80gb")
MI300X = CAT.gpu("amd-mi300x")
TS4 = {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
MIG = {"mig": {"strategy": "mixed", "config": "all-balanced"}}


@pytest.mark.parametrize(
    ("milli", "mem_mib", "profile"),
    [
        (100, 0, "nvidia.com/mig-1g.10gb"),  # 1/7 of the SMs covers 10 %
        (100, 15 * 1024, "nvidia.com/mig-1g.20gb"),  # the memory need picks the 20 GB slice
        (250, 0, "nvidia.com/mig-2g.20gb"),  # 2/7 = 28.6 % >= 25 %
        (300, 0, "nvidia.com/mig-3g.40gb"),  # 2/7 < 30 % <= 3/7
        (600, 0, "nvidia.com/mig-7g.80gb"),  # 4/7 = 57 % < 60 %: only the whole GPU is enough
    ],
)
def test_mig_smallest_profile_that_fits(milli, mem_mib, profile):
    res, count, note = sharing_request(1, milli, MIG, A100, gpu_memory_mib=mem_mib)
    assert (res, count) == (profile, 1) and note


def test_multi_gpu_pods_on_mig_take_whole_gpu_instances():
    # Philly's 2/4/8-GPU jobs: a MIG instance never spans GPUs
    for g in (2, 4, 8):
        assert sharing_request(g, 1000, MIG, A100)[:2] == ("nvidia.com/mig-7g.80gb", g)
    single = {"mig": {"strategy": "single", "config": "all-3g.40gb"}}
    assert sharing_request(2, 1000, single, A100)[:2] == ("nvidia.com/gpu", 2)


def test_time_slicing_replicas():
    assert sharing_request(1, 500, TS4, A100)[:2] == ("nvidia.com/gpu", 2)  # half a GPU = 2 of 4 replicas
    assert sharing_request(1, 100, TS4, A100)[:2] == ("nvidia.com/gpu", 1)  # never 0
    assert sharing_request(2, 1000, TS4, A100)[:2] == ("nvidia.com/gpu", 8)  # capacity of 2 GPUs
    renamed = {"timeSlicing": {"renameByDefault": True, "failRequestsGreaterThanOne": True,
                               "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}  # fmt: skip
    res, count, note = sharing_request(1, 500, renamed, A100)
    assert (res, count) == ("nvidia.com/gpu.shared", 1) and "capped" in note


def test_amd_partitions_and_whole_gpus():
    cpx = {"amdPartition": {"profile": "cpx_nps4", "strategy": "mixed"}}
    assert sharing_request(1, 300, cpx, MI300X)[:2] == ("amd.com/cpx_nps4", 3)  # ceil(0.3 x 8)
    assert sharing_request(2, 1000, {"amdPartition": {"profile": "cpx_nps1"}}, MI300X)[:2] == ("amd.com/gpu", 16)
    assert sharing_request(1, 500, {}, A100)[:2] == ("nvidia.com/gpu", 1)  # a fraction takes a whole GPU
    assert sharing_request(1, 500, {"fractional": True}, A100)[:2] == ("gpu-milli", 1)
    assert sharing_request(0, 0, MIG, A100) == ("", 0, "")


def test_map_records_adds_columns_and_leaves_input_alone():
    recs = pd.DataFrame({"gpus": [1, 1, 8, 0], "gpu_milli": [100, 1000, 1000, 0]})
    out = map_records_to_sharing(recs, MIG, A100)
    assert "gpu_resource" not in recs
    assert out["gpu_resource"].tolist() == ["nvidia.com/mig-1g.10gb", "nvidia.com/mig-7g.80gb",
                                            "nvidia.com/mig-7g.80gb", ""]  # fmt: skip
    assert out["gpu_count"].tolist() == [1, 1, 8, 0]
