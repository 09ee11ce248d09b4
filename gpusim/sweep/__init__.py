"""Parameter sweeps: factors x replications, each run in its own folder, one tidy table."""
