"""The model of an experiment file: a name, an `experiment:` block (one protocol) and an
optional `catalog:` block of GPU model and node type overrides, as in a scenario.

The scenario loader validates files with a top-level `experiment:` key against
`ExperimentScenario`; the protocols read `scenario.catalog` and pass it to every run they make.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field

from gpusim.hardware.schema import CatalogOverrides
from gpusim.scenario import registry

# The union of the registered experiment kinds (gpusim.experiments registers them before importing this).
_KINDS = tuple(k.model for k in registry._KINDS.values())
ExperimentBlock = Annotated[Union[_KINDS], Field(discriminator="kind")]  # noqa: UP007


class ExperimentScenario(BaseModel):
    """A scenario file that runs an experiment protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gpusim experiment")

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", description="Experiment name; results go to results/<name>/."
    )
    description: str = Field("", description="Free text.")
    experiment: ExperimentBlock = Field(description="The protocol to run.")
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
