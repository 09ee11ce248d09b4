"""The `sweep:` block of a scenario."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SweepSpec(BaseModel):
    """Factors (scenario fields by dotted path, each with a list of values) x replications."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factors: dict[str, list[Any]] = Field(
        description="Dotted scenario path (e.g. scheduler.policy, cluster.node_pools.0.count) -> values to try."
    )
    replications: int = Field(1, ge=1, description="Seeds per combination (seed, seed+1, ...).")
    mode: Literal["product", "zip"] = Field(
        "product", description="product: every combination of factor values; zip: the i-th values together."
    )
