"""Moved to `gpusim.scenario.sweep` (the `sweep:` block is part of the scenario language)."""

from gpusim.scenario.sweep import *  # noqa: F401,F403
from gpusim.scenario.sweep import SweepSpec  # noqa: F401
