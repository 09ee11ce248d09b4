"""Alibaba GenAI serving trace 2026 (alibaba/clusterdata cluster-trace-v2026-GenAI).

- ``lora_request_trace.csv``: text-to-image requests. ``gmt_create`` (1 s resolution, no zone)
  is the arrival; ``exec_time_seconds`` is the measured execution time, kept as ``service_s``.
  Records: ``arrival_s`` (from the first request), ``service_s``. By default every request is
  kept whatever its ``predict_status``; ``statuses=("SUCCEED",)`` keeps only finished ones.
- ``basemodel_update_latency_anon.csv``: measured base-model load latencies (``value`` in ms),
  returned by `read_genai_model_load` in seconds: a cold-start distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.traces._io import (
    RowChecker,
    flag_numeric,
    parse_timestamps,
    read_csv_chunks,
    read_header,
    require_columns,
    resolve_path,
)
from gpusim.traces.records import ReadReport, request_frame

REQUEST_COLUMNS = ["gmt_create", "predict_status", "exec_time_seconds"]
LOAD_COLUMNS = ["timestamp_anon", "value"]


def read_genai_requests(
    path: str | Path, *, strict: bool = False, statuses: Sequence[str] | None = None
) -> tuple[pd.DataFrame, ReadReport]:
    """Read the GenAI request trace into request records (``arrival_s``, ``service_s``)."""
    p = resolve_path(path, "genai-requests")
    require_columns(read_header(p), REQUEST_COLUMNS, p, "genai-requests")
    report = ReadReport(str(path), "genai-requests")
    (df, lines, extra), = read_csv_chunks(
        p, "genai-requests", strict=strict, chunk_rows=None, usecols=REQUEST_COLUMNS,
        dtype={"gmt_create": "str", "predict_status": "str"},
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    ns = parse_timestamps(chk, df["gmt_create"], "gmt_create")
    exec_s = flag_numeric(chk, df, "exec_time_seconds", minimum=0, what="exec_time_seconds (negative duration)")
    keep = chk.finish(report, strict, p)
    if statuses is not None:
        keep &= df["predict_status"].isin(list(statuses)).to_numpy()
    origin = ns[keep].min() if keep.any() else 0
    out = request_frame({"arrival_s": (ns[keep] - origin) / 1e9, "service_s": exec_s[keep]})
    return out, report


def read_genai_model_load(path: str | Path, *, strict: bool = False) -> tuple[np.ndarray, ReadReport]:
    """Base-model load latencies in seconds (float64 array): a cold-start distribution."""
    p = resolve_path(path, "genai-model-load")
    require_columns(read_header(p), LOAD_COLUMNS, p, "genai-model-load")
    report = ReadReport(str(path), "genai-model-load")
    ((df, lines, extra),) = read_csv_chunks(p, "genai-model-load", strict=strict, chunk_rows=None)
    chk = RowChecker(lines)
    chk.extra(extra)
    ms = flag_numeric(chk, df, "value", minimum=0, what="latency (negative duration)")
    keep = chk.finish(report, strict, p)
    return ms[keep] / 1000.0, report
