"""Alibaba GPU cluster trace v2023 ("openb"): pod lists and node lists.

Published with Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC 2023 (alibaba/clusterdata cluster-trace-gpu-v2023).

Pod list columns: ``name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase,
creation_time, deletion_time, scheduled_time``; the ``multigpu*`` variants carry only the first
five. Time replay: arrival = ``creation_time`` (seconds from trace start), hold =
``deletion_time - creation_time``. Trace times have 1 s resolution, so a zero hold (one pod in
the default list) becomes 1 s. Lists without times (``multigpu*``) replay as the packing
experiment: every pod arrives at 0 in file order and never leaves (``duration_s = inf``).
The trace has no priority; ``priority`` is 0 and ``qos`` is kept as given.
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
from gpusim.traces.records import NODE_COLUMNS, ReadReport, training_frame

OPENB_GPU_MODELS: frozenset[str] = frozenset({"P100", "T4", "V100M16", "V100M32", "A10", "G2", "G3"})
"""GPU model codes that appear in the openb node lists (G2, G3 are undisclosed models)."""

POD_COLUMNS = ["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"]
POD_TIME_COLUMNS = [
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
]
NODE_FILE_COLUMNS = ["sn", "cpu_milli", "memory_mib", "gpu", "model"]
MIN_HOLD_S = 1.0
"""Hold time given to pods whose deletion equals creation (the trace's 1 s resolution)."""


def read_openb_pods(
    path: str | Path,
    *,
    strict: bool = False,
    known_models: frozenset[str] | None = OPENB_GPU_MODELS,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read an openb pod list into training records (one pod per job).

    `known_models` is the set of GPU model codes a ``gpu_spec`` may name (None = any).
    """
    p = resolve_path(path, "openb")
    header = read_header(p)
    require_columns(header, POD_COLUMNS, p, "openb")
    timed = "creation_time" in header
    if timed:
        require_columns(header, POD_COLUMNS + ["creation_time", "deletion_time"], p, "openb")
    report = ReadReport(str(path), "openb")
    dtype = {"name": "str", "gpu_spec": "str", "qos": "str", "pod_phase": "str"}
    dtype = {k: v for k, v in dtype.items() if k in header}
    ((df, lines, extra),) = read_csv_chunks(p, "openb", strict=strict, chunk_rows=None, dtype=dtype)
    chk = RowChecker(lines)
    chk.extra(extra)
    chk.flag(df["name"].isna().to_numpy(), "missing name")
    cpu = flag_numeric(chk, df, "cpu_milli", minimum=0, integer=True)
    mem = flag_numeric(chk, df, "memory_mib", minimum=0, integer=True)
    ngpu = flag_numeric(chk, df, "num_gpu", minimum=0, integer=True)
    gmilli = flag_numeric(chk, df, "gpu_milli", minimum=0, integer=True)
    with np.errstate(invalid="ignore"):
        chk.flag(
            (ngpu > 0) & ((gmilli < 1) | (gmilli > 1000)),
            "gpu_milli {value} outside 1..1000",
            df["gpu_milli"],
        )
        chk.flag((ngpu > 1) & (gmilli != 1000), "a fraction of a GPU with num_gpu > 1")
    n = len(df)
    if "gpu_spec" in df.columns:
        spec = df["gpu_spec"].fillna("").str.strip()
        if known_models is not None:
            parts = spec.str.split("|")
            unknown = (
                np.array(
                    [s != "" and any(m not in known_models for m in ps) for s, ps in zip(spec, parts, strict=True)],
                    dtype=bool,
                )
                if spec.ne("").any()
                else np.zeros(n, dtype=bool)
            )
            chk.flag(unknown, "unknown GPU model in gpu_spec {value}", spec)
        spec = spec.to_numpy(dtype=object)
    else:
        spec = np.full(n, "", dtype=object)
    qos = df["qos"].fillna("").to_numpy(dtype=object) if "qos" in df.columns else np.full(n, "", dtype=object)
    if timed:
        created = flag_numeric(chk, df, "creation_time", minimum=0)
        deleted = flag_numeric(chk, df, "deletion_time")
        with np.errstate(invalid="ignore"):
            chk.flag(deleted < created, "negative duration (deletion_time before creation_time)")
        arrival = created
        duration = np.maximum(deleted - created, MIN_HOLD_S)
    else:
        arrival = np.zeros(n)
        duration = np.full(n, np.inf)
    keep = chk.finish(report, strict, p)
    g = np.where(ngpu > 0, gmilli, 0)
    out = training_frame(
        {
            "name": df["name"].to_numpy(dtype=object)[keep],
            "arrival_s": arrival[keep],
            "duration_s": duration[keep],
            "num_pods": np.ones(keep.sum(), dtype=np.int64),
            "gpus": ngpu[keep],
            "gpu_milli": g[keep],
            "cpu_milli": cpu[keep],
            "memory_mib": mem[keep],
            "gpu_models": spec[keep],
            "priority": np.zeros(keep.sum(), dtype=np.int64),
            "qos": qos[keep],
        }
    )
    return out, report


def read_openb_nodes(
    path: str | Path,
    *,
    strict: bool = False,
    known_models: frozenset[str] | None = OPENB_GPU_MODELS,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read an openb node list into node records ``name, cpu_milli, memory_mib, gpus, model``.

    CPU-only nodes (in ``openb_node_list_all_node.csv``) have ``gpus == 0`` and ``model == ''``.
    """
    p = resolve_path(path, "openb-nodes")
    require_columns(read_header(p), NODE_FILE_COLUMNS, p, "openb node list")
    report = ReadReport(str(path), "openb-nodes")
    ((df, lines, extra),) = read_csv_chunks(
        p, "openb-nodes", strict=strict, chunk_rows=None, dtype={"sn": "str", "model": "str"}
    )
    chk = RowChecker(lines)
    chk.extra(extra)
    chk.flag(df["sn"].isna().to_numpy(), "missing sn (node name)")
    cpu = flag_numeric(chk, df, "cpu_milli", minimum=0, integer=True)
    mem = flag_numeric(chk, df, "memory_mib", minimum=0, integer=True)
    gpus = flag_numeric(chk, df, "gpu", minimum=0, integer=True)
    model = df["model"].fillna("").str.strip()
    with np.errstate(invalid="ignore"):
        chk.flag((gpus > 0) & (model == "").to_numpy(), "GPU node without a model")
    if known_models is not None:
        chk.flag(
            ((model != "") & ~model.isin(known_models)).to_numpy(),
            "unknown GPU model {value}",
            model,
        )
    keep = chk.finish(report, strict, p)
    out = pd.DataFrame(
        {
            "name": df["sn"][keep].astype("str").to_numpy(),
            "cpu_milli": cpu[keep].astype(np.int64),
            "memory_mib": mem[keep].astype(np.int64),
            "gpus": gpus[keep].astype(np.int64),
            "model": model[keep].astype("str").to_numpy(),
        }
    )
    out = out.astype(NODE_COLUMNS)
    return out, report
