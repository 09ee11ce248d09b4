"""Sweeps under faults: workers die with their parent; bad Dask addresses exit 2 naming the address."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gpusim.cli import main
from tests.conftest import ROOT

LONG_SWEEP = """\
name: long-sweep
seed: 1
duration: 60d
cluster:
  node_pools:
    - {name: gpu, count: 4, gpu_model: nvidia-a100-80gb, gpus_per_node: 8, vcpu: 64, memory: 512Gi}
workloads:
  - name: train
    pod: {resources: {limits: {nvidia.com/gpu: 1}}}
    generator:
      arrival: {process: poisson, rate: 600/h}
      gpus: [1, 2, 4]
      duration: {distribution: exponential, mean: 20m}
sweep:
  factors:
    scheduler.policy: [first-fit, best-fit, spread, random]
"""


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(d.name))
    return out


def _is_worker(pid: int) -> bool:
    try:
        cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"spawn_main" in cmd


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_workers_exit_when_the_sweep_parent_is_killed(tmp_path):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(LONG_SWEEP)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-m", "gpusim.cli", "sweep", str(scenario), "--workers", "2", "--out", str(tmp_path / "s"),
         "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = [c for c in _children(parent.pid) if _is_worker(c)]
            if len(workers) == 2:
                break
            assert parent.poll() is None, "the sweep ended before its workers started"
            time.sleep(0.2)
        assert len(workers) == 2, "the sweep never started 2 workers"
        time.sleep(3)  # let them import gpusim and start simulating
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "workers outlived their sweep"
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:  # a failing run must not leave them simulating
            if _alive(w) and _is_worker(w):
                os.kill(w, signal.SIGKILL)


@pytest.fixture
def garbage_server():
    """A TCP server that answers every connection with bytes that are no Dask message."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                conn.sendall(b"\xff" * 64 + b"HTTP/1.1 200 OK\r\n\r\n" + os.urandom(256))
                time.sleep(0.2)
            except OSError:
                pass
            finally:
                conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    srv.close()
    t.join(2)


def _sweep_file(tmp_path):
    from tests.sweep.tiny import TINY_YAML

    p = tmp_path / "s.yaml"
    p.write_text(TINY_YAML)
    return p


@pytest.mark.parametrize("address", ["bogus", "tcp://", "tcp://host:99999", "http//x:1", "tcp://127.0.0.1:0"])
def test_bad_dask_address_exits_2_naming_it(tmp_path, capsys, address):
    code = main(["sweep", str(_sweep_file(tmp_path)), "--dask", address, "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert address in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_dask_address_answering_garbage_exits_2(tmp_path, capsys, garbage_server):
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    code = main(
        ["sweep", str(_sweep_file(tmp_path)), "--dask", garbage_server, "--out", str(tmp_path / "o"), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert garbage_server in err and "Traceback" not in err
    assert time.perf_counter() - t0 < 60


def test_nothing_listening_exits_2(tmp_path, capsys):
    pytest.importorskip("distributed")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    address = f"tcp://127.0.0.1:{port}"
    code = main(["sweep", str(_sweep_file(tmp_path)), "--dask", address, "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and address in err and "Traceback" not in err
