"""The paper's equations on hand-computed cases."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from netsim.model import channel, delay, energy, expectation, transmission
from netsim.model.cost import CellModel
from netsim.model.encoders import ENCODERS, relative_size
from netsim.model.taskloss import DEFAULT_PROFILE_PATH, load_profile
from netsim.scenario import MacroPathLoss, PowerLawPathLoss, Transmission
from tests.scenario_factory import make_scenario

IMAGE_BITS = 224 * 224 * 3 * 8  # 1,204,224


def test_shannon_rate_eq2():
    # B log2(1 + gamma): 1 MHz at 0 dB is 1 Mbit/s, at gamma = 3 it is 2 Mbit/s
    assert channel.shannon_rate_bps(1e6, 1.0) == pytest.approx(1e6)
    assert channel.shannon_rate_bps(1e6, 3.0) == pytest.approx(2e6)
    assert channel.shannon_rate_bps(1.8e5, 0.1) == pytest.approx(1.8e5 * math.log2(1.1))


def test_sinr_flat_and_per_rb():
    # P h / (I + B N0) = 0.2 * 1e-9 / (1e-12 + 1e-12) = 100
    gain = np.array([[1e-9], [2e-9]])  # flat fading: (users, 1)
    interference = np.array([1e-12, 3e-12])
    snr = channel.sinr(0.2, gain, interference, 1e-12)
    assert snr.shape == (2, 2)
    np.testing.assert_allclose(snr, [[100, 50], [200, 100]])
    per_rb = channel.sinr(0.2, np.array([[1e-9, 4e-9]]), interference, 1e-12)
    np.testing.assert_allclose(per_rb, [[100, 200]])


def test_path_gain_laws():
    power_law = PowerLawPathLoss(exponent=2.0, gain_at_1m_db=-38.5)
    assert channel.path_gain(np.array([100.0]), power_law)[0] == pytest.approx(
        10 ** -3.85 * 100.0**-2
    )
    # 3GPP macro: 128.1 dB at 1 km, 37.6 dB more per decade
    assert channel.linear_to_db(channel.path_gain(np.array([1000.0]), MacroPathLoss()))[0] == (
        pytest.approx(-128.1)
    )
    assert channel.linear_to_db(channel.path_gain(np.array([100.0]), MacroPathLoss()))[0] == (
        pytest.approx(-128.1 + 37.6)
    )


def test_noise_power():
    cell = make_scenario().cell.model_copy(update={"rb_bandwidth_hz": 1e6})
    # -174 dBm/Hz + 7 dB noise figure + 60 dB(Hz) = -107 dBm
    assert channel.noise_power_w(cell) == pytest.approx(10 ** ((-107 - 30) / 10))


def test_extraction_delay_eq3():
    # c_B D s_m / f_B = 6 * 1204224 * 1 / 1.5e9
    t = delay.extraction_delay_s(6.0, IMAGE_BITS, np.array([1.0, 2.0]), 1.5e9)
    np.testing.assert_allclose(t, [4.816896e-3, 9.633792e-3])


def test_relative_sizes_follow_gflops():
    assert relative_size("ViT-B-32") == 1.0
    assert relative_size("ViT-L-14") == pytest.approx(162.03 / 8.82)


def test_transmission_delay_eq4_modes():
    dims = np.array([512.0, 768.0])
    snr = np.array([[1.0]])  # one user, one RB, 0 dB
    paper = transmission.transmission_delay_s(dims, snr, 1e6, Transmission(mode="paper"))
    # Z_m / r = 512 * 32 bits / 1 Mbit/s
    np.testing.assert_allclose(paper[0, :, 0], [16.384e-3, 24.576e-3])
    analog = transmission.transmission_delay_s(dims, snr, 1e6, Transmission(mode="analog"))
    np.testing.assert_allclose(analog[0, :, 0], [0.512e-3, 0.768e-3])
    digital = transmission.transmission_delay_s(
        dims, snr, 1e6, Transmission(mode="digital", quantization_bits=8, modulation="qpsk")
    )
    np.testing.assert_allclose(digital[0, :, 0], [512 * 8 / 2e6, 768 * 8 / 2e6])


def test_computing_delay_eq5_and_total_eq6():
    t_c = delay.computing_delay_s(40.0, IMAGE_BITS, 1.0, np.array([1e9, 2e9]))
    np.testing.assert_allclose(t_c, [48.16896e-3, 24.08448e-3])
    t_e = np.array([0.01, 0.02])
    t_t = np.full((2, 2, 1), 0.1)
    total = delay.total_delay_s(t_e, t_t, t_c)
    np.testing.assert_allclose(total[1, 1, 0], 0.02 + 0.1 + 24.08448e-3)


def test_energy_eq7_eq8():
    # kappa_B f_B^2 c_B D s_m + P t_T = 6.4e-26 * 2.25e18 * 6 * 1204224 + 0.2 * 0.05
    e_b = energy.bs_energy_j(6.4e-26, 1.5e9, 6.0, IMAGE_BITS, np.array([1.0]), 0.2,
                             np.full((1, 1, 1), 0.05))
    assert e_b[0, 0, 0] == pytest.approx(1.44e-7 * 6 * IMAGE_BITS + 0.01)
    e_u = energy.user_energy_j(5e-27, np.array([1e9]), 40.0, IMAGE_BITS, 1.0)
    assert e_u[0] == pytest.approx(5e-9 * 40 * IMAGE_BITS)


def test_bit_error_rates():
    assert transmission.bit_error_rate(np.array(0.0), "bpsk") == pytest.approx(0.5)
    # BPSK at Es/N0 = 10 dB: Q(sqrt(20)) = 3.87e-6
    assert transmission.bit_error_rate(np.array(10.0), "bpsk") == pytest.approx(3.872e-6, rel=1e-3)
    # QPSK per bit at Es/N0 = gamma equals BPSK at gamma / 2
    assert transmission.bit_error_rate(np.array(20.0), "qpsk") == pytest.approx(
        transmission.bit_error_rate(np.array(10.0), "bpsk")
    )
    high = transmission.bit_error_rate(np.array([1.0, 10.0, 100.0]), "16qam")
    assert np.all(np.diff(high) < 0)


def test_digital_feature_snr_quantisation_floor():
    # no bit errors: SNR = 4^b * 12 / (2 * 4)^2, 8 bits -> 12288 (40.9 dB)
    assert transmission.digital_feature_snr(np.array(0.0), 8) == pytest.approx(12288.0)
    assert transmission.digital_feature_snr(np.array(1e-3), 8) < 12288.0


def test_cost_eq11_relative_saturating_violations():
    scenario = make_scenario(limits={"max_delay_s": 0.2, "max_energy_j": 20.0},
                             reward={"lambda_delay": 100.0, "lambda_energy": 10.0})
    model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
    cost = model.penalised_cost(np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.3, 0.5]),
                                np.array([10.0, 25.0, 60.0]))
    # within limits; 50 % late and 25 % over; saturated at 1 and 1
    np.testing.assert_allclose(cost, [1.0, 1.0 + 50.0 + 2.5, 1.0 + 100.0 + 10.0])


def test_evaluate_agrees_with_the_equations():
    scenario = make_scenario(cell={"rb_bandwidth_hz": 1e6})
    model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
    snr = np.array([[1.0, 3.0]])  # one user, two RBs
    metrics = model.evaluate(snr, np.array([1e9]))
    np.testing.assert_allclose(metrics.rate_bps, [[1e6, 2e6]])
    dims = np.array([ENCODERS[m].embed_dim for m in scenario.encoders])
    np.testing.assert_allclose(metrics.transmission_delay_s[0, :, 1], dims * 32 / 2e6)
    np.testing.assert_allclose(
        metrics.total_delay_s[0, :, 0],
        metrics.extraction_delay_s + dims * 32 / 1e6 + metrics.computing_delay_s[0],
    )
    limits, reward = scenario.limits, scenario.reward
    late = np.clip((metrics.total_delay_s - limits.max_delay_s) / limits.max_delay_s, 0, 1)
    energy = metrics.bs_energy_j + metrics.user_energy_j[..., None, None]
    over = np.clip((energy - limits.max_energy_j) / limits.max_energy_j, 0, 1)
    np.testing.assert_allclose(  # eq. 11 typed out, from the metrics' own parts
        metrics.cost, metrics.task_loss + reward.lambda_delay * late + reward.lambda_energy * over)


def test_expected_cost_matches_monte_carlo():
    scenario = make_scenario(statistical={"fading_quantiles": 512})
    model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
    distance = np.array([80.0, 300.0, 550.0])
    interference = np.array([1e-11, 3e-11])
    cpu = np.array([1e9, 2e9, 2.5e9])
    expected = model.expected_cost(distance, interference, cpu)
    rng = np.random.default_rng(1)
    draws = rng.exponential(1.0, (20000, 3))
    snr = model.snr(np.broadcast_to(distance, draws.shape), draws, interference)
    monte_carlo = model.cost(snr, cpu).mean(axis=0)
    np.testing.assert_allclose(expected, monte_carlo, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("change", [{}, {"statistical": {"expectation": "quantiles"}},
                                    {"cell": {"fading": {"model": "nakagami", "m": 0.7}}}])
def test_the_expected_cost_table_filled_as_read_is_the_whole_grid_at_once(change):
    """Lookups over spans met one after another (the middle, a single point, below and
    above the grid, one user's SNRs far from the other's, the whole grid) read the
    values of the whole table computed at once, bit for bit, and fill only what they
    need."""
    model = CellModel.from_scenario(make_scenario(**change))
    cpu = np.array([1.1e9, 2.4e9])
    table = model.expected_cost_table(cpu)
    n_points = table.values.shape[-1]
    grid = model._table_grid_db(table.step_db)
    mean_snr = np.broadcast_to(channel.db_to_linear(grid), (2, n_points))
    if model.exact_expectation:
        whole = (model._exact_loss_table().values
                 + expectation.expected_penalties(model, mean_snr, cpu))
    else:
        whole = model.quadrature_expected_cost(mean_snr, cpu)
    rng = np.random.default_rng(5)
    spans = [((10.0, 20.0), (30, 2, 4)), ((15.0, 15.0), (1, 2, 1)), ((-90.0, -70.0), (3, 2, 2)),
             ((120.0, 150.0), (3, 2, 2)), ([[-20.0], [30.0]], (4, 2, 3)),
             ((-60.0, 100.0), (400, 2, 3))]
    for k, (span, shape) in enumerate(spans):
        mean_snr_db = (rng.uniform(*span, shape) if k != 4
                       else np.asarray(span) + rng.uniform(0.0, 2.0, shape))
        lazy = table.lookup(mean_snr_db)
        if k == 0:
            assert 0 < np.count_nonzero(table.filled) < table.filled.size / 10
        if k == 4:  # each user's span alone: the first user's row holds nothing near 30 dB
            near = np.abs(grid - 31.0) < 0.9
            assert table.filled[1, near].all() and not table.filled[0, near].any()
        full = dataclasses.replace(table, values=whole, fill=None, filled=None)
        assert lazy.tobytes() == full.lookup(mean_snr_db).tobytes(), span
    filled = table.filled[:, None, :].repeat(table.values.shape[1], axis=1)
    assert table.values[filled].tobytes() == whole[filled].tobytes()


def test_expected_cost_without_fading_is_eq_11_computed_by_hand():
    """One user at 100 m, fading off: the statistical cost of every (encoder, RB) is the
    paper's chain typed out here (eqs. 1-11), with the task loss interpolated from the
    profile CSV by pandas, not by the model."""
    import pandas as pd

    scenario = make_scenario(cell={"fading": {"model": "none"}})
    model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
    distance, interference, cpu = np.array([100.0]), np.array([2e-11, 5e-11]), 1.5e9
    cell, bs, users, task = scenario.cell, scenario.base_station, scenario.users, scenario.task
    limits, reward = scenario.limits, scenario.reward
    gain = 10 ** (cell.pathloss.gain_at_1m_db / 10) * 100.0 ** -cell.pathloss.exponent
    noise = 10 ** ((cell.noise_psd_dbm_per_hz + cell.noise_figure_db - 30) / 10)
    snr = cell.tx_power_w * gain / (interference + noise * cell.rb_bandwidth_hz)  # (Q,)
    rate = cell.rb_bandwidth_hz * np.log2(1 + snr)
    profile = pd.read_csv(DEFAULT_PROFILE_PATH)
    expected = np.empty((1, len(scenario.encoders), 2))
    for m, name in enumerate(scenario.encoders):
        size = ENCODERS[name].image_gflops / ENCODERS["ViT-B-32"].image_gflops  # s_m
        t_e = bs.cycles_per_bit * task.image_bits * size / bs.cpu_hz
        t_t = ENCODERS[name].embed_dim * scenario.transmission.bits_per_element / rate
        t_c = users.cycles_per_bit * task.image_bits * task.decoder_size / cpu
        e_b = bs.kappa * bs.cpu_hz**2 * bs.cycles_per_bit * task.image_bits * size \
            + cell.tx_power_w * t_t
        e_u = users.kappa * cpu**2 * users.cycles_per_bit * task.image_bits * task.decoder_size
        rows = profile[profile["encoder"] == name].sort_values("snr_db")
        loss = np.interp(10 * np.log10(snr), rows["snr_db"], rows["cross_entropy"])
        late = np.clip((t_e + t_t + t_c - limits.max_delay_s) / limits.max_delay_s, 0, 1)
        over = np.clip((e_b + e_u - limits.max_energy_j) / limits.max_energy_j, 0, 1)
        expected[0, m] = loss + reward.lambda_delay * late + reward.lambda_energy * over
    np.testing.assert_allclose(model.expected_cost(distance, interference, np.array([cpu])),
                               expected, rtol=1e-9)
    np.testing.assert_allclose(
        model.quadrature_expected_cost(model.snr(distance, 1.0, interference), np.array([cpu])),
        expected, rtol=1e-9)


def test_paper_yaml_spells_out_the_schema_defaults():
    """Every physical parameter in paper.yaml equals its one default in the schema."""
    from netsim.loading import load_scenario
    from netsim.scenario import Scenario, scenario_data
    from tests.scenario_factory import PAPER

    paper = scenario_data(load_scenario(PAPER))
    defaults = scenario_data(Scenario(schedulers=[{"type": "random"}]))
    for key in ("name", "description", "seeds", "slots", "schedulers"):
        paper.pop(key), defaults.pop(key)
    assert paper == defaults


@pytest.mark.parametrize("fading", [{"per": "user"}, {"per": "user_rb"},
                                    {"model": "rician", "k_factor": 4.0},
                                    {"model": "nakagami", "m": 0.7, "per": "user_rb"}],
                         ids=["rayleigh-flat", "rayleigh-per-rb", "rician", "nakagami-per-rb"])
def test_tabulated_expected_cost_matches_the_direct_integral(fading):
    """The table the statistical schedulers read: exact (cubic on 0.25 dB) within 1e-6 of
    the exact integral computed directly; by quadrature (linear on 0.05 dB) within 1 %
    of the quadrature."""
    from netsim.model import expectation
    from netsim.model.world import generate_world

    for how, rtol in (("exact", 1e-6), ("quantiles", 0.01)):
        scenario = make_scenario(cell={"fading": fading}, slots=40,
                                 statistical={"expectation": how})
        model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
        world = generate_world(scenario, 5)
        tabulated = model.expected_cost(world.distance_m, world.interference_w,
                                        world.user_cpu_hz)
        mean_snr = model.snr(world.distance_m, 1.0, world.interference_w)
        direct = (expectation.expected_cost(model, mean_snr, world.user_cpu_hz)
                  if how == "exact" else
                  model.quadrature_expected_cost(mean_snr, world.user_cpu_hz))
        np.testing.assert_allclose(tabulated, direct, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(model.expected_cost_at(mean_snr, world.user_cpu_hz),
                                   direct, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("cubic", [True, False])
def test_a_table_read_at_one_point_has_the_bits_of_the_vectorised_read(cubic):
    """ExpectedCostTable.lookup_one (what one request is priced with, on Python floats)
    gives lookup's numbers bit for bit: inside the grid, at and beyond both ends, at
    -inf and NaN (both read NaN, without a warning)."""
    from netsim.model.cost import ExpectedCostTable

    rng = np.random.default_rng(2)
    table = ExpectedCostTable(-20.0, 0.25, rng.uniform(0.0, 5.0, (2, 3, 41)), cubic=cubic)
    points = np.concatenate([rng.uniform(-25.0, -5.0, 300), [-20.0, -19.75, -10.0, -10.25,
                                                             -30.0, 5.0, -np.inf, np.nan]])
    for user in range(2):
        snr_db = np.full((2, points.size), -20.0)
        snr_db[user] = points
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a NaN SNR is read as NaN, not warned about
            read = table.lookup(snr_db)[user]  # (M, points)
        assert np.isnan(read[:, -1]).all()
        for m in range(3):
            one = [table.lookup_one(user, m, float(x)) for x in points]
            np.testing.assert_array_equal(one, read[m])


@pytest.mark.parametrize("mode", ["paper", "digital"])
def test_expected_cost_is_the_mean_cost_over_the_fading_nodes(mode):
    """The quadrature splits the loss (tabulated once over mean SNR) from the penalties
    (summed node by node); the result is the mean of the cost over the nodes."""
    from netsim.model.world import generate_world

    scenario = make_scenario(transmission={"mode": mode}, slots=30)
    model = CellModel(scenario, load_profile(DEFAULT_PROFILE_PATH))
    world = generate_world(scenario, 3)
    mean_snr = model.snr(world.distance_m, 1.0, world.interference_w)
    nodes = model.fading_nodes()
    direct = sum(model.cost(mean_snr * node, world.user_cpu_hz) for node in nodes) / nodes.size
    np.testing.assert_allclose(model.quadrature_expected_cost(mean_snr, world.user_cpu_hz),
                               direct, rtol=1e-4, atol=1e-6)


def test_models_of_the_same_physics_share_the_exact_loss_table():
    """The exact expected-loss table is computed once per task, fading law and profile
    curves in a process: a second model of the scenario (another seed's, a training's
    evaluation environment) reads the first's, bit for bit what it would compute; a model
    whose profile or fading differs gets its own."""
    scenario = make_scenario(statistical={"expectation": "exact"})
    first = CellModel.from_scenario(scenario)._exact_loss_table()
    second = CellModel.from_scenario(scenario)
    assert second._exact_loss_table() is first
    grid = second._table_grid_db(first.step_db)
    np.testing.assert_array_equal(
        expectation.expected_loss(second, channel.db_to_linear(grid)[None, :]), first.values)
    assert not first.values.flags.writeable  # shared: nobody may change it in place

    changed = CellModel.from_scenario(scenario)
    metric = "cross_entropy"
    name = changed.encoders[0]
    changed.profile.values[metric][name] = changed.profile.values[metric][name] * 1.01
    own = changed._exact_loss_table()
    assert own is not first and not np.array_equal(own.values[0, 0], first.values[0, 0])
    np.testing.assert_array_equal(own.values[0, 1:], first.values[0, 1:])
    rician = CellModel.from_scenario(make_scenario(
        statistical={"expectation": "exact"}, cell={"fading": {"model": "rician", "k_factor": 3.0}}))
    assert rician._exact_loss_table() is not first
