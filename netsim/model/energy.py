"""Energy of one request at the base station and at the user (paper eqs. 7, 8)."""

from __future__ import annotations

import numpy as np


def bs_energy_j(
    kappa: float,
    cpu_hz: float,
    cycles_per_bit: float,
    image_bits: float,
    relative_size: np.ndarray,
    tx_power_w: float,
    transmission_s: np.ndarray,
) -> np.ndarray:
    """E_B = kappa_B f_B^2 c_B D s_m + P t_T, paper eq. 7, shape like transmission_s.

    relative_size is (encoders,); transmission_s (..., users, encoders, rbs).
    """
    compute_j = kappa * cpu_hz**2 * cycles_per_bit * image_bits * np.asarray(relative_size)
    return compute_j[:, None] + tx_power_w * transmission_s


def user_energy_j(
    kappa: float,
    cpu_hz: np.ndarray,
    cycles_per_bit: float,
    image_bits: float,
    decoder_size: float,
) -> np.ndarray:
    """E_U = kappa_u f_u^2 c_u D s_d, paper eq. 8, per user."""
    return kappa * np.asarray(cpu_hz, dtype=float) ** 2 * cycles_per_bit * image_bits * decoder_size
