"""Integer linear programme of paper eq. 10 over x[u, m, q], solved with PuLP.

    min  sum c[u,m,q] x[u,m,q] + sum p[u] y[u]
    s.t. sum_{m,q} x[u,m,q] + y[u] = 1      for every user   (10a, 10b; y: dropped)
         sum_{u,m} x[u,m,q]        <= 1      for every RB     (10c)
         sum_u y[u]                 = max(0, U - Q)   (unless drops are voluntary)
         x, y binary

Solver: HiGHS through ``pulp.HiGHS`` (highspy, in process) where available, else the
CBC binary bundled with PuLP.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pulp

from netsim.scheduling import NOT_SERVED, Allocation, Scheduler, SchedulerParams, SchedulingProblem


class ILPParams(SchedulerParams):
    solver: Literal["auto", "highs", "cbc"] = "auto"
    time_limit_s: float | None = None


def make_solver(name: str, time_limit_s: float | None) -> pulp.LpSolver:
    """A quiet PuLP solver: HiGHS in process if asked or available, else bundled CBC."""
    if name in {"auto", "highs"}:
        highs = pulp.HiGHS(msg=False, timeLimit=time_limit_s)
        if highs.available():
            return highs
        if name == "highs":
            raise RuntimeError("pulp.HiGHS is not available: pip install highspy")
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)


class ILPScheduler(Scheduler):
    """Exact ILP; same optimum as the Hungarian scheduler, kept as an independent check
    and as the form that takes extra linear constraints."""

    Params = ILPParams

    def __init__(self, params: ILPParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.solver = make_solver(params.solver, params.time_limit_s)

    def decide(self, problem: SchedulingProblem) -> Allocation:
        n_users, n_enc, n_rbs = problem.shape
        model = pulp.LpProblem("slot", pulp.LpMinimize)
        x = [
            [[pulp.LpVariable(f"x_{u}_{m}_{q}", cat="Binary") for q in range(n_rbs)]
             for m in range(n_enc)]
            for u in range(n_users)
        ]
        y = [pulp.LpVariable(f"y_{u}", cat="Binary") for u in range(n_users)]
        cost, penalty = problem.cost, problem.drop_penalty
        model += pulp.lpSum(
            float(cost[u, m, q]) * x[u][m][q]
            for u in range(n_users) for m in range(n_enc) for q in range(n_rbs)
        ) + pulp.lpSum(float(penalty[u]) * y[u] for u in range(n_users))
        for u in range(n_users):
            model += pulp.lpSum(x[u][m][q] for m in range(n_enc) for q in range(n_rbs)) + y[u] == 1
        for q in range(n_rbs):
            model += pulp.lpSum(x[u][m][q] for u in range(n_users) for m in range(n_enc)) <= 1
        if not problem.voluntary_drop:
            model += pulp.lpSum(y) == max(0, n_users - n_rbs)
        status = model.solve(self.solver)
        if pulp.LpStatus[status] != "Optimal":
            raise RuntimeError(f"ILP solver ended with status {pulp.LpStatus[status]}")
        values = np.array(
            [[[x[u][m][q].varValue or 0.0 for q in range(n_rbs)] for m in range(n_enc)]
             for u in range(n_users)]
        )
        chosen = values > 0.5
        encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        users, encs, rbs = np.nonzero(chosen)
        encoder[users], rb[users] = encs, rbs
        return Allocation.from_pairs(encoder, rb)
