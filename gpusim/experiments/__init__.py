"""Experiments: scenario files that run a fixed research protocol instead of a cluster simulation.

A scenario file with a top-level `experiment:` block is an experiment; `gpusim run` runs its
protocol and writes its tables and plots to the results folder like any run.
"""
