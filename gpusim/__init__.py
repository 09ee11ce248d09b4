"""gpusim: a discrete-event simulator of Kubernetes GPU clusters.

The public API for notebooks and scripts::

    import gpusim
    scenario = gpusim.load_scenario("scenarios/quickstart.yaml")
    result = gpusim.simulate(scenario, seed=1)
    result.summary, result.jobs, result.timeseries
"""

from gpusim._version import __version__

__all__ = ["__version__", "load_scenario", "simulate", "load_result", "RunResult", "ScenarioError", "sweep"]


def __getattr__(name):
    # Lazy imports keep `import gpusim` cheap (no pandas/simpy/numba at import time).
    if name == "load_scenario":
        from gpusim.scenario import load_scenario

        return load_scenario
    if name == "ScenarioError":
        from gpusim.errors import ScenarioError

        return ScenarioError
    if name == "simulate":
        from gpusim.sim.engine import simulate

        return simulate
    if name in ("RunResult", "load_result"):
        from gpusim.report import result

        return getattr(result, name)
    if name == "sweep":
        # The package gpusim.sweep is itself callable: gpusim.sweep(scenario, factors=...) -> DataFrame.
        import gpusim.sweep

        return gpusim.sweep
    raise AttributeError(f"module 'gpusim' has no attribute {name!r}")
