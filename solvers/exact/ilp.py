"""Integer linear programme of paper eq. 10, in two formulations.

``formulation: best_encoder`` (the default): an RB's choice of encoder affects no other
user, so each (user, RB) keeps its cheapest encoder, c[u, q] = min_m c[u, m, q], and

    min  sum c[u,q] x[u,q] + sum p[u] y[u]
    s.t. sum_q x[u,q] + y[u] = 1            for every user   (10a, 10b; y: dropped)
         sum_u x[u,q]        <= 1           for every RB     (10c)
         sum_u y[u]           = max(0, U - Q)   (unless drops are voluntary)
         x, y binary

built as arrays and handed to HiGHS (highspy) in one piece: a third of the binaries of
the full form (three encoders) and no per-variable modelling objects. Its constraint
matrix is the incidence matrix of a bipartite graph (every column has one 1 in a user's
row and one in an RB's row or the drop row), hence totally unimodular: every vertex of
its LP relaxation is integral. So it is solved as that LP, by HiGHS's interior point
method with crossover to a vertex (at U = Q = 1000 HiGHS's MIP solver had not finished
its root LP after 300 s), and the solution's integrality is checked; a vertex the
crossover did not reach is handed to the MIP solver.

``formulation: full``: the same programme over x[u, m, q] written with PuLP, the
readable form that takes extra linear constraints; solved by HiGHS through
``pulp.HiGHS`` (in process) where available, else the CBC binary bundled with PuLP.

Both solve to a proven optimum (gaps 1e-9): the Hungarian scheduler's objective.
"""

from __future__ import annotations

from typing import Annotated, Literal

import highspy
import numpy as np
import pulp
from pydantic import Field

from netsim.scenario import Scenario
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    ParameterError,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.common import allocation_from_rbs, best_encoder
from solvers.exact.highs import ArrayModel, quiet_highs


class ILPParams(SchedulerParams):
    formulation: Literal["best_encoder", "full"] = "best_encoder"
    """best_encoder: x[u, q] built as arrays for HiGHS; full: x[u, m, q] through PuLP."""
    solver: Literal["auto", "highs", "cbc"] = "auto"
    """The full formulation's solver through PuLP (best_encoder always uses HiGHS)."""
    time_limit_s: Annotated[float, Field(gt=0)] | None = None
    """Stop the solver after this long; a slot it has not solved by then is an error."""

MIP_GAP = 1e-9
"""Absolute and relative MIP gap the ILP's solver stops at."""
HIGHS_TOLERANCES = {"mip_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
"""HiGHS options (its defaults: 1e-6 and 1e-7)."""
ASSIGNMENT_OPTIONS = {"presolve": "off", "solver": "ipm", "run_crossover": "on",
                      "mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False}
"""For the best-encoder form (totally unimodular, module docstring): its LP relaxation by
interior point with crossover to a vertex; presolve and, should the MIP solver be
needed, primal heuristics (the feasibility jump HiGHS runs before the root LP among
them) only cost time."""
INTEGRALITY_TOLERANCE = 1e-9
"""How far from 0 or 1 a vertex's value may be to count as integral."""


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


def _solve(highs: highspy.Highs, may_fail: bool = False) -> np.ndarray | None:
    """Run HiGHS on its model; the column values of the proven optimum (None, with
    ``may_fail``, if it did not prove one)."""
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    if status != "Optimal":
        if may_fail:
            return None
        raise RuntimeError(f"ILP solver ended with status {status}")
    return np.asarray(highs.getSolution().col_value)


class ILPScheduler(Scheduler):
    """Exact ILP (module docstring); same optimum as the Hungarian scheduler, kept as an
    independent check and as the form that takes extra linear constraints."""

    Params = ILPParams

    @classmethod
    def prepare(cls, params: ILPParams, scenario: Scenario) -> ILPParams:
        """``solver`` picks PuLP's solver, so it only means something for the full form:
        set with the default form it is refused rather than ignored."""
        if "solver" in params.model_fields_set and params.formulation != "full":
            raise ParameterError("solver", "chooses PuLP's solver for formulation: full; "
                                 "the default best_encoder form always uses HiGHS "
                                 "(add formulation: full to use it)")
        return params

    def __init__(self, params: ILPParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.solver = (make_solver(params.solver, params.time_limit_s)
                       if params.formulation == "full" else None)  # best_encoder: highspy

    def decide(self, problem: SchedulingProblem) -> Allocation:
        if self.params.formulation == "best_encoder":
            return self._decide_best_encoder(problem)
        return self._decide_full(problem)

    def _decide_best_encoder(self, problem: SchedulingProblem) -> Allocation:
        n_users, _, n_rbs = problem.shape
        cost_uq, encoder_uq = best_encoder(problem.cost)
        model = ArrayModel()
        x = model.columns((n_users, n_rbs), 0.0, 1.0, cost_uq)  # binary: integral vertices
        y = model.columns(n_users, 0.0, 1.0, problem.drop_penalty)
        for u in range(n_users):  # 10a, 10b: one RB (with its best encoder) or dropped
            model.row(np.append(x[u], y[u]), np.ones(n_rbs + 1), 1.0, 1.0)
        for q in range(n_rbs):  # 10c: an RB serves at most one user
            model.row(x[:, q], np.ones(n_users), upper=1.0)
        if not problem.voluntary_drop:
            dropped = float(max(0, n_users - n_rbs))
            model.row(y, np.ones(n_users), dropped, dropped)
        highs = model.highs({"mip_rel_gap": MIP_GAP, "mip_abs_gap": MIP_GAP,
                             **HIGHS_TOLERANCES, **ASSIGNMENT_OPTIONS},
                            self.params.time_limit_s)
        values = _solve(highs, may_fail=True)
        if values is None or np.any(np.minimum(values, 1.0 - values) > INTEGRALITY_TOLERANCE):
            # off a vertex, or the interior point method stalled (it can on a tiny,
            # degenerate LP: costs of 6e-8 ended "Unknown"): HiGHS's MIP solver, whose
            # relaxations are solved by simplex, finishes the slot
            highs.setOptionValue("solver", "choose")
            highs.changeColsIntegrality(model.n_cols, np.arange(model.n_cols, dtype=np.int32),
                                        np.full(model.n_cols, highspy.HighsVarType.kInteger))
            values = _solve(highs)
        chosen = values[x] > 0.5  # (U, Q)
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        users, rbs = np.nonzero(chosen)
        rb[users] = rbs
        return allocation_from_rbs(rb, encoder_uq)

    def _decide_full(self, problem: SchedulingProblem) -> Allocation:
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
