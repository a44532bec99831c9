"""The expected cost over the fading law (Rayleigh, Rician, Nakagami), integrated piece
by piece (netsim.model.expectation), against scipy.integrate.quad of the model's own
cost times the law's density."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from netsim.model import expectation
from netsim.model.channel import power_gain_law
from netsim.model.cost import CellModel
from tests.scenario_factory import make_scenario

QUAD_SPLITS = np.concatenate([[0.0], np.geomspace(1e-9, 60.0, 40), [np.inf]])


def quad_expected_cost(model: CellModel, mean_snr: float, cpu_hz: float, m: int) -> float:
    """int_0^inf cost(mean_snr g) p(g) dg for one user, encoder m, on one RB, p the
    density of the scenario's fading law: the cost straight from CellModel.cost,
    integrated by adaptive quadrature on log-spaced pieces."""
    density = power_gain_law(model.scenario.cell.fading).pdf

    def integrand(g: float) -> float:
        return float(model.cost(np.array([[mean_snr * g]]), np.array([cpu_hz]))[0, m, 0]
                     * density(g))

    with warnings.catch_warnings():  # a clip's kink inside a piece: quad says it cannot
        # reach 1e-10 there; what it reaches is still far inside the test's 1e-4
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return sum(integrate.quad(integrand, lo, hi, epsabs=1e-13, epsrel=1e-10, limit=200)[0]
                   for lo, hi in itertools.pairwise(QUAD_SPLITS))


@settings(max_examples=40, deadline=None)
@given(mean_snr_db=st.floats(-30.0, 60.0), cpu_ghz=st.floats(0.5, 3.0),
       max_delay_s=st.floats(0.02, 1.0), max_energy_j=st.floats(0.05, 30.0),
       lambda_delay=st.sampled_from([0.0, 1.0, 100.0]),
       lambda_energy=st.sampled_from([0.0, 1.0, 100.0]),
       tx_power_w=st.floats(0.01, 20.0), task=st.sampled_from(["classify", "regenerate"]),
       mode=st.sampled_from(["paper", "analog"]), m=st.integers(0, 2),
       law=st.one_of(st.just({"model": "rayleigh"}),
                     st.builds(lambda k: {"model": "rician", "k_factor": k}, st.floats(0.0, 50.0)),
                     st.builds(lambda m: {"model": "nakagami", "m": m}, st.floats(0.5, 20.0))))
def test_expected_cost_is_the_integral_of_the_cost(mean_snr_db, cpu_ghz, max_delay_s,
                                                   max_energy_j, lambda_delay, lambda_energy,
                                                   tx_power_w, task, mode, m, law):
    """Within 1e-4 relative of quad, whatever the fading law, limits, weights and SNR:
    the breakpoints where the penalties switch on and saturate are where the pieces end."""
    scenario = make_scenario(
        limits={"max_delay_s": max_delay_s, "max_energy_j": max_energy_j},
        reward={"lambda_delay": lambda_delay, "lambda_energy": lambda_energy},
        cell={"tx_power_w": tx_power_w, "fading": law}, task={"kind": task},
        transmission={"mode": mode})
    model = CellModel.from_scenario(scenario)
    mean_snr, cpu_hz = 10.0 ** (mean_snr_db / 10.0), cpu_ghz * 1e9
    exact = expectation.expected_cost(model, np.array([[mean_snr]]), np.array([cpu_hz]))
    reference = quad_expected_cost(model, mean_snr, cpu_hz, m)
    assert exact[0, m, 0] == pytest.approx(reference, rel=1e-4, abs=1e-12)


def test_the_closed_form_loss_on_a_hand_computed_profile():
    """One encoder whose loss falls linearly in dB from 1 at 0 dB to 0 at 10 dB, at mean
    SNR 1 (0 dB): E = P(g < 1) + int_1^10 (1 - ln g / ln 10) e^-g dg."""
    model = CellModel.from_scenario(make_scenario())
    name = model.encoders[0]
    model.profile.snr_db[name] = np.array([0.0, 10.0])
    metric = "cross_entropy"
    model.profile.values[metric][name] = np.array([1.0, 0.0])
    by_hand = (1.0 - np.exp(-1.0)) + integrate.quad(
        lambda g: (1.0 - np.log(g) / np.log(10.0)) * np.exp(-g), 1.0, 10.0, epsabs=1e-14)[0]
    assert expectation.expected_loss(model, np.array([[1.0]]))[0, 0, 0] == \
        pytest.approx(by_hand, rel=1e-12)


def test_it_is_what_the_equal_probability_points_tend_to():
    """The quantile rule of CellModel.quadrature_expected_cost converges to it (its error
    shrinks as the points multiply), and far from the penalties' switches the two agree."""
    model = CellModel.from_scenario(make_scenario())
    rng = np.random.default_rng(0)
    mean_snr = 10.0 ** (rng.uniform(-10.0, 40.0, (4, 6)) / 10.0)
    cpu = rng.uniform(0.5e9, 3e9, 4)
    exact = expectation.expected_cost(model, mean_snr, cpu)
    errors = []
    for points in (16, 256, 4096):
        quantiles = make_scenario(statistical={"fading_quantiles": points})
        approx = CellModel.from_scenario(quantiles).quadrature_expected_cost(mean_snr, cpu)
        errors.append(float(np.max(np.abs(approx - exact) / exact)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-2
