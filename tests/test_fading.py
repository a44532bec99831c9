"""Fading laws (cell.fading.model): the drawn power gains follow their law (KS test), the
laws are parametrised as the textbooks define them, and the expected cost integrates
over the chosen law."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, stats

from netsim.errors import ScenarioError
from netsim.model.channel import power_gain_law
from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from tests.scenario_factory import make_scenario

LAWS = [{"model": "rayleigh"}, {"model": "rician", "k_factor": 0.5},
        {"model": "rician", "k_factor": 10.0}, {"model": "nakagami", "m": 0.5},
        {"model": "nakagami", "m": 4.0}]


@pytest.mark.parametrize("per", ["user", "user_rb"])
@pytest.mark.parametrize("law", LAWS, ids=lambda law: "-".join(map(str, law.values())))
def test_drawn_gains_follow_their_law(law, per):
    scenario = make_scenario(cell={"fading": {**law, "per": per}}, slots=600)
    gains = generate_world(scenario, 3).fading.ravel()
    distribution = power_gain_law(scenario.cell.fading)
    assert stats.kstest(gains, distribution.cdf).pvalue > 1e-3
    assert distribution.mean() == pytest.approx(1.0, rel=1e-12)  # the path loss sets the mean
    assert gains.mean() == pytest.approx(1.0, abs=4 * gains.std() / np.sqrt(gains.size))


def test_the_laws_meet_rayleigh_where_they_should():
    """Rician with K = 0 and Nakagami with m = 1 are Rayleigh: |h|^2 ~ Exp(1)."""
    grid = np.linspace(0.0, 8.0, 81)
    rayleigh = stats.expon().cdf(grid)
    for law in ({"model": "rician", "k_factor": 0.0}, {"model": "nakagami", "m": 1.0}):
        fading = make_scenario(cell={"fading": law}).cell.fading
        assert power_gain_law(fading).cdf(grid) == pytest.approx(rayleigh, abs=1e-9)


def test_rician_gain_is_a_line_of_sight_plus_scatter():
    """Independently of the draw: with K = 3, the LOS amplitude sqrt(3/4) and scatter
    variance 1/4, P(o <= x) is the Marcum-Q form; checked by integrating the density of
    the complex Gaussian over the disc |h|^2 <= x."""
    k, x = 3.0, 0.8
    mean, var = np.sqrt(k / (k + 1)), 1.0 / (k + 1)
    def density(r: float, phi: float) -> float:
        return r / (np.pi * var) * np.exp(
            -((r * np.cos(phi) - mean) ** 2 + (r * np.sin(phi)) ** 2) / var)

    disc = integrate.dblquad(density, 0.0, 2 * np.pi, 0.0, np.sqrt(x))[0]
    fading = make_scenario(cell={"fading": {"model": "rician", "k_factor": k}}).cell.fading
    assert power_gain_law(fading).cdf(x) == pytest.approx(disc, rel=1e-7)


@pytest.mark.parametrize("law", LAWS[1:], ids=lambda law: "-".join(map(str, law.values())))
def test_the_expected_cost_integrates_over_the_chosen_law(law):
    """The equal-probability rule of the law's quantiles, at 4096 points, against quad of
    the cost times the law's density."""
    scenario = make_scenario(cell={"fading": law}, statistical={"fading_quantiles": 4096})
    model = CellModel.from_scenario(scenario)
    distribution = power_gain_law(scenario.cell.fading)
    cpu_hz = 1.5e9
    for mean_snr_db, m in ((0.0, 0), (15.0, 1), (30.0, 2)):
        mean_snr = 10.0 ** (mean_snr_db / 10.0)
        rule = model.quadrature_expected_cost(np.array([[mean_snr]]), np.array([cpu_hz]))
        splits = np.concatenate([[0.0], np.geomspace(1e-6, 80.0, 25), [np.inf]])
        def integrand(g: float, mean_snr: float = mean_snr, m: int = m) -> float:
            cost = model.cost(np.array([[mean_snr * g]]), np.array([cpu_hz]))[0, m, 0]
            return cost * distribution.pdf(g)

        reference = sum(integrate.quad(integrand, lo, hi, limit=200)[0]
                        for lo, hi in itertools.pairwise(splits))
        assert rule[0, m, 0] == pytest.approx(reference, rel=2e-3), (mean_snr_db, m)


def test_a_law_parameter_belongs_to_its_law():
    with pytest.raises(ScenarioError, match="k_factor"):
        make_scenario(cell={"fading": {"model": "rayleigh", "k_factor": 5.0}})
    with pytest.raises(ScenarioError, match="m"):
        make_scenario(cell={"fading": {"model": "nakagami", "m": 0.2}})


def test_masses_of_a_narrow_rician_law_deep_in_its_lower_tail():
    """scipy's ncx2 survival function overflows far below a narrow Rician law's peak
    (K = 1e4, gains under about 1e-5): the exact expectation's masses there come from
    the CDF, and the masses of a partition of the gains still add up to 1."""
    from netsim.model import expectation

    fading = make_scenario(cell={"fading": {"model": "rician", "k_factor": 1e4}}).cell.fading
    rules = expectation.integration_rules(fading)
    edges = np.array([0.0, 1e-300, 1e-12, 1e-5, 0.5, 0.99, 1.0, 1.01, 1.05, 3.0, np.inf])
    mass = rules.mass(edges[:-1], edges[1:])
    assert np.all(mass >= 0.0) and mass[:4].sum() == 0.0
    assert mass.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("k", [0.5, 3.0, 50.0, 1e4])
def test_rician_gain_law_is_scipys_noncentral_chi_square(k):
    """The squared-Rice form netsim integrates with is sigma^2 ncx2(2, 2K), functions
    and moments, out to the schema's narrowest law (K = 1e4)."""
    fading = make_scenario(cell={"fading": {"model": "rician", "k_factor": k}}).cell.fading
    law = power_gain_law(fading)
    reference = stats.ncx2(df=2, nc=2.0 * k, scale=0.5 / (k + 1.0))
    levels = np.linspace(0.001, 0.999, 99)
    gains = reference.ppf(levels)
    assert law.ppf(levels) == pytest.approx(gains, rel=1e-12)
    assert law.pdf(gains) == pytest.approx(reference.pdf(gains), rel=1e-11)
    assert law.cdf(gains) == pytest.approx(levels, rel=1e-11)
    assert law.sf(gains) == pytest.approx(1.0 - levels, rel=1e-10)
    assert law.var() == pytest.approx(reference.var(), rel=1e-12)
