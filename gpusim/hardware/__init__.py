"""Hardware catalog (GPU models, node types) and the performance model."""

from gpusim.hardware.catalog import Catalog, GpuModel, UnknownIdError, load_catalog

__all__ = ["Catalog", "GpuModel", "UnknownIdError", "load_catalog"]
