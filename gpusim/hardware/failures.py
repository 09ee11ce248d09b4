"""Failure facts (published fleet data) and the checkpoint/restart arithmetic the engine needs.

Data: ``gpusim/hardware/data/failures.yaml`` holds fleet studies with their raw counts (Meta's
Llama 3 405B pre-training: 419 unexpected interruptions in 54 days on 16,384 H100 GPUs, with the
category breakdown of its Table 5), repair triggers (Kubernetes, GKE, EKS) and spot or
preemptible interruption notices per cloud, each with its source. `load_failure_catalog()` reads
it; rates are derived here from the counts.

Pure functions, for a job that needs ``work_s`` seconds of computation, writes a checkpoint
after every ``interval_s`` seconds of work (costing ``checkpoint_s``), fails as a Poisson process
of mean time between failures ``mtbf_s`` (during work, checkpoints and restarts alike), and after
each failure spends ``restart_s`` (reschedule, reload the last checkpoint) before recomputing the
work lost since that checkpoint:

- `young_interval(checkpoint_s, mtbf_s)`: Young's first-order optimum sqrt(2 C M) (1974).
- `daly_interval(checkpoint_s, mtbf_s)`: Daly's higher-order estimate (2006).
- `optimal_interval(checkpoint_s, mtbf_s)`: the exact optimum of the expected-time model below.
- `expected_wall_time(...)`, `expected_goodput(...)`: expectation of the run time, and work over it.
- `availability(mtbf, mttr)`, `downtime_budget_s(sla, period)`, `sla_met(...)`: the 99.9% SLA test.

With segments S_i (work between checkpoints plus the checkpoint; the last segment, which ends the
job, has no checkpoint), the expected time is sum_i M e^(R/M) (e^(S_i/M) - 1) (Daly 2006, eq. 13,
with failures during restart). Nothing here draws random numbers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

from gpusim.errors import InputError

HOUR_S = 3600.0


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class FleetStudy:
    """One published fleet failure study, with the counts its rates come from."""

    id: str
    gpu_model: str
    gpus: int | None
    days: float | None
    interruptions_unexpected: int | None
    gpu_related: int | None  # interruptions whose category group is GPU
    source: str
    raw: dict

    @property
    def gpu_hours(self) -> float | None:
        if self.gpus is None or self.days is None:
            return None
        return self.gpus * self.days * 24.0

    def interruptions_per_gpu_hour(self) -> float | None:
        """Unexpected job interruptions per GPU-hour (counts / GPU-hours of the study)."""
        if self.interruptions_unexpected is None or self.gpu_hours is None:
            return None
        return self.interruptions_unexpected / self.gpu_hours

    def gpu_failures_per_gpu_hour(self) -> float | None:
        """Interruptions with a GPU root cause (Table 5's GPU rows) per GPU-hour."""
        if self.gpu_related is None or self.gpu_hours is None:
            return None
        return self.gpu_related / self.gpu_hours


@dataclass(frozen=True)
class FailureCatalog:
    """The failure facts: studies, per-model rate choice, repair triggers, spot notices, sources."""

    studies: dict[str, FleetStudy]
    model_rates: dict[str, dict]
    repair: dict
    spot_notice: dict[str, dict]
    sources: dict[str, str]

    def rate_study(self, gpu_model: str) -> tuple[FleetStudy, str | None]:
        """The study whose rates apply to `gpu_model`, and the assumption made (None: its own data)."""
        entry = self.model_rates.get(gpu_model) or self.model_rates["default"]
        return self.studies[entry["study"]], entry.get("assumption")

    def interruptions_per_gpu_hour(self, gpu_model: str) -> float:
        """Unexpected interruptions per GPU-hour for a GPU model (see `rate_study` for the source)."""
        return self.rate_study(gpu_model)[0].interruptions_per_gpu_hour()

    def job_mtbf_s(self, gpu_model: str, gpus: int) -> float:
        """Mean time between interruptions of a job spanning `gpus` GPUs (a series system: any
        failure stops the gang, so rates add up).
        """
        if gpus <= 0:
            raise ValueError("gpus must be > 0")
        return HOUR_S / (self.interruptions_per_gpu_hour(gpu_model) * gpus)

    def spot_notice_s(self, cloud: str) -> float:
        """Seconds between a spot/preemptible interruption notice and the VM going away."""
        try:
            return float(self.spot_notice[cloud]["value"])
        except KeyError:
            raise InputError(f"no spot interruption notice for cloud {cloud!r}; known: {', '.join(sorted(self.spot_notice))}") from None  # fmt: skip


@functools.cache
def _read() -> dict:
    text = resources.files("gpusim.hardware").joinpath("data/failures.yaml").read_text(encoding="utf-8")
    from gpusim.hardware.catalog import load_data_yaml

    return load_data_yaml(text)


def load_failure_catalog() -> FailureCatalog:
    """Read ``data/failures.yaml`` (cached per process) into a `FailureCatalog`."""
    data = _read()
    studies = {}
    for s in data["fleet_studies"]:
        cats = s.get("categories") or []
        gpu_related = sum(c["count"] for c in cats if c["group"] == "GPU") if cats else None
        studies[s["id"]] = FleetStudy(
            id=s["id"],
            gpu_model=s["gpu_model"],
            gpus=s.get("gpus"),
            days=s.get("days"),
            interruptions_unexpected=s.get("interruptions_unexpected"),
            gpu_related=gpu_related,
            source=s["source"],
            raw=s,
        )
    return FailureCatalog(
        studies=studies,
        model_rates=data["gpu_model_rates"],
        repair=data["repair"],
        spot_notice=data["spot_interruption_notice_s"],
        sources=data["sources"],
    )


# ---------------------------------------------------------------------------- checkpoint intervals
def _check(**values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v)) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def young_interval(checkpoint_s: float, mtbf_s: float) -> float:
    """Young's optimum checkpoint interval sqrt(2 C M) (J. W. Young, CACM 17(9), 1974)."""
    _check(checkpoint_s=checkpoint_s, mtbf_s=mtbf_s)
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def daly_interval(checkpoint_s: float, mtbf_s: float) -> float:
    """Daly's higher-order estimate of the optimum compute time between checkpoints
    (J. T. Daly, Future Generation Computer Systems 22(3), 2006, eq. 37):

        sqrt(2 C M) [1 + 1/3 sqrt(C / 2M) + 1/9 (C / 2M)] - C   for C < 2M, else M.
    """
    _check(checkpoint_s=checkpoint_s, mtbf_s=mtbf_s)
    if checkpoint_s >= 2.0 * mtbf_s:
        return mtbf_s
    x = checkpoint_s / (2.0 * mtbf_s)
    return math.sqrt(2.0 * checkpoint_s * mtbf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - checkpoint_s


def optimal_interval(checkpoint_s: float, mtbf_s: float) -> float:
    """The interval that minimises the expected time per unit of work, M e^(R/M)(e^((T+C)/M) - 1) / T,
    exactly (independent of R). Setting the derivative to zero gives, with x = T/M and d = C/M,
    f(x) = e^(x+d) (x - 1) + 1 = 0, i.e. x = 1 + W0(-e^-(1+d)); f is increasing on (0, 1] with
    f(0) < 0 < f(1), so bisection finds the root to machine precision.
    """
    _check(checkpoint_s=checkpoint_s, mtbf_s=mtbf_s)
    if mtbf_s <= 0:
        raise ValueError("mtbf_s must be > 0")
    if checkpoint_s == 0:
        return 0.0
    d = checkpoint_s / mtbf_s
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.exp(mid + d) * (mid - 1.0) + 1.0 < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-16:
            break
    return mtbf_s * 0.5 * (lo + hi)


# ---------------------------------------------------------------------------- expected time and goodput
def segment_lengths(work_s: float, interval_s: float, checkpoint_s: float) -> list[float]:
    """Wall-time lengths of the failure-free segments: ceil(W/T) - 1 of T + C, then the rest of the
    work without a checkpoint (the job ends there).
    """
    _check(work_s=work_s, interval_s=interval_s, checkpoint_s=checkpoint_s)
    if interval_s <= 0:
        raise ValueError("interval_s must be > 0")
    if work_s == 0:
        return []
    n = math.ceil(work_s / interval_s - 1e-12)
    return [interval_s + checkpoint_s] * (n - 1) + [work_s - (n - 1) * interval_s]


def expected_wall_time(work_s: float, interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:  # fmt: skip
    """Expected run time of the job under Poisson failures (seconds).

    Each segment of length S repeats until it runs S without a failure; every failure costs the
    time since the segment began plus a restart of `restart_s` (itself repeated if a failure hits
    it): E[segment] = M e^(R/M) (e^(S/M) - 1).
    """
    _check(restart_s=restart_s, mtbf_s=mtbf_s)
    if mtbf_s <= 0:
        raise ValueError("mtbf_s must be > 0")
    factor = mtbf_s * math.exp(restart_s / mtbf_s)
    return sum(factor * math.expm1(s / mtbf_s) for s in segment_lengths(work_s, interval_s, checkpoint_s))


def expected_goodput(work_s: float, interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:  # fmt: skip
    """Useful work over expected run time (0-1): the fraction of the job's GPU-time that is progress."""
    if work_s == 0:
        return 1.0
    return work_s / expected_wall_time(work_s, interval_s, checkpoint_s, restart_s, mtbf_s)


def expected_failures(work_s: float, interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float) -> float:  # fmt: skip
    """Expected number of failures during the run (wall time / M, by the Poisson property)."""
    return expected_wall_time(work_s, interval_s, checkpoint_s, restart_s, mtbf_s) / mtbf_s


# ---------------------------------------------------------------------------- availability and SLAs
def availability(mtbf_s: float, mttr_s: float) -> float:
    """Steady-state availability of a unit that fails every `mtbf_s` on average and takes `mttr_s`
    to repair: MTBF / (MTBF + MTTR).
    """
    _check(mtbf_s=mtbf_s, mttr_s=mttr_s)
    if mtbf_s + mttr_s == 0:
        raise ValueError("mtbf_s + mttr_s must be > 0")
    return mtbf_s / (mtbf_s + mttr_s)


def downtime_budget_s(sla: float, period_s: float) -> float:
    """Unavailable time an SLA allows over a period: (1 - sla) x period (99.9% over 30 days: 43.2 min)."""
    if not 0 <= sla <= 1:
        raise ValueError(f"sla must be a fraction in [0, 1], got {sla!r}")
    _check(period_s=period_s)
    return (1.0 - sla) * period_s


def sla_met(available_s: float, period_s: float, sla: float = 0.999) -> bool:
    """Whether a service available `available_s` out of `period_s` met the SLA (e.g. 99.9%)."""
    _check(available_s=available_s, period_s=period_s)
    if period_s <= 0 or available_s > period_s * (1 + 1e-12):
        raise ValueError("need 0 < period_s and available_s <= period_s")
    return period_s - available_s <= downtime_budget_s(sla, period_s) * (1 + 1e-12)
