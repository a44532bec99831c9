"""Schedulers: exactness (ILP = Hungarian = brute force), feasibility (10a–10c), and the
ordering oracle <= statistical <= random in expected cost."""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.simulation.registry import available_schedulers, scheduler_class
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    InfeasibleAllocation,
    SchedulerParams,
    SchedulingProblem,
    check_allocation,
)
from solvers.exact.hungarian import HungarianScheduler
from solvers.exact.ilp import ILPParams, ILPScheduler
from solvers.heuristics.fixed_encoder import FixedEncoderParams
from solvers.heuristics.random_choice import RandomScheduler
from tests.scenario_factory import brute_force, make_scenario

ENCODERS = ("ViT-B-32", "ViT-B-16", "ViT-L-14")


@st.composite
def problems(draw, max_users=4, max_encoders=3, max_rbs=4):
    n_users = draw(st.integers(1, max_users))
    n_enc = draw(st.integers(1, max_encoders))
    n_rbs = draw(st.integers(1, max_rbs))
    values = st.floats(0.0, 20.0, allow_nan=False, allow_infinity=False)
    cost = draw(arrays(float, (n_users, n_enc, n_rbs), elements=values))
    penalty = draw(arrays(float, (n_users,), elements=st.floats(0.1, 20.0)))
    voluntary = draw(st.booleans())
    return SchedulingProblem(cost, penalty, ENCODERS[:n_enc], voluntary)


def hungarian(information="oracle") -> HungarianScheduler:
    return HungarianScheduler(SchedulerParams(information=information), np.random.default_rng(0))


ILP = ILPScheduler(ILPParams(information="oracle"), np.random.default_rng(0))
ILP_FULL = ILPScheduler(ILPParams(information="oracle", formulation="full"),
                        np.random.default_rng(0))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
@example(SchedulingProblem(  # solver defaults (1e-6 absolute gap) stopped 1.2e-7 above it
    np.array([[[0.0, 1.1920929e-07, 1.1920929e-07]], [[1.1920929e-07] * 3]]),
    np.array([1.0, 1.0]), ("ViT-B-32",), False))
@example(SchedulingProblem(  # the interior point method ended "Unknown" on this LP
    np.array([[[0.0, 5.96046448e-08]], [[5.96046448e-08, 5.96046448e-08]]]),
    np.array([1.0, 1.0]), ("ViT-B-32",), False))
def test_ilp_equals_hungarian_equals_brute_force(problem):
    n_users, n_enc, n_rbs = problem.shape
    h = hungarian().decide(problem)
    i, full = ILP.decide(problem), ILP_FULL.decide(problem)
    for allocation in (h, i, full):
        check_allocation(allocation, n_users, n_enc, n_rbs, problem.voluntary_drop)
    optimum = brute_force(problem)
    assert h.objective(problem) == pytest.approx(optimum, rel=1e-9, abs=1e-9)
    assert i.objective(problem) == pytest.approx(optimum, rel=1e-7, abs=1e-7)
    assert full.objective(problem) == pytest.approx(optimum, rel=1e-7, abs=1e-7)


def test_the_ilp_hands_a_solution_off_a_vertex_to_the_mip_solver(monkeypatch):
    """The best-encoder ILP solves its LP relaxation (integral at every vertex); were the
    solution not integral, HiGHS's MIP solver would finish the slot. Forced here by a
    negative tolerance: the MIP solver runs, and reaches the same optimum."""
    from solvers.exact import ilp as ilp_module

    solves = []
    real_solve = ilp_module._solve
    monkeypatch.setattr(ilp_module, "_solve", lambda highs, **options: solves.append(
        highs.getLp().integrality_) or real_solve(highs, **options))
    monkeypatch.setattr(ilp_module, "INTEGRALITY_TOLERANCE", -1.0)
    rng = np.random.default_rng(3)
    problem = SchedulingProblem(rng.uniform(0.0, 5.0, (6, 3, 4)), np.full(6, 8.0),
                                ("ViT-B-32", "ViT-B-16", "ViT-L-14"), False)
    objective = ILP.decide(problem).objective(problem)
    assert len(solves) == 2
    assert all(t == highspy.HighsVarType.kInteger for t in solves[1])
    assert objective == pytest.approx(brute_force(problem), rel=1e-9)


def all_schedulers(problem: SchedulingProblem, seed: int):
    for name in available_schedulers():
        cls = scheduler_class(name)
        if cls.uses_observation:  # acts on a SlotObservation: tested in test_rl.py
            continue
        if cls.queue_aware:  # acts on the closed loop's state: tested in test_closed_loop.py
            continue
        params = {"encoder": problem.encoders[-1]} if cls.Params is FixedEncoderParams else {}
        yield name, cls(cls.Params(**params), np.random.default_rng(seed))


@settings(max_examples=60, deadline=None)
@given(problems(max_users=7, max_rbs=5), st.integers(0, 2**32 - 1))
def test_every_scheduler_allocation_is_feasible(problem, seed):
    """10a–10c hold, including U > Q, for every registered scheduler."""
    n_users, n_enc, n_rbs = problem.shape
    for name, scheduler in all_schedulers(problem, seed):
        allocation = scheduler.decide(problem)
        check_allocation(allocation, n_users, n_enc, n_rbs, problem.voluntary_drop)
        assert np.isfinite(allocation.objective(problem)), name


def test_drops_go_to_the_users_with_the_smallest_penalty():
    cost = np.zeros((3, 1, 1))  # three users, one RB: two must be dropped
    problem = SchedulingProblem(cost, np.array([1.0, 5.0, 2.0]), ENCODERS[:1])
    allocation = hungarian().decide(problem)
    np.testing.assert_array_equal(allocation.rb, [NOT_SERVED, 0, NOT_SERVED])
    assert allocation.objective(problem) == 3.0


def test_voluntary_drop_leaves_a_costly_user_out():
    cost = np.array([[[1.0, 50.0]], [[50.0, 40.0]]])
    strict = SchedulingProblem(cost, np.array([10.0, 10.0]), ENCODERS[:1], False)
    free = SchedulingProblem(cost, np.array([10.0, 10.0]), ENCODERS[:1], True)
    assert hungarian().decide(strict).served.all()
    np.testing.assert_array_equal(hungarian().decide(free).rb, [0, NOT_SERVED])


def test_check_allocation_rejects_a_shared_rb():
    with pytest.raises(InfeasibleAllocation):
        check_allocation(Allocation.from_pairs([0, 1], [2, 2]), 2, 3, 4, False)
    with pytest.raises(InfeasibleAllocation):  # an RB left idle while a user waits
        check_allocation(Allocation.from_pairs([0, -1], [2, -1]), 2, 3, 4, False)
    with pytest.raises(InfeasibleAllocation):
        check_allocation(Allocation.from_pairs([3, 0], [0, 1]), 2, 3, 4, False)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 6))
def test_oracle_beats_statistical_beats_random_in_expectation(seed, n_users, n_rbs):
    scenario = make_scenario(users={"count": n_users}, cell={"n_rbs": n_rbs}, slots=1)
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, seed)
    distance, interference, cpu = world.distance_m[0], world.interference_w[0], world.user_cpu_hz
    penalty = np.full(n_users, scenario.users.drop_penalty)
    encoders = tuple(scenario.encoders)

    expected = SchedulingProblem(model.expected_cost(distance, interference, cpu), penalty,
                                 encoders)
    statistical = hungarian("statistical").decide(expected)
    random = RandomScheduler(SchedulerParams(), np.random.default_rng(seed)).decide(expected)
    assert statistical.objective(expected) <= random.objective(expected) + 1e-9

    # Fading realisations: the oracle re-optimises each one, the statistical plan is fixed.
    fading = np.random.default_rng(seed).exponential(1.0, (200, n_users))
    snr = model.snr(np.broadcast_to(distance, fading.shape), fading, interference)
    realised = model.cost(snr, cpu)
    oracle_total = statistical_total = 0.0
    for cost in realised:
        problem = SchedulingProblem(cost, penalty, encoders)
        oracle_total += hungarian().decide(problem).objective(problem)
        statistical_total += statistical.objective(problem)
    assert oracle_total <= statistical_total + 1e-9


def test_a_listed_scheduler_equal_to_a_reference_is_not_run_again(monkeypatch):
    """`schedulers: [hungarian]` is the statistical reference once its default
    (information: statistical) is filled in: the Hungarian solver runs twice per slot
    (that scheduler and the oracle reference), not three times, and the reference's
    records are the scheduler's."""
    from netsim.simulation.runner import run_scenario
    from solvers.exact.hungarian import HungarianScheduler

    calls = []
    decide = HungarianScheduler.decide
    monkeypatch.setattr(HungarianScheduler, "decide",
                        lambda self, problem: calls.append(1) or decide(self, problem))
    scenario = make_scenario(slots=4, seeds=[0], schedulers=["hungarian"],
                             users={"arrivals": {"probability": 1.0}})
    result = run_scenario(scenario)
    assert len(calls) == 2 * 4
    records = result.records.set_index("scheduler")
    own = records.loc["hungarian"].reset_index(drop=True)
    reference = records.loc["reference:statistical_optimum"].reset_index(drop=True)
    pd.testing.assert_frame_equal(own, reference)


def test_check_allocation_wants_integer_indices():
    """A scheduler's float decision is refused in one line, not indexed later."""
    with pytest.raises(InfeasibleAllocation, match="integer arrays"):
        check_allocation(Allocation(np.array([0.0, 1.0]), np.array([2, 3])), 2, 3, 4, False)
    with pytest.raises(InfeasibleAllocation, match="cpu_order"):
        check_allocation(Allocation.from_pairs([0, 1], [2, 3], [0, 0]), 2, 3, 4, False)
    check_allocation(Allocation.from_pairs([0, 1], [2, 3], [1, 0]), 2, 3, 4, False)
