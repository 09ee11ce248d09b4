"""The records trace readers hand to the engine, and the report of rows they skipped.

Training workload records (one row per job; a job has `num_pods` identical pods):

==============  ========  ===========================================================
column          dtype     meaning
==============  ========  ===========================================================
name            str       job or pod name from the trace (made unique by the reader)
arrival_s       float64   seconds from replay start, sorted ascending
duration_s      float64   seconds the job holds its pods (> 0; ``inf`` = never leaves)
num_pods        int64     pods in the job (1 unless the format says otherwise)
gpus            int64     GPUs per pod (0 for CPU-only pods)
gpu_milli       int64     share of each GPU in 1/1000 (1000 = whole GPU; 0 if gpus == 0)
cpu_milli       int64     CPU per pod, milli-cores
memory_mib      int64     memory per pod, MiB
gpu_models      str       '|'-separated allowed GPU model codes as in the trace; '' = any
priority        int64     scheduling priority (higher first); 0 when the trace has none
qos             str       QoS class as in the trace ('' when the trace has none)
==============  ========  ===========================================================

Inference request records: ``arrival_s`` (float64, sorted) and whichever of ``prompt_tokens``
(int64), ``output_tokens`` (int64) and ``service_s`` (float64) the format gives.

Node records (openb node list): ``name, cpu_milli, memory_mib, gpus, model``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gpusim.errors import TraceFormatError

TRAINING_COLUMNS: dict[str, str] = {
    "name": "str",
    "arrival_s": "float64",
    "duration_s": "float64",
    "num_pods": "int64",
    "gpus": "int64",
    "gpu_milli": "int64",
    "cpu_milli": "int64",
    "memory_mib": "int64",
    "gpu_models": "str",
    "priority": "int64",
    "qos": "str",
}
"""Column -> dtype of training workload records, in order."""

REQUEST_COLUMNS: dict[str, str] = {
    "arrival_s": "float64",
    "prompt_tokens": "int64",
    "output_tokens": "int64",
    "service_s": "float64",
}
"""Column -> dtype of inference request records; a format gives `arrival_s` and a subset of the rest."""

NODE_COLUMNS: dict[str, str] = {
    "name": "str",
    "cpu_milli": "int64",
    "memory_mib": "int64",
    "gpus": "int64",
    "model": "str",
}
"""Column -> dtype of node records (openb node list)."""

MAX_EXAMPLES = 5
"""How many bad rows a ReadReport keeps as examples."""


@dataclass(frozen=True)
class BadRow:
    """One skipped row: its 1-based line number in the file and why it was skipped."""

    line: int
    reason: str


@dataclass
class ReadReport:
    """What a reader did with a file: rows read, rows skipped and the first bad rows.

    `rows_read` counts data rows in the file (header excluded), skipped ones included;
    `rows_kept` is what the reader returned before any replay control (window, sampling).
    """

    path: str
    trace_format: str
    rows_read: int = 0
    rows_skipped: int = 0
    examples: list[BadRow] = field(default_factory=list)

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.rows_skipped

    def add_bad(self, line: int, reason: str) -> None:
        self.rows_skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(BadRow(line, reason))

    def merge(self, other: ReadReport) -> None:
        self.rows_read += other.rows_read
        self.rows_skipped += other.rows_skipped
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    def format(self) -> str:
        """A short human summary, one line plus one line per example."""
        head = f"{self.path} ({self.trace_format}): {self.rows_read:,} rows read, {self.rows_skipped:,} skipped"
        lines = [head]
        for ex in self.examples:
            lines.append(f"  line {ex.line}: {ex.reason}")
        if self.rows_skipped > len(self.examples):
            lines.append(f"  ... and {self.rows_skipped - len(self.examples):,} more")
        return "\n".join(lines)


def _check_frame(df: pd.DataFrame, columns: dict[str, str], what: str, exact: bool) -> None:
    names = list(df.columns)
    if exact and names != list(columns):
        raise ValueError(f"{what} columns must be {list(columns)}, got {names}")
    for col in names:
        if col not in columns:
            raise ValueError(f"{what}: unexpected column {col!r}")
        want = columns[col]
        got = df[col].dtype
        if want == "str":
            if not (pd.api.types.is_string_dtype(got) or got is np.dtype(object)):
                raise ValueError(f"{what}: column {col!r} has dtype {got}, expected str")
            if df[col].isna().any():
                raise ValueError(f"{what}: column {col!r} has missing values")
        elif str(got) != want:
            raise ValueError(f"{what}: column {col!r} has dtype {got}, expected {want}")


def validate_training(df: pd.DataFrame) -> pd.DataFrame:
    """Check a training-records frame against `TRAINING_COLUMNS`; return it or raise ValueError."""
    _check_frame(df, TRAINING_COLUMNS, "training records", exact=True)
    arr = df["arrival_s"].to_numpy()
    if len(arr) and (not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0)):
        raise ValueError("training records: arrival_s must be finite and sorted")
    if (df["duration_s"].to_numpy() <= 0).any() or df["duration_s"].isna().any():
        raise ValueError("training records: duration_s must be > 0")
    for col in ("num_pods",):
        if (df[col] < 1).any():
            raise ValueError(f"training records: {col} must be >= 1")
    for col in ("gpus", "cpu_milli", "memory_mib"):
        if (df[col] < 0).any():
            raise ValueError(f"training records: {col} must be >= 0")
    gm = df["gpu_milli"]
    if ((gm < 0) | (gm > 1000)).any():
        raise ValueError("training records: gpu_milli must be in 0..1000")
    return df


def validate_requests(df: pd.DataFrame) -> pd.DataFrame:
    """Check a request-records frame against `REQUEST_COLUMNS`; return it or raise ValueError."""
    if "arrival_s" not in df.columns:
        raise ValueError("request records need an arrival_s column")
    _check_frame(df, REQUEST_COLUMNS, "request records", exact=False)
    arr = df["arrival_s"].to_numpy()
    if len(arr) and (not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0)):
        raise ValueError("request records: arrival_s must be finite and sorted")
    return df


def validate_nodes(df: pd.DataFrame) -> pd.DataFrame:
    """Check a node-records frame against `NODE_COLUMNS`; return it or raise ValueError."""
    _check_frame(df, NODE_COLUMNS, "node records", exact=True)
    return df


def empty_training() -> pd.DataFrame:
    """A training-records frame with no rows and the right dtypes."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in TRAINING_COLUMNS.items()})


def training_frame(cols: dict[str, object]) -> pd.DataFrame:
    """Build a training-records frame from column arrays, cast to the fixed dtypes, sorted."""
    df = pd.DataFrame({c: pd.Series(np.asarray(cols[c])).astype(t) for c, t in TRAINING_COLUMNS.items()})
    df = df.sort_values("arrival_s", kind="stable", ignore_index=True)
    return df


def request_frame(cols: dict[str, object]) -> pd.DataFrame:
    """Build a request-records frame from the columns given (arrival_s first), sorted."""
    data = {c: np.asarray(cols[c]).astype(t) for c, t in REQUEST_COLUMNS.items() if c in cols}
    df = pd.DataFrame(data)
    order = np.argsort(df["arrival_s"].to_numpy(), kind="stable")
    if len(order) and np.any(order != np.arange(len(order))):
        df = df.iloc[order].reset_index(drop=True)
    return df


__all__ = [
    "TRAINING_COLUMNS",
    "REQUEST_COLUMNS",
    "NODE_COLUMNS",
    "BadRow",
    "ReadReport",
    "TraceFormatError",
    "validate_training",
    "validate_requests",
    "validate_nodes",
    "empty_training",
    "training_frame",
    "request_frame",
]
