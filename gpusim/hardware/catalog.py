"""The hardware catalog: GPU models shipped as data files inside the package.

Minimal first cut used by the scenario checks and the engine: the id, vendor, memory and the
Kubernetes extended-resource name of each GPU model. The full catalog (specs, prices, sources,
sharing geometry) grows here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources

import yaml


class UnknownIdError(KeyError):
    """An id that is not in the catalog; carries the closest known ids."""

    def __init__(self, kind: str, key: str, known: list[str]):
        self.kind = kind
        self.key = key
        self.suggestions = difflib.get_close_matches(key, known, n=5, cutoff=0.3)
        self.known = known
        super().__init__(key)

    def __str__(self) -> str:
        hint = ", ".join(self.suggestions) if self.suggestions else ", ".join(self.known[:10])
        return f"unknown {self.kind} {self.key!r}; closest known ids: {hint}"


@dataclass(frozen=True)
class GpuModel:
    """One GPU model as the engine needs it."""

    id: str
    vendor: str
    memory_gib: float
    resource_name: str
    extra: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Catalog:
    """GPU models by id."""

    gpu_models: dict[str, GpuModel]

    def gpu(self, model_id: str) -> GpuModel:
        try:
            return self.gpu_models[model_id]
        except KeyError:
            raise UnknownIdError("GPU model", model_id, sorted(self.gpu_models)) from None


def load_catalog() -> Catalog:
    """Read the catalog data files shipped in the package."""
    text = resources.files("gpusim.hardware").joinpath("data/gpu_models.yaml").read_text()
    raw = yaml.safe_load(text)
    models = {}
    for entry in raw["gpu_models"]:
        models[entry["id"]] = GpuModel(
            id=entry["id"],
            vendor=entry["vendor"],
            memory_gib=float(entry["memory_gib"]),
            resource_name=entry["resource_name"],
            extra=entry,
        )
    return Catalog(gpu_models=models)
