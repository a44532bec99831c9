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

from netsim.model import expectation, transmission
from netsim.model.channel import power_gain_law
from netsim.model.cost import CellModel
from tests.scenario_factory import make_scenario

QUAD_SPLITS = np.concatenate([[0.0], np.geomspace(1e-9, 60.0, 40), [np.inf]])


def quad_expected_cost(model: CellModel, mean_snr: float, cpu_hz: float, m: int) -> float:
    """int_0^inf cost(mean_snr g) p(g) dg for one user, encoder m, on one RB, p the
    density of the scenario's fading law: the cost straight from CellModel.cost,
    integrated by adaptive quadrature on log-spaced pieces, to 1e-7 (1000 times inside
    the tests' 1e-4). The finite pieces are integrated together, each mapped onto [0, 1]
    (scipy's quad_vec: one call of the cost and the density per abscissa for all of
    them, refined where the worst piece needs it); the last, to infinity, by quad. It
    agrees with quad piece by piece to 3e-8 relative, at an eighth of the time."""
    density = power_gain_law(model.scenario.cell.fading).pdf
    low, width = QUAD_SPLITS[:-2], np.diff(QUAD_SPLITS[:-1])
    cpu = np.array([cpu_hz])

    def pieces(t: float) -> np.ndarray:
        gain = low + t * width
        return model.cost(mean_snr * gain[:, None, None], cpu)[:, 0, m, 0] * density(gain) * width

    def integrand(g: float) -> float:
        return float(model.cost(np.array([[mean_snr * g]]), cpu)[0, m, 0] * density(g))

    with warnings.catch_warnings():  # a clip's kink inside a piece: quad says it cannot
        # reach 1e-7 there; what it reaches is still far inside the test's 1e-4
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        finite, _ = integrate.quad_vec(pieces, 0.0, 1.0, epsabs=1e-13, epsrel=1e-7,
                                       limit=10_000)
        tail = integrate.quad(integrand, QUAD_SPLITS[-2], np.inf, epsabs=1e-13, epsrel=1e-7,
                              limit=200)[0]
    return float(finite.sum()) + tail


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


# ------------------------------------------------ the ramp: a penalty with a known start
LAWS = st.one_of(
    st.just({"model": "rayleigh"}),
    st.builds(lambda k: {"model": "rician", "k_factor": k}, st.floats(0.0, 50.0)),
    st.builds(lambda m: {"model": "nakagami", "m": m}, st.floats(0.5, 20.0)))
BANDWIDTH_HZ = 1.8e5


def quad_ramp(law, bits: float, mean_snr: float, start_s: float, width_s: float,
              floor_s: float) -> float:
    """E clip((max(t_T, floor) - start) / width, 0, 1) by quad over the law's CDF level
    w (g = F^-1(w)), split where t_T crosses start, start + width and the floor."""
    def ramp(level: float) -> float:
        gain = law.ppf(level)
        air_s = bits / (BANDWIDTH_HZ * np.log2(1.0 + mean_snr * gain)) if gain > 0 else np.inf
        return float(np.clip((max(air_s, floor_s) - start_s) / width_s, 0.0, 1.0))

    levels = [0.0, 1.0]
    for air_s in (start_s, start_s + width_s, floor_s):
        if np.isfinite(air_s) and air_s > 0.0:
            with np.errstate(over="ignore"):
                gain = np.expm1(bits / (BANDWIDTH_HZ * air_s) * np.log(2.0)) / mean_snr
            if np.isfinite(gain):
                levels.append(float(law.cdf(gain)))
    levels = sorted(set(levels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return sum(integrate.quad(ramp, lo, hi, epsabs=1e-15, epsrel=1e-12, limit=500)[0]
                   for lo, hi in itertools.pairwise(levels) if hi > lo)


@st.composite
def ramps(draw):
    """A feature's bits and mean SNR, and a ramp placed around its median air time: a
    start before or after it, a width of a fraction to a few of it, and a device backlog
    (floor) below, inside or above the ramp, or none."""
    bits = draw(st.sampled_from([512.0, 768.0, 1024.0])) * 16.0
    mean_snr = 10.0 ** (draw(st.floats(-10.0, 35.0)) / 10.0)
    median_air_s = bits / (BANDWIDTH_HZ * np.log2(1.0 + mean_snr * np.log(2.0)))
    start_s = median_air_s * draw(st.floats(-1.0, 3.0))
    width_s = median_air_s * draw(st.floats(0.02, 3.0))
    floor_s = draw(st.one_of(st.just(-np.inf),
                             st.floats(-1.0, 4.0).map(lambda x: x * median_air_s)))
    return bits, float(mean_snr), float(start_s), float(width_s), float(floor_s)


@settings(max_examples=60, deadline=None)
@given(ramp=ramps(), law=LAWS)
def test_the_ramp_is_its_integral(ramp, law):
    """The delay penalty of a transmission starting at a known time (a ramp in t_T with
    the device's backlog as its floor) is within 1e-4 relative of quad under every law."""
    fading = make_scenario(cell={"fading": law}).cell.fading
    rules = expectation.integration_rules(fading)
    bits, mean_snr, start_s, width_s, floor_s = ramp
    exact = expectation.expected_ramp(rules, bits, mean_snr, BANDWIDTH_HZ, start_s, width_s,
                                      floor_s)
    reference = quad_ramp(power_gain_law(fading), bits, mean_snr, start_s, width_s, floor_s)
    assert float(exact) == pytest.approx(reference, rel=1e-4, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(ramp=ramps())
def test_the_one_element_ramp_is_the_array_ramp(ramp):
    """Under Rayleigh fading the pure-Python form (one request at a time) gives numpy's
    number to 1e-12."""
    bits, mean_snr, start_s, width_s, floor_s = ramp
    vector = expectation.expected_ramp(expectation.Rayleigh(), np.array([bits]),
                                       np.array([mean_snr]), BANDWIDTH_HZ,
                                       np.array([start_s]), width_s, floor_s)[0]
    scalar = expectation.rayleigh_ramp(bits, mean_snr, BANDWIDTH_HZ, start_s, width_s,
                                       floor_s)
    assert scalar == pytest.approx(vector, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("law", [{"model": "rician", "k_factor": 0.5},
                                 {"model": "rician", "k_factor": 4.0},
                                 {"model": "rician", "k_factor": 1e4},
                                 {"model": "nakagami", "m": 0.5},
                                 {"model": "nakagami", "m": 4.0}])
def test_the_law_functions_are_scipys_bit_for_bit(law):
    """The general law's pdf, cdf and survival function (scipy's elementwise methods
    without the public methods' per-call handling) give scipy's public numbers, bit for
    bit, inside the support, at its ends, beyond them and at NaN, on arrays and scalars."""
    frozen = power_gain_law(make_scenario(cell={"fading": law}).cell.fading)
    fast = expectation.LawFunctions(frozen)
    rng = np.random.default_rng(11)
    x = np.concatenate([10.0 ** rng.uniform(-30.0, 2.5, 400), frozen.ppf([1e-13, 0.5, 1 - 1e-13]),
                        [0.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1e300]])
    for name in ("pdf", "cdf", "sf"):
        with np.errstate(all="ignore"):  # both evaluate the density at +inf: NaN, as scipy
            ours, theirs = getattr(fast, name)(x), getattr(frozen, name)(x)
        assert ours.tobytes() == np.asarray(theirs, dtype=float).tobytes(), name
        for one in (0.3, 0.0, np.inf):
            with np.errstate(all="ignore"):
                ours, theirs = getattr(fast, name)(one), getattr(frozen, name)(one)
            assert np.float64(ours).tobytes() == np.float64(theirs).tobytes(), (name, one)


@settings(max_examples=100, deadline=None)
@given(pieces=st.lists(ramps(), min_size=1, max_size=12))
def test_a_sparse_bin_integrated_alone_gives_the_dense_bits(pieces):
    """Under Rayleigh fading a bin that few pieces overlap is integrated on those pieces
    alone: every ramp has the bits of the evaluation on every element."""
    bits, mean_snr, start_s, width_s, floor_s = (np.array(c) for c in zip(*pieces))
    arguments = (bits, mean_snr, BANDWIDTH_HZ, start_s, width_s, floor_s)
    sparse = expectation.expected_ramp(expectation.Rayleigh(), *arguments)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(expectation, "SPARSE_BIN", 0.0)  # every bin on every element
        dense = expectation.expected_ramp(expectation.Rayleigh(), *arguments)
    assert sparse.tobytes() == dense.tobytes()


@pytest.mark.parametrize("law", [{"model": "rayleigh"}, {"model": "rician", "k_factor": 4.0},
                                 {"model": "nakagami", "m": 1.5}])
def test_timing_free_cost_plus_the_ramp_is_the_expected_cost(law):
    """The closed loop's statistical cost with no queue (transmission right after
    extraction, an idle device) is the statistical optimum's expected cost: the expected
    timing-free cost plus lambda_T times the delay ramp from T_max - t_E - t_C."""
    scenario = make_scenario(cell={"fading": law, "tx_power_w": 2.0},
                             limits={"max_delay_s": 0.15, "max_energy_j": 0.8},
                             reward={"lambda_delay": 10.0, "lambda_energy": 5.0})
    model = CellModel.from_scenario(scenario)
    rng = np.random.default_rng(4)
    mean_snr = 10.0 ** (rng.uniform(-10.0, 30.0, (5, 4)) / 10.0)
    cpu = rng.uniform(0.5e9, 3e9, 5)
    limit = scenario.limits.max_delay_s
    start_s = (limit - model.extraction_delay_s[None, :, None]
               - model.computing_delay_s(cpu)[:, None, None])
    bits = transmission.feature_bits(model.embed_dim, scenario.transmission)[None, :, None]
    delay = scenario.reward.lambda_delay * expectation.expected_ramp(
        model.gain_law, bits, mean_snr[:, None, :], scenario.cell.rb_bandwidth_hz, start_s,
        limit)
    total = model.expected_static_cost(mean_snr, cpu) + delay
    np.testing.assert_allclose(total, expectation.expected_cost(model, mean_snr, cpu),
                               rtol=1e-6)
