"""Shared plumbing of the trace readers: paths, header checks, bad-row bookkeeping, CSV chunks.

Readers parse whole columns with pandas (vectorised); a row that fails a check is flagged with a
reason. By default flagged rows are skipped and counted in a `ReadReport`; with ``strict=True``
the first flagged row (lowest line number) raises `TraceFormatError` naming the line.
Line numbers are 1-based file lines; the header is line 1.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from gpusim.errors import InputError, TraceFormatError
from gpusim.traces.records import ReadReport

SHIPPED_PREFIX = "shipped:"
"""A trace path starting with this names a file shipped in gpusim/traces/data/."""

PUBLISHED: dict[str, str] = {
    "openb": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023 "
    "(also hkust-adsl/kubernetes-scheduler-simulator, data/)",
    "openb-nodes": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023",
    "gavel": "https://github.com/stanford-futuredata/gavel/tree/master/scheduler/traces",
    "philly-runtime": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2020 "
    "(analysis/philly_runtime.csv)",
    "azure-llm": "https://github.com/Azure/AzurePublicDataset (data/AzureLLMInferenceTrace_*.csv; "
    "the 2024 week-long files are linked from AzureLLMInferenceDataset2024.md)",
    "genai-requests": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-v2026-GenAI",
    "genai-model-load": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-v2026-GenAI",
    "dlrm": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2025",
    "pai-job": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2020 (pai_job_table.tar.gz)",
    "pai-task": "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2020 (pai_task_table.tar.gz)",
    "helios": "https://github.com/S-Lab-System-Group/HeliosData (cluster_log.csv per cluster)",
    "generic": "your own log (CSV or Parquet)",
}


def shipped_dir() -> Path:
    """The folder of trace files shipped with the package."""
    return Path(str(resources.files("gpusim.traces").joinpath("data")))


def resolve_path(path: str | Path, fmt: str) -> Path:
    """The trace file to read; InputError saying where the trace is published if it is missing."""
    text = str(path)
    if text.startswith(SHIPPED_PREFIX):
        p = shipped_dir() / text[len(SHIPPED_PREFIX) :]
    else:
        p = Path(text).expanduser()
    if p.is_dir():
        raise InputError(f"trace file {text} is a folder, not a {fmt} trace file; give the file's path")
    if p.exists() and not p.is_file():
        raise InputError(f"trace file {text} is not a regular file (a device, pipe or socket); give a {fmt} file")
    if not p.is_file():
        where = PUBLISHED.get(fmt, "its publisher")
        shipped = ", ".join(
            SHIPPED_PREFIX + str(f.relative_to(shipped_dir()))
            for f in sorted(shipped_dir().rglob("*"))
            if f.is_file() and f.suffix in (".csv", ".parquet")
        )
        raise InputError(
            f"trace file {text} does not exist. The {fmt} trace is published at {where}; "
            f"download it and give its path. Shipped files: {shipped}"
        )
    return p


def require_columns(found: Sequence[str], expected: Sequence[str], path: Path, fmt: str) -> None:
    """TraceFormatError naming the expected and found columns if any expected one is missing."""
    missing = [c for c in expected if c not in found]
    if missing:
        shown = repr(list(found)[:30])
        if len(shown) > 300:
            shown = shown[:300] + "...]"
        raise TraceFormatError(
            f"{path} is not in the {fmt} trace format: expected columns {list(expected)}, "
            f"found {shown} (missing {missing})"
        )


def read_header(path: Path, sep: str = ",") -> list[str]:
    """The first line of a text file, split on `sep` and stripped."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    return [c.strip() for c in first.split(sep)]


class RowChecker:
    """Collect per-row problems of one chunk; decide which rows to keep.

    Each row keeps the first reason it was flagged with.
    """

    def __init__(self, lines: np.ndarray):
        self.lines = lines
        self.reasons = np.full(len(lines), None, dtype=object)
        self.excluded = np.zeros(len(lines), dtype=bool)

    def exclude(self, mask: np.ndarray) -> None:
        """Drop these rows silently (a documented filter, not a problem); they are not checked."""
        self.excluded |= np.asarray(mask, dtype=bool)

    def flag(self, bad: np.ndarray | pd.Series, reason: str, values: pd.Series | None = None) -> None:
        """Flag rows where `bad`; `reason` may contain ``{value}`` filled from `values`."""
        bad = np.asarray(bad, dtype=bool) & (self.reasons == None) & ~self.excluded  # noqa: E711
        if not bad.any():
            return
        idx = np.flatnonzero(bad)
        if values is not None and "{value}" in reason:
            vals = np.asarray(values, dtype=object)
            for i in idx:
                self.reasons[i] = reason.format(value=_show(vals[i]))
        else:
            self.reasons[idx] = reason

    def extra(self, line_reasons: list[tuple[int, str]]) -> None:
        """Problems on lines that never became rows (too many fields)."""
        self._extra = line_reasons

    def finish(self, report: ReadReport, strict: bool, path: Path) -> np.ndarray:
        """Record skipped rows in `report` (or raise if strict); return the keep mask."""
        bad_idx = np.flatnonzero(self.reasons != None)  # noqa: E711
        problems = [(int(self.lines[i]), str(self.reasons[i])) for i in bad_idx[:1000]]
        problems += getattr(self, "_extra", [])
        problems.sort()
        n_bad = len(bad_idx) + len(getattr(self, "_extra", []))
        report.rows_read += len(self.lines) + len(getattr(self, "_extra", []))
        if strict and n_bad:
            line, reason = problems[0]
            raise TraceFormatError(f"{path}:{line}: {reason}")
        for line, reason in problems:
            report.add_bad(line, reason)
        report.rows_skipped += n_bad - len(problems)
        return (self.reasons == None) & ~self.excluded  # noqa: E711


def _show(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "(empty)"
    return repr(v) if isinstance(v, str) else str(v)


_SKIP_RE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_ERR_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_csv_chunks(
    path: Path,
    fmt: str,
    *,
    strict: bool,
    chunk_rows: int | None,
    sep: str = ",",
    header: bool = True,
    names: Sequence[str] | None = None,
    usecols: Sequence[str] | None = None,
    dtype: dict[str, object] | None = None,
    **extra: object,
) -> Iterator[tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]]:
    """Yield (chunk, line numbers of its rows, lines skipped for a wrong field count).

    A row with too many fields cannot become a row; it is reported by line. Short rows are
    padded with missing values, which the format's checks then flag.
    """
    first_line = 2 if header else 1
    kwargs = dict(
        sep=sep,
        header=0 if header else None,
        names=list(names) if names is not None else None,
        # usecols is applied after reading: with it pandas silently drops the extra fields of a row
        # that has more than the header, and such a row must be reported instead.
        dtype=dtype,
        skip_blank_lines=False,
        on_bad_lines="warn",  # lines with too many fields are reported by RowChecker
        encoding="utf-8-sig",
        encoding_errors="replace",
        low_memory=False if chunk_rows is None else True,
    )
    kwargs.update(extra)
    if chunk_rows is not None:
        kwargs["chunksize"] = chunk_rows
    skipped_all: list[int] = []
    start = 0

    def lines_for(n: int) -> np.ndarray:
        # Data row k sits on line k + first_line + #{skipped lines before it}; with S sorted,
        # S[i] - i is non-decreasing and counts them by one searchsorted.
        base = np.arange(start, start + n, dtype=np.int64) + first_line
        if not skipped_all:
            return base
        adj = np.sort(np.asarray(skipped_all, dtype=np.int64)) - np.arange(len(skipped_all))
        return base + np.searchsorted(adj, base, side="right")

    def collect(caught: list) -> list[tuple[int, str]]:
        new: list[tuple[int, str]] = []
        for w in caught:
            for m in _SKIP_RE.finditer(str(w.message)):  # one warning may list several lines
                line = int(m.group(1))
                skipped_all.append(line)
                new.append((line, f"expected {m.group(2)} fields, found {m.group(3)}"))
        return new

    try:
        # Warnings are captured only around pandas' own reads, never across a yield, so the
        # caller's warnings are not swallowed between chunks.
        if chunk_rows is None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                df = pd.read_csv(path, **kwargs)
            new = collect(caught)
            yield _cols(df, usecols), lines_for(len(df)), new
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            reader = pd.read_csv(path, **kwargs)
        with reader:
            while True:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    try:
                        chunk = reader.get_chunk()
                    except StopIteration:
                        break
                new = collect(caught)
                lines = lines_for(len(chunk))
                start += len(chunk)
                yield _cols(chunk, usecols), lines, new
    except pd.errors.ParserError as err:
        m = _ERR_RE.search(str(err))
        if m:
            raise TraceFormatError(f"{path}:{m.group(2)}: expected {m.group(1)} fields, found {m.group(3)}") from None
        raise TraceFormatError(f"{path} is not a readable {fmt} CSV file: {err}") from None
    except UnicodeDecodeError as err:
        raise TraceFormatError(f"{path} is not a text {fmt} file: {err}") from None
    except pd.errors.EmptyDataError:
        raise TraceFormatError(f"{path} is empty; expected a {fmt} trace") from None


def _cols(df: pd.DataFrame, usecols) -> pd.DataFrame:
    if usecols is None:
        return df
    return df[[c for c in usecols if c in df.columns]]


MAX_MAGNITUDE = 1e15
"""Largest number a trace row may hold (1e15 s is 30 million years; 1e15 MiB is 1 ZiB)."""
MAX_INTEGER = 2**31 - 1
"""Largest count (pods, GPUs, milli-GPU, priority) a trace row may hold."""


def numeric(values: pd.Series) -> pd.Series:
    """`values` as float64, with unparseable entries as NaN."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def flag_numeric(
    chk: RowChecker,
    df: pd.DataFrame,
    col: str,
    *,
    minimum: float | None = None,
    integer: bool = False,
    allow_missing: bool = False,
    what: str | None = None,
) -> np.ndarray:
    """Parse column `col` as numbers, flag malformed/missing/out-of-range rows, return floats."""
    raw = df[col]
    x = numeric(raw).to_numpy()
    name = what or col
    missing = raw.isna().to_numpy()
    if not allow_missing:
        chk.flag(missing, f"missing {name}")
    chk.flag(np.isnan(x) & ~missing, f"malformed {name} {{value}}", raw)
    with np.errstate(invalid="ignore"):
        if minimum is not None:
            chk.flag(x < minimum, f"{name} {{value}} is below {minimum:g}", raw)
        if integer:
            chk.flag(np.isfinite(x) & (x != np.floor(x)), f"{name} {{value}} is not a whole number", raw)
        chk.flag(np.isinf(x), f"{name} {{value}} is not finite", raw)
        limit = MAX_INTEGER if integer else MAX_MAGNITUDE
        chk.flag(np.isfinite(x) & (np.abs(x) > limit), f"{name} {{value}} is out of range (at most {limit:.3g})", raw)
    return x


def parse_timestamps(chk: RowChecker, raw: pd.Series, what: str = "timestamp") -> np.ndarray:
    """Parse ISO-like timestamps (any number of fractional digits, optional UTC offset) to int ns."""
    missing = raw.isna().to_numpy()
    chk.flag(missing, f"missing {what}")
    ts = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
    bad = ts.isna().to_numpy() & ~missing
    if bad.any():
        # The ISO8601 fast path gives up on a whole chunk for some mixes; retry per element.
        retry = pd.to_datetime(raw[bad], errors="coerce", utc=True, format="mixed")
        ts = ts.copy()
        ts[bad] = retry
        bad = ts.isna().to_numpy() & ~missing
    chk.flag(bad, f"malformed {what} {{value}}", raw)
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.to_numpy().astype("datetime64[ns]").view(np.int64)
