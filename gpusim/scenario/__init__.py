"""The scenario language: YAML files parsed into validated pydantic models."""

from gpusim.scenario.loader import load_scenario
from gpusim.scenario.models import Scenario

__all__ = ["Scenario", "load_scenario"]
