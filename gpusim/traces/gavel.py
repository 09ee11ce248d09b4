"""Gavel's Philly-derived training traces (stanford-futuredata/gavel, scheduler/traces; MIT).

Tab-separated, no header, two forms:

- 7 fields (``msr/seed=*/<vc>.trace``): job_type, command, num_steps_arg, needs_data_dir,
  total_steps, arrival_time, scale_factor.
- 10 fields (``physical_cluster/*.trace``): job_type, command, working_dir, num_steps_arg,
  needs_data_dir, total_steps, scale_factor, priority_weight, SLO, arrival_time.

``scale_factor`` is the job's GPU count. The trace gives steps, not time: duration =
total_steps / throughput, with the throughput (steps per second for the whole job) looked up by
job type, then by model family (the text before `` (batch size``).

Default throughputs (`DEFAULT_THROUGHPUT_STEPS_PER_S`) are a documented calibration, not a
measurement: for each model family, the family's median total_steps over the 15 ``msr/seed=0``
traces divided by the median Philly run time (1,186 s, philly-runtime), so that each family's
median duration equals Philly's. Gavel generated total_steps as Philly run time x a measured
V100 throughput; pass ``throughput_steps_per_s`` with measured figures to undo that exactly.

Jobs with more GPUs than `max_gpus_per_pod` become several pods: GPUs per pod is the largest
divisor of scale_factor not above the limit. The trace has no CPU or memory request (0) and no
QoS (''); ``priority`` is the rounded priority_weight (10-field form) or 0.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import TraceFormatError
from gpusim.traces._io import RowChecker, flag_numeric, read_csv_chunks, resolve_path
from gpusim.traces.records import ReadReport, training_frame

FIELDS_7 = [
    "job_type",
    "command",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "arrival_time",
    "scale_factor",
]
FIELDS_10 = [
    "job_type", "command", "working_dir", "num_steps_arg", "needs_data_dir", "total_steps",
    "scale_factor", "priority_weight", "SLO", "arrival_time",
]  # fmt: skip

PHILLY_MEDIAN_RUNTIME_S = 1186.0
_FAMILY_MEDIAN_STEPS = {
    "A3C": 129727.0,
    "CycleGAN": 79044.5,
    "LM": 1869393.5,
    "Recommendation": 8081.5,
    "ResNet-18": 725504.0,
    "ResNet-50": 123326.5,
    "Transformer": 122955.0,
}
DEFAULT_THROUGHPUT_STEPS_PER_S: dict[str, float] = {
    fam: steps / PHILLY_MEDIAN_RUNTIME_S for fam, steps in _FAMILY_MEDIAN_STEPS.items()
}
"""Steps per second by model family (calibration described in the module docstring)."""


def _family(job_type: str) -> str:
    return job_type.split(" (", 1)[0].strip()


def _pod_gpus(total: int, limit: int) -> int:
    for d in range(min(total, limit), 0, -1):
        if total % d == 0:
            return d
    return 1


def read_gavel(
    path: str | Path,
    *,
    strict: bool = False,
    throughput_steps_per_s: Mapping[str, float] | None = None,
    max_gpus_per_pod: int = 8,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a Gavel trace (7- or 10-field form) into training records."""
    p = resolve_path(path, "gavel")
    with open(p, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    n_fields = len(first.split("\t"))
    if n_fields not in (7, 10):
        raise TraceFormatError(
            f"{p} is not in the gavel trace format: expected 7 tab-separated fields {FIELDS_7} or 10 "
            f"{FIELDS_10}, found {n_fields} on line 1: {first[:120]!r}"
        )
    names = FIELDS_7 if n_fields == 7 else FIELDS_10
    table = dict(DEFAULT_THROUGHPUT_STEPS_PER_S)
    if throughput_steps_per_s:
        table.update(throughput_steps_per_s)
    report = ReadReport(str(path), "gavel")
    (df, lines, extra), = read_csv_chunks(
        p, "gavel", strict=strict, chunk_rows=None, sep="\t", header=False, names=names,
        dtype={"job_type": "str", "command": "str"}, quoting=csv.QUOTE_NONE,
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    jt = df["job_type"].fillna("")
    chk.flag((jt == "").to_numpy(), "missing job_type")
    steps = flag_numeric(chk, df, "total_steps", minimum=1)
    arrival = flag_numeric(chk, df, "arrival_time", minimum=0)
    sf = flag_numeric(chk, df, "scale_factor", minimum=1, integer=True)
    prio = flag_numeric(chk, df, "priority_weight") if "priority_weight" in df else np.zeros(len(df))
    thr = np.array([table.get(j, table.get(_family(j), np.nan)) for j in jt], dtype=float)
    chk.flag(np.isnan(thr) & (jt != "").to_numpy(), "unknown job type {value} (no throughput given)", jt)
    keep = chk.finish(report, strict, p)
    sf_k = sf[keep].astype(np.int64)
    per_pod = np.array([_pod_gpus(int(s), max_gpus_per_pod) for s in sf_k], dtype=np.int64)
    n = int(keep.sum())
    out = training_frame(
        {
            "name": np.array([f"{p.stem}-{i}" for i in np.flatnonzero(keep)], dtype=object),
            "arrival_s": arrival[keep],
            "duration_s": steps[keep] / thr[keep],
            "num_pods": sf_k // per_pod,
            "gpus": per_pod,
            "gpu_milli": np.full(n, 1000),
            "cpu_milli": np.zeros(n),
            "memory_mib": np.zeros(n),
            "gpu_models": np.full(n, "", dtype=object),
            "priority": np.rint(prio[keep]),
            "qos": np.full(n, "", dtype=object),
        }
    )
    return out, report
