"""The hindsight bound (solvers/exact/hindsight.py): the engine realises its objective,
it is the minimum (brute force on a tiny run), no causal scheduler beats it, and it
refuses scenarios it cannot bound."""

from __future__ import annotations

from functools import cache
from itertools import permutations, product

import numpy as np
import pytest

from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.scenario import Scenario, ScenarioError, SchedulerEntry
from netsim.simulation.closed_loop import Future
from netsim.simulation.reservations import Ledger, plan
from netsim.simulation.runner import (
    build_scheduler,
    drop_penalties,
    loop_records,
    run_closed_loop_seed,
)
from netsim.simulation.scheduling import ParameterError
from netsim.simulation.traffic import generate_traffic
from solvers.exact.hindsight import (
    HindsightScheduler,
    Horizon,
    build_horizon,
    served_requests,
)
from tests.scenario_factory import make_scenario

CAUSAL = {
    "queue_oracle": SchedulerEntry(type="queue_milp", information="oracle"),
    "queue_statistical": SchedulerEntry(type="queue_milp", information="statistical"),
    "vit_b32": SchedulerEntry(type="fixed_encoder", encoder="ViT-B-32", information="oracle"),
    "vit_l14": SchedulerEntry(type="fixed_encoder", encoder="ViT-L-14", information="oracle"),
}


def queueing(n_rbs: int, cores: int, slots: int, tau: float = 0.1, users: int = 2) -> Scenario:
    """Poisson arrivals at about one request per user per slot: the FIFOs build up."""
    return make_scenario(
        delay_model="des", slots=slots, slot_duration_s=tau, seeds=[0],
        users={"count": users, "arrivals": {"model": "poisson", "rate_per_s": 0.9 / tau}},
        cell={"n_rbs": n_rbs}, base_station={"cores": cores},
        schedulers=[{"type": "hindsight"}])


@cache
def closed_loop(users: int, n_rbs: int, cores: int, slots: int, tau: float, seed: int,
                time_limit_s: float | None = 60) -> tuple:
    """The bound and the causal schedulers on one world; total cost per scheduler."""
    scenario = queueing(n_rbs, cores, slots, tau, users)
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, seed)
    entries = {"hindsight": SchedulerEntry(type="hindsight", time_limit_s=time_limit_s),
               **CAUSAL}
    schedulers = {label: build_scheduler(e, seed, scenario) for label, e in entries.items()}
    runs = run_closed_loop_seed(model, world, seed, schedulers)
    records = {label: loop_records(model, world, run, label, seed) for label, run in runs.items()}
    total = {label: -frame["reward"].sum() for label, frame in records.items()}
    return schedulers["hindsight"], total, records


CASES = [  # (U, Q, cores, slots, tau, seed)
    (2, 2, 1, 6, 0.1, 0),
    (2, 2, 1, 6, 0.05, 3),
    (2, 3, 1, 8, 0.05, 1),
    (2, 2, 2, 8, 0.05, 0),
    (2, 3, 2, 6, 0.1, 3),
    (2, 2, 2, 8, 0.1, 1),
    (3, 3, 3, 6, 0.05, 0),
]


@pytest.mark.parametrize("case", CASES)
def test_engine_realises_the_objective(case):
    bound, total, records = closed_loop(*case)
    mine = records["hindsight"]
    assert bound.solution.status == "Optimal"
    # the FIFOs did build up: some request waited more than a slot at the BS
    assert (mine["bs_wait_s"] > case[4]).any()
    assert total["hindsight"] == pytest.approx(bound.objective, rel=1e-6)
    assert bound.bound == pytest.approx(bound.objective, rel=1e-6)
    # recomputed from the records: eq. 11 per served request, drop penalty otherwise
    users, n_rbs, cores, slots, tau, _ = case
    scenario = queueing(n_rbs, cores, slots, tau, users)
    limits, reward = scenario.limits, scenario.reward
    served = mine[mine["served"]]
    v_t = np.clip(served["total_delay_s"] / limits.max_delay_s - 1, 0, 1)
    v_e = np.clip(served["total_energy_j"] / limits.max_energy_j - 1, 0, 1)
    cost = (served["task_loss"] + reward.lambda_delay * v_t + reward.lambda_energy * v_e).sum()
    cost += scenario.users.drop_penalty * (~mine["served"]).sum()
    assert cost == pytest.approx(bound.objective, rel=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_no_causal_scheduler_beats_the_bound(case):
    bound, total, _ = closed_loop(*case)
    for label in CAUSAL:
        assert bound.bound <= total[label] * (1 + 1e-9), label


def test_hindsight_plans_across_slots():
    """Knowing the future pays on these worlds: the per-slot exact MILP, which times
    queues but not the requests to come, is beaten by more than rounding."""
    gains = [closed_loop(*case)[1]["queue_oracle"] - closed_loop(*case)[0].objective
             for case in CASES]
    assert max(gains) > 1.0


def test_time_limited_search_still_bounds():
    bound, total, _ = closed_loop(2, 3, 1, 8, 0.05, 1, time_limit_s=0.02)
    assert bound.bound <= bound.objective
    assert total["hindsight"] <= bound.objective * (1 + 1e-6)  # the engine is never later
    assert all(bound.bound <= total[label] * (1 + 1e-9) for label in CAUSAL)


def _brute_force(h: Horizon) -> float:
    """Every encoder, RB and CPU order at every boundary, timed by reservations.plan."""
    slots = [np.flatnonzero(h.slot == n) for n in np.unique(h.slot)]
    n_enc, n_rbs = h.static_cost.shape[1:]
    best = np.inf

    def visit(j: int, ledger: Ledger, so_far: float) -> None:
        nonlocal best
        if j == len(slots):
            best = min(best, so_far)
            return
        rows = slots[j]
        now = h.slot[rows[0]] * h.slot_duration_s
        for enc in product(range(n_enc), repeat=rows.size):
            for rb in permutations(range(n_rbs), rows.size):
                for order in permutations(range(rows.size)):
                    o = np.array(order)
                    r, m, q = rows[o], np.array(enc)[o], np.array(rb)[o]
                    branch = ledger.copy()
                    times = plan(branch, now, h.extraction_s[m], q, h.transmission_s[r, m, q],
                                 h.user[r], h.computing_s[r], commit=True)
                    delay = times.decode_end_s - h.arrival_s[r]
                    cost = h.static_cost[r, m, q].sum() + h.lambda_delay * np.clip(
                        (delay - h.max_delay_s) / h.max_delay_s, 0, 1).sum()
                    visit(j + 1, branch, so_far + cost)

    visit(0, Ledger.idle(h.cores, n_rbs, int(h.user.max()) + 1), 0.0)
    return best + h.unserved_cost


@pytest.mark.parametrize("cores", [1, 2])
def test_objective_is_the_brute_force_minimum(cores):
    scenario = queueing(2, cores, 4, tau=0.05)
    model = CellModel.from_scenario(scenario)
    seed = 4
    world = generate_world(scenario, seed)
    future = Future(model, world, generate_traffic(scenario, world, seed),
                    drop_penalties(scenario))
    horizon = build_horizon(future)
    assert horizon.count == 6  # two requests at each of three boundaries: 36^3 schedules
    bound = build_scheduler(SchedulerEntry(type="hindsight"), seed, scenario)
    bound.see_future(future)
    assert bound.objective == pytest.approx(_brute_force(horizon), rel=1e-9)


def test_served_requests_follow_the_fifos():
    arrival = np.array([0.0, 0.01, 0.02, 0.03, 0.25, 0.31])
    user = np.array([0, 0, 1, 0, 1, 1])
    slots, requests, left = served_requests(arrival, user, 2, 3, 0.1)
    # boundary 0: request 0; 0.1: users 0 and 1 (1, 2); 0.2: user 0 (3); 4 and 5 too late
    assert slots.tolist() == [0, 1, 1, 2]
    assert requests.tolist() == [0, 1, 2, 3]
    assert left.tolist() == [4, 5]


@pytest.mark.parametrize("updates, says", [
    ({"delay_model": "analytic"}, "delay_model"),
    ({"users": {"queue": {"limit": 2}}}, "limit"),
    ({"users": {"queue": {"timeout_s": 0.5}}}, "timeout"),
    ({"users": {"voluntary_drop": True}}, "voluntary_drop"),
    ({"users": {"count": 3}}, "n_rbs"),
    ({"slots": 51}, "50"),
])
def test_bad_scenarios_are_refused(updates, says):
    data = {"delay_model": "des", "slots": 6, "users": {"count": 2}, "cell": {"n_rbs": 2},
            **{k: v for k, v in updates.items() if k not in {"users"}}}
    data["users"] = {"count": 2, **updates.get("users", {})}
    scenario = make_scenario(**data)
    with pytest.raises(ParameterError, match=says):
        HindsightScheduler.prepare(HindsightScheduler.Params(), scenario)
    with pytest.raises(ScenarioError, match=says):
        make_scenario(**data, schedulers=[{"type": "hindsight"}])


def test_the_bound_is_an_oracle():
    with pytest.raises(ValueError, match="oracle"):
        HindsightScheduler.Params.model_validate({"information": "statistical"})
    with pytest.raises(ValueError):
        HindsightScheduler.Params.model_validate({"time_limit_s": 0})


def test_the_summary_gives_every_scheduler_its_gap_to_the_bound():
    from netsim.simulation.runner import run_scenario

    scenario = queueing(n_rbs=3, cores=1, slots=6).model_copy(update={"seeds": [0, 1]})
    scenario = scenario.model_copy(update={"schedulers": [
        SchedulerEntry(type="hindsight"), SchedulerEntry(type="random"),
        SchedulerEntry(type="fixed_encoder", encoder="ViT-B-32")]})
    summary = run_scenario(scenario).summary.set_index("scheduler")
    bound = summary["bound_reward"]
    assert bound.nunique() == 1  # one figure for the run, on every row
    # solved to optimality here: the bound is what the hindsight schedule realises
    assert summary.loc["hindsight", "mean_reward"] == pytest.approx(bound.iloc[0], rel=1e-9)
    assert (summary["mean_reward"] <= bound.iloc[0] + 1e-9).all()
    assert (summary["gap_to_bound_pct"] >= -1e-7).all()
