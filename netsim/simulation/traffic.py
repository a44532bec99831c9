"""Request arrivals (DESIGN §2): per-slot Bernoulli, or per-user Poisson processes.

Bernoulli (``users.arrivals.model: bernoulli``): in each slot each user requests one
image with probability p, at the slot's start (the world trace's ``active``).

Poisson (``model: poisson``): each user's requests arrive as a Poisson process of rate
``rate_per_s`` at continuous times in [0, (T - 1) tau], so that every request can be
served at one of the T slot boundaries 0, tau, ..., (T - 1) tau. Drawn from the world's
``arrivals`` stream, so every scheduler of a seed faces the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netsim.model.world import WorldTrace, world_streams
from netsim.scenario import Scenario


@dataclass(frozen=True)
class Traffic:
    """Every request of one seed, sorted by arrival time (ties by user)."""

    arrival_s: np.ndarray
    """(N,) arrival times, s."""
    user: np.ndarray
    """(N,) requesting user."""

    @property
    def count(self) -> int:
        return self.arrival_s.size


def poisson_arrivals(
    rate_per_s: float, n_users: int, horizon_s: float, rng: np.random.Generator
) -> Traffic:
    """Independent Poisson processes on [0, horizon_s]: per user a Poisson(rate x
    horizon) count of points placed uniformly (the order-statistics property)."""
    counts = rng.poisson(rate_per_s * horizon_s, n_users)
    users = np.repeat(np.arange(n_users), counts)
    times = rng.uniform(0.0, horizon_s, users.size)
    order = np.lexsort((users, times))
    return Traffic(times[order], users[order].astype(np.int64))


def slot_arrivals(active: np.ndarray, slot_duration_s: float) -> Traffic:
    """Bernoulli traffic: one request per active (slot, user), at the slot's start."""
    slots, users = np.nonzero(active)
    return Traffic(slots * slot_duration_s, users.astype(np.int64))


def generate_traffic(scenario: Scenario, world: WorldTrace, seed: int) -> Traffic:
    """The requests of one seed under the scenario's arrival model."""
    arrivals = scenario.users.arrivals
    if arrivals.model == "bernoulli":
        return slot_arrivals(world.active, scenario.slot_duration_s)
    rng = world_streams(seed)["poisson_arrivals"]
    horizon_s = (scenario.slots - 1) * scenario.slot_duration_s
    return poisson_arrivals(arrivals.rate_per_s, scenario.users.count, horizon_s, rng)
