"""The sweep entry point shared by `gpusim.sweep(...)` and `gpusim sweep FILE`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gpusim.errors import InputError
from gpusim.scenario.sweep import SweepSpec


def prepare(scenario_or_path, *, factors=None, replications=None, mode=None):
    """Load the scenario and expand its sweep (with overrides) into a validated `SweepPlan`."""
    from gpusim.scenario import load_scenario
    from gpusim.scenario.models import Scenario
    from gpusim.sweep.plan import load_with_positions, plan_sweep

    positions = filename = None
    if (
        isinstance(scenario_or_path, (str, Path))
        and not isinstance(scenario_or_path, Scenario)
        and (isinstance(scenario_or_path, Path) or str(scenario_or_path).endswith((".yaml", ".yml")))
    ):
        scenario, positions, filename = load_with_positions(scenario_or_path)
    else:
        scenario = load_scenario(scenario_or_path)
    spec = scenario.sweep or SweepSpec()
    if factors is not None or replications is not None or mode is not None:
        if factors is not None:
            positions = None  # values no longer come from the file
        try:
            spec = SweepSpec(
                factors=spec.factors if factors is None else factors,
                replications=spec.replications if replications is None else replications,
                mode=spec.mode if mode is None else mode,
            )
        except ValidationError as e:
            msgs = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
            raise InputError(f"bad sweep: {msgs}") from None
    return plan_sweep(scenario, spec=spec, positions=positions, filename=filename)


def default_out(scenario_name: str) -> Path:
    return Path("results") / scenario_name / "sweep"


def run(scenario_or_path, *, factors, replications, workers, dask, out, mode, plots, progress):
    from gpusim.sweep.runner import run_sweep

    plan = prepare(scenario_or_path, factors=factors, replications=replications, mode=mode)
    out = Path(out) if out is not None else default_out(plan.scenario_name)
    return run_sweep(plan, out, workers=workers, dask=dask, plots=plots, progress=progress)
