"""Brute-force enumeration of one slot's closed-loop decision: every encoder per user,
every assignment of RBs, every CPU order (each extraction on the earliest-free core).
Exponential: a yardstick for tiny instances (tests, the heuristic's gap)."""

from __future__ import annotations

import itertools

import numpy as np

from netsim.simulation.queue_cost import decision_cost
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    QueueState,
    SchedulingProblem,
)


def enumerate_slot(problem: SchedulingProblem, state: QueueState) -> tuple[Allocation, float]:
    """The cheapest decision by exhaustive search, and its cost."""
    n_users, n_enc, n_rbs = problem.shape
    n_served = min(n_users, n_rbs)
    counts = range(n_served + 1) if problem.voluntary_drop else [n_served]
    best, best_cost = None, np.inf
    for count in counts:
        for served in itertools.combinations(range(n_users), count):
            for rbs in itertools.permutations(range(n_rbs), count):
                for encs in itertools.product(range(n_enc), repeat=count):
                    encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
                    rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
                    encoder[list(served)], rb[list(served)] = encs, rbs
                    for order in itertools.permutations(served):
                        allocation = Allocation.from_pairs(encoder, rb, np.array(order))
                        cost = decision_cost(state, allocation, problem.drop_penalty)
                        if cost < best_cost - 1e-12:
                            best, best_cost = allocation, cost
    return best, float(best_cost)
