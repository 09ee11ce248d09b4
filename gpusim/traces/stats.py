"""What a user checks before trusting a trace: size, span, rates, burstiness, distributions.

`trace_stats(path, format)` reads the file with the format's reader (in chunks for request
traces, so a week of traffic does not have to fit in memory) and returns `TraceStats`.
Definitions: time span = last arrival - first arrival; mean rate = (rows - 1) / span;
inter-arrival CV = std / mean of consecutive differences (population std); peak per second /
minute = most arrivals in one bin of 1 s / 60 s counted from the first arrival; idle seconds =
share of 1 s bins in the span with no arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class ColumnStats:
    """Distribution of one numeric column."""

    name: str
    count: int
    mean: float
    minimum: float
    p50: float
    p90: float
    p99: float
    maximum: float


@dataclass
class TraceStats:
    """Summary figures of one trace file."""

    path: str
    trace_format: str
    kind: str
    rows: int
    rows_skipped: int
    span_s: float | None = None
    mean_rate_per_s: float | None = None
    interarrival_cv: float | None = None
    peak_per_s: int | None = None
    peak_per_min: int | None = None
    idle_second_fraction: float | None = None
    columns: list[ColumnStats] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    report: object = None

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("columns", "report")}
        d["columns"] = {c.name: c.__dict__ for c in self.columns}
        return d


def _column_stats(name: str, values: np.ndarray) -> ColumnStats:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        nan = float("nan")
        return ColumnStats(name, 0, nan, nan, nan, nan, nan, nan)
    q = np.quantile(v, QUANTILES)
    return ColumnStats(name, len(v), float(v.mean()), float(v.min()), *map(float, q), float(v.max()))


def _hist_stats(name: str, hist: np.ndarray) -> ColumnStats:
    """Exact stats from a bincount of non-negative integers (streamed columns)."""
    n = int(hist.sum())
    if n == 0:
        return _column_stats(name, np.array([]))
    vals = np.arange(len(hist), dtype=float)
    cum = np.cumsum(hist)
    nz = np.flatnonzero(hist)

    def q(p: float) -> float:
        # Same as numpy's linear interpolation on the sorted values.
        pos = p * (n - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        a = vals[np.searchsorted(cum, lo + 1)]
        b = vals[np.searchsorted(cum, hi + 1)]
        return float(a + (b - a) * (pos - lo))

    mean = float((hist * vals).sum() / n)
    return ColumnStats(name, n, mean, float(nz[0]), q(0.5), q(0.9), q(0.99), float(nz[-1]))


class ArrivalAccumulator:
    """Streaming arrival statistics over sorted chunks of arrival times."""

    def __init__(self) -> None:
        self.n = 0
        self.first: float | None = None
        self.last: float | None = None
        self.d_n = 0
        self.d_sum = 0.0
        self.d_sumsq = 0.0
        self.per_s = np.zeros(0, dtype=np.int64)

    def add(self, arrivals: np.ndarray) -> None:
        a = np.asarray(arrivals, dtype=float)
        if len(a) == 0:
            return
        if self.first is None:
            self.first = float(a[0])
        prev = np.concatenate([[self.last], a]) if self.last is not None else a
        d = np.diff(prev)
        self.d_n += len(d)
        self.d_sum += float(d.sum())
        self.d_sumsq += float((d * d).sum())
        self.last = float(a[-1])
        self.n += len(a)
        sec = np.floor(a - self.first).astype(np.int64)
        counts = np.bincount(sec)
        if len(counts) > len(self.per_s):
            self.per_s = np.concatenate([self.per_s, np.zeros(len(counts) - len(self.per_s), np.int64)])
        self.per_s[: len(counts)] += counts

    def fill(self, st: TraceStats) -> None:
        if self.n == 0:
            return
        st.span_s = self.last - self.first
        st.mean_rate_per_s = (self.n - 1) / st.span_s if st.span_s > 0 else None
        if self.d_n > 0 and self.d_sum > 0:
            mean = self.d_sum / self.d_n
            var = max(self.d_sumsq / self.d_n - mean * mean, 0.0)
            st.interarrival_cv = float(np.sqrt(var) / mean)
        st.peak_per_s = int(self.per_s.max())
        per_min = np.add.reduceat(self.per_s, np.arange(0, len(self.per_s), 60))
        st.peak_per_min = int(per_min.max())
        st.idle_second_fraction = float((self.per_s == 0).mean())


def _peak_in_use(data: pd.DataFrame) -> dict[str, float]:
    """Most GPUs (sum of shares) and pods held at once on the trace's own timeline."""
    arr = data["arrival_s"].to_numpy()
    end = arr + data["duration_s"].to_numpy()
    gpu = (data["num_pods"] * data["gpus"] * data["gpu_milli"]).to_numpy() / 1000.0
    pods = data["num_pods"].to_numpy().astype(float)
    t = np.concatenate([arr, end])
    # Releases sort before arrivals at the same instant.
    order = np.lexsort((np.concatenate([np.ones(len(arr)), np.zeros(len(end))]), t))
    dg = np.concatenate([gpu, -gpu])[order]
    dp = np.concatenate([pods, -pods])[order]
    if len(dg) == 0:
        return {"gpus": 0.0, "pods": 0.0}
    return {"gpus": round(float(np.cumsum(dg).max()), 3), "pods": float(np.cumsum(dp).max())}


def trace_stats(path: str, trace_format: str, *, strict: bool = False, **reader_kwargs) -> TraceStats:
    """Read `path` as `trace_format` and summarise it (see the module docstring)."""
    from gpusim.traces import registry

    spec = registry.get(trace_format)
    kind = reader_kwargs.get("kind", spec.kind) if trace_format == "generic" else spec.kind
    if spec.kind == "requests" and spec.iter_fn is not None:
        reader = spec.iter_fn(path, strict=strict, **reader_kwargs)
        acc = ArrivalAccumulator()
        hists: dict[str, np.ndarray] = {}
        floats: dict[str, list[np.ndarray]] = {}
        for chunk in reader:
            acc.add(chunk["arrival_s"].to_numpy())
            for col in chunk.columns:
                if col == "arrival_s":
                    continue
                v = chunk[col].to_numpy()
                if v.dtype.kind == "i" and (len(v) == 0 or v.min() >= 0):
                    h = np.bincount(v)
                    old = hists.get(col, np.zeros(0, np.int64))
                    if len(h) < len(old):
                        h, old = old, h
                    h = h.copy()
                    h[: len(old)] += old
                    hists[col] = h
                else:
                    floats.setdefault(col, []).append(v.astype(float))
        report = reader.report
        st = TraceStats(str(path), trace_format, kind, report.rows_kept, report.rows_skipped, report=report)
        acc.fill(st)
        st.columns = [_hist_stats(c, h) for c, h in hists.items()]
        st.columns += [_column_stats(c, np.concatenate(v)) for c, v in floats.items()]
        return st
    data, report = spec.read_fn(path, strict=strict, **reader_kwargs)
    st = TraceStats(str(path), trace_format, kind, report.rows_kept, report.rows_skipped, report=report)
    if kind in ("requests", "training", "instances", "jobs"):
        acc = ArrivalAccumulator()
        acc.add(np.sort(data["arrival_s"].to_numpy()))
        acc.fill(st)
    if kind == "training":
        gpu = data[data["gpus"] > 0]
        st.counts["pods"] = {
            "total": len(data),
            "cpu_only": int((data["gpus"] == 0).sum()),
            "gpu_fractional": int((gpu["gpu_milli"] < 1000).sum()),
            "gpu_whole": int((gpu["gpu_milli"] >= 1000).sum()),
            "multi_pod_jobs": int((data["num_pods"] > 1).sum()),
        }
        st.counts["peak_in_use"] = _peak_in_use(data)
        st.counts["gpus_per_pod"] = {str(k): int(v) for k, v in data["gpus"].value_counts().sort_index().items()}
        if data["qos"].ne("").any():
            st.counts["qos"] = {str(k): int(v) for k, v in data["qos"].value_counts().items()}
        if data["gpu_models"].ne("").any():
            st.counts["gpu_models"] = {
                str(k or "(any)"): int(v) for k, v in data["gpu_models"].value_counts().head(10).items()
            }
        cols = ["duration_s", "num_pods", "gpus", "gpu_milli", "cpu_milli", "memory_mib"]
        st.columns = [_column_stats(c, data[c].to_numpy()) for c in cols]
        st.columns.append(_column_stats("gpu_milli (GPU pods)", gpu["gpu_milli"].to_numpy()))
        st.columns.append(
            _column_stats(
                "total_milli_gpu_per_job",
                (data["num_pods"] * data["gpus"] * data["gpu_milli"]).to_numpy(),
            )
        )
    elif kind in ("requests", "instances", "jobs"):
        st.columns = [
            _column_stats(c, data[c].to_numpy())
            for c in data.columns
            if c != "arrival_s" and pd.api.types.is_numeric_dtype(data[c].dtype)
        ]
        if "app" in data.columns:
            st.counts["services"] = {"count": int(data["app"].nunique())}
    elif kind == "distribution":
        st.columns = [_column_stats(spec.value_name, np.asarray(data))]
    elif kind == "nodes":
        by = data.groupby("model", sort=True)["gpus"].agg(["count", "sum"])
        st.counts["nodes_by_model"] = {str(k or "(cpu)"): int(v) for k, v in by["count"].items()}
        st.counts["gpus_by_model"] = {str(k or "(cpu)"): int(v) for k, v in by["sum"].items()}
        st.columns = [_column_stats(c, data[c].to_numpy()) for c in ("gpus", "cpu_milli", "memory_mib")]
    return st
