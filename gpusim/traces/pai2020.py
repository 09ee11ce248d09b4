"""Alibaba PAI 2020 job and task tables (alibaba/clusterdata cluster-trace-gpu-v2020).

Headerless CSV, schema as published with the trace:

- ``pai_job_table.csv``: job_name, inst_id, user, status, start_time, end_time.
- ``pai_task_table.csv``: job_name, task_name, inst_num, status, start_time, end_time,
  plan_cpu (100 = one core), plan_mem (GB), plan_gpu (100 = one GPU), gpu_type.

Times are seconds. `read_pai_tasks` gives training records, one per task: ``num_pods`` =
inst_num instances; ``plan_gpu`` <= 100 is one GPU with a share of ``plan_gpu * 10`` milli-GPU,
above 100 is ``ceil(plan_gpu / 100)`` whole GPUs; ``gpu_models`` = gpu_type (``MISC`` is kept as
the trace writes it). Arrivals are measured from the earliest start_time in the file. A
``Running`` task without an end_time runs past the trace end (``duration_s = inf``); ``Waiting``
tasks never started and are left out (not counted as bad rows); any other task without an
end_time is a bad row. `read_pai_jobs` returns the
job table as ``job_name, inst_id, user, status, arrival_s, duration_s``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import TraceFormatError
from gpusim.traces._io import RowChecker, flag_numeric, read_csv_chunks, resolve_path
from gpusim.traces.records import ReadReport, training_frame

JOB_FIELDS = ["job_name", "inst_id", "user", "status", "start_time", "end_time"]
TASK_FIELDS = ["job_name", "task_name", "inst_num", "status", "start_time", "end_time",
               "plan_cpu", "plan_mem", "plan_gpu", "gpu_type"]  # fmt: skip
PAI_GPU_TYPES: frozenset[str] = frozenset({"MISC", "P100", "T4", "V100", "V100M32"})
"""GPU types named in the PAI 2020 task table."""


def _check_width(p: Path, fields: list[str], fmt: str) -> None:
    with open(p, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    found = first.split(",")
    if len(found) != len(fields):
        raise TraceFormatError(
            f"{p} is not in the {fmt} table format: expected {len(fields)} headerless columns {fields}, "
            f"found {len(found)} fields on line 1: {found}"
        )
    try:
        float(found[fields.index("start_time")] or 0)
    except ValueError:
        raise TraceFormatError(
            f"{p} is not in the {fmt} table format: expected headerless columns {fields}, "
            f"found a header or text {found}"
        ) from None


def read_pai_tasks(
    path: str | Path, *, strict: bool = False, known_models: frozenset[str] | None = PAI_GPU_TYPES
) -> tuple[pd.DataFrame, ReadReport]:
    """Read the PAI 2020 task table into training records."""
    p = resolve_path(path, "pai-task")
    _check_width(p, TASK_FIELDS, "pai-task")
    report = ReadReport(str(path), "pai-task")
    (df, lines, extra), = read_csv_chunks(
        p, "pai-task", strict=strict, chunk_rows=None, header=False, names=TASK_FIELDS,
        dtype={"job_name": "str", "task_name": "str", "status": "str", "gpu_type": "str"},
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    status = df["status"].fillna("").str.strip()
    chk.exclude((status == "Waiting").to_numpy())  # never started: filtered, not a bad row
    chk.flag(df["job_name"].isna().to_numpy(), "missing job_name")
    inst = flag_numeric(chk, df, "inst_num", minimum=1, integer=True)
    start = flag_numeric(chk, df, "start_time", minimum=0)
    running = (status == "Running").to_numpy()
    end = flag_numeric(chk, df, "end_time", allow_missing=True)
    missing_end = np.isnan(end) & df["end_time"].isna().to_numpy()
    chk.flag(missing_end & ~running, "missing end_time")
    end = np.where(missing_end & running, np.inf, end)
    cpu = flag_numeric(chk, df, "plan_cpu", minimum=0, allow_missing=True)
    mem = flag_numeric(chk, df, "plan_mem", minimum=0, allow_missing=True)
    gpu = flag_numeric(chk, df, "plan_gpu", minimum=0, allow_missing=True)
    with np.errstate(invalid="ignore"):
        chk.flag(end < start, "negative duration (end_time before start_time)")
    gtype = df["gpu_type"].fillna("").str.strip()
    if known_models is not None:
        chk.flag(
            ((gtype != "") & ~gtype.isin(known_models)).to_numpy(),
            "unknown GPU model {value}",
            gtype,
        )
    keep = chk.finish(report, strict, p)
    gpu = np.nan_to_num(gpu)
    whole = gpu > 100
    gpus = np.where(gpu <= 0, 0, np.where(whole, np.ceil(gpu / 100), 1))
    milli = np.where(gpu <= 0, 0, np.where(whole, 1000, np.clip(np.rint(gpu * 10), 1, 1000)))
    origin = start[keep].min() if keep.any() else 0.0
    n = int(keep.sum())
    out = training_frame(
        {
            "name": (df["job_name"].fillna("") + "/" + df["task_name"].fillna("")).to_numpy(dtype=object)[keep],
            "arrival_s": start[keep] - origin,
            "duration_s": np.maximum(end[keep] - start[keep], 1.0),  # inf: still running at the end
            "num_pods": inst[keep],
            "gpus": gpus[keep],
            "gpu_milli": milli[keep],
            "cpu_milli": np.ceil(np.nan_to_num(cpu[keep]) * 10),
            "memory_mib": np.ceil(np.nan_to_num(mem[keep]) * 1024),
            "gpu_models": np.where(gpus[keep] > 0, gtype.to_numpy(dtype=object)[keep], ""),
            "priority": np.zeros(n),
            "qos": np.full(n, "", dtype=object),
        }
    )
    return out, report


def read_pai_jobs(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """Read the PAI 2020 job table: ``job_name, inst_id, user, status, arrival_s, duration_s``."""
    p = resolve_path(path, "pai-job")
    _check_width(p, JOB_FIELDS, "pai-job")
    report = ReadReport(str(path), "pai-job")
    (df, lines, extra), = read_csv_chunks(
        p, "pai-job", strict=strict, chunk_rows=None, header=False, names=JOB_FIELDS,
        dtype={"job_name": "str", "inst_id": "str", "user": "str", "status": "str"},
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    chk.flag(df["job_name"].isna().to_numpy(), "missing job_name")
    start = flag_numeric(chk, df, "start_time", minimum=0)
    end = flag_numeric(chk, df, "end_time")
    with np.errstate(invalid="ignore"):
        chk.flag(end < start, "negative duration (end_time before start_time)")
    keep = chk.finish(report, strict, p)
    origin = start[keep].min() if keep.any() else 0.0
    out = pd.DataFrame(
        {
            "job_name": df["job_name"][keep].astype("str").to_numpy(),
            "inst_id": df["inst_id"][keep].fillna("").astype("str").to_numpy(),
            "user": df["user"][keep].fillna("").astype("str").to_numpy(),
            "status": df["status"][keep].fillna("").astype("str").to_numpy(),
            "arrival_s": start[keep] - origin,
            "duration_s": np.maximum(end[keep] - start[keep], 1.0),
        }
    )
    return out.sort_values("arrival_s", kind="stable", ignore_index=True), report
