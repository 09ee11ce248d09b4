"""Synthetic arrival processes and training-job generators.

Every arrival generator has the form ``fn(rng, <params>, start_s, end_s) -> np.ndarray`` of
float64 arrival times in ``[start_s, end_s)``, sorted, and draws only from the
`numpy.random.Generator` it is given (never global random state).

- `poisson`: homogeneous Poisson process.
- `gamma_renewal`: renewal process with Gamma inter-arrivals of a given mean rate and
  coefficient of variation (cv = 1 is Poisson; cv > 1 bursty; cv < 1 regular).
- `mmpp`: Markov-modulated Poisson process (bursty on/off with two states, or any number).
- `diurnal`: non-homogeneous Poisson with a sinusoidal or piecewise daily profile, by thinning.
- `flash_crowd`: a base rate plus a spike of given height that ramps up and decays exponentially.
- `nhpp_thinning`: the thinning algorithm (Lewis & Shedler 1979) for any bounded rate function.

`training_jobs` draws GPUs-per-job and durations from a trace's empirical distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported only by the functions that build records
    import pandas as pd


def _check_window(start_s: float, end_s: float) -> float:
    if not (np.isfinite(start_s) and np.isfinite(end_s)) or end_s < start_s:
        raise ValueError(f"need finite start_s <= end_s, got {start_s}, {end_s}")
    return end_s - start_s


def poisson(rng: np.random.Generator, rate: float, start_s: float, end_s: float) -> np.ndarray:
    """Homogeneous Poisson arrivals at `rate` per second: N ~ Poisson(rate T), uniform times."""
    if rate < 0:
        raise ValueError(f"rate must be >= 0, got {rate}")
    span = _check_window(start_s, end_s)
    n = rng.poisson(rate * span)
    t = start_s + rng.random(n) * span
    t.sort()
    return t


def gamma_renewal(rng: np.random.Generator, rate: float, cv: float, start_s: float, end_s: float) -> np.ndarray:
    """Renewal arrivals with Gamma(shape 1/cv^2) inter-arrival times of mean 1/rate.

    The process starts afresh at `start_s` (the first gap is a full Gamma draw).
    """
    if rate < 0 or cv <= 0:
        raise ValueError(f"need rate >= 0 and cv > 0, got rate={rate}, cv={cv}")
    span = _check_window(start_s, end_s)
    if rate == 0 or span == 0:
        return np.empty(0)
    shape = 1.0 / (cv * cv)
    scale = 1.0 / (rate * shape)
    out: list[np.ndarray] = []
    t = start_s
    expected = rate * span
    while True:
        batch = int(expected + 6 * np.sqrt(expected * max(cv * cv, 1.0)) + 16)
        times = t + np.cumsum(rng.gamma(shape, scale, size=batch))
        if times[-1] >= end_s:
            out.append(times[times < end_s])
            break
        out.append(times)
        t = times[-1]
        expected = rate * (end_s - t)
    return np.concatenate(out)


def _stationary(q: np.ndarray, sojourn: np.ndarray) -> np.ndarray:
    """Time-stationary state distribution of a semi-Markov chain with jump matrix `q`."""
    k = len(sojourn)
    a = np.vstack([q.T - np.eye(k), np.ones(k)])
    b = np.concatenate([np.zeros(k), [1.0]])
    pi_embedded = np.linalg.lstsq(a, b, rcond=None)[0]
    w = np.clip(pi_embedded, 0, None) * sojourn
    return w / w.sum()


def mmpp_jumps(k: int, transition: Sequence[Sequence[float]] | None = None) -> np.ndarray:
    """`mmpp`'s jump matrix over `k` states: `transition`, checked, or by default uniformly to any
    other state.
    """
    if transition is None:
        q = np.full((k, k), 1.0 / max(k - 1, 1))
        np.fill_diagonal(q, 0.0 if k > 1 else 1.0)
        return q
    q = np.asarray(transition, dtype=float)
    if q.shape != (k, k) or (q < 0).any() or not np.allclose(q.sum(axis=1), 1.0):
        raise ValueError("transition must be a k x k matrix of probabilities with rows summing to 1")
    return q


def mmpp_mean_rate(
    rates: Sequence[float], mean_sojourn_s: Sequence[float], transition: Sequence[Sequence[float]] | None = None
) -> float:
    """`mmpp`'s long-run mean arrival rate, ``sum(pi_i * rates[i])`` over its time-stationary states."""
    m = np.asarray(mean_sojourn_s, dtype=float)
    pi = _stationary(mmpp_jumps(len(m), transition), m)
    return float(np.dot(pi, np.asarray(rates, dtype=float)))


def mmpp(
    rng: np.random.Generator,
    rates: Sequence[float],
    mean_sojourn_s: Sequence[float],
    start_s: float,
    end_s: float,
    transition: Sequence[Sequence[float]] | None = None,
) -> np.ndarray:
    """Markov-modulated Poisson arrivals.

    State i lasts an exponential time of mean ``mean_sojourn_s[i]`` and emits Poisson arrivals at
    ``rates[i]``; then the chain jumps to state j with probability ``transition[i][j]`` (zero
    diagonal; default: uniformly to any other state, so two states alternate on/off). The
    initial state is drawn from the stationary distribution, so the long-run mean rate is
    ``sum(pi_i * rates[i])`` from the start.
    """
    r = np.asarray(rates, dtype=float)
    m = np.asarray(mean_sojourn_s, dtype=float)
    k = len(r)
    if k < 1 or len(m) != k or (r < 0).any() or (m <= 0).any():
        raise ValueError("mmpp needs rates >= 0 and mean_sojourn_s > 0 of the same length")
    q = mmpp_jumps(k, transition)
    _check_window(start_s, end_s)
    state = int(rng.choice(k, p=_stationary(q, m)))
    t = start_s
    out: list[np.ndarray] = []
    while t < end_s:
        stay = rng.exponential(m[state])
        seg_end = min(t + stay, end_s)
        if r[state] > 0:
            out.append(poisson(rng, r[state], t, seg_end))
        t = seg_end
        state = int(rng.choice(k, p=q[state])) if k > 1 else 0
    return np.concatenate(out) if out else np.empty(0)


def nhpp_thinning(
    rng: np.random.Generator,
    rate_fn: Callable[[np.ndarray], np.ndarray],
    rate_max: float,
    start_s: float,
    end_s: float,
) -> np.ndarray:
    """Non-homogeneous Poisson arrivals by thinning: candidates at `rate_max`, kept w.p. rate/max.

    `rate_fn` maps an array of times to rates in ``[0, rate_max]``.
    """
    cand = poisson(rng, rate_max, start_s, end_s)
    if rate_max == 0 or len(cand) == 0:
        return cand
    lam = np.asarray(rate_fn(cand), dtype=float)
    if (lam > rate_max * (1 + 1e-9)).any() or (lam < 0).any():
        raise ValueError("rate_fn left [0, rate_max]")
    keep = rng.random(len(cand)) * rate_max < lam
    return cand[keep]


def diurnal_rate(
    t: np.ndarray,
    mean_rate: float,
    amplitude: float = 0.5,
    period_s: float = 86400.0,
    peak_s: float = 14 * 3600.0,
    profile: Sequence[float] | None = None,
) -> np.ndarray:
    """Rate at times `t`: a sinusoid peaking at `peak_s` within each period, or a piecewise profile.

    With `profile` (k relative levels over equal slices of the period, e.g. 24 hourly values) the
    rate is ``mean_rate * profile[slice] / mean(profile)``; otherwise
    ``mean_rate * (1 + amplitude * cos(2 pi (t - peak_s) / period_s))``.
    """
    t = np.asarray(t, dtype=float)
    if profile is not None:
        p = np.asarray(profile, dtype=float)
        idx = np.floor(np.mod(t, period_s) / period_s * len(p)).astype(int) % len(p)
        return mean_rate * p[idx] / p.mean()
    return mean_rate * (1.0 + amplitude * np.cos(2 * np.pi * (t - peak_s) / period_s))


def diurnal(
    rng: np.random.Generator,
    mean_rate: float,
    start_s: float,
    end_s: float,
    amplitude: float = 0.5,
    period_s: float = 86400.0,
    peak_s: float = 14 * 3600.0,
    profile: Sequence[float] | None = None,
) -> np.ndarray:
    """Diurnal arrivals (see `diurnal_rate`), by thinning a Poisson process at the peak rate."""
    if profile is not None:
        p = np.asarray(profile, dtype=float)
        if len(p) == 0 or (p < 0).any() or p.sum() == 0:
            raise ValueError("profile needs non-negative levels, not all zero")
        lam_max = mean_rate * p.max() / p.mean()
    else:
        if not 0 <= amplitude <= 1:
            raise ValueError(f"amplitude must be in [0, 1], got {amplitude}")
        lam_max = mean_rate * (1 + amplitude)

    def fn(t: np.ndarray) -> np.ndarray:
        return diurnal_rate(t, mean_rate, amplitude, period_s, peak_s, profile)

    return nhpp_thinning(rng, fn, lam_max, start_s, end_s)


def flash_crowd_rate(
    t: np.ndarray,
    base_rate: float,
    peak_rate: float,
    spike_at_s: float,
    ramp_s: float,
    decay_s: float,
) -> np.ndarray:
    """Base rate plus a spike: linear rise to `peak_rate` over `ramp_s`, then e-folding `decay_s`."""
    t = np.asarray(t, dtype=float)
    extra = peak_rate - base_rate
    x = t - spike_at_s
    rise = np.where(ramp_s > 0, np.clip(x / max(ramp_s, 1e-300), 0, 1), (x >= 0).astype(float))
    decay = np.where(x > ramp_s, np.exp(-(x - ramp_s) / decay_s), 1.0)
    return base_rate + extra * np.where(x < 0, 0.0, rise * decay)


def flash_crowd(
    rng: np.random.Generator,
    base_rate: float,
    peak_rate: float,
    spike_at_s: float,
    start_s: float,
    end_s: float,
    ramp_s: float = 0.0,
    decay_s: float = 300.0,
) -> np.ndarray:
    """Flash-crowd arrivals (see `flash_crowd_rate`).

    The base rate is a homogeneous Poisson process; the spike's extra rate is added by thinning
    piecewise (the ramp, then blocks of one decay time, each against its own maximum), so the
    cost stays proportional to the arrivals rather than to peak rate x run length.
    """
    if base_rate < 0 or peak_rate < base_rate or decay_s <= 0 or ramp_s < 0:
        raise ValueError("need 0 <= base_rate <= peak_rate, ramp_s >= 0, decay_s > 0")
    _check_window(start_s, end_s)
    extra = peak_rate - base_rate
    parts = [poisson(rng, base_rate, start_s, end_s)]

    def fn(t: np.ndarray) -> np.ndarray:
        return flash_crowd_rate(t, 0.0, extra, spike_at_s, ramp_s, decay_s)

    if extra > 0:
        edges = [spike_at_s, spike_at_s + ramp_s]
        # Decay blocks until the remaining expected arrivals are negligible (e^-40).
        k = 0
        while edges[-1] < end_s and k < 40:
            edges.append(edges[-1] + decay_s)
            k += 1
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            lo, hi = max(lo, start_s), min(hi, end_s)
            if hi <= lo:
                continue
            top = float(fn(np.array([lo, hi])).max()) if hi > spike_at_s + ramp_s else extra
            # The rate is monotone on each block, so its maximum is at an end.
            parts.append(nhpp_thinning(rng, fn, top, lo, hi))
    out = np.concatenate(parts)
    out.sort()
    return out


def empirical_job_shapes(records: pd.DataFrame) -> pd.DataFrame:
    """The per-job shape columns of training records, to draw whole jobs from with `training_jobs`."""
    cols = [
        "num_pods",
        "gpus",
        "gpu_milli",
        "cpu_milli",
        "memory_mib",
        "gpu_models",
        "priority",
        "qos",
    ]
    return records[cols].reset_index(drop=True)


def training_jobs(
    rng: np.random.Generator,
    arrivals_s: np.ndarray,
    shapes: pd.DataFrame,
    durations_s: np.ndarray,
    *,
    min_duration_s: float = 1.0,
    name_prefix: str = "job",
) -> pd.DataFrame:
    """Training records for `arrivals_s`, drawing from a trace's empirical distributions.

    Each job's shape (pods, GPUs per pod, share, CPU, memory, GPU models, priority, QoS) is a row
    drawn with replacement from `shapes` (see `empirical_job_shapes`), so GPUs-per-job keeps the
    trace's joint distribution; its duration is drawn independently from `durations_s` (e.g.
    a trace's ``duration_s`` column or the philly-runtime distribution), floored at
    `min_duration_s` (run times of 0 s exist in Philly).
    """
    from gpusim.traces.records import training_frame

    arr = np.sort(np.asarray(arrivals_s, dtype=float))
    n = len(arr)
    d = np.asarray(durations_s, dtype=float)
    d = d[np.isfinite(d)]
    if len(shapes) == 0 or len(d) == 0:
        raise ValueError("training_jobs needs a non-empty shape table and duration sample")
    rows = shapes.iloc[rng.integers(0, len(shapes), size=n)]
    dur = np.maximum(d[rng.integers(0, len(d), size=n)], min_duration_s)
    width = max(len(str(n)), 1)
    return training_frame(
        {
            "name": np.array([f"{name_prefix}-{i:0{width}d}" for i in range(n)], dtype=object),
            "arrival_s": arr,
            "duration_s": dur,
            "num_pods": rows["num_pods"].to_numpy(),
            "gpus": rows["gpus"].to_numpy(),
            "gpu_milli": rows["gpu_milli"].to_numpy(),
            "cpu_milli": rows["cpu_milli"].to_numpy(),
            "memory_mib": rows["memory_mib"].to_numpy(),
            "gpu_models": rows["gpu_models"].to_numpy(dtype=object),
            "priority": rows["priority"].to_numpy(),
            "qos": rows["qos"].to_numpy(dtype=object),
        }
    )
