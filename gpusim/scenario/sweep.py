"""The `sweep:` block of a scenario: which fields to vary, how to combine them, how many seeds.

```yaml
sweep:
  factors:                               # dotted scenario path -> values to try
    scheduler.policy: [first-fit, best-fit]
    cluster.node_pools.0.count: [2, 4]   # list items by index
  replications: 3                        # seeds: the scenario's seed + 0, 1, 2 (0, 1, 2 if it has none)
  mode: product                          # product (every combination) | zip (i-th values together)
```

Paths are checked against the resolved scenario by `gpusim.sweep.plan`; values are checked by
the normal scenario loader, combination by combination, before anything runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SweepSpec(BaseModel):
    """Factors (scenario fields by dotted path, each with a list of values) x replications."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factors: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Dotted scenario path (e.g. scheduler.policy, cluster.node_pools.0.count) -> values to try.",
    )
    replications: int = Field(
        1,
        ge=1,
        description="Seeds per combination: the scenario's seed + 0 .. replications-1 (0 .. if it has no seed).",
    )
    mode: Literal["product", "zip"] = Field(
        "product", description="product: every combination of factor values; zip: the i-th values together."
    )

    @field_validator("factors")
    @classmethod
    def _non_empty(cls, factors):
        for path, values in factors.items():
            if not path or path.startswith(".") or path.endswith(".") or ".." in path:
                raise ValueError(f"factor path {path!r} is not a dotted path such as scheduler.policy")
            if len(values) == 0:
                raise ValueError(f"factor {path!r} has no values")
        return factors

    @model_validator(mode="after")
    def _zip_lengths(self):
        if self.mode == "zip" and self.factors:
            lengths = {p: len(v) for p, v in self.factors.items()}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{p}: {n}" for p, n in lengths.items())
                raise ValueError(f"mode zip needs factors with equally many values; got {shown}")
        return self
