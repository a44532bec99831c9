"""Greedy matching: repeatedly serve the cheapest remaining (user, RB) pair with its
best encoder (with voluntary drops: only while serving is cheaper than dropping)."""

from __future__ import annotations

import numpy as np

from netsim.simulation.scheduling import NOT_SERVED, Allocation, Scheduler, SchedulingProblem
from solvers.common import allocation_from_rbs, best_encoder


class GreedyScheduler(Scheduler):
    def decide(self, problem: SchedulingProblem) -> Allocation:
        cost_uq, encoder_uq = best_encoder(problem.cost)
        n_users, n_rbs = cost_uq.shape
        saving = problem.drop_penalty[:, None] - cost_uq
        must_serve = not problem.voluntary_drop
        order = np.argsort(cost_uq, axis=None, kind="stable")
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        user_free = np.ones(n_users, dtype=bool)
        rb_free = np.ones(n_rbs, dtype=bool)
        remaining = min(n_users, n_rbs)
        for u, q in zip(*np.unravel_index(order, cost_uq.shape)):
            if remaining == 0:
                break
            if user_free[u] and rb_free[q] and (must_serve or saving[u, q] > 0):
                rb[u] = q
                user_free[u] = rb_free[q] = False
                remaining -= 1
        return allocation_from_rbs(rb, encoder_uq)
