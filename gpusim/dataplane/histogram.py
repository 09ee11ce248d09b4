"""Mergeable latency histograms with a bounded relative error.

Latencies are counted in log-spaced bins over ``[lo_s, hi_s)`` (default 1e-4 s to 1e5 s) plus an
underflow and an overflow bin, in a fixed-size ``int64`` array: memory never grows with the number
of requests, and two histograms with the same `HistogramConfig` merge by adding their arrays.

Bins grow by the ratio ``gamma = (1 + rel_error)**2``. A quantile is reported as the geometric
midpoint of the bin that holds the nearest-rank order statistic, so for any value inside
``[lo_s, hi_s)`` the reported quantile is within ``rel_error`` (default 1%) of the exact
nearest-rank sample quantile: ``sqrt(gamma) - 1 = rel_error`` above, ``1 - 1/sqrt(gamma) <
rel_error`` below. Underflow reports ``lo_s`` and overflow ``hi_s`` (the error there is unbounded,
so the counts are exposed). The mean is exact: the sum is kept next to the counts.

Layout of a counts array: index 0 underflow, ``1..n_bins`` the log bins, ``n_bins + 1`` overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class HistogramConfig:
    """Bin geometry shared by every histogram that is to be merged."""

    lo_s: float = 1e-4
    hi_s: float = 1e5
    rel_error: float = 0.01

    def __post_init__(self):
        if not (0 < self.lo_s < self.hi_s) or not math.isfinite(self.hi_s):
            raise ValueError(f"need 0 < lo_s < hi_s < inf, got lo_s={self.lo_s}, hi_s={self.hi_s}")
        if not (0 < self.rel_error < 0.5):
            raise ValueError(f"rel_error must be in (0, 0.5), got {self.rel_error}")

    @property
    def gamma(self) -> float:
        """Ratio between consecutive bin edges."""
        return (1.0 + self.rel_error) ** 2

    @property
    def n_bins(self) -> int:
        """Number of log bins (excluding underflow and overflow)."""
        return int(math.ceil(math.log(self.hi_s / self.lo_s) / math.log(self.gamma) - 1e-12))

    @property
    def size(self) -> int:
        """Length of a counts array."""
        return self.n_bins + 2

    def edges(self) -> np.ndarray:
        """The ``n_bins + 1`` bin edges in seconds; the last one is clipped to ``hi_s``."""
        e = self.lo_s * self.gamma ** np.arange(self.n_bins + 1, dtype=np.float64)
        e[-1] = self.hi_s
        return e

    def lookup(self) -> np.ndarray:
        """Bin-guess table for the kernels: ``[e_min, guess...]`` indexed by binary exponent and the top 8
        mantissa bits of ``frexp(x)``. A cell spans a ratio of at most 1 + 1/256 < gamma, so it holds at
        most one bin edge and the guess is off by at most one bin (the kernel then checks the edges).
        """
        e_min = math.frexp(self.lo_s)[1]
        e_max = math.frexp(self.hi_s)[1]
        edges = self.edges()
        tab = np.empty(1 + (e_max - e_min + 1) * 256, dtype=np.int64)
        tab[0] = e_min
        j = np.arange(256)
        for e in range(e_min, e_max + 1):
            lower = (0.5 + j / 512.0) * 2.0**e
            k = np.searchsorted(edges, lower, side="right") - 1  # 0-based log bin of the cell's lower end
            tab[1 + (e - e_min) * 256 : 1 + (e - e_min + 1) * 256] = np.clip(k, 0, self.n_bins - 1)
        return tab

    def empty(self) -> np.ndarray:
        """A zeroed counts array."""
        return np.zeros(self.size, dtype=np.int64)


def bin_index(edges: np.ndarray, x: float) -> int:
    """Counts-array index of value `x` (plain Python; the kernels do the same with a log guess)."""
    if x < edges[0]:
        return 0
    if x >= edges[-1]:
        return len(edges)
    return int(np.searchsorted(edges, x, side="right"))


def histogram_of(values, config: HistogramConfig) -> np.ndarray:
    """Counts array of `values` (reference implementation, used by tests and small callers)."""
    edges = config.edges()
    counts = config.empty()
    for v in np.asarray(values, dtype=np.float64).ravel():
        counts[bin_index(edges, float(v))] += 1
    return counts


def quantile(counts: np.ndarray, q: float, config: HistogramConfig) -> float:
    """Nearest-rank `q`-quantile (0 < q <= 1) of a counts array; NaN when it is empty."""
    if not (0.0 <= q <= 1.0):
        raise ValueError(f"q must be in [0, 1], got {q}")
    counts = np.asarray(counts)
    if counts.shape != (config.size,):
        raise ValueError(f"counts has shape {counts.shape}, expected ({config.size},)")
    n = int(counts.sum())
    if n == 0:
        return math.nan
    rank = max(1, int(math.ceil(q * n - 1e-9)))
    idx = int(np.searchsorted(np.cumsum(counts), rank, side="left"))
    if idx == 0:
        return config.lo_s
    if idx == config.n_bins + 1:
        return config.hi_s
    edges = config.edges()
    return float(math.sqrt(edges[idx - 1] * edges[idx]))


@dataclass
class Histogram:
    """A counts array with its exact sum: mergeable by ``+``, with `mean` and `quantile`."""

    config: HistogramConfig = field(default_factory=HistogramConfig)
    counts: np.ndarray | None = None
    sum_s: float = 0.0

    def __post_init__(self):
        if self.counts is None:
            self.counts = self.config.empty()

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    @property
    def mean(self) -> float:
        """Exact mean of the recorded values (NaN when empty)."""
        n = self.count
        return self.sum_s / n if n else math.nan

    def quantile(self, q: float) -> float:
        return quantile(self.counts, q, self.config)

    def __add__(self, other: Histogram) -> Histogram:
        if other.config != self.config:
            raise ValueError("cannot merge histograms with different bin configurations")
        return Histogram(self.config, self.counts + other.counts, self.sum_s + other.sum_s)

    def __iadd__(self, other: Histogram) -> Histogram:
        if other.config != self.config:
            raise ValueError("cannot merge histograms with different bin configurations")
        self.counts += other.counts
        self.sum_s += other.sum_s
        return self
