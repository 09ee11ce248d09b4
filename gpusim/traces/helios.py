"""Helios GPU cluster logs (S-Lab-System-Group/HeliosData; Hu et al., SC 2021).

``cluster_log.csv`` of each cluster (Venus public; Earth, Saturn, Uranus announced), with the
published columns job_id, user, vc, gpu_num, cpu_num, node_num, state, submit_time, start_time,
end_time, duration, queue; times are ``YYYY-MM-DD HH:MM:SS`` strings, ``duration`` is
end_time - start_time and ``queue`` is start_time - submit_time, both in seconds.

Training records: arrival = submit_time (seconds from the earliest submit), duration =
``duration`` (a zero run time, e.g. a job cancelled in the queue, becomes 1 s); the job's GPUs
and CPUs are split evenly over ``node_num`` pods (at least one). ``qos`` holds the final state
(COMPLETED, FAILED, CANCELLED, ...); ``gpu_models`` is '' (the log does not name the model).
"""

from __future__ import annotations

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
from gpusim.traces.records import ReadReport, training_frame

COLUMNS = ["job_id", "gpu_num", "cpu_num", "node_num", "state", "submit_time", "duration"]


def read_helios(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """Read a Helios ``cluster_log.csv`` into training records."""
    p = resolve_path(path, "helios")
    require_columns(read_header(p), COLUMNS, p, "helios")
    report = ReadReport(str(path), "helios")
    (df, lines, extra), = read_csv_chunks(
        p, "helios", strict=strict, chunk_rows=None, usecols=COLUMNS,
        dtype={"job_id": "str", "state": "str", "submit_time": "str"},
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    chk.flag(df["job_id"].isna().to_numpy(), "missing job_id")
    ns = parse_timestamps(chk, df["submit_time"], "submit_time")
    gpu = flag_numeric(chk, df, "gpu_num", minimum=0, integer=True)
    cpu = flag_numeric(chk, df, "cpu_num", minimum=0)
    nodes = flag_numeric(chk, df, "node_num", minimum=0, integer=True)
    dur = flag_numeric(chk, df, "duration", minimum=0, what="duration (negative duration)")
    keep = chk.finish(report, strict, p)
    pods = np.maximum(nodes, 1)
    origin = ns[keep].min() if keep.any() else 0
    n = int(keep.sum())
    out = training_frame(
        {
            "name": df["job_id"].to_numpy(dtype=object)[keep],
            "arrival_s": (ns[keep] - origin) / 1e9,
            "duration_s": np.maximum(dur[keep], 1.0),
            "num_pods": pods[keep],
            "gpus": np.ceil(gpu[keep] / pods[keep]),
            "gpu_milli": np.where(gpu[keep] > 0, 1000, 0),
            "cpu_milli": np.ceil(cpu[keep] * 1000 / pods[keep]),
            "memory_mib": np.zeros(n),
            "gpu_models": np.full(n, "", dtype=object),
            "priority": np.zeros(n),
            "qos": df["state"].fillna("").to_numpy(dtype=object)[keep],
        }
    )
    return out, report
