"""Schedulers for netsim: exact (Hungarian, ILP), heuristics and (later) RL agents.

Each is registered in pyproject.toml under the ``netsim.schedulers`` entry points.
"""
