"""Scenario blocks for failures: node and GPU failures, repair or replacement, spot interruptions
(`failures:` at the top level, with per-pool overrides) and a training workload's `checkpoint:`.

The facts behind the defaults are in gpusim/hardware/data/failures.yaml (loaded by
gpusim.hardware.failures): rates per GPU model from published fleet studies (Meta's Llama 3 report:
419 unexpected interruptions in 54 days on 16,384 H100 GPUs), repair triggers (GKE auto-repair
after about 10 minutes NotReady) and spot interruption notices per cloud. The engine side is
gpusim.sim.failures. A scenario without a `failures:` block runs exactly as before.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpusim.units import Duration

GKE_AUTO_REPAIR_S = 600.0
"""GKE starts repairing a node that reports NotReady (or nothing) for about 10 minutes (failures.yaml F7)."""


PerGpuHour = Annotated[float, Field(ge=0, le=10)]
"""Failures per GPU-hour (at most 10: a GPU failing every 6 minutes)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, allow_inf_nan=False)


class Repair(_Model):
    """What happens to a failed node."""

    action: Literal["replace", "repair"] = Field(
        "replace",
        description="replace: after `time` the failed node is deleted (its billing stops) and a new node of the "
        "pool is requested, ready after the pool's provisioning lag (cloud node auto-repair); repair: the same node "
        "is Ready again after `time`, billed throughout (on-premises repair, a reboot).",
    )
    time: Duration = Field(
        GKE_AUTO_REPAIR_S,
        ge=0,
        description="Seconds from the failure to the replacement request (replace) or back to Ready (repair). "
        "Default 600 s: GKE auto-repair's NotReady trigger (failures.yaml F7); no public distribution of GPU "
        "repair times exists, so give your own for `repair`.",
    )


class SpotInterruptions(_Model):
    """Spot or preemptible interruptions of the nodes of pools with `spot: true`."""

    per_node_hour: float = Field(
        ge=0, le=10, description="Interruptions per node-hour (a Poisson process per node; no published rate)."
    )
    cloud: Literal["aws", "gcp", "azure"] = Field(
        "aws", description="Whose notice period applies (failures.yaml: AWS 120 s, GCP 30 s, Azure 30 s)."
    )
    notice: Duration | None = Field(
        None,
        ge=0,
        description="Seconds from the interruption notice (the node is cordoned, pods keep running) to the VM "
        "going away (default: the cloud's notice).",
    )


class PoolFailures(_Model):
    """One pool's failure settings (each omitted field: the top-level one)."""

    per_gpu_hour: Literal["catalog"] | PerGpuHour | None = Field(
        None, description="Failures per GPU-hour: `catalog` (the GPU model's published rate) or a number >= 0."
    )
    repair: Repair | None = Field(None, description="Repair or replacement of this pool's failed nodes.")
    spot: SpotInterruptions | None = Field(None, description="Spot interruptions of this pool (if `spot: true`).")


class Failures(_Model):
    """Node and GPU failures, their repair, and spot interruptions.

    A node fails as a Poisson process at `per_gpu_hour` x its GPUs; a failed node is NotReady (no new
    pods), its pods are evicted at once (a failed GPU or host stops the training job's collective
    and the job controller recreates its pods), and it is replaced or repaired per `repair`.
    """

    enabled: bool = Field(True, description="Inject failures (false: the block is kept but nothing fails).")
    per_gpu_hour: Literal["catalog"] | PerGpuHour = Field(
        "catalog",
        description="Failures per GPU-hour: `catalog` (the GPU model's published unexpected-interruption rate, "
        "`gpusim.hardware.failures`; H100: 419 in 54 days on 16,384 GPUs = 1.97e-5) or a number >= 0. "
        "Pools without GPUs do not fail.",
    )
    repair: Repair = Field(default_factory=Repair, description="Repair or replacement of failed nodes.")
    spot: SpotInterruptions | None = Field(None, description="Spot interruptions of pools with `spot: true`.")
    pools: dict[str, PoolFailures] = Field(
        default_factory=dict, description="Per-pool overrides (pool name -> settings)."
    )


class Checkpoint(_Model):
    """How a training job checkpoints: after every `interval` of work it writes a checkpoint taking
    `cost`; after a failure it is rescheduled, spends `restart` reloading the last checkpoint, and
    recomputes the work done since. Durations are at full speed, like the job's own duration.
    Without a `checkpoint:` block a job that fails starts over from the beginning.
    Defaults are placeholders (no published values): set them from your job.
    """

    interval: Duration = Field(3600.0, gt=0, description="Seconds of work between checkpoints (default 1 h).")
    cost: Duration = Field(
        60.0, ge=0, description="Seconds one checkpoint takes, no progress meanwhile (default 1 min)."
    )
    restart: Duration = Field(
        300.0, ge=0, description="Seconds from being bound again to computing (reload the checkpoint; default 5 min)."
    )
    on_notice: bool = Field(
        True,
        description="On a spot interruption notice, write a checkpoint of all the work done and leave, if `cost` "
        "is shorter than the notice (else the work since the last checkpoint is lost when the node goes).",
    )


def drop_unset(data: dict, key: str) -> dict:
    """A dumped model without `key` while it is unset (None). The blocks of this module were added
    after results were first recorded, so a scenario that does not use them dumps exactly as it did
    before they existed (summary.json, a sweep's plan, an experiment's base scenario); loading the
    document back gives the same scenario, since they default to unset.
    """
    if key in data and data[key] is None:
        del data[key]
    return data
