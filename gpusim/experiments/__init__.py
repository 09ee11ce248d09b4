"""Experiments: scenario files that run a fixed research protocol instead of a cluster simulation.

A scenario file with a top-level `experiment:` block is an experiment; `gpusim run` runs its
protocol and writes its tables and plots to the results folder like any run.

Importing this package registers every experiment kind with `gpusim.scenario.registry` (its
model, its `gpusim validate` check, its run entry point and its `gpusim run` printer), then the experiment-file model
(`files.ExperimentScenario`, whose `experiment:` block is the union of the registered models).
The scenario loader finds them through the registry; it never imports this package by name.
"""

from gpusim.experiments.fgd import FgdPacking, check_fgd, render_experiment, run_experiment
from gpusim.experiments.lag import AutoscalerLag, check_lag, render_lag_sweep, run_lag_sweep
from gpusim.experiments.sizing import Sizing, check_sizing, render_sizing, run_sizing
from gpusim.experiments.vendor import VendorComparison, check_vendor, render_vendor_comparison, run_vendor_comparison
from gpusim.scenario.registry import register_experiment, register_experiment_file_model


def _check_sizing(scenario, base_dir):
    return check_sizing(scenario)


# Registration order is the order of the union (and of the tags listed in a bad-kind error).
register_experiment("fgd-packing", FgdPacking, check_fgd, run_experiment, render_experiment)
register_experiment("autoscaler-lag", AutoscalerLag, check_lag, run_lag_sweep, render_lag_sweep)
register_experiment(
    "vendor-comparison", VendorComparison, check_vendor, run_vendor_comparison, render_vendor_comparison
)
register_experiment("sizing", Sizing, _check_sizing, run_sizing, render_sizing)

from gpusim.experiments.files import ExperimentScenario  # noqa: E402  (built from the kinds above)

register_experiment_file_model(ExperimentScenario)
