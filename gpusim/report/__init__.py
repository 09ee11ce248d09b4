"""Run results: the `RunResult` object, saving and loading, and plots (which only read results)."""
