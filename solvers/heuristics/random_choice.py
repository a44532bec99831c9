"""Uniformly random encoder and RB for each user (RBs without repetition)."""

from __future__ import annotations

import numpy as np

from netsim.simulation.scheduling import NOT_SERVED, Allocation, Scheduler, SchedulingProblem


class RandomScheduler(Scheduler):
    """Each user gets a distinct random RB and a random encoder; when U > Q a random
    subset of Q users is served and the rest are dropped."""

    uses_cost = False

    def decide(self, problem: SchedulingProblem) -> Allocation:
        n_users, n_enc, n_rbs = problem.shape
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
        n_served = min(n_users, n_rbs)
        users = self.rng.permutation(n_users)[:n_served]
        rb[users] = self.rng.permutation(n_rbs)[:n_served]
        encoder[users] = self.rng.integers(0, n_enc, n_served)
        return Allocation.from_pairs(encoder, rb)
