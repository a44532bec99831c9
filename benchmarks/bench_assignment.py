"""Issue 12's yardsticks, measured: every exact assignment solver on the same matrices,
and the statistical reference's expected-cost computation, exact against quadrature.

Part 1: one slot of ``scenarios/paper.yaml`` resized to U = Q (seed 0, slot 0; the cost
of each user's best encoder per RB, as the Hungarian scheduler sees it), three kinds of
matrix: flat fading (the paper's: every user ranks the RBs alike), fading per (user,
RB), and the same values shuffled (no structure). Solvers: scipy's
``linear_sum_assignment`` as it is, netsim's ``min_cost_assignment`` (the same solver
warm-started by sampled column prices where the users rank the RBs alike; what the
Hungarian scheduler runs), the best-encoder ILP (HiGHS, LP relaxation
with crossover, netsim's ``ilp``), and, where ``ortools`` is importable, OR-Tools'
``SimpleLinearSumAssignment`` on costs rounded to integers at two scales (it takes
integer costs only; it is not a netsim dependency: it pins protobuf below 6.34). Each
row is one solver on one matrix; ``excess`` is its assignment's float cost minus
plain scipy's, the optimum.

Part 2: the expected cost of every (user, encoder, RB) over one seed's slots, as
``netsim run`` computes it for the statistical schedulers (table built per set of
devices, then looked up): ``statistical.expectation: exact`` against ``quantiles``
(64 equal-probability points), and the largest relative error of each against the exact
integral computed directly.

Part 3: what that changes in the statistical optimum's decisions, scored by the exact
expected cost and by the realised cost.

    python benchmarks/bench_assignment.py [--sizes 100 1000] [--repeats 5] [--no-ilp]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import PAPER_SCENARIO, resized, shuffled, slot_problem

from netsim.loading import load_scenario
from netsim.model import expectation
from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.simulation.scheduling import SchedulerParams, SchedulingProblem
from solvers.assignment import min_cost_assignment
from solvers.common import best_encoder, reduced_costs
from solvers.exact.hungarian import HungarianScheduler
from solvers.exact.ilp import ILPParams, ILPScheduler

try:
    from ortools.graph.python import linear_sum_assignment as ortools_lsa
except ImportError:  # optional: only measured where installed
    ortools_lsa = None


def reduced_matrix(problem) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The matrix netsim's Hungarian scheduler hands to scipy (solvers.common.assign_rbs)."""
    return reduced_costs(best_encoder(problem.cost)[0], problem.drop_penalty,
                         problem.voluntary_drop)


def columns(solve, matrix: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Each row's column in ``solve``'s assignment: scipy's ``linear_sum_assignment`` as
    it is, or netsim's ``min_cost_assignment`` (what the Hungarian scheduler runs)."""
    rows, cols = solve(matrix)
    out = np.empty(matrix.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def ortools_columns(matrix: np.ndarray, scale: float) -> np.ndarray:
    """OR-Tools on costs rounded to integers at ``scale`` (square matrices)."""
    n = matrix.shape[0]
    solver = ortools_lsa.SimpleLinearSumAssignment()
    costs = np.rint((matrix - matrix.min()) * scale).astype(np.int64)
    solver.add_arcs_with_cost(np.repeat(np.arange(n), n), np.tile(np.arange(n), n),
                              costs.ravel())
    if solver.solve() != solver.OPTIMAL:
        raise RuntimeError("OR-Tools did not solve the assignment")
    return np.array([solver.right_mate(i) for i in range(n)])


def timed(solve, repeats: int) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = solve()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def bench_solvers(sizes: list[int], repeats: int, ilp: bool) -> None:
    print("| matrix | U = Q | solver | time (median) | objective | excess over the optimum |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        flat = slot_problem(size)
        problems = {"flat fading": flat, "fading per RB": slot_problem(size, fading_per="user_rb"),
                    "shuffled": shuffled(flat)}
        for kind, problem in problems.items():
            matrix = reduced_matrix(problem)
            rows = np.arange(size)
            seconds, cols = timed(lambda m=matrix: columns(linear_sum_assignment, m), repeats)
            optimum = matrix[rows, cols].sum()
            results = [("scipy linear_sum_assignment", seconds, optimum)]
            seconds, cols = timed(lambda m=matrix: columns(min_cost_assignment, m), repeats)
            results.append(("netsim: scipy, warm-started", seconds, matrix[rows, cols].sum()))
            hungarian = HungarianScheduler(SchedulerParams(information="oracle"),
                                           np.random.default_rng(0))
            seconds, allocation = timed(lambda p=problem, h=hungarian: h.decide(p), repeats)
            results.append(("netsim hungarian scheduler (whole decision)", seconds,
                            matrix[rows, allocation.rb].sum()))
            if ortools_lsa is not None:
                for scale in (1e6, 1e9):
                    seconds, cols = timed(lambda m=matrix, s=scale: ortools_columns(m, s),
                                          repeats)
                    results.append((f"OR-Tools, costs x {scale:.0e} rounded", seconds,
                                    matrix[rows, cols].sum()))
            if ilp and (size <= 100 or kind == "flat fading"):
                scheduler = ILPScheduler(ILPParams(information="oracle"),
                                         np.random.default_rng(0))
                seconds, allocation = timed(lambda p=problem, s=scheduler: s.decide(p),
                                            repeats if size <= 100 else 1)
                cols = allocation.rb
                results.append(("ILP (HiGHS, best encoder)", seconds,
                                matrix[rows, cols].sum()))
            for name, seconds, objective in results:
                print(f"| {kind} | {size} | {name} | {seconds * 1e3:,.1f} ms | "
                      f"{objective:.9f} | {objective - optimum:.1e} |", flush=True)


def bench_expected_cost(sizes: list[int], slots: int) -> None:
    base = load_scenario(PAPER_SCENARIO)
    print("\n| U = Q | expectation | first slot (table built) | per slot after | "
          f"whole run ({slots} slots) | max relative error |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        for how in ("exact", "quantiles"):
            scenario = resized(base, size, size, slots=slots)
            scenario = scenario.model_copy(update={"statistical": scenario.statistical
                                                   .model_copy(update={"expectation": how})})
            model = CellModel.from_scenario(scenario)
            world = generate_world(scenario, 0)
            started = time.perf_counter()
            first = model.expected_cost(world.distance_m[:1], world.interference_w[:1],
                                        world.user_cpu_hz)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            model.expected_cost(world.distance_m[1:], world.interference_w[1:],
                                world.user_cpu_hz)
            rest_s = time.perf_counter() - started
            mean_snr = model.snr(world.distance_m[:1], 1.0, world.interference_w[:1])
            exact = expectation.expected_cost(model, mean_snr, world.user_cpu_hz)
            error = np.max(np.abs(first - exact) / np.abs(exact))
            print(f"| {size} | {how} | {first_s:.3f} s | {rest_s / (slots - 1) * 1e3:.2f} ms | "
                  f"{first_s + rest_s:.2f} s | {error:.1e} |", flush=True)


def bench_decisions(cases: list[tuple[int, int, int]]) -> None:
    """What the exact expected cost changes in the statistical optimum's decisions: on
    paper.yaml's cell resized to U users, the Hungarian assignment of each slot on the
    exact expected cost and on the 64-point one, both scored by the exact expected cost
    and by the realised cost of the slot's fading draw."""
    base = load_scenario(PAPER_SCENARIO)
    print("\n| U × Q | slots | decisions differ | exact expected cost per request: "
          "exact / quantile decisions | realised cost per request: exact / quantile |")
    print("|---|---|---|---|---|")
    for users, slots, seeds in cases:
        rbs = users + 1 if users == 5 else users
        scenario = resized(base, users, rbs, slots=slots)
        models = {how: CellModel.from_scenario(scenario.model_copy(update={
            "statistical": scenario.statistical.model_copy(update={"expectation": how})}))
            for how in ("exact", "quantiles")}
        penalty = np.full(users, float(scenario.users.drop_penalty))
        hungarian = HungarianScheduler(SchedulerParams(), np.random.default_rng(0))
        problem = functools.partial(SchedulingProblem, drop_penalty=penalty,
                                    encoders=tuple(scenario.encoders),
                                    voluntary_drop=scenario.users.voluntary_drop)
        totals = {how: np.zeros(2) for how in models}
        differ = 0
        for seed in range(seeds):
            world = generate_world(scenario, seed)
            costs = {how: model.expected_cost(world.distance_m, world.interference_w,
                                              world.user_cpu_hz) for how, model in models.items()}
            exact = models["exact"]
            realised = exact.cost(exact.snr(world.distance_m, world.fading,
                                            world.interference_w), world.user_cpu_hz)
            for slot in range(slots):
                chosen = {how: hungarian.decide(problem(cost[slot]))
                          for how, cost in costs.items()}
                for how, allocation in chosen.items():
                    totals[how] += (allocation.objective(problem(costs["exact"][slot])),
                                    allocation.objective(problem(realised[slot])))
                differ += not (np.array_equal(chosen["exact"].rb, chosen["quantiles"].rb)
                               and np.array_equal(chosen["exact"].encoder,
                                                  chosen["quantiles"].encoder))
        n = slots * seeds * users
        e, q = totals["exact"] / n, totals["quantiles"] / n
        print(f"| {users} × {rbs} | {slots * seeds} | {differ / (slots * seeds):.0%} | "
              f"{e[0]:.4f} / {q[0]:.4f} ({q[0] / e[0] - 1:+.2%}) | "
              f"{e[1]:.4f} / {q[1]:.4f} ({q[1] / e[1] - 1:+.2%}) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slots", type=int, default=200)
    parser.add_argument("--no-ilp", action="store_true", help="leave the ILP out")
    args = parser.parse_args()
    bench_solvers(args.sizes, args.repeats, not args.no_ilp)
    bench_expected_cost([5, *args.sizes[:1]], args.slots)
    bench_decisions([(5, 200, 10), (50, 40, 5)])


if __name__ == "__main__":
    main()
