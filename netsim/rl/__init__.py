"""Reinforcement-learning environments of the cell, registered with gymnasium:

    import netsim.rl, gymnasium
    env = gymnasium.make("netsim/SlotAssignment-v0", scenario="scenarios/paper.yaml")
    env = gymnasium.make("netsim/QueueAssignment-v0", scenario="scenarios/queueing.yaml")

(or, without the import, ``gymnasium.make("netsim.rl:netsim/QueueAssignment-v0", ...)``).
``scenario`` is a scenario file or a :class:`netsim.scenario.Scenario`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium

ENVIRONMENTS = {"netsim/SlotAssignment-v0": "netsim.rl.env:SlotAssignmentEnv",
                "netsim/QueueAssignment-v0": "netsim.rl.queue_env:QueueAssignmentEnv"}
"""The per-slot MDP of the paper (analytic model) and the closed loop (queues)."""


def make(entry_point: str, scenario: Any, **kwargs: Any) -> gymnasium.Env:
    """Build an environment from a scenario file or object."""
    import importlib

    if isinstance(scenario, str | Path):
        from netsim.loading import load_scenario

        scenario = load_scenario(scenario)
    module, name = entry_point.split(":")
    return getattr(importlib.import_module(module), name)(scenario, **kwargs)


for _id, _entry in ENVIRONMENTS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point=make, kwargs={"entry_point": _entry},
                           disable_env_checker=True)
