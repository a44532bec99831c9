"""Hungarian assignment (scipy ``linear_sum_assignment``, warm-started where that is
faster: :mod:`solvers.assignment`) on each (user, RB)'s best encoder: optimal for paper
eq. 10 because an RB's choice of encoder affects no other user, so x[u, m, q] collapses
to a bipartite matching of users and RBs."""

from __future__ import annotations

from netsim.simulation.scheduling import Allocation, Scheduler, SchedulingProblem
from solvers.common import allocation_from_rbs, assign_rbs, best_encoder


class HungarianScheduler(Scheduler):
    """Optimal assignment; ``information: oracle | statistical`` picks the cost it sees."""

    def decide(self, problem: SchedulingProblem) -> Allocation:
        cost_uq, encoder_uq = best_encoder(problem.cost)
        rb = assign_rbs(cost_uq, problem.drop_penalty, problem.voluntary_drop)
        return allocation_from_rbs(rb, encoder_uq)
