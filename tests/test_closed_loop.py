"""The closed loop: schedulers inside the discrete-event simulation (DESIGN §2)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from netsim.model import channel, transmission
from netsim.model.cost import CellModel
from netsim.model.expectation import Rayleigh, integration_rules
from netsim.model.world import generate_world
from netsim.simulation.air_time import FadedAirTime, NodeAirTime, RealisedAirTime
from netsim.simulation.closed_loop import SERVED, ClosedLoop, SlotSource
from netsim.simulation.engine import simulate_requests
from netsim.simulation.queue_cost import RunningCost, decision_cost, row_costs
from netsim.simulation.runner import build_scheduler, drop_penalties, loop_records
from netsim.simulation.scheduling import Allocation, QueueState, SchedulingProblem
from netsim.simulation.traffic import generate_traffic, poisson_arrivals
from solvers.exact.enumeration import enumerate_slot
from solvers.exact.queue_milp import encoder_multisets, lattice_child, solve_slot
from tests.scenario_factory import make_scenario


def _loop(scenario, entry: dict, seed: int = 0, record: list | None = None):
    """Run one scheduler in the closed loop; optionally record every problem it saw."""
    from netsim.scenario import SchedulerEntry

    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, seed)
    traffic = generate_traffic(scenario, world, seed)
    scheduler = build_scheduler(SchedulerEntry(**entry), seed, scenario)
    if record is not None:
        decide = scheduler.decide

        def recording(problem):
            allocation = decide(problem)
            record.append((problem, allocation))
            return allocation

        scheduler.decide = recording  # type: ignore[method-assign]
    result = ClosedLoop(model, world, traffic, scheduler, drop_penalties(scenario)).run()
    return model, world, result


def _busy(**updates):
    """Five users on one or two cores with slots shorter than the work they bring."""
    base = {"delay_model": "des", "slots": 12, "slot_duration_s": 0.08, "seeds": [0],
            "schedulers": ["random"]}
    base.update(updates)
    return make_scenario(**base)


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_fixed_decisions_give_the_same_timeline_closed_and_open_loop(cores):
    scenario = _busy(base_station={"cores": cores})
    _, _, result = _loop(scenario, {"type": "random"})
    served = np.flatnonzero(result.outcome == SERVED)
    assert served.size > 20
    # the open loop replays the decisions in commit order: slot, then CPU order
    order = served[np.lexsort((served, result.planned[0, served], result.slot[served]))]
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, 0)
    user, rb = result.traffic.user[order], result.rb[order]
    service = (model.extraction_delay_s[result.encoder[order]],
               result.stamps[4, order] - result.stamps[3, order],
               model.computing_delay_s(world.user_cpu_hz)[user])
    open_loop = simulate_requests(result.slot[order] * scenario.slot_duration_s, user, rb,
                                  *service, scenario.users.count, scenario.cell.n_rbs, cores)
    closed = result.stamps[1:, order]
    np.testing.assert_allclose(np.array(open_loop.stamps()[1:]), closed, rtol=0, atol=1e-12)
    # and the engine's ledger predicted exactly what SimPy then did
    np.testing.assert_allclose(result.planned[:, order], closed, rtol=0, atol=1e-12)
    # contention happened: some request waited for a core or an RB
    assert np.max(closed[0] - result.slot[order] * scenario.slot_duration_s) > 0.01


def test_littles_law_holds_on_a_poisson_run():
    scenario = _busy(users={"arrivals": {"model": "poisson", "rate_per_s": 6.0}},
                     slots=200, slot_duration_s=0.05)
    _, _, result = _loop(scenario, {"type": "fixed_encoder", "encoder": "ViT-B-16"})
    sojourn = result.left_s - result.traffic.arrival_s
    assert np.all(sojourn >= 0)
    horizon = result.end_s - 0.0
    mean_in_system = result.time_in_system_area / horizon  # L, from the event counts
    arrival_rate = result.traffic.count / horizon  # lambda
    assert mean_in_system == pytest.approx(arrival_rate * sojourn.mean(), rel=1e-9)


def test_poisson_traffic_has_the_rate_and_exponential_gaps():
    rng = np.random.default_rng(7)
    traffic = poisson_arrivals(2.5, 4, 4000.0, rng)
    counts = np.bincount(traffic.user, minlength=4)
    # counts: Poisson(rate x horizon) each; a two-sided 99.9 % check of all four
    low, high = stats.poisson.ppf([0.0005, 0.9995], 2.5 * 4000.0)
    assert np.all((counts >= low) & (counts <= high)), counts
    gaps = np.diff(traffic.arrival_s[traffic.user == 0])
    assert stats.kstest(gaps, "expon", args=(0, 1 / 2.5)).pvalue > 0.001
    assert np.all(np.diff(traffic.arrival_s) >= 0)


def test_slotted_queue_matches_the_pollaczek_khinchine_wait():
    """One user, one RB, Poisson arrivals at rate lambda, one request served per slot of
    tau: the number waiting at slot boundaries is the M/D/1 embedded chain with service
    tau, so the mean wait from arrival to the boundary that serves a request is the
    Pollaczek-Khinchine M/D/1 wait rho tau / (2 (1 - rho)) plus half a slot (arrivals
    are uniform within a slot), rho = lambda tau."""
    tau, rho = 0.1, 0.7
    means = []
    for seed in range(8):
        scenario = make_scenario(
            delay_model="des", slots=3000, slot_duration_s=tau, seeds=[seed],
            users={"count": 1, "arrivals": {"model": "poisson", "rate_per_s": rho / tau}},
            cell={"n_rbs": 1}, schedulers=["random"])
        model, world, result = _loop(scenario, {"type": "fixed_encoder",
                                                "encoder": "ViT-B-32"}, seed)
        records = loop_records(model, world, result, "x", seed)
        served = records[records["served"]]
        assert (records["outcome"] != "unserved").mean() > 0.99
        means.append(served["bs_wait_s"].mean())
    theory = tau / 2 + rho * tau / (2 * (1 - rho))
    half = stats.t.ppf(0.995, len(means) - 1) * np.std(means, ddof=1) / np.sqrt(len(means))
    assert abs(np.mean(means) - theory) < max(half, 1e-3), (np.mean(means), theory, half)


def test_queue_limit_and_timeout_count_their_losses():
    scenario = _busy(users={"arrivals": {"model": "poisson", "rate_per_s": 40.0},
                            "queue": {"limit": 3, "timeout_s": 0.1}}, slots=60)
    model, world, result = _loop(scenario, {"type": "fixed_encoder", "encoder": "ViT-L-14"})
    records = loop_records(model, world, result, "x", 0)
    outcome = records["outcome"].value_counts()
    assert outcome.get("blocked", 0) > 0 and outcome.get("expired", 0) > 0
    lost = records[~records["served"]]
    penalty = drop_penalties(scenario)[lost["user"]]
    np.testing.assert_allclose(lost["reward"], -penalty)
    served = records[records["served"]]
    assert (served["bs_wait_s"] <= 0.1 + 1e-12).all()
    assert len(records) == result.traffic.count  # every request accounted for


def test_timeout_zero_is_the_analytic_models_drop():
    scenario = _busy(users={"count": 5, "queue": {"timeout_s": 0.0}}, cell={"n_rbs": 3},
                     slot_duration_s=1.0, slots=6)
    model, world, result = _loop(scenario, {"type": "hungarian", "information": "oracle"})
    records = loop_records(model, world, result, "x", 0)
    per_slot = records.groupby("slot")["served"].sum()
    assert (per_slot == 3).all()
    lost = records[~records["served"]]
    # a request not served at its boundary is lost (expired) at the next one; after the
    # last boundary the ones left are counted as unserved
    arrival_slot = np.round(lost["arrival_s"] / scenario.slot_duration_s).astype(int)
    expired = lost["outcome"] == "expired"
    assert (lost.loc[~expired, "outcome"] == "unserved").all()
    assert (lost.loc[expired, "slot"] == arrival_slot[expired] + 1).all()
    assert (arrival_slot[~expired] == scenario.slots - 1).all()


# ------------------------------------------------------------------ queue-aware MILP
@st.composite
def tiny_states(draw):
    """A slot with 1-3 waiting users, 2 encoders, RBs and cores busy from earlier slots,
    transmission times realised (oracle), at fading nodes or Rayleigh-faded (statistical)."""
    n_users = draw(st.integers(1, 3))
    n_rbs = draw(st.integers(1, 3))
    cores = draw(st.integers(1, 2))
    knowledge = draw(st.sampled_from(["realised", "nodes", "faded"]))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    now = 1.0
    times = lambda *shape: rng.choice([0.0, 0.02, 0.05, 0.12], size=shape)
    if knowledge == "faded":  # a feature of 8 or 16 kbit on RBs of 0 to 30 dB mean SNR
        air_time = FadedAirTime(10.0 ** rng.uniform(0.0, 3.0, (n_users, n_rbs)),
                                np.array([8192.0, 16384.0]), 1.8e5, Rayleigh())
    elif knowledge == "nodes":
        air_time = NodeAirTime(rng.uniform(0.005, 0.25, (3, n_users, 2, n_rbs)))
    else:
        air_time = RealisedAirTime(rng.uniform(0.005, 0.25, (n_users, 2, n_rbs)))
    state = QueueState(
        now_s=now, slot=10, core_free_s=now + times(cores) * rng.integers(0, 2, cores),
        rb_free_s=now + times(n_rbs) * rng.integers(0, 2, n_rbs),
        device_free_s=now + times(n_users), arrival_s=now - rng.uniform(0, 0.15, n_users),
        queue_length=np.ones(n_users, dtype=int), extraction_s=np.array([0.01, 0.06]),
        computing_s=rng.uniform(0.01, 0.05, n_users),
        static_cost=rng.uniform(0.5, 3.0, (n_users, 2, n_rbs)),
        air_time=air_time,
        max_delay_s=0.2, lambda_delay=float(rng.choice([1.0, 10.0, 100.0])))
    voluntary = draw(st.booleans())
    problem = SchedulingProblem(np.zeros((n_users, 2, n_rbs)),
                                rng.uniform(2.0, 20.0, n_users), ("a", "b"), voluntary,
                                None, state)
    return problem


@settings(max_examples=60, deadline=None)
@given(tiny_states())
def test_queue_milp_equals_brute_force(problem):
    state = problem.queue
    allocation, objective = solve_slot(problem, state)
    _, best = enumerate_slot(problem, state)
    realised = decision_cost(state, allocation, problem.drop_penalty)
    assert realised == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert objective == pytest.approx(best, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(tiny_states(), st.integers(0, 2**32 - 1))
def test_costs_priced_one_row_at_a_time_are_row_costs_bit_for_bit(problem, seed):
    """The RL environment's running cost (each served row priced as it is added, after
    those before it) gives every row exactly row_costs' number for the allocation so far."""
    state, rng = problem.queue, np.random.default_rng(seed)
    n_users, _, n_rbs = state.static_cost.shape
    if isinstance(state.air_time, NodeAirTime):  # as many fading nodes as netsim's
        # quantile rule uses (64), and delays mostly between T_max and 2 T_max, where the
        # penalty is not clipped
        state = dataclasses.replace(
            state, air_time=NodeAirTime(rng.uniform(0.1, 0.3, (64, n_users, 2, n_rbs))))
    served = rng.permutation(n_users)[:min(n_users, n_rbs)]
    rbs = rng.permutation(n_rbs)[:served.size]
    encoders = rng.integers(0, 2, served.size)
    running = RunningCost(state)
    for k, (row, encoder, rb) in enumerate(zip(served, encoders, rbs)):
        encoder_of, rb_of = np.full(n_users, -1), np.full(n_users, -1)
        encoder_of[served[:k + 1]], rb_of[served[:k + 1]] = encoders[:k + 1], rbs[:k + 1]
        partial = Allocation(encoder_of, rb_of, cpu_order=served[:k + 1])
        assert running.add(int(row), int(encoder), int(rb)) == row_costs(state, partial)[row]


@pytest.mark.parametrize(("n", "fading"), [
    (70, {"model": "rayleigh"}), (6, {"model": "nakagami", "m": 1.5}),
    (6, {"model": "rician", "k_factor": 4.0}), (40, {"model": "nakagami", "m": 0.7})])
def test_a_request_priced_alone_has_its_bits_in_a_slot_of_many(n, fading):
    """Beyond the 64 penalties integrated one at a time (Rayleigh), a slot's rows are
    priced in chunks, and under other laws each bin's nodes are summed in the same order
    however many rows share it, so the RL environment's running cost still equals
    row_costs bit for bit."""
    rng = np.random.default_rng(3)
    law = integration_rules(make_scenario(cell={"fading": fading}).cell.fading)
    state = QueueState(
        now_s=1.0, slot=10, core_free_s=np.full(2, 1.05), rb_free_s=1.0 + rng.uniform(0, 0.1, n),
        device_free_s=1.0 + rng.uniform(0, 0.2, n), arrival_s=1.0 - rng.uniform(0, 0.15, n),
        queue_length=np.ones(n, dtype=int), extraction_s=np.array([0.001, 0.004]),
        computing_s=rng.uniform(0.01, 0.05, n), static_cost=rng.uniform(0.5, 3.0, (n, 2, n)),
        air_time=FadedAirTime(10.0 ** rng.uniform(-1.0, 3.0, (n, n)),
                              np.array([8192.0, 16384.0]), 1.8e5, law),
        max_delay_s=0.2, lambda_delay=100.0)
    order, rbs, encoders = rng.permutation(n), rng.permutation(n), rng.integers(0, 2, n)
    running = RunningCost(state)
    alone = [running.add(int(r), int(m), int(q)) for r, m, q in zip(order, encoders, rbs)]
    encoder_of, rb_of = np.empty(n, dtype=int), np.empty(n, dtype=int)
    encoder_of[order], rb_of[order] = encoders, rbs
    together = row_costs(state, Allocation(encoder_of, rb_of, cpu_order=order))
    assert alone == together[order].tolist()


@pytest.mark.parametrize("updates", [
    {}, {"eavesdroppers": {"count": 2}, "limits": {"max_leakage": 0.3}},
    {"limits": {"max_energy_j": 6.0}, "cell": {"tx_power_w": 2.0}}])
def test_the_timing_free_cost_priced_one_request_at_a_time_is_the_table(updates):
    """Under exact Rayleigh expectations the RL environment prices the timing-free cost
    of each request it serves alone, on Python floats (SlotSource.expected_static_one):
    within 1e-12 of the whole table the statistical schedulers read (the energy penalty
    binding for many elements under a tight limit; the leakage penalty added)."""
    scenario = make_scenario(delay_model="des", slots=30, **updates)
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, 4)
    source = SlotSource(model, world, statistical=False, observation=True)
    source.load(0)
    assert source.prices_one
    users = np.array([3, 0, 4])  # rows of a problem: a subset, in any order
    n_enc, n_rbs = len(model.encoders), scenario.cell.n_rbs
    binding = 0
    for offset in (0, 7, 29):
        _, table = source.expected_static(offset)
        price = source.expected_static_one(offset, users)
        one = np.array([[[price(row, m, q) for q in range(n_rbs)] for m in range(n_enc)]
                        for row in range(users.size)])
        np.testing.assert_allclose(one, table[users], rtol=1e-12, atol=0.0)
        energy = table[users] - model._exact_loss_table().lookup(
            channel.linear_to_db(source.mean_snr[offset][users]))
        binding += int(np.count_nonzero(energy > 1e-3))
    assert binding > 0 or not updates.get("limits", {}).get("max_energy_j")


def test_a_state_priced_one_request_at_a_time_gives_row_costs_its_bits():
    """A QueueState without the table (static_one instead) prices rows in row_costs and
    in the running cost alike."""
    rng = np.random.default_rng(5)
    n = 4
    static = rng.uniform(0.5, 3.0, (n, 2, n))
    state = QueueState(
        now_s=1.0, slot=10, core_free_s=np.full(1, 1.02), rb_free_s=1.0 + rng.uniform(0, 0.1, n),
        device_free_s=1.0 + rng.uniform(0, 0.2, n), arrival_s=1.0 - rng.uniform(0, 0.15, n),
        queue_length=np.ones(n, dtype=int), extraction_s=np.array([0.001, 0.004]),
        computing_s=rng.uniform(0.01, 0.05, n), static_cost=None,
        air_time=RealisedAirTime(rng.uniform(0.01, 0.2, (n, 2, n))), max_delay_s=0.2,
        lambda_delay=100.0, static_one=lambda row, m, q: float(static[row, m, q]))
    with_table = dataclasses.replace(state, static_cost=static, static_one=None)
    order, rbs, encoders = rng.permutation(n), rng.permutation(n), rng.integers(0, 2, n)
    allocation = Allocation(np.empty(n, dtype=int), np.empty(n, dtype=int), cpu_order=order)
    allocation.encoder[order], allocation.rb[order] = encoders, rbs
    running = RunningCost(state)
    alone = [running.add(int(r), int(m), int(q)) for r, m, q in zip(order, encoders, rbs)]
    assert alone == row_costs(state, allocation)[order].tolist()
    assert alone == row_costs(with_table, allocation)[order].tolist()


def test_only_exact_rayleigh_prices_one_request_at_a_time():
    """Elsewhere (other laws, the quantile rule) the environment reads the table."""
    for updates in ({"cell": {"fading": {"model": "nakagami", "m": 2.0}}},
                    {"statistical": {"expectation": "quantiles"}},
                    {"transmission": {"mode": "analog"}}):
        scenario = make_scenario(delay_model="des", slots=3, **updates)
        model = CellModel.from_scenario(scenario)
        assert model.expected_static_one(np.full(5, 1.5e9)) is None


def test_a_nan_in_the_state_prices_alone_as_in_row_costs():
    """A NaN device backlog (what a NaN air time upstream would leave) makes both the
    running cost and row_costs NaN: the one-request pricing keeps numpy's NaN rules."""
    state = QueueState(
        now_s=1.0, slot=10, core_free_s=np.array([1.0]), rb_free_s=np.array([1.0]),
        device_free_s=np.array([np.nan]), arrival_s=np.array([0.5]),
        queue_length=np.array([1]), extraction_s=np.array([0.01]),
        computing_s=np.array([0.02]), static_cost=np.zeros((1, 1, 1)),
        air_time=RealisedAirTime(np.full((1, 1, 1), 0.03)), max_delay_s=0.2,
        lambda_delay=100.0)
    allocation = Allocation(np.array([0]), np.array([0]), cpu_order=np.array([0]))
    with np.errstate(invalid="ignore"):
        assert np.isnan(RunningCost(state).add(0, 0, 0))
        assert np.isnan(row_costs(state, allocation)[0])


def test_the_loop_refuses_traffic_out_of_arrival_order():
    scenario = make_scenario(delay_model="des", slots=5)
    model = CellModel.from_scenario(scenario)
    world = generate_world(scenario, 0)
    traffic = generate_traffic(scenario, world, 0)
    shuffled = dataclasses.replace(traffic, arrival_s=traffic.arrival_s[::-1].copy())
    scheduler = build_scheduler(scenario.schedulers[0], 0, scenario)
    with pytest.raises(ValueError, match="sorted by arrival time"):
        ClosedLoop(model, world, shuffled, scheduler, drop_penalties(scenario))


def test_the_fading_nodes_tend_to_the_exact_delay_penalty():
    """A transmission's expected delay penalty, queueing included, over the law's
    equal-probability nodes converges to the exact integral as the nodes multiply."""
    rng = np.random.default_rng(7)
    mean_snr = 10.0 ** rng.uniform(0.0, 3.0, (4, 3))
    bits = np.array([8192.0, 16384.0])
    faded = FadedAirTime(mean_snr, bits, 1.8e5, Rayleigh())
    rows, enc, rb = np.arange(4)[:, None, None], np.arange(2)[None, :, None], np.arange(3)
    tx_start = rng.uniform(1.0, 1.1, (4, 2, 3))
    times = (tx_start, rng.uniform(0.9, 1.2, (4, 1, 1)), rng.uniform(0.01, 0.05, (4, 1, 1)),
             rng.uniform(0.85, 1.0, (4, 1, 1)), 0.2, 10.0)
    exact = faded.delay_penalty(rows, enc, rb, *times)
    errors = []
    for count in (16, 256, 4096):
        gains = -np.log1p(-(np.arange(count) + 0.5) / count)
        nodes = NodeAirTime(transmission.shannon_air_time_s(
            bits[None, None, :, None], gains[:, None, None, None] * mean_snr[None, :, None, :],
            1.8e5))
        errors.append(float(np.abs(nodes.delay_penalty(rows, enc, rb, *times) - exact).max()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3 * exact.max()


def test_oracle_queue_milp_never_loses_a_slot_to_another_scheduler():
    from netsim.scenario import SchedulerEntry

    scenario = _busy(slots=8, users={"arrivals": {"model": "poisson", "rate_per_s": 12.0}})
    seen: list = []
    _loop(scenario, {"type": "queue_milp", "information": "oracle"}, record=seen)
    others = [build_scheduler(SchedulerEntry(**e), 0, scenario) for e in (
        {"type": "hungarian", "information": "oracle"},
        {"type": "queue_greedy", "information": "oracle"},
        {"type": "fixed_encoder", "encoder": "ViT-B-32", "information": "oracle"},
        {"type": "fixed_encoder", "encoder": "ViT-L-14", "information": "oracle"},
        {"type": "random"})]
    assert len(seen) >= 6
    for problem, allocation in seen:
        mine = decision_cost(problem.queue, allocation, problem.drop_penalty)
        for other in others:
            theirs = decision_cost(problem.queue, other.decide(problem), problem.drop_penalty)
            assert mine <= theirs + 1e-9


def test_queue_greedy_is_never_worse_than_the_myopic_hungarian_on_a_slot():
    from netsim.scenario import SchedulerEntry

    scenario = _busy(slots=10, users={"arrivals": {"model": "poisson", "rate_per_s": 12.0}})
    seen: list = []
    _loop(scenario, {"type": "queue_greedy", "information": "statistical"}, record=seen)
    hungarian = build_scheduler(SchedulerEntry(type="hungarian"), 0, scenario)
    for problem, allocation in seen:
        mine = decision_cost(problem.queue, allocation, problem.drop_penalty)
        theirs = decision_cost(problem.queue, hungarian.decide(problem), problem.drop_penalty)
        assert mine <= theirs + 1e-9


@settings(max_examples=40, deadline=None)
@given(n_enc=st.integers(1, 5), most=st.integers(0, 12), seed=st.integers(0, 2**32 - 1))
def test_a_lattice_nodes_child_is_its_count_vector_plus_one_extraction(n_enc, most, seed):
    """The queue MILP's encoder-count lattice: node k with one more extraction of encoder
    m is the node of that count vector, or -1 beyond the lattice (no carry between
    counts: a node at the top count plus one is not mistaken for another node)."""
    counts = encoder_multisets(n_enc, most)
    rng = np.random.default_rng(seed)
    node, encoder = rng.integers(0, len(counts), 300), rng.integers(0, n_enc, 300)
    index = {tuple(c): k for k, c in enumerate(counts.tolist())}
    expected = [index.get(tuple(counts[k] + np.eye(n_enc, dtype=int)[m]), -1)
                for k, m in zip(node, encoder, strict=True)]
    np.testing.assert_array_equal(lattice_child(counts, node, encoder), expected)


def test_brute_force_enumerates_every_order():
    # a sanity check of the yardstick itself: two users, one core, no RB or device
    # backlog; the cheaper order is the one that serves the urgent user first
    state = QueueState(
        now_s=0.0, slot=0, core_free_s=np.zeros(1), rb_free_s=np.zeros(2),
        device_free_s=np.zeros(2), arrival_s=np.array([0.0, -0.15]),
        queue_length=np.ones(2, dtype=int), extraction_s=np.array([0.1]),
        computing_s=np.zeros(2), static_cost=np.ones((2, 1, 2)),
        air_time=RealisedAirTime(np.zeros((2, 1, 2))), max_delay_s=0.2, lambda_delay=10.0)
    problem = SchedulingProblem(np.zeros((2, 1, 2)), np.full(2, 50.0), ("a",), False, None,
                                state)
    allocation, cost = enumerate_slot(problem, state)
    # user 1 first: ends at 0.1 (delay 0.25: penalty 10 x 0.25), user 0 at 0.2 (on time)
    assert list(allocation.cpu_order) == [1, 0]
    assert cost == pytest.approx(2.0 + 10.0 * 0.25)


# ------------------------------------------------------------- the command line
@pytest.mark.parametrize(("updates", "key"), [
    ({"users": {"arrivals": {"model": "poisson", "rate_per_s": 2.0}}}, "users.arrivals.model"),
    ({"users": {"queue": {"limit": 3}}}, "users.queue.limit"),
    ({"delay_model": "des", "users": {"arrivals": {"model": "poisson", "rate_per_s": -1}}},
     "users.arrivals.rate_per_s"),
    ({"delay_model": "des", "users": {"arrivals": {"model": "exponential"}}},
     "users.arrivals.model"),
    ({"delay_model": "des", "users": {"queue": {"limit": 0}}}, "users.queue.limit"),
    ({"delay_model": "des", "users": {"queue": {"timeout_s": -0.5}}}, "users.queue.timeout_s"),
    # every poisson request would expire between boundaries, never offered to anyone
    ({"delay_model": "des", "users": {"arrivals": {"model": "poisson", "rate_per_s": 2.0},
                                      "queue": {"timeout_s": 0.0}}}, "users.queue.timeout_s"),
    ({"schedulers": [{"type": "queue_milp"}]}, "schedulers[0].type"),
    ({"schedulers": [{"type": "queue_greedy"}]}, "schedulers[0].type"),
])
def test_bad_traffic_keys_get_one_line_and_exit_2(tmp_path, updates, key):
    from typer.testing import CliRunner

    from netsim.cli import app
    from tests.scenario_factory import deep_update, one_line, paper_dict, write_yaml

    path = write_yaml(tmp_path / "bad.yaml", deep_update(paper_dict(), updates))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2
    line = one_line(result)
    assert str(path) in line and key in line, line
    assert not out.exists()


def test_a_des_run_in_which_nothing_is_ever_decided_is_recorded(tmp_path):
    """Requests arrive but each expires before a boundary offers it: netsim run records
    them all as expired at their penalty, and its timing table has no row (it crashed
    on the empty table)."""
    from typer.testing import CliRunner

    from netsim.cli import app
    from tests.scenario_factory import deep_update, paper_dict, write_yaml

    path = write_yaml(tmp_path / "lost.yaml", deep_update(paper_dict(), {
        "delay_model": "des", "slots": 20, "seeds": [0], "schedulers": ["random"],
        "users": {"arrivals": {"model": "poisson", "rate_per_s": 4.0},
                  "queue": {"timeout_s": 1e-9}}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    records = pd.read_csv(out / "records.csv")
    assert len(records) > 0 and (records["outcome"] == "expired").all()
    assert (records["reward"] == -10.0).all()
    timing = pd.read_csv(out / "timing.csv")
    assert timing.empty and "mean_decision_ms" in timing.columns


def test_a_des_run_killed_with_sigkill_leaves_no_half_written_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests.scenario_factory import deep_update, paper_dict, write_yaml

    data = deep_update(paper_dict(), {
        "delay_model": "des", "slots": 400, "slot_duration_s": 0.05, "seeds": [0],
        "users": {"arrivals": {"model": "poisson", "rate_per_s": 8.0}},
        "schedulers": ["random", {"type": "queue_greedy", "information": "oracle"}]})
    path = write_yaml(tmp_path / "des.yaml", data)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "netsim", "run", str(path), "--out",
                                str(out), "--no-progress"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    time.sleep(4.0)  # well into the simulation (imports take about 2 s)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = [p.name for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
    assert written == []
