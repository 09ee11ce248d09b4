"""Run the small data-plane tests with NUMBA_DISABLE_JIT=1, so the kernels run (and are covered) as Python."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kernels_as_plain_python():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/dataplane/test_dataplane_units.py",
        "tests/dataplane/test_dataplane_vs_reference.py::test_long_script_matches_reference",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "passed" in proc.stdout and "failed" not in proc.stdout


def test_jit_flag_is_read_from_the_environment():
    code = "from gpusim.dataplane._numba import JIT_DISABLED; print(JIT_DISABLED)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, NUMBA_DISABLE_JIT="1"),
        timeout=60,
    ).stdout.strip()
    assert out == "True"
