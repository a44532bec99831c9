"""Eavesdroppers (netsim.model.leakage): one at a user's exact position and channel leaks
that user's performance; one far away leaks the profile's floor; the leakage penalty in
eq. 11 keeps every scheduler feasible (10a–10c) and the exact solvers exact (Hungarian =
ILP = brute force); its expectation over the eavesdroppers' fading matches a fine
quadrature of each law and a Monte Carlo of two eavesdroppers; the records and summary carry it; bad keys are
one line; a scenario without eavesdroppers has no leakage columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import netsim
from netsim.cli import app
from netsim.model import leakage
from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.simulation.scheduling import SchedulerParams, SchedulingProblem, check_allocation
from solvers.exact.hungarian import HungarianScheduler
from solvers.exact.ilp import ILPParams, ILPScheduler
from tests.scenario_factory import (
    PAPER,
    brute_force,
    make_scenario,
    one_line,
    paper_dict,
    write_yaml,
)

SCHEDULERS = [{"type": "hungarian", "information": "oracle"},
              {"type": "hungarian", "information": "statistical"},
              {"type": "ilp", "information": "statistical"}, "greedy", "random",
              {"type": "fixed_encoder", "encoder": "ViT-L-14"}]


def test_an_eavesdropper_at_a_users_place_and_channel_leaks_that_users_performance():
    """Without fading (the channel is the path gain and the RB's interference), an
    eavesdropper placed on user 0 hears every RB exactly as user 0 does."""
    base = make_scenario(slots=6, seeds=[0], cell={"fading": {"model": "none"}})
    user_xy = generate_world(base, 0).position_m[0, 0]
    scenario = netsim.load_scenario(base, {
        "eavesdroppers.count": 1, "eavesdroppers.positions_m": [user_xy.tolist()],
        "schedulers": SCHEDULERS})
    records = netsim.run(scenario).records
    mine = records[records["served"] & (records["user"] == 0)]
    assert len(mine) > 0
    np.testing.assert_allclose(mine["leakage"], mine["accuracy"], rtol=1e-12)
    np.testing.assert_allclose(mine["eavesdropper_snr_db"], mine["snr_db"], rtol=1e-12)


@pytest.mark.parametrize("kind", ["classify", "regenerate"])
def test_a_far_eavesdropper_leaks_the_profiles_floor(kind):
    scenario = make_scenario(task={"kind": kind})
    model = CellModel.from_scenario(scenario)
    far = np.full((1, 6), 1e-12)  # an SNR of -120 dB on every RB
    metric = leakage.performance_metric(kind)
    floor = [model.profile.values[metric][name][0] for name in model.encoders]
    np.testing.assert_allclose(leakage.leakage(model, far.max(axis=0)),
                               np.repeat(np.array(floor)[:, None], 6, axis=1))
    # and at the far edge of a real run: a cell of 600 m, the eavesdropper 100 km out
    run = netsim.run(netsim.load_scenario(scenario, {
        "slots": 4, "seeds": [0], "eavesdroppers.count": 1,
        "eavesdroppers.positions_m": [[1e5, 0.0]], "schedulers": SCHEDULERS}))
    served = run.records[run.records["served"]]
    expected = served["encoder"].map(dict(zip(model.encoders, floor)))
    np.testing.assert_allclose(served["leakage"], expected, rtol=1e-12)


@st.composite
def leaky_slots(draw):
    """One slot of a small cell with eavesdroppers and a leakage limit, its oracle cost
    tensor (leakage penalty included) and drop penalties."""
    n_users, n_rbs = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    encoders = draw(st.sampled_from([["ViT-B-32"], ["ViT-B-32", "ViT-L-14"],
                                     ["ViT-B-32", "ViT-B-16", "ViT-L-14"]]))
    scenario = make_scenario(
        users={"count": n_users, "voluntary_drop": draw(st.booleans())},
        cell={"n_rbs": n_rbs, "fading": {"model": "rayleigh", "per": "user_rb"}},
        encoders=encoders, slots=1, seeds=[0], schedulers=["random"],
        eavesdroppers={"count": draw(st.integers(1, 3))},
        limits={"max_leakage": draw(st.floats(0.05, 0.9))},
        reward={"lambda_leakage": draw(st.floats(0.0, 500.0))})
    seed = draw(st.integers(0, 2**31 - 1))
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, seed)
    snr = model.snr(world.distance_m, world.fading, world.interference_w)
    cost = model.cost(snr, world.user_cpu_hz, model.eavesdropper_snr(world, slice(None)))[0]
    penalty = np.full(n_users, scenario.users.drop_penalty)
    return model, SchedulingProblem(cost, penalty, tuple(encoders),
                                    scenario.users.voluntary_drop)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaky_slots())
def test_exact_solvers_agree_with_brute_force_with_leakage_in_the_cost(drawn):
    _model, problem = drawn
    n_users, n_enc, n_rbs = problem.shape
    hungarian = HungarianScheduler(SchedulerParams(information="oracle"),
                                   np.random.default_rng(0)).decide(problem)
    ilp = ILPScheduler(ILPParams(information="oracle"), np.random.default_rng(0)).decide(problem)
    for allocation in (hungarian, ilp):
        check_allocation(allocation, n_users, n_enc, n_rbs, problem.voluntary_drop)
    optimum = brute_force(problem)
    assert hungarian.objective(problem) == pytest.approx(optimum, rel=1e-9, abs=1e-9)
    assert ilp.objective(problem) == pytest.approx(optimum, rel=1e-7, abs=1e-7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaky_slots(), st.integers(0, 2**32 - 1))
def test_every_scheduler_keeps_10a_to_10c_with_leakage_in_the_cost(drawn, seed):
    """Every registered per-slot scheduler, on drawn cells with eavesdroppers and a
    leakage limit (U > Q and voluntary drops included)."""
    from netsim.simulation.registry import available_schedulers, scheduler_class
    from solvers.heuristics.fixed_encoder import FixedEncoderParams

    _model, problem = drawn
    n_users, n_enc, n_rbs = problem.shape
    for name in available_schedulers():
        cls = scheduler_class(name)
        if cls.uses_observation or cls.queue_aware:  # the closed-loop test below has them
            continue
        params = {"encoder": problem.encoders[-1]} if cls.Params is FixedEncoderParams else {}
        allocation = cls(cls.Params(**params), np.random.default_rng(seed)).decide(problem)
        check_allocation(allocation, n_users, n_enc, n_rbs, problem.voluntary_drop)
        assert np.isfinite(allocation.objective(problem)), name


@pytest.mark.parametrize("delay_model", ["analytic", "des"])
def test_every_scheduler_stays_feasible_and_pays_for_leakage(delay_model):
    """A tight limit and a heavy weight: each slot's allocation keeps 10a–10c (one RB per
    user, one user per RB, one encoder), and a request's reward is eq. 11's cost plus
    lambda_L v_L of its leakage."""
    schedulers = [*SCHEDULERS, "queue_greedy", "queue_milp"] if delay_model == "des" else SCHEDULERS
    scenario = make_scenario(slots=8, seeds=[0, 1], delay_model=delay_model,
                             schedulers=schedulers, eavesdroppers={"count": 2},
                             limits={"max_leakage": 0.3}, reward={"lambda_leakage": 400.0})
    run = netsim.run(scenario)
    served = run.records[run.records["served"]]
    per_slot = served.groupby(["scheduler", "seed", "slot"])
    assert (per_slot["rb"].nunique() == per_slot.size()).all()  # 10b: an RB serves one user
    assert not served.duplicated(["scheduler", "seed", "slot", "user"]).any()  # 10a
    model = CellModel.from_scenario(scenario)
    cost = (model.penalised_cost(served["task_loss"], served["total_delay_s"],
                                 served["total_energy_j"])
            + 400.0 * np.clip((served["leakage"] - 0.3) / 0.3, 0, 1))
    np.testing.assert_allclose(-served["reward"], cost, rtol=1e-9)
    np.testing.assert_allclose(served["leakage_violation"],
                               np.clip((served["leakage"] - 0.3) / 0.3, 0, 1))
    summary = run.summary.set_index("scheduler")
    assert {"mean_leakage", "leakage_violation_rate"} <= set(summary.columns)
    # the leakage-aware optimum leaks less than always sending the largest encoder
    assert summary.loc["hungarian_statistical", "mean_leakage"] < summary.loc[
        "fixed_encoder_ViT-L-14", "mean_leakage"]


@pytest.mark.parametrize("fading", [{"model": "rayleigh"}, {"model": "nakagami", "m": 3.0},
                                    {"model": "rician", "k_factor": 4.0}])
def test_the_expected_leakage_penalty_is_the_integral_over_the_fading_law(fading):
    from netsim.model.channel import power_gain_law

    scenario = make_scenario(cell={"fading": fading}, limits={"max_leakage": 0.4},
                             reward={"lambda_leakage": 1.0})
    model = CellModel.from_scenario(scenario)
    law = power_gain_law(scenario.cell.fading)
    mean_snr = np.array([[0.05, 0.5, 3.0, 40.0]])  # one eavesdropper, four RBs
    expected = leakage.expected_penalty(model, mean_snr)  # (M, Q)
    # reference: the penalty at 200,000 equal-probability points of the law (midpoint
    # rule in probability, error O(1e-5) at the penalty's kinks)
    gains = law.ppf((np.arange(200_000) + 0.5) / 200_000)
    snr = mean_snr[0][None, :] * gains[:, None]  # (N, Q)
    reference = leakage.penalty(model, leakage.leakage(model, snr)).mean(axis=0)
    np.testing.assert_allclose(expected, reference, rtol=2e-3, atol=2e-5)


def test_two_eavesdroppers_expectation_matches_monte_carlo():
    scenario = make_scenario(limits={"max_leakage": 0.4}, reward={"lambda_leakage": 1.0})
    model = CellModel.from_scenario(scenario)
    mean_snr = np.array([[0.2, 2.0, 30.0], [1.0, 0.3, 8.0]])  # (E = 2, Q = 3)
    expected = leakage.expected_penalty(model, mean_snr)
    rng = np.random.default_rng(7)
    draws = mean_snr[None] * rng.exponential(1.0, (200_000, 2, 3))
    sampled = leakage.penalty(model, leakage.leakage(model, leakage.best_snr(draws)))
    np.testing.assert_allclose(expected, sampled.mean(axis=0), atol=3e-3)


def test_without_eavesdroppers_there_are_no_leakage_columns():
    run = netsim.run(make_scenario(slots=3, seeds=[0], schedulers=["random"]))
    assert not {"leakage", "eavesdropper_snr_db"} & set(run.records.columns)
    assert "mean_leakage" not in run.summary.columns


@pytest.mark.parametrize(("changes", "message"), [
    ({"eavesdroppers": {"count": 2, "positions_m": [[100.0, 0.0]]}},
     "eavesdroppers.positions_m: lists 1 positions for 2 eavesdroppers"),
    ({"eavesdroppers": {"count": -1}}, "eavesdroppers.count: Input should be greater than"),
    ({"eavesdroppers": {"count": 1, "positions_m": [[1.0, 1.0]]}},
     "eavesdroppers.positions_m[0]: [1.0, 1.0] is closer to the BS than cell.min_distance_m"),
    ({"eavesdroppers": {"count": 1, "range_m": 5}}, "eavesdroppers.range_m: unknown key"),
    ({"limits": {"max_leakage": 1.5}}, "limits.max_leakage: Input should be less than"),
    # values that would overflow the physics
    ({"eavesdroppers": {"count": 1, "positions_m": [[1e170, 0.0]]}},
     "eavesdroppers.positions_m[0][0]: Input should be less than or equal to 1000000"),
    ({"eavesdroppers": {"count": 1, "positions_m": [[float("nan"), 100.0]]}},
     "eavesdroppers.positions_m[0][0]: Input should be a finite number"),
    ({"users": {"device": {"flops_per_s": 1e12, "joules_per_flop": 1e300}},
      "task": {"kind": "regenerate"}},
     "users.device.joules_per_flop: with the scenario's other values the user energy"),
])
def test_bad_eavesdropper_and_overflowing_values_are_one_line(tmp_path: Path, changes, message):
    data = paper_dict()
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    path = write_yaml(tmp_path / "bad.yaml", data)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in one_line(result)
    assert not (tmp_path / "out").exists()
    assert str(PAPER) != str(path)


def test_many_eavesdroppers_keep_the_expectation_in_bounded_memory():
    """The integration groups slots so that its arrays stay small whatever the number of
    eavesdroppers (300 here: about 50 MB at most, where grouping by RBs and encoders
    alone took 270 MB)."""
    import tracemalloc

    model = CellModel.from_scenario(make_scenario(limits={"max_leakage": 0.5}))
    mean_snr = np.random.default_rng(0).uniform(0.1, 10.0, (5, 300, 6))
    tracemalloc.start()
    try:
        expected = leakage.expected_penalty(model, mean_snr)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert expected.shape == (5, 3, 6) and np.isfinite(expected).all()
    assert peak < 120e6, peak
