"""Benchmarks of the core: exact solvers per slot and simulated slots per second.

Part 1 times one slot's decision of the exact schedulers (Hungarian, and the PuLP + HiGHS
ILP in a child process with a wall-clock limit) on real cost tensors of the system model,
U = Q users and RBs, the three encoders of ``scenarios/paper.yaml``.

Part 2 times the runner: ``run_scenario`` as the product runs it (the scenario's own
scheduler plus the two reference schedulers) and the core loop alone
(``schedule_seed`` + ``request_records`` for one oracle Hungarian scheduler).

    python benchmarks/bench_core.py [--quick] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from netsim.loading import load_scenario
from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.scenario import Scenario, SchedulerEntry
from netsim.simulation.runner import build_scheduler, request_records, run_scenario, schedule_seed
from netsim.simulation.scheduling import SchedulerParams, SchedulingProblem
from solvers.exact.hungarian import HungarianScheduler
from solvers.exact.ilp import ILPParams, ILPScheduler

PAPER_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "paper.yaml"
ORACLE_HUNGARIAN = SchedulerEntry(type="hungarian", information="oracle")
OBJECTIVE_RTOL = 1e-6


@dataclass(frozen=True)
class Plan:
    """What to measure: sizes, repetitions and runner cases (full or --quick)."""

    exact_sizes: tuple[int, ...]
    ilp_sizes: tuple[int, ...]
    hungarian_repeats: int
    ilp_timeout_s: float
    runner_cases: tuple[tuple[int, int, str, int], ...]
    """(users, RBs, delay model, slots)."""


FULL = Plan(
    exact_sizes=(10, 100, 1000),
    ilp_sizes=(10, 100, 1000),
    hungarian_repeats=7,
    ilp_timeout_s=60.0,
    runner_cases=(
        (5, 6, "analytic", 5000),
        (5, 6, "des", 5000),
        (100, 100, "analytic", 100),
        (100, 100, "des", 100),
    ),
)
QUICK = Plan(
    exact_sizes=(10, 100),
    ilp_sizes=(10, 100),
    hungarian_repeats=3,
    ilp_timeout_s=20.0,
    runner_cases=(
        (5, 6, "analytic", 500),
        (5, 6, "des", 500),
        (100, 100, "analytic", 20),
        (100, 100, "des", 20),
    ),
)


# --------------------------------------------------------------------------- setup
def machine_info() -> dict[str, str]:
    """Platform, CPU count and the versions of the numerical packages."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": str(os.cpu_count())}
    for package in ("numpy", "scipy", "pulp", "highspy", "simpy", "pandas"):
        info[package] = version(package)
    return info


def resized(base: Scenario, users: int, rbs: int, slots: int, **update) -> Scenario:
    """``base`` with U users, Q RBs and ``slots`` slots (plus any top-level update)."""
    return base.model_copy(
        update={
            "users": base.users.model_copy(update={"count": users}),
            "cell": base.cell.model_copy(update={"n_rbs": rbs}),
            "slots": slots,
            **update,
        }
    )


def cell_model(scenario: Scenario) -> CellModel:
    return CellModel.from_scenario(scenario)


def slot_problem(size: int, seed: int = 0, fading_per: str = "user") -> SchedulingProblem:
    """Slot 0 of ``paper.yaml`` resized to U = Q = ``size``: the realised cost (U, M, Q).

    ``fading_per="user_rb"`` draws frequency-selective fading (one gain per user and RB)."""
    base = load_scenario(PAPER_SCENARIO)
    cell = base.cell.model_copy(update={"fading": base.cell.fading.model_copy(
        update={"per": fading_per})})
    scenario = resized(base.model_copy(update={"cell": cell}), size, size, slots=1)
    model = cell_model(scenario)
    world = generate_world(scenario, seed)
    snr = model.snr(world.distance_m[:1], world.fading[:1], world.interference_w[:1])
    cost = model.cost(snr, world.user_cpu_hz)[0]
    return SchedulingProblem(
        cost=cost,
        drop_penalty=np.full(size, float(scenario.users.drop_penalty)),
        encoders=tuple(scenario.encoders),
        voluntary_drop=scenario.users.voluntary_drop,
    )


def shuffled(problem: SchedulingProblem) -> SchedulingProblem:
    """The same cost values in random positions: no user x RB structure left."""
    cost = np.random.default_rng(0).permutation(problem.cost.ravel()).reshape(problem.cost.shape)
    return SchedulingProblem(cost, problem.drop_penalty, problem.encoders, problem.voluntary_drop)


# ------------------------------------------------------------------- exact solvers
def time_hungarian(problem: SchedulingProblem, repeats: int) -> tuple[float, float]:
    """Median decision time (ms) over ``repeats`` runs, and the objective reached."""
    scheduler = HungarianScheduler(SchedulerParams(information="oracle"), np.random.default_rng(0))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        allocation = scheduler.decide(problem)
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times), allocation.objective(problem)


def _ilp_child(size: int, formulation: str, conn) -> None:
    """Child process: build the problem, report 'ready', then time one ILP decision.

    For the PuLP (full) formulation the solver's ``actualSolve`` (PuLP -> HiGHS transfer
    and the solve) is wrapped so the parent learns when the PuLP model is built and how
    the time splits; the array-built (best_encoder) one reports its total only."""
    problem = slot_problem(size)
    scheduler = ILPScheduler(ILPParams(information="oracle", formulation=formulation),
                             np.random.default_rng(0))
    marks: dict[str, float] = {}
    if formulation == "full":
        solve = scheduler.solver.actualSolve

        def timed_solve(lp, **kwargs):
            marks["solve_start"] = time.perf_counter()
            conn.send(("built", marks["solve_start"] - marks["start"]))
            status = solve(lp, **kwargs)
            marks["solve_end"] = time.perf_counter()
            return status

        scheduler.solver.actualSolve = timed_solve
    conn.send(("ready",))
    marks["start"] = time.perf_counter()
    allocation = scheduler.decide(problem)
    total = time.perf_counter() - marks["start"]
    solver_s = marks["solve_end"] - marks["solve_start"] if "solve_end" in marks else None
    conn.send(("done", total, solver_s, allocation.objective(problem)))


def time_ilp(size: int, timeout_s: float, formulation: str = "best_encoder") -> dict:
    """One ILP decision at U = Q = ``size`` in a child process, killed after
    ``timeout_s`` (counted from the moment its problem is ready)."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_ilp_child, args=(size, formulation, child), daemon=True)
    process.start()
    child.close()
    result: dict = {"status": "failed", "built": False}
    deadline = None
    try:
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if not parent.poll(wait):
                result["status"] = "timeout"
                break
            message = parent.recv()
            if message[0] == "ready":
                deadline = time.perf_counter() + timeout_s
            elif message[0] == "built":
                result.update(built=True, build_s=message[1])
            elif message[0] == "done":
                result.update(status="solved", total_s=message[1], solver_s=message[2],
                              objective=message[3])
                break
    except EOFError:  # the child died (error or out of memory)
        result["status"] = "failed"
    finally:
        process.kill()
        process.join()
    return result


def ilp_cell(result: dict, timeout_s: float) -> str:
    """A human-readable ILP time for the table."""
    if result["status"] == "solved":
        return f"{result['total_s']:.3f} s"
    if result["status"] == "timeout":
        stage = ("in HiGHS transfer/solve" if result["built"] else
                 "PuLP still building" if result.get("formulation") == "full" else "in HiGHS")
        return f"> {timeout_s:.0f} s (not solved; {stage})"
    return "failed (child process died)"


def bench_exact(plan: Plan) -> list[dict]:
    """Per size: Hungarian median time and, where asked, one ILP run checked against it."""
    rows = []
    for size in plan.exact_sizes:
        problem = slot_problem(size)
        hung_ms, hung_obj = time_hungarian(problem, plan.hungarian_repeats)
        row = {"U=Q": size, "binaries": size * problem.shape[1] * size,
               "hungarian_ms": hung_ms,
               "hungarian_ms_rb_fading": time_hungarian(
                   slot_problem(size, fading_per="user_rb"), plan.hungarian_repeats)[0],
               "hungarian_ms_shuffled": time_hungarian(
                   shuffled(problem), plan.hungarian_repeats)[0],
               "hungarian_objective": hung_obj}
        if size in plan.ilp_sizes:
            full = time_ilp(size, plan.ilp_timeout_s, "full") | {"formulation": "full"}
            row["ilp_full"] = ilp_cell(full, plan.ilp_timeout_s)
            ilp = time_ilp(size, plan.ilp_timeout_s)
            row["ilp"] = ilp_cell(ilp, plan.ilp_timeout_s)
            row["ilp_build_s"] = full.get("build_s")
            row["ilp_solver_s"] = full.get("solver_s")
            row["ilp_total_s"] = ilp.get("total_s")
            if ilp["status"] == "solved":
                gap = abs(ilp["objective"] - hung_obj) / max(1.0, abs(hung_obj))
                row["ilp_objective"] = ilp["objective"]
                row["ilp_matches"] = "yes" if gap <= OBJECTIVE_RTOL else f"NO (rel {gap:.2e})"
        else:
            row["ilp"] = "skipped"
        rows.append(row)
    return rows


# -------------------------------------------------------------------------- runner
def time_run_scenario(scenario: Scenario) -> float:
    """Seconds for ``run_scenario`` on seed 0: the whole product path."""
    started = time.perf_counter()
    run_scenario(scenario, seeds=[0])
    return time.perf_counter() - started


def time_core_loop(scenario: Scenario) -> float:
    """Seconds for ``schedule_seed`` + ``request_records`` with one oracle Hungarian
    scheduler (model and world built beforehand, not timed)."""
    model = cell_model(scenario)
    world = generate_world(scenario, 0)
    schedulers = {"hungarian": build_scheduler(ORACLE_HUNGARIAN, 0, scenario)}
    started = time.perf_counter()
    runs = schedule_seed(model, world, schedulers)
    request_records(model, world, runs["hungarian"], 0)
    return time.perf_counter() - started


def bench_runner(plan: Plan) -> list[dict]:
    """Slots per second of ``run_scenario`` and of the core loop, per case."""
    base = load_scenario(PAPER_SCENARIO)
    time_run_scenario(resized(base, 5, 6, 2, schedulers=[ORACLE_HUNGARIAN]))  # warm-up
    rows = []
    for users, rbs, delay_model, slots in plan.runner_cases:
        scenario = resized(base, users, rbs, slots, delay_model=delay_model,
                           schedulers=[ORACLE_HUNGARIAN])
        full_s = time_run_scenario(scenario)
        core_s = time_core_loop(scenario)
        rows.append({"U": users, "Q": rbs, "delay_model": delay_model, "slots": slots,
                     "run_scenario_s": full_s, "run_scenario_slots_per_s": slots / full_s,
                     "core_s": core_s, "core_slots_per_s": slots / core_s})
    return rows


# -------------------------------------------------------------------------- output
def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1e4:
            return f"{value:.0f}"
        return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.3g}"
    return str(value)


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    """A plain fixed-width table of ``columns`` of ``rows``."""
    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def write_csv(path: Path, exact: list[dict], runner: list[dict], info: dict) -> None:
    """One CSV holding both parts (column ``part``) and the machine info on every row."""
    rows = [{"part": "exact", **r} for r in exact] + [{"part": "runner", **r} for r in runner]
    rows = [{**r, **info} for r in rows]
    columns = list(dict.fromkeys(key for r in rows for key in r))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few slots (under ~30 s; no U=1000)")
    parser.add_argument("--out", type=Path, metavar="FILE.csv", help="also write a CSV")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    info = machine_info()
    print("bench_core" + (" --quick" if args.quick else ""))
    for key, value in info.items():
        print(f"  {key:9s} {value}")

    exact = bench_exact(plan)
    print_table(
        f"Exact solvers, one slot, U = Q, M = 3 (paper.yaml costs, seed 0); Hungarian: "
        f"median of {plan.hungarian_repeats}; ILP: one run each, best-encoder x[u, q] "
        f"built as arrays for HiGHS (ilp) and full x[u, m, q] through PuLP + HiGHS "
        f"(ilp_full), limit {plan.ilp_timeout_s:.0f} s",
        exact,
        ["U=Q", "binaries", "hungarian_ms", "hungarian_ms_rb_fading", "hungarian_ms_shuffled",
         "ilp", "ilp_full", "ilp_build_s", "ilp_solver_s", "hungarian_objective", "ilp_objective",
         "ilp_matches"],
    )
    print("  hungarian_ms: paper.yaml (flat fading: every user ranks the RBs alike);"
          " _rb_fading: per-RB fading; _shuffled: the same costs in random positions")
    print("  ilp_build_s, ilp_solver_s: the full form's PuLP model construction, and its "
          "PuLP -> HiGHS transfer + solve; ilp_matches: |ILP - Hungarian| <= 1e-6 relative "
          "(best-encoder form)")

    runner = bench_runner(plan)
    print_table(
        "Runner, seed 0; run_scenario = hungarian oracle, which is also the oracle reference,"
        " + the statistical reference (expected cost over 64 fading quantiles);"
        " core = schedule_seed + request_records, 1 oracle Hungarian",
        runner,
        ["U", "Q", "delay_model", "slots", "run_scenario_s", "run_scenario_slots_per_s",
         "core_s", "core_slots_per_s"],
    )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    itself = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: this process {itself:.0f} MiB, largest ILP child {children:.0f} MiB")
    if args.out:
        write_csv(args.out, exact, runner, info)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
