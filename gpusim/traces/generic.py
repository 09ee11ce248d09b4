"""A planner's own logs: any CSV or Parquet file, with a column mapping from the scenario.

``columns`` maps record fields to the file's column names, e.g.
``{"arrival": "submit_ts", "duration": "runtime_sec", "gpus": "n_gpu"}``. Fields:

- ``arrival`` (required): numbers in `time_unit` or timestamps (ISO 8601, any fractional digits).
- training (``kind="training"``): ``duration`` (in `time_unit`) or ``end`` (same form as
  arrival), and optionally ``name, num_pods, gpus, gpu_milli, cpu_milli, memory_mib,
  gpu_models, priority, qos``. Missing optional fields take fixed values: one pod, one whole
  GPU, no CPU or memory request, any GPU model, priority 0, QoS ''.
- requests (``kind="requests"``): optionally ``prompt_tokens, output_tokens, service_s``
  (``service_s`` in `time_unit`).

Arrivals are measured from the first arrival in the file. Parquet files are read by row groups
and CSV files in chunks; bad rows are reported by file line (CSV) or row number (Parquet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import InputError, TraceFormatError
from gpusim.traces._io import (
    RowChecker,
    flag_numeric,
    parse_timestamps,
    read_csv_chunks,
    read_header,
    require_columns,
    resolve_path,
)
from gpusim.traces.records import ReadReport, request_frame, training_frame

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
TRAINING_FIELDS = ["arrival", "duration", "end", "name", "num_pods", "gpus", "gpu_milli", "cpu_milli",
                   "memory_mib", "gpu_models", "priority", "qos"]  # fmt: skip
REQUEST_FIELDS = ["arrival", "prompt_tokens", "output_tokens", "service_s"]
DEFAULT_CHUNK_ROWS = 1_000_000


class GenericReader:
    """Iterate a mapped CSV/Parquet file in chunks of records; `.report` fills as it goes."""

    def __init__(
        self,
        path: str | Path,
        columns: Mapping[str, str],
        *,
        kind: str = "training",
        time_unit: str = "s",
        strict: bool = False,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ):
        if kind not in ("training", "requests"):
            raise InputError(f"generic trace kind must be 'training' or 'requests', not {kind!r}")
        allowed = TRAINING_FIELDS if kind == "training" else REQUEST_FIELDS
        unknown = [k for k in columns if k not in allowed]
        if unknown:
            raise InputError(f"generic {kind} trace: unknown mapped fields {unknown}; allowed: {allowed}")
        if "arrival" not in columns:
            raise InputError("generic trace: the column mapping needs an 'arrival' column")
        if kind == "training" and not ({"duration", "end"} & set(columns)):
            raise InputError("generic training trace: map a 'duration' or an 'end' column")
        if time_unit not in TIME_UNITS:
            raise InputError(f"generic trace: time_unit must be one of {list(TIME_UNITS)}, not {time_unit!r}")
        self.path = resolve_path(path, "generic")
        self.columns = dict(columns)
        self.kind = kind
        self.scale = TIME_UNITS[time_unit]
        self.strict = strict
        self.chunk_rows = chunk_rows
        self.report = ReadReport(str(path), "generic")
        self.parquet = self.path.suffix.lower() in (".parquet", ".pq")
        found = self._file_columns()
        require_columns(found, list(self.columns.values()), self.path, f"mapped {kind}")
        self.origin: float | None = None

    def _file_columns(self) -> list[str]:
        if self.parquet:
            import pyarrow.parquet as pq

            try:
                return list(pq.ParquetFile(self.path).schema_arrow.names)
            except Exception as err:  # pyarrow raises several types for a non-Parquet file
                raise TraceFormatError(f"{self.path} is not a Parquet file: {err}") from None
        return read_header(self.path)

    def _chunks(self) -> Iterator[tuple[pd.DataFrame, np.ndarray, list]]:
        src = list(dict.fromkeys(self.columns.values()))
        if self.parquet:
            import pyarrow.parquet as pq

            start = 0
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.chunk_rows, columns=src):
                df = batch.to_pandas()
                yield df, np.arange(start, start + len(df)) + 1, []
                start += len(df)
        else:
            str_cols = {c: "str" for f, c in self.columns.items() if f in ("name", "gpu_models", "qos")}
            yield from read_csv_chunks(
                self.path,
                "generic",
                strict=self.strict,
                chunk_rows=self.chunk_rows,
                usecols=src,
                dtype=str_cols,
            )

    def _time(self, chk: RowChecker, df: pd.DataFrame, field: str) -> np.ndarray:
        col = self.columns[field]
        raw = df[col]
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            return flag_numeric(chk, df, col, what=f"{field} ({col})") * self.scale
        if pd.api.types.is_datetime64_any_dtype(raw.dtype):
            chk.flag(raw.isna().to_numpy(), f"missing {field} ({col})")
            return raw.to_numpy().astype("datetime64[ns]").view(np.int64) / 1e9
        as_num = pd.to_numeric(raw, errors="coerce")
        if as_num.notna().sum() >= max(1, raw.notna().sum() // 2):
            return flag_numeric(chk, df, col, what=f"{field} ({col})") * self.scale
        return parse_timestamps(chk, raw.astype("str"), f"{field} ({col})") / 1e9

    def _opt(self, chk: RowChecker, df: pd.DataFrame, field: str, default: float, **kw) -> np.ndarray:
        if field not in self.columns:
            return np.full(len(df), default, dtype=float)
        return flag_numeric(chk, df, self.columns[field], what=f"{field} ({self.columns[field]})", **kw)

    def _str(self, df: pd.DataFrame, field: str, default: str) -> np.ndarray:
        if field not in self.columns:
            return np.full(len(df), default, dtype=object)
        return df[self.columns[field]].fillna("").astype("str").to_numpy(dtype=object)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for df, lines, extra in self._chunks():
            chk = RowChecker(lines)
            chk.extra(extra)
            arrival = self._time(chk, df, "arrival")
            if self.kind == "training":
                if "duration" in self.columns:
                    dur = self._opt(chk, df, "duration", 0.0, minimum=0) * self.scale
                else:
                    dur = self._time(chk, df, "end") - arrival
                    with np.errstate(invalid="ignore"):
                        chk.flag(dur < 0, "negative duration (end before arrival)")
                pods = self._opt(chk, df, "num_pods", 1, minimum=1, integer=True)
                gpus = self._opt(chk, df, "gpus", 1, minimum=0, integer=True)
                milli = self._opt(chk, df, "gpu_milli", 1000, minimum=0, integer=True)
                with np.errstate(invalid="ignore"):
                    chk.flag(milli > 1000, "gpu_milli above 1000")
                cpu = self._opt(chk, df, "cpu_milli", 0, minimum=0)
                mem = self._opt(chk, df, "memory_mib", 0, minimum=0)
                prio = self._opt(chk, df, "priority", 0, integer=True)
            else:
                cols = {f: self._opt(chk, df, f, 0, minimum=0, integer=f != "service_s")
                        for f in ("prompt_tokens", "output_tokens", "service_s") if f in self.columns}  # fmt: skip
            keep = chk.finish(self.report, self.strict, self.path)
            if self.origin is None and keep.any():
                self.origin = float(np.min(arrival[keep]))
            arr = arrival[keep] - (self.origin or 0.0)
            if self.kind == "training":
                n = int(keep.sum())
                names = self._str(df, "name", "")[keep]
                if "name" not in self.columns:
                    names = np.array([f"job-{i}" for i in lines[keep]], dtype=object)
                yield training_frame(
                    {
                        "name": names,
                        "arrival_s": arr,
                        "duration_s": np.maximum(dur[keep], 1e-9),
                        "num_pods": pods[keep],
                        "gpus": gpus[keep],
                        "gpu_milli": np.where(gpus[keep] > 0, milli[keep], 0),
                        "cpu_milli": np.ceil(cpu[keep]),
                        "memory_mib": np.ceil(mem[keep]),
                        "gpu_models": self._str(df, "gpu_models", "")[keep] if n else np.array([], dtype=object),
                        "priority": prio[keep],
                        "qos": self._str(df, "qos", "")[keep] if n else np.array([], dtype=object),
                    }
                )
            else:
                out = {"arrival_s": arr}
                for f, v in cols.items():
                    out[f] = v[keep] * (self.scale if f == "service_s" else 1)
                yield request_frame(out)


def read_generic(
    path: str | Path,
    columns: Mapping[str, str],
    *,
    kind: str = "training",
    time_unit: str = "s",
    strict: bool = False,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a whole mapped file into training or request records (sorted by arrival)."""
    reader = GenericReader(path, columns, kind=kind, time_unit=time_unit, strict=strict)
    parts = list(reader)
    if not parts:
        raise TraceFormatError(f"{path}: no usable rows")
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values("arrival_s", kind="stable", ignore_index=True)
    return df, reader.report
