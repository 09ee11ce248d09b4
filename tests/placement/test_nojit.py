"""Run the kernel-vs-reference tests again with the JIT disabled, in a subprocess.

With ``NUMBA_DISABLE_JIT=1`` the kernels run as plain Python, so coverage sees their lines and a
bug that only the compiled path hides (or only the interpreted path shows) surfaces. The child
run uses fewer hypothesis examples (see `test_kernels_vs_reference.NOJIT`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"), reason="already without JIT")
def test_kernels_without_jit():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        str(HERE / "test_kernels_vs_reference.py"), "-k", "not from_empty",
    ]  # fmt: skip
    if "coverage" in sys.modules:  # measure the child too when the parent runs under coverage
        cmd[1:1] = ["-m", "coverage", "run", "--parallel-mode"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=HERE.parent.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "passed" in proc.stdout
