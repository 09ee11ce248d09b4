"""The SimPy control plane: one environment per run, the scheduler, and training jobs."""
