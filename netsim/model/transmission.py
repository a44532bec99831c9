"""How a feature vector crosses one RB: its size Z_m, its air time (paper eq. 4) and the
per-element SNR the receiver sees, in the three transmission modes (DESIGN §1).

- ``paper``: timed at the Shannon rate (digital, error-free) yet corrupted by analog
  noise at the RB's SNR, as in the paper;
- ``analog``: one feature element per channel use at B uses/s, noise at the RB's SNR;
- ``digital``: uniform b-bit quantisation, sent at the modulation's bit rate, with that
  modulation's bit-error rate flipping bits.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc

from netsim.model.channel import shannon_rate_bps
from netsim.scenario import Transmission

BITS_PER_SYMBOL = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6}
QUANTIZER_CLIP_SIGMAS = 4.0
"""Digital mode clips each element at +-4 standard deviations before quantising."""


def feature_bits(embed_dim: np.ndarray, mode: Transmission) -> np.ndarray:
    """Z_m, bits of one feature vector: embed_dim x bits per element."""
    per_element = mode.quantization_bits if mode.mode == "digital" else mode.bits_per_element
    return np.asarray(embed_dim, dtype=float) * per_element


def transmission_delay_s(
    embed_dim: np.ndarray, snr: np.ndarray, bandwidth_hz: float, mode: Transmission
) -> np.ndarray:
    """t_T of paper eq. 4, shape (..., users, encoders, rbs) from snr (..., users, rbs).

    paper: Z_m / r_u with r_u the Shannon rate (eq. 2); analog: d / B;
    digital: Z_m / (B log2 M).
    """
    embed_dim = np.asarray(embed_dim, dtype=float)[:, None]  # (encoders, 1)
    snr = np.asarray(snr, dtype=float)[..., :, None, :]  # (..., users, 1, rbs)
    if mode.mode == "paper":
        return shannon_air_time_s(feature_bits(embed_dim, mode), snr, bandwidth_hz)
    if mode.mode == "analog":
        air_time = embed_dim / bandwidth_hz
    else:
        air_time = feature_bits(embed_dim, mode) / (
            bandwidth_hz * BITS_PER_SYMBOL[mode.modulation]
        )
    return np.broadcast_to(air_time, np.broadcast_shapes(air_time.shape, snr.shape)).copy()


def shannon_air_time_s(bits: np.ndarray, snr: np.ndarray, bandwidth_hz: float) -> np.ndarray:
    """Z / r: the air time of ``bits`` at the Shannon rate of SNR ``snr`` (eqs. 2, 4),
    broadcast; +inf at SNR 0."""
    with np.errstate(divide="ignore"):
        return np.asarray(bits, dtype=float) / shannon_rate_bps(bandwidth_hz, snr)


def bit_error_rate(snr: np.ndarray, modulation: str) -> np.ndarray:
    """Gray-coded BER at symbol SNR Es/N0 = gamma (AWGN; square-QAM approximation)."""
    snr = np.maximum(np.asarray(snr, dtype=float), 0.0)

    def q(x: np.ndarray) -> np.ndarray:
        return 0.5 * erfc(x / np.sqrt(2.0))

    if modulation == "bpsk":
        ber = q(np.sqrt(2.0 * snr))
    elif modulation == "qpsk":
        ber = q(np.sqrt(snr))
    else:
        m = 2 ** BITS_PER_SYMBOL[modulation]
        k = np.log2(m)
        ber = 4.0 / k * (1.0 - 1.0 / np.sqrt(m)) * q(np.sqrt(3.0 * snr / (m - 1.0)))
    return np.minimum(ber, 0.5)


def digital_feature_snr(ber: np.ndarray, quantization_bits: int) -> np.ndarray:
    """Per-element SNR after b-bit uniform quantisation and bit flips at rate ``ber``.

    For elements of variance s^2 clipped at +-c s with step Delta = 2 c s / 2^b, the
    quantisation noise is Delta^2 / 12 and a flip of bit i adds (2^i Delta)^2, so the
    flip noise is ber * Delta^2 (4^b - 1) / 3. The ratio does not depend on s.
    """
    levels = 4.0**quantization_bits
    step_sq_over_var = (2.0 * QUANTIZER_CLIP_SIGMAS) ** 2 / levels
    noise_over_var = step_sq_over_var * (1.0 / 12.0 + np.asarray(ber) * (levels - 1.0) / 3.0)
    return 1.0 / noise_over_var


def feature_snr(snr: np.ndarray, mode: Transmission) -> np.ndarray:
    """Per-element SNR of the received feature vector, (..., users, rbs), linear."""
    if mode.mode == "digital":
        return digital_feature_snr(bit_error_rate(snr, mode.modulation), mode.quantization_bits)
    return np.asarray(snr, dtype=float)
