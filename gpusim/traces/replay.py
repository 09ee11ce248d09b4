"""Replay controls: pure functions on arrival arrays or record DataFrames.

Each function returns new data and leaves its input alone; random ones take an explicit
`numpy.random.Generator`. Functions on DataFrames work on any records with a sorted
``arrival_s`` column (training or request records) and keep the row order by arrival.

- `window`: keep arrivals in ``[start_s, end_s)`` and shift them so `start_s` becomes 0.
- `compress`: replay k times faster: arrival times divided by k (offered load x k); with
  ``durations=True`` job durations and request service times shrink too (same load, k times
  shorter run).
- `scale_rate`: r < 1 keeps each arrival with probability r (thinning); r > 1 superposes
  floor(r) copies plus a copy thinned to the fractional part; every copy after the first is
  circularly shifted by a uniform random offset within the span, so copies do not coincide.
- `sample`: keep an exact fraction of rows, drawn without replacement.
- `loop`: repeat a trace with a given period until a run end.
- `sharing_request` / `map_records_to_sharing`: the documented mapping of a trace pod's GPU
  request (gpus x gpu-milli) onto time-slicing, MIG, AMD-partition or Intel-shared pools, so
  sharing modes can be compared on one real trace (`SHARING_MAPPING`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ArrivalsOrRecords = np.ndarray | pd.DataFrame


def _arrivals(data: ArrivalsOrRecords) -> np.ndarray:
    return data["arrival_s"].to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data, dtype=float)


def _take(data: ArrivalsOrRecords, idx: np.ndarray) -> ArrivalsOrRecords:
    if isinstance(data, pd.DataFrame):
        return data.iloc[idx].reset_index(drop=True)
    return np.asarray(data, dtype=float)[idx]


def _with_arrivals(data: ArrivalsOrRecords, arrivals: np.ndarray) -> ArrivalsOrRecords:
    if isinstance(data, pd.DataFrame):
        out = data.copy()
        out["arrival_s"] = arrivals.astype(np.float64)
        return out
    return arrivals.astype(np.float64)


def _sort(data: ArrivalsOrRecords) -> ArrivalsOrRecords:
    order = np.argsort(_arrivals(data), kind="stable")
    return _take(data, order)


def window(data: ArrivalsOrRecords, start_s: float = 0.0, end_s: float | None = None) -> ArrivalsOrRecords:
    """Arrivals in ``[start_s, end_s)`` (end None = no end), shifted so `start_s` is time 0."""
    a = _arrivals(data)
    keep = a >= start_s
    if end_s is not None:
        if end_s <= start_s:
            raise ValueError(f"window end {end_s} must be after start {start_s}")
        keep &= a < end_s
    idx = np.flatnonzero(keep)
    out = _take(data, idx)
    return _with_arrivals(out, _arrivals(out) - start_s)


def compress(data: ArrivalsOrRecords, factor: float, *, durations: bool = False) -> ArrivalsOrRecords:
    """Replay `factor` times faster (arrival times / factor; optionally durations too)."""
    if not factor > 0:
        raise ValueError(f"compression factor must be > 0, got {factor}")
    out = _with_arrivals(data, _arrivals(data) / factor)
    if durations and isinstance(out, pd.DataFrame):
        for col in ("duration_s", "service_s"):
            if col in out.columns:
                out[col] = out[col] / factor
    return out


def thin(rng: np.random.Generator, data: ArrivalsOrRecords, keep_probability: float) -> ArrivalsOrRecords:
    """Keep each arrival independently with probability `keep_probability`."""
    if not 0 <= keep_probability <= 1:
        raise ValueError(f"keep probability must be in [0, 1], got {keep_probability}")
    n = len(_arrivals(data))
    return _take(data, np.flatnonzero(rng.random(n) < keep_probability))


def scale_rate(
    rng: np.random.Generator, data: ArrivalsOrRecords, r: float, span_s: float | None = None
) -> ArrivalsOrRecords:
    """Scale the arrival rate by `r` (thinning below 1, superposition of shifted copies above).

    `span_s` is the period for the circular shifts (default: last arrival, or 1 s if that is 0);
    arrivals are taken as lying in ``[0, span_s)``.
    """
    if r < 0:
        raise ValueError(f"rate scale must be >= 0, got {r}")
    if r == 1:
        return data
    if r < 1:
        return thin(rng, data, r)
    a = _arrivals(data)
    if span_s is None:
        span_s = float(a.max()) if len(a) and a.max() > 0 else 1.0
    whole, frac = int(np.floor(r)), r - np.floor(r)
    parts = [data]
    copies = list(range(1, whole)) + ([whole] if frac > 0 else [])
    for k in copies:
        part = thin(rng, data, frac) if k == whole and frac > 0 else data
        shift = rng.random() * span_s
        part = _with_arrivals(part, np.mod(_arrivals(part) + shift, span_s))
        if isinstance(part, pd.DataFrame) and "name" in part.columns:
            part = part.copy()
            part["name"] = part["name"] + f"#{k}"
        parts.append(part)
    joined = pd.concat(parts, ignore_index=True) if isinstance(data, pd.DataFrame) else np.concatenate(parts)
    return _sort(joined)


def sample(rng: np.random.Generator, data: ArrivalsOrRecords, fraction: float) -> ArrivalsOrRecords:
    """Keep ``round(fraction * n)`` rows drawn without replacement, in arrival order."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"sample fraction must be in [0, 1], got {fraction}")
    n = len(_arrivals(data))
    k = int(round(fraction * n))
    idx = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
    return _take(data, idx)


def loop(data: ArrivalsOrRecords, period_s: float, until_s: float) -> ArrivalsOrRecords:
    """Repeat the trace every `period_s` seconds, keeping arrivals before `until_s`.

    Arrivals are taken as lying in ``[0, period_s)``; repeats of named records get ``#loopN``.
    """
    if not period_s > 0:
        raise ValueError(f"loop period must be > 0, got {period_s}")
    a = _arrivals(data)
    base = _take(data, np.flatnonzero(a < period_s))
    reps = int(np.ceil(until_s / period_s)) if until_s > 0 else 0
    parts = []
    for k in range(reps):
        part = _with_arrivals(base, _arrivals(base) + k * period_s)
        if k and isinstance(part, pd.DataFrame) and "name" in part.columns:
            part["name"] = part["name"] + f"#loop{k}"
        parts.append(part)
    if not parts:
        return _take(data, np.array([], dtype=int))
    joined = pd.concat(parts, ignore_index=True) if isinstance(data, pd.DataFrame) else np.concatenate(parts)
    return _take(joined, np.flatnonzero(_arrivals(joined) < until_s))


def default_loop_period(data: ArrivalsOrRecords) -> float:
    """Period for looping a trace with no window end: last arrival plus one mean gap."""
    a = _arrivals(data)
    if len(a) == 0:
        return 1.0
    if len(a) == 1:
        return max(float(a[0]), 1.0)
    return float(a[-1] + (a[-1] - a[0]) / (len(a) - 1))


# --------------------------------------------------------------------------- sharing modes
SHARING_MAPPING = """
How a trace pod's GPU request (``gpus`` GPUs of ``gpu_milli`` / 1000 each) becomes a request on a
pool whose GPUs are shared (`sharing_request`); ``f = gpu_milli / 1000``:

- whole GPUs (no sharing): ``ceil(gpus x f)`` x the vendor's GPU resource (a fractional pod
  takes a whole GPU);
- fractional (GPU-share device plugin): unchanged, ``gpus`` x ``f`` as milli-GPU;
- time-slicing with R replicas per GPU (and Intel ``sharedDevNum`` R): one-GPU pods take
  ``max(1, ceil(f x R))`` replicas; g-GPU pods take ``g x R`` replicas (the capacity of g GPUs;
  time-slicing gives no isolation, so a pod's replicas may share one GPU); with
  ``failRequestsGreaterThanOne`` the request is capped at 1 replica, as the plugin admits no more;
- MIG, mixed strategy: one-GPU pods take the smallest profile (fewest compute slices, then least
  memory) with ``compute_slices / 7 >= f`` and enough memory for ``gpu_memory_mib`` when known;
  g-GPU pods take g whole-GPU instances (the 7g profile): a MIG instance never spans GPUs, so
  on a layout without 7g instances such pods are unschedulable with kube-scheduler's reason
  ``Insufficient nvidia.com/mig-7g.<mem>gb``; MIG single strategy: ``ceil(gpus x f)`` x nvidia.com/gpu
  (every instance is advertised as one GPU);
- AMD partitions with c logical GPUs per GPU: one-GPU pods take ``max(1, ceil(f x c))``
  partitions, g-GPU pods ``g x c``, as amd.com/gpu (single naming) or amd.com/<profile> (mixed).
"""


def sharing_request(gpus: int, gpu_milli: int, sharing, gpu, *, gpu_memory_mib: int = 0) -> tuple[str, int, str]:
    """(resource, count, note) a trace pod asks on a pool with `sharing` (a scenario `Sharing`
    mode or its dict) and catalog GPU model `gpu`; see `SHARING_MAPPING` (each mode's
    `trace_request`). CPU-only pods
    (``gpus == 0``) give ``("", 0, "")``. ``note`` says what the mapping changed ('' if nothing).
    """
    from gpusim.sharing import parse_sharing

    if gpus <= 0:
        return "", 0, ""
    return parse_sharing(sharing).trace_request(gpus, gpu_milli, gpu, gpu_memory_mib)


def map_records_to_sharing(records: pd.DataFrame, sharing, gpu) -> pd.DataFrame:
    """Training records with the request each pod makes on a pool with `sharing`: adds columns
    ``gpu_resource``, ``gpu_count`` and ``mapping`` (see `SHARING_MAPPING`); the input is left alone.
    """
    out = records.copy()
    mem = out["gpu_memory_mib"] if "gpu_memory_mib" in out else pd.Series(0, index=out.index)
    mapped = [
        sharing_request(int(g), int(m), sharing, gpu, gpu_memory_mib=int(gm))
        for g, m, gm in zip(out["gpus"], out["gpu_milli"], mem, strict=True)
    ]
    out["gpu_resource"] = [r for r, _, _ in mapped]
    out["gpu_count"] = np.array([k for _, k, _ in mapped], dtype=np.int64)
    out["mapping"] = [n for _, _, n in mapped]
    return out
