"""The small LLM replica tests with NUMBA_DISABLE_JIT=1: the kernel runs (and is covered) as plain Python."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_llm_kernel_as_plain_python():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    tests = [
        "test_one_request_alone_by_hand",
        "test_chunked_prefill_of_a_long_prompt_by_hand",
        "test_requests_wait_when_kv_is_full",
        "test_preemption_recomputes_the_newest",
        "test_kernel_matches_the_slow_twin",
        "test_overflow_and_rejection_are_counted",
    ]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/dataplane/test_llm_replica.py",
           "-k", " or ".join(tests)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "11 passed" in proc.stdout
