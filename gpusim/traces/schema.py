"""Scenario-language pieces for workloads: trace sources and synthetic arrival processes.

The one home of their defaults. `TraceSource` says which file to replay and how (window,
compression, rate scaling, sampling, looping); the random parts draw from the generator the
engine passes in, never from a seed stored here. `ArrivalProcess` is a discriminated union on
the ``process`` key; each member's ``sample(rng, start_s, end_s)`` returns sorted arrival times.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpusim.traces import generators
from gpusim.units import Duration, Rate

TraceFormat = Literal[
    "openb", "openb-nodes", "gavel", "philly-runtime", "azure-llm", "genai-requests",
    "genai-model-load", "dlrm", "pai-job", "pai-task", "helios", "generic",
]  # fmt: skip
"""Names of the trace readers (see gpusim.traces.registry)."""


class ColumnMapping(BaseModel):
    """Which column of your own log holds each record field (generic format)."""

    model_config = ConfigDict(extra="forbid")

    arrival: str = Field(description="Column with arrival times: numbers in time_unit, or timestamps.")
    duration: str | None = Field(None, description="Training: column with run time, in time_unit.")
    end: str | None = Field(None, description="Training: column with end times (same form as arrival).")
    name: str | None = Field(None, description="Column with job names (default: job-<line>).")
    num_pods: str | None = Field(None, description="Column with pods per job (count; default 1).")
    gpus: str | None = Field(None, description="Column with GPUs per pod (count; default 1).")
    gpu_milli: str | None = Field(None, description="Column with the share of each GPU (1/1000 GPU; default 1000).")
    cpu_milli: str | None = Field(None, description="Column with CPU per pod (milli-cores; default 0).")
    memory_mib: str | None = Field(None, description="Column with memory per pod (MiB; default 0).")
    gpu_models: str | None = Field(None, description="Column with '|'-separated allowed GPU models (default any).")
    priority: str | None = Field(None, description="Column with priority (integer; default 0).")
    qos: str | None = Field(None, description="Column with the QoS class (text; default '').")
    prompt_tokens: str | None = Field(None, description="Requests: column with prompt length (tokens).")
    output_tokens: str | None = Field(None, description="Requests: column with output length (tokens).")
    service_s: str | None = Field(None, description="Requests: column with service time, in time_unit.")

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TraceSource(BaseModel):
    """A trace file to replay, and the replay controls applied to it (in the order listed)."""

    model_config = ConfigDict(extra="forbid")

    format: TraceFormat = Field(description="Reader to use (trace format name).")
    path: str = Field(description="Path of the trace file, or shipped:<dataset>/<file> for a file shipped with gpusim.")
    strict: bool = Field(False, description="Fail at the first bad row instead of skipping and counting it.")
    columns: ColumnMapping | None = Field(None, description="Generic format only: column mapping.")
    kind: Literal["training", "requests"] = Field(
        "training",
        description="Generic format only: whether rows are training jobs or inference requests.",
    )
    time_unit: Literal["s", "ms", "us", "ns", "min", "h"] = Field(
        "s", description="Generic format only: unit of numeric times and durations."
    )
    throughput: dict[str, float] | None = Field(
        None,
        description="Gavel format only: steps per second by job type or model family "
        "(overrides the documented defaults).",
    )
    start: Duration = Field(0.0, description="Window start on the trace's clock (seconds); becomes time 0.")
    end: Duration | None = Field(None, description="Window end on the trace's clock (seconds); none = to the end.")
    sample: float = Field(1.0, gt=0, le=1, description="Fraction of rows kept, drawn without replacement (0-1].")
    rate_scale: float = Field(
        1.0,
        gt=0,
        description="Arrival-rate multiplier: below 1 thins, above 1 superposes shifted copies.",
    )
    compress: float = Field(1.0, gt=0, description="Replay this many times faster (arrival times divided by it).")
    compress_durations: bool = Field(
        False,
        description="Also divide job durations and service times by compress (keeps the offered load).",
    )
    loop: bool = Field(False, description="Repeat the (windowed) trace until the end of the run.")
    loop_period: Duration | None = Field(
        None,
        description="Loop period in replay seconds; default: window length, else last arrival plus one mean gap.",
    )

    @model_validator(mode="after")
    def _generic_needs_columns(self) -> TraceSource:
        if self.format == "generic" and self.columns is None:
            raise ValueError("format 'generic' needs a 'columns' mapping (at least 'arrival')")
        if self.format != "generic" and self.columns is not None:
            raise ValueError(f"'columns' applies only to format 'generic', not {self.format!r}")
        if self.throughput is not None and self.format != "gavel":
            raise ValueError("'throughput' applies only to format 'gavel'")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"window end ({self.end} s) must be after start ({self.start} s)")
        return self


class _Process(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        raise NotImplementedError


class PoissonArrivals(_Process):
    """Poisson arrivals at a constant rate."""

    process: Literal["poisson"] = Field(description="Arrival process kind.")
    rate: Rate = Field(gt=0, description="Mean arrival rate (per second; e.g. 30/min).")

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        return generators.poisson(rng, self.rate, start_s, end_s)


class GammaArrivals(_Process):
    """Renewal arrivals with Gamma inter-arrival times: a rate and a burstiness (CV)."""

    process: Literal["gamma"] = Field(description="Arrival process kind.")
    rate: Rate = Field(gt=0, description="Mean arrival rate (per second).")
    cv: float = Field(
        gt=0,
        description="Coefficient of variation of inter-arrival times (1 = Poisson; dimensionless).",
    )

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        return generators.gamma_renewal(rng, self.rate, self.cv, start_s, end_s)


class MMPPArrivals(_Process):
    """Markov-modulated Poisson arrivals: bursty on/off (two states) or multi-state."""

    process: Literal["mmpp"] = Field(description="Arrival process kind.")
    rates: list[Annotated[Rate, Field(ge=0)]] = Field(
        min_length=1, description="Arrival rate in each state (per second)."
    )
    mean_sojourn: list[Duration] = Field(min_length=1, description="Mean time spent in each state (seconds).")
    transition: list[list[float]] | None = Field(
        None,
        description="Jump probabilities between states (rows sum to 1, zero diagonal; "
        "dimensionless); default: uniformly to another state.",
    )

    @model_validator(mode="after")
    def _same_length(self) -> MMPPArrivals:
        if len(self.rates) != len(self.mean_sojourn):
            raise ValueError("rates and mean_sojourn need one entry per state")
        if any(m <= 0 for m in self.mean_sojourn):
            raise ValueError("mean_sojourn must be > 0")
        if self.transition is not None:
            k = len(self.rates)
            if len(self.transition) != k or any(len(r) != k for r in self.transition):
                raise ValueError(f"transition must be a {k} x {k} matrix")
            if any(abs(sum(r) - 1) > 1e-9 or min(r) < 0 for r in self.transition):
                raise ValueError("transition rows must be probabilities summing to 1")
        return self

    @property
    def mean_rate(self) -> float:
        """Long-run mean arrival rate (per second), over the chain's time-stationary states."""
        return generators.mmpp_mean_rate(self.rates, self.mean_sojourn, self.transition)

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        return generators.mmpp(rng, self.rates, self.mean_sojourn, start_s, end_s, self.transition)


class DiurnalArrivals(_Process):
    """Daily-cycle arrivals: a sinusoid or a piecewise profile (non-homogeneous Poisson)."""

    process: Literal["diurnal"] = Field(description="Arrival process kind.")
    mean_rate: Rate = Field(gt=0, description="Mean arrival rate over a period (per second).")
    amplitude: float = Field(0.5, ge=0, le=1, description="Sinusoid: relative swing around the mean (0-1).")
    period: Duration = Field(86400.0, gt=0, description="Length of one cycle (seconds; default one day).")
    peak_at: Duration = Field(14 * 3600.0, description="Sinusoid: time of the peak within a period (seconds).")
    profile: list[float] | None = Field(
        None,
        min_length=1,
        description="Piecewise profile: relative levels over equal slices of the period "
        "(e.g. 24 hourly values; dimensionless, normalised to the mean rate).",
    )

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        return generators.diurnal(
            rng,
            self.mean_rate,
            start_s,
            end_s,
            self.amplitude,
            self.period,
            self.peak_at,
            self.profile,
        )


class FlashCrowdArrivals(_Process):
    """A base rate with a spike: linear ramp to the peak, then exponential decay."""

    process: Literal["flash-crowd"] = Field(description="Arrival process kind.")
    base_rate: Rate = Field(ge=0, description="Rate outside the spike (per second).")
    peak_rate: Rate = Field(gt=0, description="Rate at the top of the spike (per second).")
    spike_at: Duration = Field(description="When the spike starts (seconds from run start).")
    ramp: Duration = Field(0.0, ge=0, description="Rise time from base to peak (seconds).")
    decay: Duration = Field(300.0, gt=0, description="E-folding time of the decay after the peak (seconds).")

    @model_validator(mode="after")
    def _peak_above_base(self) -> FlashCrowdArrivals:
        if self.peak_rate < self.base_rate:
            raise ValueError("peak_rate must be >= base_rate")
        return self

    def sample(self, rng: np.random.Generator, start_s: float, end_s: float) -> np.ndarray:
        return generators.flash_crowd(
            rng,
            self.base_rate,
            self.peak_rate,
            self.spike_at,
            start_s,
            end_s,
            self.ramp,
            self.decay,
        )


ArrivalProcess = Annotated[
    Union[PoissonArrivals, GammaArrivals, MMPPArrivals, DiurnalArrivals, FlashCrowdArrivals],  # noqa: UP007
    Field(discriminator="process"),
]
"""A synthetic arrival process, chosen by its ``process`` key."""
