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

from typing import Annotated, Literal

import numpy as np
import pulp
from pydantic import Field

from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.exact.highs import quiet_highs


class ILPParams(SchedulerParams):
    solver: Literal["auto", "highs", "cbc"] = "auto"
    time_limit_s: Annotated[float, Field(gt=0)] | None = None
    """Stop the solver after this long; a slot it has not solved by then is an error."""

MIP_GAP = 1e-9
"""Absolute and relative MIP gap the ILP's solver stops at."""
HIGHS_TOLERANCES = {"mip_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
"""HiGHS options (its defaults: 1e-6 and 1e-7)."""


def make_solver(name: str, time_limit_s: float | None) -> pulp.LpSolver:
    """A quiet PuLP solver: HiGHS in process if asked or available, else bundled CBC.
    Both stop only at a proven optimum (MIP gaps ``MIP_GAP``): their defaults (HiGHS
    1e-6 absolute, 1e-4 relative) let a slot's allocation miss it by that much. HiGHS
    also runs at tight feasibility tolerances (``HIGHS_TOLERANCES``), so that costs as
    small as 1e-7 still order allocations as they do for the Hungarian scheduler."""
    if name in {"auto", "highs"}:
        highs = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapAbs=MIP_GAP, gapRel=MIP_GAP,
                           **HIGHS_TOLERANCES)
        if highs.available():
            quiet_highs()  # HiGHS's banner, shown by its first instance, goes nowhere
            return highs
        if name == "highs":
            raise RuntimeError("pulp.HiGHS is not available: pip install highspy")
    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapAbs=MIP_GAP, gapRel=MIP_GAP)


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
        index = np.arange(n_users * n_enc * n_rbs).reshape(n_users, n_enc, n_rbs)
        x = [model.add_variable(f"x_{u}_{m}_{q}", cat=pulp.LpBinary)
             for u, m, q in np.ndindex(n_users, n_enc, n_rbs)]
        y = [model.add_variable(f"y_{u}", cat=pulp.LpBinary) for u in range(n_users)]
        cost = problem.cost.ravel().tolist()
        model += pulp.LpAffineExpression(
            list(zip(x, cost)) + list(zip(y, problem.drop_penalty.tolist()))
        )
        for u in range(n_users):  # 10a, 10b: one (encoder, RB) or dropped
            model += pulp.lpSum([x[i] for i in index[u].ravel()] + [y[u]]) == 1
        for q in range(n_rbs):  # 10c: an RB serves at most one user
            model += pulp.lpSum(x[i] for i in index[:, :, q].ravel()) <= 1
        if not problem.voluntary_drop:
            model += pulp.lpSum(y) == max(0, n_users - n_rbs)
        status = model.solve(self.solver)
        if pulp.LpStatus[status] != "Optimal":
            raise RuntimeError(f"ILP solver ended with status {pulp.LpStatus[status]}")
        chosen = np.array([(v.varValue or 0.0) > 0.5 for v in x]).reshape(index.shape)
        encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        users, encs, rbs = np.nonzero(chosen)
        encoder[users], rb[users] = encs, rbs
        return Allocation.from_pairs(encoder, rb)
