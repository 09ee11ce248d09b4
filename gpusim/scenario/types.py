"""Moved to `gpusim.units` (units sit below the scenario language and the trace readers)."""

from gpusim.units import *  # noqa: F401,F403
