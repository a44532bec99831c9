"""Reinforcement-learning environments of the cell, registered with gymnasium:

    import netsim.rl, gymnasium
    env = gymnasium.make("netsim/SlotAssignment-v0", scenario="scenarios/paper.yaml")
    env = gymnasium.make("netsim/QueueAssignment-v0", scenario="scenarios/queueing.yaml")

(or, without the import, ``gymnasium.make("netsim.rl:netsim/QueueAssignment-v0", ...)``).
``scenario`` is a scenario file or a :class:`netsim.scenario.Scenario`.
"""

from __future__ import annotations

from typing import Any

import gymnasium

ENVIRONMENTS = {"netsim/SlotAssignment-v0": "netsim.rl:slot_assignment_env",
                "netsim/QueueAssignment-v0": "netsim.rl:queue_assignment_env"}
"""The per-slot MDP of the paper (analytic model) and the closed loop (queues); entry
points by name, so that an environment's spec serialises (``env.spec.to_json()``, with a
scenario file)."""


def _scenario(scenario: Any):  # type: ignore[no-untyped-def]
    """A scenario object, from a file, a mapping (the file's content) or a Scenario
    (:func:`netsim.api.load_scenario`: anything else is one TypeError line)."""
    from netsim.api import load_scenario

    return load_scenario(scenario)


def slot_assignment_env(scenario: Any, **kwargs: Any) -> gymnasium.Env:
    """:class:`netsim.rl.env.SlotAssignmentEnv` of a scenario file or object."""
    from netsim.rl.env import SlotAssignmentEnv

    return SlotAssignmentEnv(_scenario(scenario), **kwargs)


def queue_assignment_env(scenario: Any, **kwargs: Any) -> gymnasium.Env:
    """:class:`netsim.rl.queue_env.QueueAssignmentEnv` of a scenario file or object."""
    from netsim.rl.queue_env import QueueAssignmentEnv

    return QueueAssignmentEnv(_scenario(scenario), **kwargs)


for _id, _entry in ENVIRONMENTS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point=_entry, disable_env_checker=True)
