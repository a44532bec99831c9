"""Radio channel: path loss, fading, SNR and the Shannon rate (paper eq. 2).

Arrays are shaped (users,) or (users, rbs); powers in watts, gains linear.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from netsim.scenario import Cell, Fading, MacroPathLoss, PowerLawPathLoss


def db_to_linear(value_db: np.ndarray | float) -> np.ndarray:
    """10 ** (x / 10)."""
    return np.power(10.0, np.asarray(value_db, dtype=float) / 10.0)


def linear_to_db(value: np.ndarray | float) -> np.ndarray:
    """10 log10(x); -inf for 0."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(value, dtype=float))


def dbm_to_w(power_dbm: np.ndarray | float) -> np.ndarray:
    """dBm to watts."""
    return db_to_linear(np.asarray(power_dbm, dtype=float) - 30.0)


def path_gain(distance_m: np.ndarray, law: PowerLawPathLoss | MacroPathLoss) -> np.ndarray:
    """g(d_u), the large-scale power gain at distance d (paper: d^-2; or 3GPP macro)."""
    distance_m = np.asarray(distance_m, dtype=float)
    if isinstance(law, PowerLawPathLoss):
        return db_to_linear(law.gain_at_1m_db) * distance_m ** (-law.exponent)
    loss_db = 128.1 + 37.6 * np.log10(distance_m / 1000.0)
    return db_to_linear(-loss_db)


def noise_power_w(cell: Cell) -> float:
    """B * N0: thermal noise in one RB, receiver noise figure included, watts."""
    psd_w_per_hz = dbm_to_w(cell.noise_psd_dbm_per_hz + cell.noise_figure_db)
    return float(psd_w_per_hz * cell.rb_bandwidth_hz)


def sinr(
    tx_power_w: float,
    channel_gain: np.ndarray,
    interference_w: np.ndarray,
    noise_w: float,
) -> np.ndarray:
    """gamma_uq = P h_u / (I_q + B N0), shape (..., users, rbs).

    ``channel_gain`` is (..., users, 1) for flat fading or (..., users, rbs) for per-RB
    fading; ``interference_w`` is (..., rbs).
    """
    interference = np.asarray(interference_w, dtype=float)[..., None, :]
    return tx_power_w * np.asarray(channel_gain, dtype=float) / (interference + noise_w)


def shannon_rate_bps(bandwidth_hz: float, snr: np.ndarray) -> np.ndarray:
    """r = B log2(1 + gamma), paper eq. 2, bits/s."""
    return bandwidth_hz * np.log2(1.0 + np.asarray(snr, dtype=float))


RICIAN_K_RAYLEIGH = 1e-12
"""A Rician K factor below which the law is Rayleigh's (they differ by O(K))."""


class _SquaredRice(stats.rv_continuous):
    """X = R^2 with R ~ scipy.stats.rice(b): the noncentral chi-square law of 2 degrees
    of freedom and non-centrality b^2, through Rice's functions — its density is some
    25x faster than ``ncx2``'s on a narrow law (K = 1e4), equal to 1e-13."""

    def _pdf(self, x, b):  # type: ignore[no-untyped-def]
        root = np.sqrt(x)
        return stats.rice._pdf(root, b) / (2.0 * root)

    def _cdf(self, x, b):  # type: ignore[no-untyped-def]
        return stats.rice._cdf(np.sqrt(x), b)

    def _sf(self, x, b):  # type: ignore[no-untyped-def]
        return stats.rice._sf(np.sqrt(x), b)

    def _ppf(self, q, b):  # type: ignore[no-untyped-def]
        return stats.rice._ppf(q, b) ** 2

    def _stats(self, b):  # type: ignore[no-untyped-def]
        """Mean 2 + b^2 and variance 4 (1 + b^2) of ncx2(2, b^2); skew, kurtosis by
        scipy's integration."""
        return 2.0 + b**2, 4.0 * (1.0 + b**2), None, None


squared_rice = _SquaredRice(a=0.0, name="squared_rice")


def power_gain_law(fading: Fading):  # type: ignore[no-untyped-def] - a frozen scipy law
    """The distribution of the fading power gain o (mean 1), as a frozen scipy.stats law:
    Rayleigh Exp(1); Rician K: sigma^2 ncx2(2, 2K) with sigma^2 = 1 / (2 (K + 1)), as
    the square of Rice(sqrt(2K)) (:data:`squared_rice`);
    Nakagami-m: Gamma(m, 1 / m). None for ``model: none``."""
    if fading.model == "rayleigh":
        return stats.expon()
    if fading.model == "rician":
        k = fading.k_factor
        if k < RICIAN_K_RAYLEIGH:  # Rayleigh to double precision; scipy's ncx2 density
            return stats.expon()  # returns NaN at a subnormal non-centrality
        return squared_rice(b=np.sqrt(2.0 * k), scale=0.5 / (k + 1.0))
    if fading.model == "nakagami":
        return stats.gamma(a=fading.m, scale=1.0 / fading.m)
    return None
