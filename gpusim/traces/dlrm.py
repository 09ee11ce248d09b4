"""Alibaba DLRM inference instance trace 2025 (alibaba/clusterdata cluster-trace-gpu-v2025).

``disaggregated_DLRM_trace.csv``: one row per inference instance (replica) of a service
(``app_name``); ``role`` CN (CPU node) or HN (GPU node); cpu/gpu/rdma/memory/disk request and
limit; ``creation_time, scheduled_time, deletion_time`` in seconds from trace start, empty when
before the start (creation) or after the end (deletion).

`read_dlrm_instances` returns one row per instance: ``name, app, role, arrival_s, duration_s,
gpus, cpu_milli, memory_mib``. An instance created before the trace starts arrives at 0; one
still alive at the end has ``duration_s = inf``. CPU requests are cores; memory requests are
taken as GiB (the release does not state the unit; values up to 1,000 fit GiB per instance).
`dlrm_replica_counts` turns instances into each service's replica count over time: the real
scaling decisions. `dlrm_training_records` views instances as pods for the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.traces._io import (
    RowChecker,
    flag_numeric,
    read_csv_chunks,
    read_header,
    require_columns,
    resolve_path,
)
from gpusim.traces.records import ReadReport, training_frame

COLUMNS = ["instance_sn", "role", "app_name", "cpu_request", "gpu_request", "memory_request",
           "creation_time", "deletion_time"]  # fmt: skip


def read_dlrm_instances(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """Read the DLRM instance trace (see the module docstring for the columns)."""
    p = resolve_path(path, "dlrm")
    require_columns(read_header(p), COLUMNS, p, "dlrm")
    report = ReadReport(str(path), "dlrm")
    (df, lines, extra), = read_csv_chunks(
        p, "dlrm", strict=strict, chunk_rows=None, usecols=COLUMNS,
        dtype={"instance_sn": "str", "role": "str", "app_name": "str"},
    )  # fmt: skip
    chk = RowChecker(lines)
    chk.extra(extra)
    for col in ("instance_sn", "app_name", "role"):
        chk.flag(df[col].isna().to_numpy(), f"missing {col}")
    cpu = flag_numeric(chk, df, "cpu_request", minimum=0)
    gpu = flag_numeric(chk, df, "gpu_request", minimum=0, integer=True)
    mem = flag_numeric(chk, df, "memory_request", minimum=0)
    created = flag_numeric(chk, df, "creation_time", minimum=0, allow_missing=True)
    deleted = flag_numeric(chk, df, "deletion_time", minimum=0, allow_missing=True)
    with np.errstate(invalid="ignore"):
        chk.flag(deleted < created, "negative duration (deletion_time before creation_time)")
    keep = chk.finish(report, strict, p)
    arrival = np.where(np.isnan(created), 0.0, created)
    duration = np.where(np.isnan(deleted), np.inf, deleted - arrival)
    duration = np.where(duration <= 0, 1.0, duration)  # 1 s resolution
    out = pd.DataFrame(
        {
            "name": df["instance_sn"][keep].astype("str").to_numpy(),
            "app": df["app_name"][keep].astype("str").to_numpy(),
            "role": df["role"][keep].astype("str").to_numpy(),
            "arrival_s": arrival[keep],
            "duration_s": duration[keep],
            "gpus": gpu[keep].astype(np.int64),
            "cpu_milli": np.ceil(cpu[keep] * 1000).astype(np.int64),
            "memory_mib": np.ceil(mem[keep] * 1024).astype(np.int64),
        }
    )
    out = out.sort_values("arrival_s", kind="stable", ignore_index=True)
    return out, report


def dlrm_replica_counts(instances: pd.DataFrame) -> pd.DataFrame:
    """Replica count of each service over time: rows ``time_s, app, replicas`` at every change."""
    start = instances[["app", "arrival_s"]].rename(columns={"arrival_s": "time_s"}).assign(delta=1)
    finite = np.isfinite(instances["duration_s"].to_numpy())
    end = instances.loc[finite, ["app"]].assign(
        time_s=(instances["arrival_s"] + instances["duration_s"])[finite], delta=-1
    )
    ev = pd.concat([start, end], ignore_index=True)
    ev = ev.groupby(["app", "time_s"], sort=True)["delta"].sum().reset_index()
    ev["replicas"] = ev.groupby("app")["delta"].cumsum().astype(np.int64)
    return ev[["time_s", "app", "replicas"]].sort_values(["time_s", "app"], ignore_index=True)


def dlrm_training_records(instances: pd.DataFrame) -> pd.DataFrame:
    """Instances as training records (one pod each; ``qos`` carries the service name)."""
    n = len(instances)
    return training_frame(
        {
            "name": instances["name"].to_numpy(dtype=object),
            "arrival_s": instances["arrival_s"].to_numpy(),
            "duration_s": instances["duration_s"].to_numpy(),
            "num_pods": np.ones(n),
            "gpus": instances["gpus"].to_numpy(),
            "gpu_milli": np.where(instances["gpus"].to_numpy() > 0, 1000, 0),
            "cpu_milli": instances["cpu_milli"].to_numpy(),
            "memory_mib": instances["memory_mib"].to_numpy(),
            "gpu_models": np.full(n, "", dtype=object),
            "priority": np.zeros(n),
            "qos": instances["app"].to_numpy(dtype=object),
        }
    )


def read_dlrm(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """The DLRM trace as training records (see `dlrm_training_records`)."""
    inst, report = read_dlrm_instances(path, strict=strict)
    return dlrm_training_records(inst), report
