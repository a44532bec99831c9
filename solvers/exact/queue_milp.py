"""Queue-aware exact scheduler: per slot, the minimum-cost decision given the closed
loop's state (DESIGN §2) — encoders, RBs and the order of the extractions on the BS
cores — as a mixed-integer linear programme (PuLP + HiGHS).

Times are relative to the slot boundary ``now``. Rows u (users with a waiting
request), encoders m, RBs q, cores k, positions p on a core:

    x[u,m,q]   1: u served with encoder m on RB q          y[u]  1: u not served
    z[u,m,k,p] 1: u's extraction (encoder m) is the p-th on core k
    C[k,p]     end of core k's p-th extraction:  C[k,p] >= C[k,p-1] + sum t_E[m] z[.,m,k,p],
               C[k,-1] = the core's committed work
    e[u]       end of u's extraction:   e[u] >= C[k,p] - M (1 - sum_m z[u,m,k,p])
    s[u]       start of u's transmission: s[u] >= e[u],  s[u] >= sum rb_free[q] x[u,m,q]
    d[u,i]     delay from arrival to the end of decoding, for fading node i:
               d[u,i] >= s[u] + sum t_T[u,m,q,i] x[u,m,q] + t_C[u] + wait[u],
               d[u,i] >= device_free[u] + t_C[u] + wait[u]
    pen[u,i]   >= 0,  >= lambda_T (d[u,i] - T_max) / T_max - M (sigma[u,i] + y[u]),
               >= lambda_T sigma[u,i]        (sigma binary: lambda_T min(v_T, 1), eq. 11)

    min  sum static[u,m,q] x + sum_i w_i sum_u pen[u,i] + sum drop[u] y
    s.t. sum_{m,q} x[u,m,q] + y[u] = 1 (10a, 10b);  sum_{u,m} x[u,m,q] <= 1 (10c);
         sum_{k,p} z[u,m,k,p] = sum_q x[u,m,q];  sum_{u,m} z[u,m,k,p] <= 1;
         sum_u y[u] = max(0, U - Q) unless drops are voluntary.

An oracle has one node (the realised t_T); a statistical scheduler the N
equal-probability nodes of the fading law, so its objective is the expected cost over
fading as a function of when the transmission can start. Transmission times are capped
at 2 T_max (beyond it the penalty is saturated whatever the start) to keep M small;
nodes whose delay can never pass T_max, or can never stay under 2 T_max, need no
binary. The extractions are then handed to the engine in the order of their start
times: first come, first served on the earliest-free core starts each one no later
than the programme's schedule, so the realised cost is the programme's optimum (tested
against brute-force enumeration).
"""

from __future__ import annotations

import itertools
from typing import Annotated

import highspy
import numpy as np
from pydantic import Field

from netsim.simulation.queue_cost import timing
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    QueueState,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.common import require_des
from solvers.exact.highs import quiet_highs
from solvers.heuristics.queue_greedy import queue_greedy_decision


class QueueMILPParams(SchedulerParams):
    time_limit_s: Annotated[float, Field(gt=0)] | None = None
    """Stop branch and bound after this long (the decision is then the best found)."""


class QueueMILPScheduler(Scheduler):
    """Exact per-slot decision given the queue state; ``information`` picks realised or
    expected transmission times."""

    Params = QueueMILPParams
    queue_aware = True

    @classmethod
    def prepare(cls, params, scenario):  # type: ignore[no-untyped-def]
        require_des("queue_milp", scenario)
        return params

    def __init__(self, params: QueueMILPParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.last_objective = float("nan")

    def decide(self, problem: SchedulingProblem) -> Allocation:
        if problem.queue is None:
            raise ValueError("queue_milp needs the closed loop's queue state")
        incumbent = queue_greedy_decision(problem, problem.queue)
        allocation, objective = solve_slot(problem, problem.queue, self.params.time_limit_s,
                                           incumbent)
        self.last_objective = objective
        return allocation


def start_grid(core0: np.ndarray, t_e: np.ndarray, jobs: int) -> np.ndarray:
    """Every time (relative to now) at which an extraction can start in a list schedule
    of at most ``jobs`` extractions: a core's committed work plus the extraction times
    of at most jobs - 1 others before it on that core."""
    sums = {0.0}
    for _ in range(max(jobs - 1, 0)):
        sums |= {round(a + b, 12) for a in sums for b in t_e}
    return np.unique(np.round(np.add.outer(np.unique(core0), sorted(sums)).ravel(), 12))


def encoder_multisets(n_enc: int, most: int) -> np.ndarray:
    """Every vector of encoder counts with at most ``most`` extractions in all,
    (K, M), by total then lexicographically."""
    vectors = [c for total in range(max(most, 0) + 1)
               for c in itertools.product(range(total + 1), repeat=n_enc) if sum(c) == total]
    return np.array(sorted(vectors, key=lambda c: (sum(c), [-x for x in c])), dtype=int
                    ).reshape(-1, n_enc)


def lattice_child(counts: np.ndarray, node: np.ndarray, encoder: np.ndarray) -> np.ndarray:
    """Index in ``counts`` (K, M) of node[i]'s count vector plus one extraction of
    encoder[i], or -1 where that vector is not a node. Count vectors are keyed as
    numbers in base (largest count + 2), so adding one never carries into the next
    digit."""
    if counts.size == 0 or node.size == 0:
        return np.full(node.shape, -1, dtype=np.int64)
    place = (int(counts.max()) + 2) ** np.arange(counts.shape[1], dtype=np.int64)
    key = counts.astype(np.int64) @ place
    order = np.argsort(key, kind="stable")
    wanted = key[node] + place[encoder]
    found = np.minimum(np.searchsorted(key, wanted, sorter=order), key.size - 1)
    index = order[found]
    return np.where(key[index] == wanted, index, -1)


def _latest_useful_start(core0: np.ndarray, t_e: np.ndarray, jobs: int) -> float:
    """No extraction of this slot starts later than the first core's committed work plus
    jobs - 1 of the longest extractions: a second core freeing after that is never used."""
    return float(core0[0] + max(jobs - 1, 0) * t_e.max())


def start_costs(state: QueueState, starts: np.ndarray) -> np.ndarray:
    """Cost of serving each row with encoder m on RB q when its extraction starts at
    each grid time, (U, M, Q, S): timing-free part plus the eq. 11 delay penalty of the
    transmission that follows (expected over fading for a statistical state). Times
    relative to now."""
    now = state.now_s
    rb0 = np.maximum(state.rb_free_s - now, 0.0)
    dev0 = np.maximum(state.device_free_s - now, 0.0)
    cpu_end = starts[None, :] + state.extraction_s[:, None]  # (M, S)
    tx_start = np.maximum(cpu_end[:, None, :], rb0[None, :, None])  # (M, Q, S)
    n_users, n_enc, n_rbs = state.static_cost.shape
    rows = np.arange(n_users)[:, None, None, None]
    penalty = state.air_time.delay_penalty(
        rows, np.arange(n_enc)[None, :, None, None], np.arange(n_rbs)[None, None, :, None],
        tx_start[None], dev0[rows], state.computing_s[rows], state.arrival_s[rows] - now,
        state.max_delay_s, state.lambda_delay)
    return state.static_cost[..., None] + penalty


def solve_slot(
    problem: SchedulingProblem, state: QueueState, time_limit_s: float | None = None,
    incumbent: Allocation | None = None,
) -> tuple[Allocation, float]:
    """The minimum-cost allocation (with its CPU order) and its objective.

    Columns: timed choices v[u,m,q,s] (extraction starts at grid time s), untimed
    choices w[u,m,q] (served last, at the cost of the latest start: a choice whose cost
    no earlier start lowers), drops y[u]. Rows: one choice per user (10a, 10b), one
    user per RB (10c), at most the free cores running at each start time, and the
    number of drops. Built as arrays for HiGHS (highspy); the LP relaxation is solved
    first and, being integral on most slots, is the answer; else branch and bound,
    started from ``incumbent`` (a feasible decision, e.g. the heuristic's) if given: its
    cost lets HiGHS fix most columns by their reduced costs at once.
    """
    n_users, _, n_rbs = state.static_cost.shape
    t_e = state.extraction_s
    core0 = np.sort(np.maximum(state.core_free_s - state.now_s, 0.0))
    n_served = min(n_users, n_rbs)
    lattice = n_served <= 1 or core0.size == 1 or core0[1] >= _latest_useful_start(core0, t_e, n_served)
    if lattice:  # one core in play: a start is the work of the extractions before it
        counts = encoder_multisets(len(t_e), n_served - 1)
        starts = core0[0] + counts @ t_e
    else:
        starts = start_grid(core0[:n_served], t_e, n_served)
    cost = start_costs(state, starts)  # (U, M, Q, S)
    last = cost[..., -1] if not lattice else cost.max(axis=-1)
    timed = np.argwhere(cost < last[..., None] - 1e-12)  # (n_timed, 4)
    untimed = np.argwhere(np.ones(last.shape, dtype=bool))  # (n_untimed, 3)
    n_timed, n_untimed = len(timed), len(untimed)
    col_cost = np.concatenate([cost[tuple(timed.T)], last[tuple(untimed.T)],
                               problem.drop_penalty])
    col_user = np.concatenate([timed[:, 0], untimed[:, 0], np.arange(n_users)])
    col_rb = np.concatenate([timed[:, 2], untimed[:, 2], np.full(n_users, -1)])
    n_cols = col_cost.size
    rows: list[np.ndarray] = []  # (row, col, coefficient)
    lower: list[float] = []
    upper: list[float] = []
    cols = np.arange(n_cols)
    rows.append(np.stack([col_user, cols, np.ones(n_cols)]))
    lower += [1.0] * n_users
    upper += [1.0] * n_users
    served_cols = np.flatnonzero(col_rb >= 0)
    rows.append(np.stack([n_users + col_rb[served_cols], served_cols,
                          np.ones(served_cols.size)]))
    lower += [0.0] * n_rbs
    upper += [1.0] * n_rbs
    n_rows = n_users + n_rbs
    if n_timed and lattice:
        # the CPU order is a path through the encoder-count lattice: an extraction with
        # encoder m starting at node k leaves from k (out) and enters k + e_m (in)
        size = counts.sum(axis=1)
        node, enc = timed[:, 3], timed[:, 1]
        child = lattice_child(counts, node, enc)
        rows.append(np.stack([n_rows + node, np.arange(n_timed), np.ones(n_timed)]))
        into = np.flatnonzero(child >= 0)
        rows.append(np.stack([n_rows + child[into], into, -np.ones(into.size)]))
        lower += [-np.inf] * len(counts)
        upper += [1.0 if size[k] == 0 else 0.0 for k in range(len(counts))]
        n_rows += len(counts)
    elif n_timed:
        begin = starts[timed[:, 3]]
        end = begin + t_e[timed[:, 1]]
        for tau in np.unique(begin):
            free = int(np.sum(core0 <= tau + 1e-12))
            running = np.flatnonzero((begin <= tau + 1e-12) & (tau + 1e-12 < end))
            if running.size > free:
                rows.append(np.stack([np.full(running.size, n_rows), running,
                                      np.ones(running.size)]))
                lower.append(0.0)
                upper.append(float(free))
                n_rows += 1
    if not problem.voluntary_drop:
        drops = n_timed + n_untimed + np.arange(n_users)
        rows.append(np.stack([np.full(n_users, n_rows), drops, np.ones(n_users)]))
        lower.append(float(max(0, n_users - n_rbs)))
        upper.append(float(max(0, n_users - n_rbs)))
        n_rows += 1
    entries = np.concatenate(rows, axis=1)
    start = None
    if incumbent is not None:
        start = _columns_of(incumbent, state, starts, timed, untimed, n_users,
                            counts if lattice else None)
    solution, objective = _solve_binary(col_cost, entries, n_rows, np.array(lower),
                                        np.array(upper), time_limit_s, start)
    chosen = solution > 0.5
    encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
    rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
    start_s = np.full(n_users, np.inf)  # untimed choices go last
    for i in np.flatnonzero(chosen[:n_timed]):
        u, m, q, k = timed[i]
        encoder[u], rb[u], start_s[u] = m, q, starts[k]
    for i in np.flatnonzero(chosen[n_timed:n_timed + n_untimed]):
        u, m, q = untimed[i]
        encoder[u], rb[u] = m, q
    served = np.flatnonzero(rb != NOT_SERVED)
    cpu_order = served[np.lexsort((served, start_s[served]))]
    return Allocation.from_pairs(encoder, rb, cpu_order), objective


def _columns_of(allocation: Allocation, state: QueueState, starts: np.ndarray,
                timed: np.ndarray, untimed: np.ndarray, n_users: int,
                counts: np.ndarray | None) -> np.ndarray | None:
    """The programme's column vector of a decision (its extractions at their list-schedule
    starts: grid times, or lattice nodes when ``counts`` is given), or None if a start
    is not a column's."""
    rows, times = timing(state, allocation)
    column = {tuple(key): i for i, key in enumerate(timed.tolist())}
    offset = len(timed)
    untimed_column = {tuple(key): offset + i for i, key in enumerate(untimed.tolist())}
    values = np.zeros(len(timed) + len(untimed) + n_users)
    values[offset + len(untimed) + np.flatnonzero(~allocation.served)] = 1.0
    before = np.zeros(len(state.extraction_s), dtype=int)
    nodes = {} if counts is None else {tuple(c): k for k, c in enumerate(counts.tolist())}
    for u, start in zip(rows, times.cpu_start_s - state.now_s):
        m, q = int(allocation.encoder[u]), int(allocation.rb[u])
        if counts is None:
            k = int(np.argmin(np.abs(starts - start)))
            if abs(starts[k] - start) > 1e-9:
                return None
        else:
            k = nodes.get(tuple(before), -1)
            before[m] += 1
        key = (int(u), m, q, k)
        values[column[key] if key in column else untimed_column[(int(u), m, q)]] = 1.0
    return values


def _solve_binary(cost: np.ndarray, entries: np.ndarray, n_rows: int, lower: np.ndarray,
                  upper: np.ndarray, time_limit_s: float | None,
                  start: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """min cost.x over binary x with lower <= A x <= upper (``entries``: rows of row
    index, column index, coefficient): the LP relaxation first, branch and bound only
    if it is fractional."""
    n_cols = cost.size
    order = np.lexsort((entries[0], entries[1]))
    row_index = entries[0][order].astype(np.int64)
    col_index = entries[1][order].astype(np.int64)
    coefficient = entries[2][order]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = cost.astype(float)
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(col_index, np.arange(n_cols + 1)).astype(np.int32)
    lp.a_matrix_.index_ = row_index.astype(np.int32)
    lp.a_matrix_.value_ = coefficient
    highs = quiet_highs()
    highs.setOptionValue("random_seed", 0)
    if time_limit_s is not None:
        highs.setOptionValue("time_limit", float(time_limit_s))
    highs.passModel(lp)
    highs.run()
    values = np.asarray(highs.getSolution().col_value)
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"queue MILP relaxation: {highs.modelStatusToString(highs.getModelStatus())}")
    if np.all(np.minimum(values, 1.0 - values) < 1e-9):
        return np.round(values), float(cost @ np.round(values))
    highs.changeColsIntegrality(n_cols, np.arange(n_cols, dtype=np.int32),
                                np.full(n_cols, highspy.HighsVarType.kInteger))
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = start
        highs.setSolution(solution)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"queue MILP: {highs.modelStatusToString(highs.getModelStatus())}")
    values = np.round(np.asarray(highs.getSolution().col_value))
    return values, float(cost @ values)
