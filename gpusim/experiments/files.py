"""The model of an experiment file: a name, an `experiment:` block (one protocol) and an
optional `catalog:` block of GPU model and node type overrides, as in a scenario.

The scenario loader validates files with a top-level `experiment:` key against
`ExperimentScenario`; the protocols read `scenario.catalog` and pass it to every run they make.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gpusim.experiments.fgd import FgdPacking
from gpusim.experiments.lag import AutoscalerLag
from gpusim.experiments.sizing import Sizing
from gpusim.experiments.vendor import VendorComparison
from gpusim.hardware.schema import CatalogOverrides


class ExperimentScenario(BaseModel):
    """A scenario file that runs an experiment protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gpusim experiment")

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", description="Experiment name; results go to results/<name>/."
    )
    description: str = Field("", description="Free text.")
    experiment: FgdPacking | AutoscalerLag | VendorComparison | Sizing = Field(
        discriminator="kind", description="The protocol to run."
    )
    catalog: CatalogOverrides | None = Field(
        None,
        description="GPU models and node types added to or overriding the shipped hardware catalog, for every run "
        "of the experiment (e.g. a node type's price).",
    )

    def model_dump(self, **kwargs):
        """As pydantic's, without a `catalog` key when the file has no catalog block (so the
        recorded scenario of an experiment without one is unchanged).
        """
        out = super().model_dump(**kwargs)
        if isinstance(out, dict) and out.get("catalog") is None:
            out.pop("catalog", None)
        return out
