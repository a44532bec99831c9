"""Fast queue-aware heuristic for the closed loop: earliest deadline first, each user
then taking the (encoder, RB) that is cheapest given the work already committed.

At a slot boundary the waiting users are taken oldest request first (their deadlines,
arrival + T_max, come in that order). Each one is appended to the CPU order: its
extraction would start on the core that frees first, its transmission when that
extraction ends and its RB (still free in this slot) is done with earlier reservations;
the user takes the encoder and RB of least eq. 11 cost at those times (the realised
cost for an oracle, the expectation over fading for a statistical scheduler), and the
next user sees the CPU and RBs as this choice left them. The myopic Hungarian decision
(on the queue-free cost) and each one-encoder-for-all decision are timed the same way,
and the cheapest of these candidates on the slot is returned, so the heuristic never
does worse on a slot than the myopic optimum or any fixed encoder. Cost: U vectorised
evaluations of (M x Q) choices plus M + 1 Hungarian assignments.
"""

from __future__ import annotations

import numpy as np

from netsim.simulation.queue_cost import decision_cost
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    QueueState,
    Scheduler,
    SchedulingProblem,
)
from solvers.common import allocation_from_rbs, assign_rbs, best_encoder, require_des


def cost_if_next(state: QueueState, row: int, core_free_s: np.ndarray,
                 rb_free_s: np.ndarray) -> np.ndarray:
    """(M, Q) cost of serving ``row`` next in the CPU order with each encoder and RB."""
    now = state.now_s
    cpu_start = max(now, float(core_free_s.min()))
    cpu_end = cpu_start + state.extraction_s  # (M,)
    tx_start = np.maximum(cpu_end[:, None], np.maximum(rb_free_s, now)[None, :])  # (M, Q)
    n_enc, n_rbs = tx_start.shape
    penalty = state.delay_penalty(np.array(row), np.arange(n_enc)[:, None],
                                  np.arange(n_rbs)[None, :], tx_start)
    return state.static_cost[row] + penalty


def earliest_deadline_greedy(problem: SchedulingProblem, state: QueueState) -> Allocation:
    n_users, _, n_rbs = problem.shape
    cores = np.maximum(state.core_free_s, state.now_s).astype(float)
    rb_free = np.asarray(state.rb_free_s, dtype=float).copy()
    encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
    rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
    taken = np.zeros(n_rbs, dtype=bool)
    order = []
    for row in np.argsort(state.arrival_s, kind="stable"):
        if taken.all():
            break
        cost = cost_if_next(state, int(row), cores, rb_free)
        cost[:, taken] = np.inf
        m, q = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if problem.voluntary_drop and cost[m, q] >= problem.drop_penalty[row]:
            continue
        core = int(np.argmin(cores))
        cpu_end = cores[core] + state.extraction_s[m]
        cores[core] = cpu_end
        rb_free[q] = max(cpu_end, rb_free[q], state.now_s) + state.air_time.reservation_s[row, m, q]
        encoder[row], rb[row] = m, q
        taken[q] = True
        order.append(row)
    return Allocation.from_pairs(encoder, rb, np.array(order, dtype=np.int64))


class QueueGreedyScheduler(Scheduler):
    """Earliest deadline first, cheapest (encoder, RB) given the committed work; never
    worse on a slot than the myopic Hungarian decision or a fixed encoder."""

    queue_aware = True

    @classmethod
    def prepare(cls, params, scenario):  # type: ignore[no-untyped-def]
        require_des("queue_greedy", scenario)
        return params

    def decide(self, problem: SchedulingProblem) -> Allocation:
        if problem.queue is None:
            raise ValueError("queue_greedy needs the closed loop's queue state")
        return queue_greedy_decision(problem, problem.queue)


def queue_greedy_decision(problem: SchedulingProblem, state: QueueState) -> Allocation:
    """The cheapest on the slot of: the earliest-deadline greedy, the myopic Hungarian
    decision and each one-encoder-for-all decision (see the module docstring)."""
    candidates = [earliest_deadline_greedy(problem, state)]
    cost_uq, encoder_uq = best_encoder(problem.cost)
    candidates.append(allocation_from_rbs(
        assign_rbs(cost_uq, problem.drop_penalty, problem.voluntary_drop), encoder_uq))
    for m in range(problem.shape[1]):  # one encoder for all, RBs by the Hungarian
        rb = assign_rbs(problem.cost[:, m, :], problem.drop_penalty, problem.voluntary_drop)
        candidates.append(allocation_from_rbs(rb, np.full(cost_uq.shape, m)))
    costs = [decision_cost(state, a, problem.drop_penalty) for a in candidates]
    return candidates[int(np.argmin(costs))]
