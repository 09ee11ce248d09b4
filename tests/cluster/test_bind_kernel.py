"""The compiled bind/release of whole-GPU and fractional pods (gpusim/cluster/_bind.py) against the
Python path they replace: on random sequences of binds (fitting or not: overbooked CPU, memory or
GPU, GPUs of another node, repeated or out-of-range GPUs, a node with a sharing mode) and releases,
both leave every array and counter the same and raise the same errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpusim.cluster import state as state_mod
from gpusim.cluster.state import NODE_GONE, NODE_READY, SHARING_TIMESLICE, ClusterState, Placement


def _cluster() -> ClusterState:
    s = ClusterState()
    s.add_nodes("a", 3, cpu_milli=16000, memory_mib=64 * 1024, gpus=8, gpu_model="nvidia-h100-80gb")
    s.add_nodes("b", 2, cpu_milli=8000, memory_mib=32 * 1024, gpus=4, gpu_model="nvidia-a100-80gb")
    s.add_nodes("ts", 1, cpu_milli=8000, memory_mib=32 * 1024, gpus=2, gpu_model="nvidia-h100-80gb",
                sharing=SHARING_TIMESLICE, ts_replicas=2)  # fmt: skip
    s.add_nodes("cpu", 1, cpu_milli=8000, memory_mib=32 * 1024)
    s.add_nodes("gone", 1, cpu_milli=16000, memory_mib=64 * 1024, gpus=8, gpu_model="nvidia-h100-80gb",
                state=NODE_GONE)  # fmt: skip
    return s


def _python_only(monkeypatch):
    monkeypatch.setattr(state_mod, "bind_none", lambda *a: (False, 0, 0))
    monkeypatch.setattr(state_mod, "release_none", lambda *a: (False, 0, 0))


def _snapshot(s: ClusterState) -> dict:
    out = {name: getattr(s, name).copy() for name in {**s._NODE_FIELDS, **s._GPU_FIELDS}}
    out["tags"] = s.node_tag_counts.copy()
    out["agg"] = s.aggregates()
    out["pool_version"] = list(s.pool_version)
    return out


def _ops(seed: int, s: ClusterState) -> list:
    """A random sequence of (op, request, placement): mostly sensible, some invalid."""
    rng = np.random.default_rng(seed)
    reqs = [
        s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1),
        s.make_request(cpu_milli=2000, memory_mib=4096, gpus=4, gpu_memory_mib=1000),
        s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1, gpu_milli=300),
        s.make_request(cpu_milli=6000, memory_mib=1024, gpus=2, gpu_milli=1000),
        s.make_request(cpu_milli=500, memory_mib=512),  # CPU only
        s.make_request(cpu_milli=20000, memory_mib=512, gpus=1),  # more CPU than any node
    ]
    ops = []
    bound: list = []
    for _ in range(500):
        if rng.random() < 0.6 or not bound:
            req = reqs[int(rng.integers(len(reqs)))]
            n = int(rng.integers(s.n_nodes))
            start, cnt = int(s.node_gpu_start[n]), int(s.node_gpu_count[n])
            kind = rng.random()
            if kind < 0.75 and cnt >= req.gpus:
                gpus = tuple(int(g) for g in start + rng.choice(cnt, req.gpus, replace=False))
            elif kind < 0.85 and req.gpus:
                gpus = tuple(int(rng.integers(-1, s.n_gpus + 2)) for _ in range(req.gpus))  # any GPU, any node
            elif kind < 0.92 and req.gpus >= 2 and cnt:
                gpus = (start,) * req.gpus  # repeated
            else:
                gpus = tuple(range(start, start + min(cnt, req.gpus + int(rng.integers(0, 2)))))  # wrong count
            ops.append(("bind", req, Placement(n, gpus)))
            bound.append(len(ops) - 1)
        else:
            i = bound.pop(int(rng.integers(len(bound))))
            ops.append(("release", i))
    return ops


def _play(s: ClusterState, ops: list) -> list:
    """Apply the ops (a release undoes the bind it names, if that bind succeeded); what happened."""
    log = []
    ok: set[int] = set()
    for k, op in enumerate(ops):
        if op[0] == "bind":
            _, req, p = op
            try:
                s.bind(req, p)
                ok.add(k)
                log.append("bound")
            except (ValueError, IndexError) as e:
                log.append(f"{type(e).__name__}: {e}")
        else:
            i = op[1]
            if i not in ok:
                log.append("skip")
                continue
            _, req, p = ops[i]
            s.release(req, p)
            log.append("released")
        log.append(_snapshot(s))
    return log


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("seed", range(6))
def test_compiled_bind_release_equal_python(seed, monkeypatch):
    fast = _cluster()
    ops = _ops(seed, fast)
    got = _play(fast, ops)
    with monkeypatch.context() as m:
        _python_only(m)
        want = _play(_cluster(), ops)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert _equal(a, b), (k, a if isinstance(a, str) else "state")
    bound = sum(1 for x in got if x == "bound")
    refused = sum(1 for x in got if isinstance(x, str) and x.startswith(("ValueError", "IndexError")))
    assert bound > 50 and refused > 20 and "released" in got
    assert fast.aggregates() == fast.aggregates_from_arrays()


def test_release_of_more_than_bound_raises():
    s = _cluster()
    req = s.make_request(cpu_milli=1000, memory_mib=1024, gpus=1)
    with pytest.raises(ValueError, match="frees more than it holds"):
        s.release(req, Placement(0, (0,)))
    assert s.node_state[0] == NODE_READY
