"""Philly job run times (alibaba/clusterdata cluster-trace-gpu-v2020/analysis/philly_runtime.csv).

One column, ``runtime`` in seconds (83,154 jobs of Microsoft's Philly cluster; CC BY 4.0). It is
a distribution, not a timeline: `read_philly_runtime` returns the run times as a float64 array
for the training-job generators to draw durations from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpusim.traces._io import (
    RowChecker,
    flag_numeric,
    read_csv_chunks,
    read_header,
    require_columns,
    resolve_path,
)
from gpusim.traces.records import ReadReport


def read_philly_runtime(path: str | Path, *, strict: bool = False) -> tuple[np.ndarray, ReadReport]:
    """Run times in seconds (>= 0) as a float64 array, in file order."""
    p = resolve_path(path, "philly-runtime")
    require_columns(read_header(p), ["runtime"], p, "philly-runtime")
    report = ReadReport(str(path), "philly-runtime")
    ((df, lines, extra),) = read_csv_chunks(p, "philly-runtime", strict=strict, chunk_rows=None)
    chk = RowChecker(lines)
    chk.extra(extra)
    rt = flag_numeric(chk, df, "runtime", minimum=0, what="runtime (negative duration)")
    keep = chk.finish(report, strict, p)
    return rt[keep].astype(np.float64), report
