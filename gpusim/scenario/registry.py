"""Experiment kinds and extra scenario checks, registered by the packages above `gpusim.scenario`.

The scenario package sits below the experiments and the sweep: it never imports them. Instead,
`gpusim.experiments` registers each experiment kind here when it is imported (its pydantic model,
the check `gpusim validate` runs on it, and its run entry point), and `gpusim.sweep.plan`
registers the scenario check that needs the sweep's path resolution. The loader asks this
registry, which imports the modules named in `EXPERIMENT_MODULES` / `SCENARIO_CHECK_MODULES` on
first use (a configured module list, not an import statement in `gpusim.scenario`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Modules that register experiment kinds (and the experiment-file model) when imported.
EXPERIMENT_MODULES: list[str] = ["gpusim.experiments"]
# Modules that register extra checks of plain scenarios when imported.
SCENARIO_CHECK_MODULES: list[str] = ["gpusim.sweep.plan"]

Problems = list[tuple[tuple, str]]


@dataclass(frozen=True)
class ExperimentKind:
    """One experiment protocol: its `kind:` value, the model of its `experiment:` block, what
    `gpusim validate` checks (scenario, base_dir) -> problems, its protocol (run, writing a
    result folder) and what `gpusim run` calls: render(console, scenario, args, out) -> exit status.
    """

    kind: str
    model: type
    check: Callable[[Any, Any], Problems]
    run: Callable[..., dict]
    render: Callable[..., int]


_KINDS: dict[str, ExperimentKind] = {}
_FILE_MODEL: list[type] = []
_SCENARIO_CHECKS: list[Callable[[Any], Problems]] = []
_loaded: set[str] = set()


def register_experiment(
    kind: str,
    model: type,
    check: Callable[[Any, Any], Problems],
    run: Callable[..., dict],
    render: Callable[..., int],
) -> None:
    """Register an experiment kind (a second registration of the same kind replaces the first)."""
    _KINDS[kind] = ExperimentKind(kind, model, check, run, render)


def register_experiment_file_model(model: type) -> None:
    """Register the model of a whole experiment file (name, experiment block, catalog)."""
    _FILE_MODEL[:] = [model]


def register_scenario_check(check: Callable[[Any], Problems]) -> None:
    """Register a check of plain scenarios, run by `check_scenario` after the trace and catalog checks."""
    if check not in _SCENARIO_CHECKS:
        _SCENARIO_CHECKS.append(check)


def _load(modules: list[str]) -> None:
    for name in modules:
        if name not in _loaded:
            importlib.import_module(name)
            _loaded.add(name)


def experiment_kinds() -> dict[str, ExperimentKind]:
    """The registered experiment kinds, in registration order."""
    _load(EXPERIMENT_MODULES)
    return dict(_KINDS)


def experiment_models() -> list[type]:
    """The models of the registered kinds' `experiment:` blocks, in registration order."""
    return [k.model for k in experiment_kinds().values()]


def experiment_file_model() -> type:
    """The model experiment files (those with a top-level `experiment:` key) are validated against."""
    _load(EXPERIMENT_MODULES)
    if not _FILE_MODEL:
        raise RuntimeError(f"no experiment file model registered by {EXPERIMENT_MODULES}")
    return _FILE_MODEL[0]


def scenario_checks() -> list[Callable[[Any], Problems]]:
    """The registered extra checks of plain scenarios."""
    _load(SCENARIO_CHECK_MODULES)
    return list(_SCENARIO_CHECKS)
