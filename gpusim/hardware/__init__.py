"""Hardware catalog (GPU models, node types) and the performance model.

- `load_catalog(overrides)` -> `Catalog` of `GpuModel` and `NodeType` records (data files in
  ``gpusim/hardware/data``; a scenario's ``catalog:`` block adds or overrides entries).
- `gpusim.hardware.performance`: speeds (training rate, LLM service time, CPU throughput).
- `gpusim.hardware.schema.CatalogOverrides`: the scenario ``catalog:`` block.
- `gpusim.hardware.calibration`: the MLPerf calibration behind the software-efficiency factors.
"""

from gpusim.hardware.catalog import (
    OPENB_MODEL_MAP,
    AmdPartitioning,
    AmdPartitionProfile,
    Catalog,
    GpuModel,
    IntelSharing,
    MigGeometry,
    MigProfile,
    NodeType,
    UnknownIdError,
    load_catalog,
    pool_price,
)

__all__ = [
    "Catalog",
    "GpuModel",
    "UnknownIdError",
    "load_catalog",
    "pool_price",
    "NodeType",
    "MigGeometry",
    "MigProfile",
    "AmdPartitioning",
    "AmdPartitionProfile",
    "IntelSharing",
    "OPENB_MODEL_MAP",
]
