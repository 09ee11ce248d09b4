"""The scenario language: YAML files parsed into validated pydantic models.

Imports are lazy so that `gpusim.units` can be used by other packages' schema pieces
(traces, hardware) without importing the whole scenario model.
"""

__all__ = ["Scenario", "load_scenario"]


def __getattr__(name):
    if name == "load_scenario":
        from gpusim.scenario.loader import load_scenario

        return load_scenario
    if name == "Scenario":
        from gpusim.scenario.models import Scenario

        return Scenario
    raise AttributeError(f"module 'gpusim.scenario' has no attribute {name!r}")
