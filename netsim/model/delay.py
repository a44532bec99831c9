"""Delays of one request: extraction, user computing and their total (paper eqs. 3, 5, 6).

The transmission delay (eq. 4) lives in ``netsim.model.transmission``.
"""

from __future__ import annotations

import numpy as np


def extraction_delay_s(
    cycles_per_bit: float, image_bits: float, relative_size: np.ndarray, cpu_hz: float
) -> np.ndarray:
    """t_E = c_B D s_m / f_B, paper eq. 3, per encoder m."""
    return cycles_per_bit * image_bits * np.asarray(relative_size, dtype=float) / cpu_hz


def computing_delay_s(
    cycles_per_bit: float, image_bits: float, decoder_size: float, cpu_hz: np.ndarray
) -> np.ndarray:
    """t_C = c_u D s_d / f_u, paper eq. 5, per user u."""
    return cycles_per_bit * image_bits * decoder_size / np.asarray(cpu_hz, dtype=float)


def total_delay_s(
    extraction_s: np.ndarray, transmission_s: np.ndarray, computing_s: np.ndarray
) -> np.ndarray:
    """T = t_E + t_T + t_C, paper eq. 6, shape (..., users, encoders, rbs).

    extraction_s is (encoders,), transmission_s (..., users, encoders, rbs),
    computing_s (..., users).
    """
    return (
        np.asarray(extraction_s)[:, None] + transmission_s
    ) + np.asarray(computing_s)[..., :, None, None]
