"""Greedy matching, two orders:

- ``cheapest_pair`` (default): repeatedly serve the cheapest remaining (user, RB) pair
  with its best encoder (with voluntary drops: only while serving is cheaper than
  dropping);
- ``farthest_first``: the users one by one, cell-edge users first (as the RL agents
  assign them, ``rl.user_order``), each taking its cheapest (encoder, free RB), or
  going unserved where a drop is allowed and its penalty is cheaper: the myopic policy
  that knows each user's expected cost and nothing about the users after it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from netsim.rl.assignment import assignment_order
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.common import allocation_from_rbs, best_encoder


class GreedyParams(SchedulerParams):
    order: Literal["cheapest_pair", "farthest_first"] = "cheapest_pair"
    """cheapest_pair: the cheapest (user, RB) pair first; farthest_first: users by
    decreasing distance, each its cheapest RB (module docstring)."""


class GreedyScheduler(Scheduler):
    Params = GreedyParams

    def __init__(self, params: GreedyParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.uses_observation = params.order == "farthest_first"  # needs the distances

    def decide(self, problem: SchedulingProblem) -> Allocation:
        if self.params.order == "farthest_first":  # type: ignore[attr-defined]
            return self._farthest_first(problem)
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

    @staticmethod
    def _farthest_first(problem: SchedulingProblem) -> Allocation:
        cost_uq, encoder_uq = best_encoder(problem.cost)
        seen = problem.observation
        rows = assignment_order(np.arange(len(seen.users)), seen.distance_m[seen.users],
                                "farthest_first")
        rb = np.full(len(rows), NOT_SERVED, dtype=np.int64)
        rb_free = np.ones(cost_uq.shape[1], dtype=bool)
        for left, row in zip(range(len(rows), 0, -1), rows, strict=True):
            free = np.flatnonzero(rb_free)
            if free.size == 0:
                break
            q = free[np.argmin(cost_uq[row, free])]
            may_drop = problem.voluntary_drop or left > free.size
            if may_drop and problem.drop_penalty[row] < cost_uq[row, q]:
                continue
            rb[row], rb_free[q] = q, False
        return allocation_from_rbs(rb, encoder_uq)
