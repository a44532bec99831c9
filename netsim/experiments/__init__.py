"""Experiments on top of the simulation: sweeps, tuning, reports, plots."""
