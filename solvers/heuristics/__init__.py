"""Heuristic schedulers: baselines a paper compares against."""
