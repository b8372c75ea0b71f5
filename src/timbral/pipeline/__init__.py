"""The whole study as stages over one run folder; see `run_pipeline`."""
