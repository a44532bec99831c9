"""The eq. 11 cost of a slot's decision in the closed loop, queueing included.

A request served with encoder m on RB q costs its timing-free part (task loss and
energy penalty, ``QueueState.static_cost``) plus the delay penalty of eq. 11 on its
delay from arrival to the end of decoding, timed by :func:`reservations.plan`. For a
statistical scheduler the transmission time is random: the penalty is its expectation
over the fading law (:mod:`netsim.simulation.air_time`) for a transmission that starts
at a known time, which depends only on the extraction order and the RB's backlog (RB
reservations hold the air time at the law's median).
"""

from __future__ import annotations

import numpy as np

from netsim.simulation.air_time import ONE_AT_A_TIME
from netsim.simulation.reservations import Ledger, PlannedTimes, plan, reserve
from netsim.simulation.scheduling import Allocation, QueueState


def served_in_order(allocation: Allocation, state: QueueState) -> np.ndarray:
    """The served rows in CPU order: the allocation's, or oldest request first."""
    served = np.flatnonzero(allocation.served)
    if allocation.cpu_order is not None:
        return np.asarray(allocation.cpu_order, dtype=np.int64)
    return served[np.argsort(state.arrival_s[served], kind="stable")]


def timing(state: QueueState, allocation: Allocation) -> tuple[np.ndarray, PlannedTimes]:
    """The served rows in CPU order and their planned times."""
    rows = served_in_order(allocation, state)
    enc, rb = allocation.encoder[rows], allocation.rb[rows]
    ledger = Ledger(state.core_free_s, state.rb_free_s, np.asarray(state.device_free_s))
    times = plan(ledger, state.now_s, state.extraction_s[enc], rb,
                 state.air_time.reservation_s[rows, enc, rb], rows, state.computing_s[rows])
    return rows, times


def _served_costs(state: QueueState, rows: np.ndarray, enc: np.ndarray, rb: np.ndarray,
                  times: PlannedTimes) -> np.ndarray:
    """Cost of served rows (in CPU order) from their planned times: the timing-free part
    plus the delay penalty of a transmission starting at its planned time (expected over
    fading for a statistical state, each row's alone, so a row's cost has the same bits
    however many rows are priced)."""
    step = ONE_AT_A_TIME  # in chunks priced the way a request alone is (air_time.py)
    penalty = np.concatenate([
        state.delay_penalty(rows[k:k + step], enc[k:k + step], rb[k:k + step],
                            times.rb_start_s[k:k + step])
        for k in range(0, max(rows.size, 1), step)])
    return state.static_of(rows, enc, rb) + penalty


def row_costs(state: QueueState, allocation: Allocation) -> np.ndarray:
    """Cost of each row's request (NaN for rows not served)."""
    rows, times = timing(state, allocation)
    out = np.full(allocation.rb.shape, np.nan)
    out[rows] = _served_costs(state, rows, allocation.encoder[rows], allocation.rb[rows], times)
    return out


class RunningCost:
    """:func:`row_costs` one request at a time, for a decision made row by row (the RL
    environment): :meth:`add` commits a row after those added before it (CPU order) and
    returns its cost, the same number ``row_costs`` gives it for the allocation so far,
    without timing the earlier rows again. One request is timed by
    :func:`reservations.reserve` (what :func:`reservations.plan` does for each request)
    and priced by the air time's ``delay_penalty_one``, on Python floats: the same
    operations, so the same bits, at a fraction of numpy's fixed cost per call."""

    def __init__(self, state: QueueState) -> None:
        self.state = state
        self.reservation_s = state.air_time.reservation_s
        self.core_free_s = state.core_free_s.tolist()
        self.rb_free_s = state.rb_free_s.tolist()
        self.device_free_s = np.asarray(state.device_free_s, dtype=float).tolist()
        self._extraction_s = state.extraction_s.tolist()

    def add(self, row: int, encoder: int, rb: int) -> float:
        state = self.state
        device_free = float(state.device_free_s[row])  # the state's, as row_costs prices
        computing = float(state.computing_s[row])
        _, times = reserve(self.core_free_s, self.rb_free_s, self.device_free_s, state.now_s,
                           self._extraction_s[encoder], rb,
                           float(self.reservation_s[row, encoder, rb]), row, computing)
        penalty = state.air_time.delay_penalty_one(
            row, encoder, rb, times[2], device_free, computing, float(state.arrival_s[row]),
            state.max_delay_s, state.lambda_delay)
        return state.static_at(row, encoder, rb) + penalty


def decision_cost(state: QueueState, allocation: Allocation, drop_penalty: np.ndarray) -> float:
    """The slot's total cost: served rows' costs plus the penalties of rows not served."""
    costs = row_costs(state, allocation)
    served = allocation.served
    return float(costs[served].sum() + drop_penalty[~served].sum())
