"""Benchmarks of the closed loop (outside the test run).

Part 1: simulated slots per second of the closed-loop DES engine at U = 5
(``scenarios/paper.yaml`` under ``delay_model: des``, one oracle Hungarian scheduler),
beside the analytic engine on the same scenario (``schedule_seed`` + ``request_records``).

Part 2: the queue-aware per-slot MILP (``solvers/exact/queue_milp.py``), ms per slot on
the states a closed loop meets at U = Q = 5, 10, 20 (Poisson traffic near capacity, one
core, short slots; states recorded while ``queue_greedy`` runs the loop), oracle and
statistical; and the heuristic ``queue_greedy``'s time and its gap to the MILP on the
same states.

    python benchmarks/bench_queue.py [--slots N] [--sizes 5,10] [--states N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from netsim.loading import load_scenario
from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.scenario import SchedulerEntry
from netsim.simulation.closed_loop import ClosedLoop
from netsim.simulation.queue_cost import decision_cost
from netsim.simulation.runner import (
    build_scheduler,
    drop_penalties,
    request_records,
    schedule_seed,
)
from netsim.simulation.traffic import generate_traffic
from solvers.exact.queue_milp import solve_slot

PAPER = Path(__file__).resolve().parent.parent / "scenarios" / "paper.yaml"


def scenario_with(**updates):
    base = load_scenario(PAPER)
    data = base.model_dump(mode="json")
    data["schedulers"] = [{"type": "hungarian", "information": "oracle"}]
    data.pop("sweep")
    for key, value in updates.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    from netsim.loading import parse_scenario

    return parse_scenario(data, "bench", PAPER.parent)


def engine_rates(slots: int, repeats: int) -> None:
    des = scenario_with(delay_model="des", slots=slots)
    analytic = scenario_with(slots=slots)
    model = CellModel.from_scenario(des)
    analytic_model = CellModel.from_scenario(analytic)  # its records have no queue columns
    world = generate_world(des, 0)
    traffic = generate_traffic(des, world, 0)
    entry = SchedulerEntry(type="hungarian", information="oracle")
    closed, open_ = [], []
    for _ in range(repeats):  # interleaved, medians reported
        scheduler = build_scheduler(entry, 0, des)
        started = time.perf_counter()
        ClosedLoop(model, world, traffic, scheduler, drop_penalties(des)).run()
        closed.append(slots / (time.perf_counter() - started))
        scheduler = build_scheduler(entry, 0, analytic)
        started = time.perf_counter()
        runs = schedule_seed(analytic_model, world, {"h": scheduler})
        request_records(analytic_model, world, runs["h"], 0)
        open_.append(slots / (time.perf_counter() - started))
    print(f"engine, U = 5, {slots} slots, oracle Hungarian, median of {repeats}: "
          f"closed-loop DES {statistics.median(closed):,.0f} slots/s; "
          f"analytic {statistics.median(open_):,.0f} slots/s")


def recorded_states(n_users: int, information: str, count: int, full: bool):
    """States met by the closed loop at U = Q = n_users, 1 core. full: every user requests
    every 1 s slot (paper.yaml's traffic: every slot a full decision on an idle CPU);
    else Poisson traffic at 4 requests/s per user with slots of 50 ms (few users a slot,
    work carried over)."""
    traffic = ({"model": "bernoulli", "probability": 1.0} if full
               else {"model": "poisson", "rate_per_s": 4.0})
    scenario = scenario_with(**{
        "delay_model": "des", "slots": count + 1, "slot_duration_s": 1.0 if full else 0.05,
        "users.count": n_users, "cell.n_rbs": n_users, "users.arrivals": traffic,
    })
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, 1)
    traffic = generate_traffic(scenario, world, 1)
    scheduler = build_scheduler(SchedulerEntry(type="queue_greedy", information=information),
                                0, scenario)
    seen = []
    decide = scheduler.decide

    def recording(problem):
        allocation = decide(problem)
        seen.append((problem, allocation))
        return allocation

    scheduler.decide = recording  # type: ignore[method-assign]
    ClosedLoop(model, world, traffic, scheduler, drop_penalties(scenario)).run()
    return seen[:count]


def solver_table(sizes: list[int], count: int) -> None:
    print("| U = Q | traffic | information | states | MILP ms/slot (median, max) | queue_greedy ms/slot "
          "| greedy gap to MILP (mean, max) | slots greedy optimal |")
    print("|---|---|---|---|---|---|---|---|")
    for n_users, full, information in [(n, f, i) for n in sizes for f in (True, False)
                                       for i in ("oracle", "statistical")]:
        if True:
            states = recorded_states(n_users, information, count, full)
            milp_ms, greedy_ms, gaps = [], [], []
            from solvers.heuristics.queue_greedy import QueueGreedyScheduler

            greedy = QueueGreedyScheduler(QueueGreedyScheduler.Params(information=information),
                                          np.random.default_rng(0))
            for problem, _ in states:
                state = problem.queue
                started = time.perf_counter()
                allocation, _ = solve_slot(problem, state)
                milp_ms.append(1e3 * (time.perf_counter() - started))
                started = time.perf_counter()
                heuristic = greedy.decide(problem)
                greedy_ms.append(1e3 * (time.perf_counter() - started))
                best = decision_cost(state, allocation, problem.drop_penalty)
                mine = decision_cost(state, heuristic, problem.drop_penalty)
                gaps.append(100.0 * (mine / best - 1.0))
            gaps_a = np.array(gaps)
            kind = "every user, 1 s slots" if full else "Poisson, 50 ms slots"
            print(f"| {n_users} | {kind} | {information} | {len(states)} | "
                  f"{statistics.median(milp_ms):.1f}, {max(milp_ms):.0f} | "
                  f"{statistics.median(greedy_ms):.2f} | {gaps_a.mean():.2f} %, "
                  f"{gaps_a.max():.1f} % | {np.mean(gaps_a < 1e-9):.0%} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="5,10")
    parser.add_argument("--states", type=int, default=40)
    args = parser.parse_args()
    engine_rates(args.slots, args.repeats)
    solver_table([int(s) for s in args.sizes.split(",")], args.states)


if __name__ == "__main__":
    main()
