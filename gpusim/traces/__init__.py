"""Workload traces: readers for public GPU-cluster and inference traces, replay controls,
synthetic arrival generators and trace statistics.

Entry points for the engine::

    from gpusim.traces import load_training_trace, load_requests
    jobs, report = load_training_trace(source, rng)        # training records (records.py)
    requests, report = load_requests(source, rng)          # request records
    for chunk in iter_requests(source, rng): ...           # week-long request traces

`source` is a `gpusim.traces.schema.TraceSource`; the replay controls are applied in this
order: window -> sample -> rate_scale -> compress -> loop. One reader per format lives in its own
module (openb, gavel, philly, azure_llm, genai, dlrm, pai2020, helios, generic); formats are
listed in `registry`. Readers import lazily so ``import gpusim.traces`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from gpusim.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from gpusim.traces.records import ReadReport
    from gpusim.traces.schema import TraceSource

__all__ = [
    "load_training_trace",
    "load_requests",
    "iter_requests",
    "load_nodes",
    "load_distribution",
    "apply_replay",
    "ReadReport",
]

_TRAINING_FORMATS = ("openb", "gavel", "dlrm", "pai-task", "helios", "generic")
_REQUEST_FORMATS = ("azure-llm", "genai-requests", "generic")


def __getattr__(name: str):
    if name == "ReadReport":
        from gpusim.traces.records import ReadReport

        return ReadReport
    raise AttributeError(f"module 'gpusim.traces' has no attribute {name!r}")


def _read(source: TraceSource):
    from gpusim.traces import registry

    spec = registry.get(source.format)
    kwargs: dict = {"strict": source.strict}
    if source.format == "generic":
        kwargs.update(columns=source.columns.as_dict(), kind=source.kind, time_unit=source.time_unit)
    if source.format == "gavel" and source.throughput:
        kwargs["throughput_steps_per_s"] = source.throughput
    data, report = spec.read_fn(source.path, **kwargs)
    if report.rows_read and report.rows_kept == 0:
        from gpusim.errors import TraceFormatError

        first = report.examples[0] if report.examples else None
        why = f"; line {first.line}: {first.reason}" if first else ""
        raise TraceFormatError(
            f"{source.path}: every one of its {report.rows_read:,} rows is bad, so it holds no {source.format} "
            f"records{why}"
        )
    return data, report


def apply_replay(
    data: pd.DataFrame | np.ndarray,
    source: TraceSource,
    rng: np.random.Generator,
    until_s: float | None = None,
) -> pd.DataFrame | np.ndarray:
    """Apply `source`'s replay controls to records or an arrival array (see the module docstring)."""
    from gpusim.traces import replay

    out = replay.window(data, source.start, source.end)
    span = (source.end - source.start) if source.end is not None else None
    if source.sample < 1:
        out = replay.sample(rng, out, source.sample)
    if source.rate_scale != 1:
        out = replay.scale_rate(rng, out, source.rate_scale, span)
    if source.compress != 1:
        out = replay.compress(out, source.compress, durations=source.compress_durations)
        span = span / source.compress if span is not None else None
    if source.loop:
        if until_s is None:
            raise InputError("trace loop needs the run length (until_s)")
        period = source.loop_period or span or replay.default_loop_period(out)
        out = replay.loop(out, period, until_s)
    return out


def load_training_trace(
    source: TraceSource, rng: np.random.Generator, *, until_s: float | None = None
) -> tuple[pd.DataFrame, ReadReport]:
    """Training records from a trace file with the replay controls applied.

    `until_s` is the run length, needed only when ``source.loop`` is set.
    """
    from gpusim.traces.records import validate_training

    if source.format not in _TRAINING_FORMATS or (source.format == "generic" and source.kind != "training"):
        raise InputError(
            f"trace format {source.format!r} does not hold training jobs; use one of "
            f"{', '.join(_TRAINING_FORMATS)} (generic with kind: training)"
        )
    data, report = _read(source)
    if source.format == "dlrm":
        from gpusim.traces.dlrm import dlrm_training_records

        data = dlrm_training_records(data)
    return validate_training(apply_replay(data, source, rng, until_s)), report


def load_requests(
    source: TraceSource, rng: np.random.Generator, *, until_s: float | None = None
) -> tuple[pd.DataFrame, ReadReport]:
    """Inference request records from a trace file with the replay controls applied."""
    from gpusim.traces.records import validate_requests

    _check_requests(source)
    data, report = _read(source)
    return validate_requests(apply_replay(data, source, rng, until_s)), report


def _check_requests(source: TraceSource) -> None:
    if source.format not in _REQUEST_FORMATS or (source.format == "generic" and source.kind != "requests"):
        raise InputError(
            f"trace format {source.format!r} does not hold inference requests; use one of "
            f"{', '.join(_REQUEST_FORMATS)} (generic with kind: requests)"
        )


class RequestChunks:
    """Chunks of request records with the window, sampling, thinning and compression applied.

    Memory stays bounded by one chunk. Sampling is per-row Bernoulli here (not an exact count);
    rate_scale above 1 and loop need the whole trace: use `load_requests` for those.
    The reader's `report` fills as chunks are read.
    """

    def __init__(self, source: TraceSource, rng: np.random.Generator, chunk_rows: int):
        _check_requests(source)
        if source.rate_scale > 1 or source.loop:
            raise InputError("rate_scale above 1 and loop need the whole trace: use load_requests")
        self.source = source
        self.rng = rng
        if source.format == "azure-llm":
            from gpusim.traces.azure_llm import iter_azure_llm

            self._reader = iter_azure_llm(source.path, strict=source.strict, chunk_rows=chunk_rows)
        elif source.format == "generic":
            from gpusim.traces.generic import GenericReader

            self._reader = GenericReader(
                source.path, source.columns.as_dict(), kind="requests", time_unit=source.time_unit,
                strict=source.strict, chunk_rows=chunk_rows,
            )  # fmt: skip
        else:
            self._reader = None

    @property
    def report(self) -> ReadReport:
        return self._reader.report if self._reader is not None else self._report

    def __iter__(self) -> Iterator[pd.DataFrame]:
        from gpusim.traces import replay

        s = self.source
        if self._reader is None:
            data, self._report = _read(s)
            chunks: Iterator = iter([data])
        else:
            chunks = iter(self._reader)
        for chunk in chunks:
            a = chunk["arrival_s"].to_numpy()
            if s.end is not None and len(a) and a[0] >= s.end:
                break
            out = replay.window(chunk, s.start, s.end)
            if s.sample < 1:
                out = replay.thin(self.rng, out, s.sample)
            if s.rate_scale != 1:
                out = replay.thin(self.rng, out, s.rate_scale)
            if s.compress != 1:
                out = replay.compress(out, s.compress, durations=s.compress_durations)
            if len(out):
                yield out


def iter_requests(source: TraceSource, rng: np.random.Generator, *, chunk_rows: int = 1_000_000) -> RequestChunks:
    """Request records in chunks (bounded memory) with the replay controls that allow streaming."""
    return RequestChunks(source, rng, chunk_rows)


def load_nodes(path: str, *, strict: bool = False) -> tuple[pd.DataFrame, ReadReport]:
    """Node records (``name, cpu_milli, memory_mib, gpus, model``) from an openb node list."""
    from gpusim.traces.openb import read_openb_nodes

    return read_openb_nodes(path, strict=strict)


def load_distribution(source: TraceSource) -> tuple[np.ndarray, ReadReport]:
    """Values of a distribution trace (philly-runtime run times, genai-model-load latencies), in s."""
    if source.format not in ("philly-runtime", "genai-model-load"):
        raise InputError(
            f"trace format {source.format!r} is not a distribution; use philly-runtime or genai-model-load"
        )
    return _read(source)
