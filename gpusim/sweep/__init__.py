"""Parameter sweeps: factors x replications, each run in its own folder, one tidy table.

`gpusim.sweep(...)` is callable (this module is), and runs a sweep from Python::

    import gpusim
    table = gpusim.sweep("scenarios/quickstart.yaml",
                         factors={"scheduler.policy": ["first-fit", "best-fit"]},
                         replications=5, workers=4)

- `gpusim.scenario.sweep`: the scenario's `sweep:` block (`SweepSpec`; `gpusim.sweep.schema` re-exports it).
- `gpusim.sweep.plan`: factor paths and values -> validated runs (`plan_sweep`).
- `gpusim.sweep.runner`: executors (in-process, local processes, Dask), resume, the tables.
- `gpusim.sweep.stats`: Student-t confidence intervals.

Importing this package is cheap (the scenario schema imports it); the work is imported lazily.
"""

from __future__ import annotations

import sys
import types


def sweep(
    scenario_or_path,
    factors: dict | None = None,
    replications: int | None = None,
    workers: int = 1,
    dask=None,
    out=None,
    *,
    mode: str | None = None,
    plots: bool = False,
    progress=None,
):
    """Run a sweep and return its tidy table (pandas DataFrame, one row per run).

    `scenario_or_path`: a scenario file path, dict or `Scenario`. `factors`, `replications` and
    `mode` replace those of the scenario's `sweep:` block (which may be absent). `workers`:
    local processes (1 = in this process); `dask`: a Dask scheduler address, ``"local"``, or a
    `distributed.Client`. `out`: the sweep folder (default ``results/<scenario name>/sweep``);
    runs already finished there are not run again. `plots`: also write each run's PNG plots.
    """
    from gpusim.sweep.api import run

    return run(
        scenario_or_path,
        factors=factors,
        replications=replications,
        workers=workers,
        dask=dask,
        out=out,
        mode=mode,
        plots=plots,
        progress=progress,
    )


class _CallableModule(types.ModuleType):
    """Lets `gpusim.sweep(...)` call `sweep` although `gpusim.sweep` is also this package."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
