"""`simulate(scenario, seed) -> RunResult`: build -> connect -> start -> run -> collect.

The run is assembled from components (gpusim.sim.run.Run): the scheduler, the node lifecycle and
Cluster Autoscaler (gpusim.sim.cluster_autoscaler), the training jobs and placeholders
(gpusim.sim.training), each sharing mode's tenancy (gpusim.sim.tenancy), each inference service
(gpusim.sim.inference) and the recorder; each adds its own part of the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from gpusim.scenario.loader import load_scenario
from gpusim.scenario.models import Scenario
from gpusim.sim import run as run_module
from gpusim.sim.random import draw_seed
from gpusim.sim.run import DRAIN_CAP, Run, service_summary  # noqa: F401  (re-exported)
from gpusim.sim.training import CRASHLOOP_BACKOFF_S, Alternative, JobRun  # noqa: F401  (re-exported)


def simulate(
    scenario: Scenario | str | dict,
    seed: int | None = None,
    *,
    progress: Callable[[float, float], None] | None = None,
):
    """Run one simulation and return its `RunResult`.

    `seed` overrides the scenario's seed; with neither, a seed is drawn and recorded.
    `progress(now_s, horizon_s)` is called as simulated time advances (for progress bars).
    """
    scenario = load_scenario(scenario)
    if not isinstance(scenario, Scenario):
        from gpusim.errors import InputError

        raise InputError(f"{scenario.name} is an experiment, not a cluster simulation: run it with `gpusim run`")
    if seed is None:
        seed = scenario.seed if scenario.seed is not None else draw_seed()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    # rarer garbage collections while the jobs are built and the tables collected too (Run.run: the clock)
    with run_module.rarer_young_collections():
        run = Run(scenario, seed, drain_cap=DRAIN_CAP)
        run.run(progress)
        return run.result(started_at=started_at, wall0=wall0)


def scenario_initial_nodes(scenario: Scenario) -> int:
    return sum(p.count for p in scenario.cluster.node_pools)
