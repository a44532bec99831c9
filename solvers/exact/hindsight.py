"""Hindsight bound (DESIGN §2): over a short run with every arrival and every fading
draw known in advance, the minimum total eq. 11 cost — what no causal scheduler can beat.

Scope (checked by :meth:`HindsightScheduler.prepare`): ``delay_model: des``, no queue
limit or timeout, no voluntary drops, U <= Q, at most 50 slots. Then at every slot
boundary every user with a waiting request has its oldest request served, so *which*
requests are served at which boundary follows from the arrivals alone
(:func:`served_requests`); requests still waiting after the last boundary cost their drop
penalty whatever the scheduler does (a constant). What remains to choose, for each served
request r (slot n, user u, arrival a): its encoder m, its RB q and its place in the
slot's CPU order. One MILP over the whole run, continuous times with big-M disjunctions,
built as arrays and solved with highspy:

    z[r,m,q]  binary: r served with encoder m on RB q;  sum_{m,q} z = 1;
              per slot and RB: sum_{r in slot, m} z[r,m,q] <= 1          (10a-10c)
    S[r]      extraction start >= n tau;  E[r] = S[r] + sum t_E[m] z[r,m,q]
    o[r,s]    per pair of a slot: 1 if r is committed to the CPU before s (no cycles)
    CPU       one core: C[j] >= E of the j-th slot's jobs, S >= C[j-1], a pair of a slot
              does not overlap (big-M on o). c cores: starts never decrease in commit
              order (S >= P[j-1] >= the earlier slots' starts, S ordered as o says);
              b[e,i] = 1 lets job i start before an earlier-committed job e ends, and
              sum_e b[e,i] <= c - 1 (equivalent to at most c extractions at a time,
              without the cores' symmetry)
    T[r]      transmission start >= E[r];  RB chain R[j,q] (end of the last reservation on
              q after the j-th slot): T[r] >= R[j-1,q] - M (1 - y[r,q]),
              R[j,q] >= T[r] + sum_m t_T[r,m,q] z[r,m,q] - M (1 - y[r,q]), y = sum_m z
    D[r]      end of decoding >= T[r] + sum t_T z + t_C[u], >= D[previous of u] + t_C[u]
    v[r]      in [0, 1]: v >= sigma (binary), v >= (D - a - T_max) / T_max - M sigma, so
              lambda_T v = lambda_T clip((D - a - T_max) / T_max, 0, 1) (eq. 11)

    min  sum static[r,m,q] z + lambda_T sum v  (+ the unserved requests' penalties)

Cuts without big-M tighten the relaxation: v >= the penalty each choice would pay with no
contention, R[j,q] >= R[j-1,q] + the t_T of the slot's request on q. On one RB, an
encoder that costs no less statically and is no faster to extract or to send than
another is never chosen (switching delays no one).

Why the engine realises the objective: the engine is first come, first served in
commit order (slot by slot, within a slot the decision's CPU order) on the earliest-free
core, on the RB and on the device. Every schedule it can produce is feasible above (a
list schedule's starts never decrease in commit order, and at most c - 1 earlier jobs
still run when a job starts), and handing the engine the programme's decisions with the
CPU order of the o's gives every request times no later than planned (induction over
the commit order: when job i is due at most c - 1 earlier jobs still run, so a core is
free). The cost is non-decreasing in every time, so at the optimum the engine realises
the programme's objective exactly (tested, and against brute force).

Big-Ms come from a forward pass of upper bounds valid for every list schedule (the
earliest-free core has at most the average committed work left; any earlier
transmission may sit on the same RB). Transmission times are capped at
G - n tau - min t_E, G = max a + 2 T_max: a transmission that long ends after G, where
every request's penalty is saturated, and so is every request waiting on it (its RB
successors, its own decoding, its user's later requests), so the cap changes no cost.
The per-slot exact MILP (:mod:`solvers.exact.queue_milp`) run causally over the horizon
is the starting incumbent. If the time limit stops the search, ``bound`` (HiGHS's dual
bound, or each request's cheapest choice alone if HiGHS has none yet) is the figure no
causal scheduler can beat and ``objective`` is the cost of the best schedule found,
which the engine realises or beats.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from netsim.scenario import Scenario
from netsim.simulation.air_time import RealisedAirTime
from netsim.simulation.closed_loop import Future
from netsim.simulation.scheduling import (
    Allocation,
    ParameterError,
    QueueState,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.exact.highs import ArrayModel
from solvers.exact.queue_milp import solve_slot

MAX_SLOTS = 50
"""Longest run the bound accepts: one MILP over the whole run grows with it."""
HIGHS_OPTIONS = {
    "random_seed": 0,
    "mip_rel_gap": 1e-9,
    "mip_abs_gap": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "mip_feasibility_tolerance": 1e-9,
}
"""Optimality proved to 1e-9 (the engine must realise the objective to 1e-6)."""


class HindsightParams(SchedulerParams):
    information: Literal["oracle"] = "oracle"
    """Always oracle: the bound knows every fading draw of the run."""
    time_limit_s: Annotated[float, Field(gt=0)] | None = 60
    """Stop branch and bound after this long: ``bound`` is then HiGHS's dual bound (still
    a bound), the schedule the best found."""


@dataclass(frozen=True)
class Horizon:
    """The run as the bound sees it: each served request r (in commit order of slots,
    rows of a slot by user) with the realised data of the slot that serves it."""

    slot: np.ndarray
    """(R,) the boundary that serves r."""
    user: np.ndarray
    """(R,)"""
    request: np.ndarray
    """(R,) index in the traffic."""
    arrival_s: np.ndarray
    """(R,)"""
    static_cost: np.ndarray
    """(R, M, Q) task loss + lambda_E v_E (realised)."""
    transmission_s: np.ndarray
    """(R, M, Q) realised t_T."""
    extraction_s: np.ndarray
    """(M,)"""
    computing_s: np.ndarray
    """(R,) t_C of r's user."""
    cores: int
    n_rbs: int
    slot_duration_s: float
    max_delay_s: float
    lambda_delay: float
    unserved: np.ndarray
    """Requests still waiting after the last boundary (indices in the traffic)."""
    unserved_cost: float
    """Their drop penalties, the same for every scheduler."""

    @property
    def count(self) -> int:
        return self.slot.size


@dataclass(frozen=True)
class Schedule:
    """Decisions for every served request and their times by the engine's rules."""

    encoder: np.ndarray
    rb: np.ndarray
    order: np.ndarray
    """(R,) commit order (slots in turn, within a slot the CPU order)."""
    cpu_start_s: np.ndarray
    cpu_end_s: np.ndarray
    rb_start_s: np.ndarray
    rb_end_s: np.ndarray
    decode_end_s: np.ndarray
    core: np.ndarray
    cost: np.ndarray
    """(R,) eq. 11 cost of each served request."""


@dataclass(frozen=True)
class HindsightSolution:
    encoder: np.ndarray
    rb: np.ndarray
    position: np.ndarray
    """(R,) each request's place in its slot's CPU order."""
    objective: float
    """The programme's objective (unserved penalties included)."""
    bound: float
    """HiGHS's dual bound on it (unserved penalties included)."""
    status: str
    solve_s: float
    incumbent: float
    """Cost of the starting schedule (per-slot exact MILP run causally)."""
    nodes: int = 0
    """Branch-and-bound nodes HiGHS explored."""


# ------------------------------------------------------------------------ the horizon
def served_requests(arrival_s: np.ndarray, user: np.ndarray, n_users: int, n_slots: int,
                    slot_duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With no limit, no timeout and U <= Q: (slot, request) of every served request in
    commit order, and the requests never served. At boundary n each user's FIFO takes
    the arrivals with time <= n tau and its oldest request is served (the engine's
    admission rule)."""
    fifo: list[deque[int]] = [deque() for _ in range(n_users)]
    slots, requests = [], []
    admitted = 0
    for n in range(n_slots):
        now = n * slot_duration_s
        stop = int(np.searchsorted(arrival_s, now, side="right"))
        for i in range(admitted, stop):
            fifo[int(user[i])].append(i)
        admitted = stop
        for u in range(n_users):
            if fifo[u]:
                slots.append(n)
                requests.append(fifo[u].popleft())
    left = sorted([i for q in fifo for i in q] + list(range(admitted, arrival_s.size)))
    return (np.array(slots, dtype=np.int64), np.array(requests, dtype=np.int64),
            np.array(left, dtype=np.int64))


def build_horizon(future: Future) -> Horizon:
    """The served requests and their realised data from a closed-loop ``Future``."""
    model, world, traffic = future.model, future.world, future.traffic
    scenario = model.scenario
    tau = scenario.slot_duration_s
    slots, requests, left = served_requests(traffic.arrival_s, traffic.user,
                                            scenario.users.count, scenario.slots, tau)
    users = traffic.user[requests]
    snr = model.snr(world.distance_m, world.fading, world.interference_w)
    metrics = model.evaluate(snr, world.user_cpu_hz,
                             model.eavesdropper_snr(world, slice(None)))
    static = model.static_cost(metrics)
    return Horizon(
        slot=slots, user=users, request=requests, arrival_s=traffic.arrival_s[requests],
        static_cost=static[slots, users], transmission_s=metrics.transmission_delay_s[slots, users],
        extraction_s=np.asarray(model.extraction_delay_s, dtype=float),
        computing_s=model.computing_delay_s(world.user_cpu_hz)[users],
        cores=scenario.base_station.cores, n_rbs=scenario.cell.n_rbs, slot_duration_s=tau,
        max_delay_s=scenario.limits.max_delay_s, lambda_delay=scenario.reward.lambda_delay,
        unserved=left, unserved_cost=float(np.sum(future.drop_penalty[traffic.user[left]])),
    )


def _slot_rows(h: Horizon) -> list[np.ndarray]:
    """Per slot, the served requests (indices into the horizon), by user."""
    n_slots = int(h.slot.max()) + 1 if h.count else 0
    return [np.flatnonzero(h.slot == n) for n in range(n_slots)]


def _previous_of_user(h: Horizon) -> np.ndarray:
    """(R,) the same user's previously served request (-1 for its first)."""
    previous = np.full(h.count, -1, dtype=np.int64)
    last: dict[int, int] = {}
    for r in range(h.count):
        previous[r] = last.get(int(h.user[r]), -1)
        last[int(h.user[r])] = r
    return previous


def delay_cost(h: Horizon, delay_s: np.ndarray) -> np.ndarray:
    limit = h.max_delay_s
    return h.lambda_delay * np.clip((delay_s - limit) / limit, 0.0, 1.0)


def replay(h: Horizon, encoder: np.ndarray, rb: np.ndarray, key: np.ndarray) -> Schedule:
    """The engine's rules (reservations.plan across slots) applied to the decisions, the
    extractions of a slot taken in increasing ``key`` (ties by row)."""
    cores = np.zeros(h.cores)
    rb_free = np.zeros(h.n_rbs)
    device_free: dict[int, float] = {}
    n = h.count
    times = np.zeros((5, n))
    core_of = np.zeros(n, dtype=np.int64)
    order = []
    for rows in _slot_rows(h):
        for r in rows[np.lexsort((rows, key[rows]))]:
            order.append(r)
            now = h.slot[r] * h.slot_duration_s
            k = int(np.argmin(cores))
            start = max(now, cores[k])
            end = start + h.extraction_s[encoder[r]]
            cores[k] = end
            q = rb[r]
            tx_start = max(end, rb_free[q])
            tx_end = tx_start + h.transmission_s[r, encoder[r], q]
            rb_free[q] = tx_end
            u = int(h.user[r])
            dec_end = max(tx_end, device_free.get(u, 0.0)) + h.computing_s[r]
            device_free[u] = dec_end
            times[:, r] = (start, end, tx_start, tx_end, dec_end)
            core_of[r] = k
    cost = (h.static_cost[np.arange(n), encoder, rb]
            + delay_cost(h, times[4] - h.arrival_s))
    return Schedule(encoder, rb, np.array(order, dtype=np.int64), *times, core_of, cost)


def myopic_schedule(h: Horizon) -> Schedule:
    """The per-slot exact decision (queue_milp, oracle) taken causally at every boundary:
    the programme's starting incumbent."""
    encoder = np.zeros(h.count, dtype=np.int64)
    rb = np.zeros(h.count, dtype=np.int64)
    start = np.zeros(h.count)
    cores = np.zeros(h.cores)
    rb_free = np.zeros(h.n_rbs)
    device_free: dict[int, float] = {}
    for rows in _slot_rows(h):
        if not rows.size:
            continue
        now = float(h.slot[rows[0]] * h.slot_duration_s)
        state = QueueState(
            now_s=now, slot=int(h.slot[rows[0]]), core_free_s=cores.copy(),
            rb_free_s=rb_free.copy(),
            device_free_s=np.array([device_free.get(int(u), 0.0) for u in h.user[rows]]),
            arrival_s=h.arrival_s[rows], queue_length=np.ones(rows.size, dtype=np.int64),
            extraction_s=h.extraction_s, computing_s=h.computing_s[rows],
            static_cost=h.static_cost[rows], air_time=RealisedAirTime(h.transmission_s[rows]),
            max_delay_s=h.max_delay_s, lambda_delay=h.lambda_delay,
        )
        problem = SchedulingProblem(h.static_cost[rows], np.zeros(rows.size), ("",) * 0,
                                    False, None, state)
        allocation, _ = solve_slot(problem, state)
        encoder[rows], rb[rows] = allocation.encoder, allocation.rb
        start[rows[allocation.cpu_order]] = now + np.arange(rows.size)  # order only
        done = rows[-1] + 1
        partial = replay(_prefix(h, done), encoder[:done], rb[:done], start[:done])
        cores = np.zeros(h.cores)
        np.maximum.at(cores, partial.core, partial.cpu_end_s)
        rb_free = np.zeros(h.n_rbs)
        np.maximum.at(rb_free, rb[:done], partial.rb_end_s)
        device_free = {int(u): float(partial.decode_end_s[h.user[:done] == u].max())
                       for u in np.unique(h.user[:done])}
    return replay(h, encoder, rb, start)


def _prefix(h: Horizon, n: int) -> Horizon:
    """The first n served requests (whole slots)."""
    return replace(h, slot=h.slot[:n], user=h.user[:n], request=h.request[:n],
                   arrival_s=h.arrival_s[:n], static_cost=h.static_cost[:n],
                   transmission_s=h.transmission_s[:n], computing_s=h.computing_s[:n])


# ------------------------------------------------------------------------ the programme
@dataclass(frozen=True)
class _Bounds:
    """Bounds on the times of every list schedule (the engine's rules, any decisions)."""

    ub_start: np.ndarray
    ub_end: np.ndarray
    ub_tx_start: np.ndarray
    ub_dec: np.ndarray
    lb_dec: np.ndarray
    ub_core_free: np.ndarray
    """(J,) every core's free time after the j-th non-empty slot."""
    ub_rb_free: np.ndarray
    """(J, Q)"""


def _undominated(static: np.ndarray, t_e: np.ndarray,
                 t_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, M, Q) which choices are not dominated, and for each choice the undominated
    encoder to use instead. On the same RB, encoder m' dominates m when it costs no more
    statically and takes no longer to extract and to send (ties: the lower index):
    switching to it delays no one (list schedules, RB and device chains are monotone in
    every duration), so some optimal schedule uses undominated choices only."""
    n_enc = static.shape[1]
    te = np.broadcast_to(t_e[None, :, None], static.shape)
    pairs = [(x[:, :, None, :], x[:, None, :, :]) for x in (static, te, t_t)]  # [r, m', m, q]
    all_le = np.logical_and.reduce([a <= b for a, b in pairs])
    strict = np.logical_or.reduce([a < b for a, b in pairs])
    lower = (np.arange(n_enc)[:, None] < np.arange(n_enc)[None, :])[None, :, :, None]
    dominates = all_le & (strict | lower)
    dominates &= ~np.eye(n_enc, dtype=bool)[None, :, :, None]
    allowed = ~dominates.any(axis=1)  # (R, M, Q)
    # a dominated choice's replacement: an undominated encoder that dominates it
    # (the relation is transitive and acyclic, so one exists)
    better = np.argmax(dominates & allowed[:, :, None, :], axis=1)  # (R, M, Q)
    better = np.where(allowed, np.arange(n_enc)[None, :, None], better)
    return allowed, better


def _bounds(h: Horizon, t_t: np.ndarray, allowed: np.ndarray, slot_rows: list[np.ndarray],
            previous: np.ndarray) -> _Bounds:
    """Forward pass over the allowed choices. CPU: with W the committed work left on all
    cores, a job taken at boundary ``now`` starts by now + W / c (the earliest-free core
    has at most the average left) and adds its t_E to W; W shrinks by at least the time
    that passes while positive. RBs: each slot may put any of its requests on any RB."""
    n_req = h.count
    t_e, cores = h.extraction_s, h.cores
    longest = np.where(allowed, t_e[None, :, None], 0.0).max(axis=(1, 2))  # (R,)
    shortest = np.where(allowed, t_e[None, :, None], np.inf).min(axis=(1, 2))
    tt_long = np.where(allowed, t_t, 0.0).max(axis=1)  # (R, Q)
    tt_short = np.where(allowed, t_t, np.inf).min(axis=(1, 2))  # (R,)
    ub_start, ub_end, ub_tx_start, ub_dec, lb_dec = (np.zeros(n_req) for _ in range(5))
    ub_core_free, ub_rb_free = [], []
    work, last, core_free = 0.0, 0.0, 0.0
    rb_free = np.zeros(h.n_rbs)
    for rows in slot_rows:
        now = float(h.slot[rows[0]] * h.slot_duration_s)
        work = max(0.0, work - (now - last))
        last = now
        slot_work = longest[rows].sum()
        ub_start[rows] = now + (work + slot_work - longest[rows]) / cores
        ub_end[rows] = ub_start[rows] + longest[rows]
        work += slot_work
        core_free = max(core_free, float(ub_end[rows].max()))
        per_q = np.maximum(rb_free, core_free)  # (Q,)
        ub_tx_start[rows] = per_q.max()
        ends = per_q[None, :] + tt_long[rows]  # (rows, Q)
        rb_free = np.maximum(rb_free, ends.max(axis=0))
        ub_core_free.append(core_free)
        ub_rb_free.append(rb_free.copy())
        for i, r in enumerate(rows):
            p = previous[r]
            ub_dec[r] = max(ends[i].max(), ub_dec[p] if p >= 0 else 0.0) + h.computing_s[r]
            alone = now + shortest[r] + tt_short[r]
            lb_dec[r] = max(alone, lb_dec[p] if p >= 0 else 0.0) + h.computing_s[r]
    return _Bounds(ub_start, ub_end, ub_tx_start, ub_dec, lb_dec, np.array(ub_core_free),
                   np.array(ub_rb_free))


def solve_horizon(h: Horizon, time_limit_s: float | None = 60,
                  incumbent: Schedule | None = None) -> HindsightSolution:
    """The hindsight MILP (module docstring); ``incumbent`` seeds branch and bound."""
    started = time.perf_counter()
    if h.count == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HindsightSolution(empty, empty, empty, h.unserved_cost, h.unserved_cost,
                                 "Optimal", time.perf_counter() - started, h.unserved_cost)
    n_req, n_enc, n_rbs = h.static_cost.shape
    tau, limit, lam = h.slot_duration_s, h.max_delay_s, h.lambda_delay
    t_e, t_c = h.extraction_s, h.computing_s
    begin = h.slot * tau
    slot_rows = [rows for rows in _slot_rows(h) if rows.size]
    previous = _previous_of_user(h)
    # transmission caps: past G every cost downstream is saturated
    horizon_end = h.arrival_s.max() + 2 * limit
    cap = np.maximum(horizon_end - begin - t_e.min(), 0.0)
    t_t = np.minimum(h.transmission_s, cap[:, None, None])
    allowed, better = _undominated(h.static_cost, t_e, t_t)
    bd = _bounds(h, t_t, allowed, slot_rows, previous)

    mdl = ArrayModel()
    z = mdl.columns((n_req, n_enc, n_rbs), 0, allowed, h.static_cost, integer=True)
    start = mdl.columns(n_req, begin, bd.ub_start)
    tx = mdl.columns(n_req, begin + t_e.min(), bd.ub_tx_start)
    dec = mdl.columns(n_req, bd.lb_dec, bd.ub_dec)
    violation = mdl.columns(n_req, 0, 1, lam)
    saturated_lb = (bd.lb_dec - h.arrival_s >= 2 * limit).astype(float)
    saturated_ub = np.maximum(saturated_lb, bd.ub_dec - h.arrival_s > 2 * limit)
    sigma = mdl.columns(n_req, saturated_lb, saturated_ub, integer=True)
    z_flat = z.reshape(n_req, -1)
    t_e_flat = np.repeat(t_e, n_rbs)  # per (m, q) column of a request
    # each choice's delay penalty without any contention: a cut on v
    lb_prev = np.where(previous >= 0, bd.lb_dec[np.maximum(previous, 0)], 0.0)
    alone = np.maximum(begin[:, None, None] + t_e[None, :, None] + t_t,
                       lb_prev[:, None, None]) + t_c[:, None, None]
    alone_v = np.clip((alone - h.arrival_s[:, None, None] - limit) / limit, 0, 1)
    for r in range(n_req):
        mdl.row(z_flat[r], np.ones(n_enc * n_rbs), 1, 1)
        # transmission after extraction: T - S - t_E . z >= 0
        mdl.row([tx[r], start[r], *z_flat[r]], [1, -1, *(-t_e_flat)], 0)
        # decoding after transmission: D - T - t_T . z >= t_C
        mdl.row([dec[r], tx[r], *z_flat[r]], [1, -1, *(-t_t[r].ravel())], t_c[r])
        if previous[r] >= 0:
            mdl.row([dec[r], dec[previous[r]]], [1, -1], t_c[r])
        # v >= sigma, v >= (D - a - T) / T - M sigma, v >= the contention-free penalty
        mdl.row([violation[r], sigma[r]], [1, -1], 0)
        big = max(0.0, (bd.ub_dec[r] - h.arrival_s[r] - 2 * limit) / limit)
        mdl.row([violation[r], dec[r], sigma[r]], [1, -1 / limit, big],
                -(h.arrival_s[r] + limit) / limit)
        if alone_v[r].max() > 0:
            mdl.row([violation[r], *z_flat[r]], [1, *(-alone_v[r].ravel())], 0)
    for rows in slot_rows:
        for q in range(n_rbs):
            mdl.row(z[rows, :, q], np.ones(rows.size * n_enc), -np.inf, 1)

    # RB chains: R[j, q] = end of q's last reservation after the j-th non-empty slot
    rb_end = mdl.columns((len(slot_rows), n_rbs), 0, bd.ub_rb_free)
    for j, rows in enumerate(slot_rows):
        for q in range(n_rbs):
            # without big-M: R[j,q] >= R[j-1,q] + t_T of the slot's request on q, and
            # >= its contention-free end
            cols = z[rows, :, q].ravel()
            mdl.row([rb_end[j, q], *cols],
                    [1, *(-(begin[rows, None] + t_e[None, :] + t_t[rows, :, q]).ravel())], 0)
            if j > 0:
                mdl.row([rb_end[j, q], rb_end[j - 1, q], *cols],
                        [1, -1, *(-t_t[rows, :, q].ravel())], 0)
            for r in rows:
                # R[j,q] >= T + t_T[r,.,q] . z[r,.,q] - M (1 - y[r,q])
                big = bd.ub_tx_start[r]
                mdl.row([rb_end[j, q], tx[r], *z[r, :, q]], [1, -1, *(-t_t[r, :, q] - big)],
                        -big)
                if j > 0:  # T >= R[j-1,q] - M (1 - y[r,q])
                    big = bd.ub_rb_free[j - 1, q] - (begin[r] + t_e.min())
                    if big > 0:
                        mdl.row([tx[r], rb_end[j - 1, q], *z[r, :, q]],
                                [1, -1, *np.full(n_enc, -big)], -big)

    cpu = _CPU(mdl, h, bd, slot_rows, start, z_flat, t_e_flat)

    highs = mdl.highs(HIGHS_OPTIONS, time_limit_s)
    if incumbent is not None:  # timed with the capped transmissions, like the programme
        rank = np.empty(n_req)
        rank[incumbent.order] = np.arange(n_req)
        encoder = better[np.arange(n_req), incumbent.encoder, incumbent.rb]
        timed = replay(replace(h, transmission_s=t_t), encoder, incumbent.rb, rank)
        values = np.zeros(mdl.n_cols)
        values[z[np.arange(n_req), timed.encoder, timed.rb]] = 1
        values[start], values[tx], values[dec] = (timed.cpu_start_s, timed.rb_start_s,
                                                  timed.decode_end_s)
        v = np.clip((timed.decode_end_s - h.arrival_s - limit) / limit, 0, 1)
        values[violation], values[sigma] = v, (v >= 1.0)
        rb_free = np.zeros(n_rbs)
        for j, rows in enumerate(slot_rows):
            np.maximum.at(rb_free, timed.rb[rows], timed.rb_end_s[rows])
            values[rb_end[j]] = rb_free
        cpu.incumbent(values, timed)
        highs.setSolution(mdl.n_cols, np.arange(mdl.n_cols, dtype=np.int32), values)
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    info = highs.getInfo()
    elapsed = time.perf_counter() - started
    start_cost = np.nan if incumbent is None else float(incumbent.cost.sum()) + h.unserved_cost
    # stopped before the root LP, HiGHS has no bound: each request's cheapest choice alone
    alone_cost = np.where(allowed, h.static_cost + lam * alone_v, np.inf)
    bound = max(float(info.mip_dual_bound), float(alone_cost.min(axis=(1, 2)).sum()))
    bound += h.unserved_cost
    if info.primal_solution_status != 2:  # no schedule found (the start was rejected)
        if incumbent is None:
            raise RuntimeError(f"hindsight MILP: {status}, no schedule found")
        rank = np.empty(n_req, dtype=np.int64)
        rank[incumbent.order] = np.arange(n_req)
        position = rank - np.array([rank[h.slot == n].min() for n in h.slot])
        return HindsightSolution(incumbent.encoder, incumbent.rb, position, start_cost,
                                 min(bound, start_cost), status, elapsed, start_cost,
                                 int(info.mip_node_count))
    values = np.asarray(highs.getSolution().col_value)
    chosen = values[z].reshape(n_req, -1).argmax(axis=1)
    encoder, rb = np.divmod(chosen, n_rbs)
    objective = float(info.objective_function_value) + h.unserved_cost
    return HindsightSolution(
        encoder.astype(np.int64), rb.astype(np.int64), cpu.positions(values), objective,
        min(bound, objective), status, elapsed, start_cost, int(info.mip_node_count),
    )


class _CPU:
    """The extraction part of the programme. Within a slot an order binary o per pair
    (1: the first row is committed before the second) with starts consistent with it;
    across slots, starts never decrease in commit order.

    One core: C[j] >= E of the j-th slot's jobs, S >= C[j-1], and a pair of the slot
    does not overlap (big-M on o). c cores: when job i starts, at most c - 1 jobs
    committed before it are still running: b[j,i] = 1 allows S_i < E_j, and
    sum_j b[j,i] <= c - 1 (equivalent to at most c extractions at any time)."""

    def __init__(self, mdl: ArrayModel, h: Horizon, bd: _Bounds, slot_rows: list[np.ndarray],
                 start: np.ndarray, z_flat: np.ndarray,
                 t_e_flat: np.ndarray) -> None:
        self.h, self.slot_rows, self.start = h, slot_rows, start
        begin = h.slot * h.slot_duration_s
        self.order: dict[tuple[int, int], int] = {}
        self.running: dict[tuple[int, int], int] = {}

        def ends_before(i: int, j: int, relax: list[tuple[int, float]], rhs: float) -> None:
            """S_i >= S_j + t_E . z_j  +  sum coef * col  with the relaxing columns."""
            cols, coefs = zip(*relax) if relax else ((), ())
            mdl.row([start[i], start[j], *z_flat[j], *cols], [1, -1, *(-t_e_flat), *coefs], rhs)

        for rows in slot_rows:
            for a, r in enumerate(rows):
                for s in rows[a + 1:]:
                    self.order[(int(r), int(s))] = int(mdl.columns(1, 0, 1, integer=True)[0])
            for a, r in enumerate(rows):  # an order, not a cycle (ties allow one)
                for b, s in enumerate(rows[a + 1:], a + 1):
                    for t in rows[b + 1:]:
                        rs, st, rt = (self.order[(int(x), int(y))] for x, y in
                                      ((r, s), (s, t), (r, t)))
                        mdl.row([rs, st, rt], [1, 1, -1], 0, 1)
        if h.cores == 1:
            self.core_end = mdl.columns(len(slot_rows), 0, bd.ub_core_free)
            for j, rows in enumerate(slot_rows):
                for r in rows:  # C[j] >= S + t_E . z;  S >= C[j-1]
                    mdl.row([self.core_end[j], start[r], *z_flat[r]], [1, -1, *(-t_e_flat)], 0)
                    if j > 0:
                        mdl.row([start[r], self.core_end[j - 1]], [1, -1], 0)
                for (r, s), o in self._pairs(rows):
                    big = max(bd.ub_end[r], bd.ub_end[s]) - begin[r]
                    ends_before(s, r, [(o, -big)], -big)  # o = 1: r, then s
                    ends_before(r, s, [(o, big)], 0.0)  # o = 0: s, then r
            return
        first_start = np.array([begin[rows[0]] for rows in slot_rows])
        self.latest = mdl.columns(len(slot_rows), first_start,
                                  np.array([bd.ub_start[rows[0]] for rows in slot_rows]))
        budget = h.cores - 1
        for j, rows in enumerate(slot_rows):
            for r in rows:  # P[j] >= S (r in slot j) >= P[j-1]
                mdl.row([self.latest[j], start[r]], [1, -1], 0)
                if j > 0:
                    mdl.row([start[r], self.latest[j - 1]], [1, -1], 0)
            for (r, s), o in self._pairs(rows):
                big = bd.ub_start[r] - begin[r]
                mdl.row([start[s], start[r], o], [1, -1, -big], -big)  # o = 1: S_r <= S_s
                mdl.row([start[r], start[s], o], [1, -1, big], 0)  # o = 0: S_s <= S_r
            for i in rows:
                counted = []
                earlier = np.concatenate(slot_rows[:j]) if j > 0 else np.zeros(0, dtype=int)
                for e in earlier.tolist():
                    big = bd.ub_end[e] - begin[i]
                    if big <= 1e-12:
                        continue  # ended before i's boundary
                    b = int(mdl.columns(1, 0, 1, integer=True)[0])
                    self.running[(e, int(i))] = b
                    counted.append(b)
                    ends_before(int(i), e, [(b, big)], 0.0)
                for e in rows:
                    if e == i:
                        continue
                    big = bd.ub_end[e] - begin[i]
                    b = int(mdl.columns(1, 0, 1, integer=True)[0])
                    self.running[(int(e), int(i))] = b
                    counted.append(b)
                    if e < i:  # e first when o[e,i] = 1
                        o = self.order[(int(e), int(i))]
                        ends_before(int(i), int(e), [(b, big), (o, -big)], -big)
                        mdl.row([b, o], [1, -1], -np.inf, 0)  # b <= o
                    else:  # e first when o[i,e] = 0
                        o = self.order[(int(i), int(e))]
                        ends_before(int(i), int(e), [(b, big), (o, big)], 0.0)
                        mdl.row([b, o], [1, 1], -np.inf, 1)  # b <= 1 - o
                if len(counted) > budget:
                    mdl.row(counted, np.ones(len(counted)), -np.inf, budget)

    def _pairs(self, rows: np.ndarray) -> list[tuple[tuple[int, int], int]]:
        return [((int(r), int(s)), self.order[(int(r), int(s))])
                for a, r in enumerate(rows) for s in rows[a + 1:]]

    def incumbent(self, values: np.ndarray, timed: Schedule) -> None:
        """The CPU columns of a schedule timed by the engine's rules."""
        rank = np.empty(self.h.count, dtype=np.int64)
        rank[timed.order] = np.arange(self.h.count)
        for (r, s), o in self.order.items():
            values[o] = float(rank[r] < rank[s])
        if self.h.cores == 1:
            for j, rows in enumerate(self.slot_rows):
                values[self.core_end[j]] = timed.cpu_end_s[rows].max() if j == 0 else max(
                    values[self.core_end[j - 1]], timed.cpu_end_s[rows].max())
            return
        latest = 0.0
        for j, rows in enumerate(self.slot_rows):
            latest = max(latest, timed.cpu_start_s[rows].max())
            values[self.latest[j]] = latest
        for (e, i), b in self.running.items():
            values[b] = float(rank[e] < rank[i] and timed.cpu_end_s[e] > timed.cpu_start_s[i])

    def positions(self, values: np.ndarray) -> np.ndarray:
        """(R,) each request's place in its slot's CPU order, from the order binaries."""
        position = np.zeros(self.h.count, dtype=np.int64)
        for (r, s), o in self.order.items():
            if values[o] > 0.5:
                position[s] += 1
            else:
                position[r] += 1
        return position


# ------------------------------------------------------------------------ the scheduler
class HindsightScheduler(Scheduler):
    """The clairvoyant bound: one MILP over the run at :meth:`see_future`, then each
    slot's share of its schedule."""

    Params = HindsightParams
    queue_aware = True
    clairvoyant = True

    @classmethod
    def prepare(cls, params: SchedulerParams, scenario: Scenario) -> SchedulerParams:
        users = scenario.users
        if scenario.delay_model != "des":
            raise ParameterError("type", "hindsight needs delay_model: des (it schedules "
                                 "queues over the run, which only the discrete-event model has)")
        if users.queue.limit is not None or users.queue.timeout_s is not None:
            raise ParameterError("type", "hindsight needs users.queue.limit and timeout_s "
                                 "null: with losses the served requests depend on the decisions")
        if users.voluntary_drop:
            raise ParameterError("type", "hindsight needs users.voluntary_drop: false: it "
                                 "serves every waiting user at each boundary")
        if users.count > scenario.cell.n_rbs:
            raise ParameterError("type", f"hindsight needs users.count <= cell.n_rbs (got "
                                 f"{users.count} > {scenario.cell.n_rbs}): with more users "
                                 "than RBs which requests are served depends on the decisions")
        if scenario.slots > MAX_SLOTS:
            raise ParameterError("type", f"hindsight solves one MILP over the whole run: at "
                                 f"most {MAX_SLOTS} slots (got {scenario.slots})")
        return params

    def __init__(self, params: HindsightParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.objective = float("nan")
        self.bound = float("nan")
        self.solution: HindsightSolution | None = None
        self.horizon: Horizon | None = None
        self._plan: dict[int, tuple[np.ndarray, ...]] = {}

    def see_future(self, future: object) -> None:
        if not isinstance(future, Future):
            raise TypeError("hindsight needs the closed loop's Future")
        horizon = build_horizon(future)
        solution = solve_horizon(horizon, self.params.time_limit_s,
                                 myopic_schedule(horizon))
        self.horizon, self.solution = horizon, solution
        self.objective, self.bound = solution.objective, solution.bound
        self._plan = {}
        for n in np.unique(horizon.slot):
            rows = np.flatnonzero(horizon.slot == n)
            self._plan[int(n)] = (horizon.arrival_s[rows], solution.encoder[rows],
                                  solution.rb[rows], np.argsort(solution.position[rows]))

    def decide(self, problem: SchedulingProblem) -> Allocation:
        state = problem.queue
        if state is None or self.solution is None:
            raise ValueError("hindsight needs the closed loop's queue state and see_future")
        if state.slot not in self._plan:
            raise RuntimeError(f"slot {state.slot}: the engine serves requests where the "
                               "hindsight plan has none (check the scenario's queue settings)")
        arrival, encoder, rb, order = self._plan[state.slot]
        if arrival.size != state.arrival_s.size or not np.allclose(arrival, state.arrival_s):
            raise RuntimeError(f"slot {state.slot}: the engine serves other requests than "
                               "the hindsight plan (check the scenario's queue settings)")
        return Allocation.from_pairs(encoder, rb, order)
