"""Numba options for every data-plane kernel, in one place.

`cache=True` keeps compiled kernels on disk between runs (CI compiles once); `fastmath` stays off
so kernels and their plain-Python references agree to the last bit; no `parallel`: a queue is a
sequential recursion, and sweeps parallelise across processes. Setting ``NUMBA_DISABLE_JIT=1``
makes every kernel plain Python (numba honours it itself), which a test uses to cover kernel lines.
"""

from __future__ import annotations

import os

import numba

JIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")


def njit(fn):
    """Compile `fn` with the project's kernel options."""
    return numba.njit(**JIT_OPTIONS)(fn)


def njit_inline(fn):
    """Like `njit`, inlined into its callers at Numba IR level (hot helpers with many array args)."""
    return numba.njit(inline="always", **JIT_OPTIONS)(fn)
