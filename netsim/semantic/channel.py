"""The feature channel: how a batch of feature vectors crosses one RB at a given SNR
(DESIGN §1), in the transmission modes of ``netsim.model.transmission``.

- analog (``paper`` and ``analog`` modes): every element is one real channel use; the
  receiver sees x + n with n ~ N(0, P / gamma), P the vector's measured mean power per
  element. With Rayleigh block fading every block of ``block`` consecutive elements is
  scaled by its own |h| (|h|^2 ~ Exp(1)) and equalised (zero forcing, h known at the
  receiver): x + n / |h|.
- digital: each vector is clipped at +-QUANTIZER_CLIP_SIGMAS of its RMS, quantised
  uniformly to b bits (natural binary index; the scale travels error-free as side
  information), and every bit flips with the modulation's bit-error rate at the SNR
  (at gamma |h|^2 per block under fading).

Infinite SNR: analog features arrive unchanged (bit for bit); digital features arrive
quantised, without flips. The error formulas are those of ``netsim.model.transmission`` (one
copy of the physics): a digital vector's per-element SNR matches
``digital_feature_snr(bit_error_rate(gamma))``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from netsim.model.channel import db_to_linear
from netsim.model.transmission import QUANTIZER_CLIP_SIGMAS, bit_error_rate
from netsim.scenario import Transmission

if TYPE_CHECKING:
    import torch

FADING = ("none", "rayleigh")


def _block_gain_sq(shape: tuple[int, int], block: int, generator: torch.Generator) -> torch.Tensor:
    """|h|^2 ~ Exp(1) per block of ``block`` elements, expanded to (N, d)."""
    import torch

    n, d = shape
    blocks = math.ceil(d / block)
    gain_sq = -torch.log1p(-torch.rand(n, blocks, generator=generator))  # Exp(1)
    return gain_sq.repeat_interleave(block, dim=1)[:, :d]


def analog(
    features: torch.Tensor, snr: float, gain_sq: torch.Tensor | None, generator: torch.Generator
) -> torch.Tensor:
    import torch

    power = features.pow(2).mean(dim=1, keepdim=True)
    noise = torch.randn(features.shape, generator=generator) * torch.sqrt(power / snr)
    if gain_sq is not None:
        noise = noise / torch.sqrt(gain_sq)
    return features + noise


def quantise(features: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(indices in [0, 2^b), step, offset): x ~ (index + 1/2) step - offset, per vector."""
    import torch

    half_range = QUANTIZER_CLIP_SIGMAS * features.pow(2).mean(dim=1, keepdim=True).sqrt()
    step = 2.0 * half_range / 2**bits
    index = torch.floor((features + half_range) / step).clamp(0, 2**bits - 1).to(torch.int64)
    return index, step, half_range


def dequantise(index: torch.Tensor, step: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    return (index.to(step.dtype) + 0.5) * step - offset


def digital(
    features: torch.Tensor,
    snr: float,
    gain_sq: torch.Tensor | None,
    mode: Transmission,
    generator: torch.Generator,
) -> torch.Tensor:
    import torch

    index, step, offset = quantise(features, mode.quantization_bits)
    symbol_snr = snr if gain_sq is None else snr * gain_sq.numpy()
    ber = torch.as_tensor(bit_error_rate(symbol_snr, mode.modulation), dtype=torch.float32)
    for bit in range(mode.quantization_bits):
        flips = torch.rand(features.shape, generator=generator) < ber
        index = torch.where(flips, index ^ (1 << bit), index)
    return dequantise(index, step, offset)


def transmit(
    features: torch.Tensor,
    snr_db: float,
    mode: Transmission,
    generator: torch.Generator,
    fading: str = "none",
    block: int = 64,
) -> torch.Tensor:
    """Features (N, d) as the receiver gets them after one RB at ``snr_db`` (inf: clean)."""
    if fading not in FADING:
        raise ValueError(f"fading must be one of {FADING}, not {fading!r}")
    features = features.float()
    snr = float(db_to_linear(snr_db))
    gain_sq = (
        _block_gain_sq(tuple(features.shape), block, generator) if fading == "rayleigh" else None
    )
    if mode.mode == "digital":
        return digital(features, snr, gain_sq, mode, generator)
    if np.isinf(snr):
        return features.clone()
    return analog(features, snr, gain_sq, generator)


def make_generator(*seed: int) -> torch.Generator:
    """A torch generator seeded from integers (through numpy's SeedSequence)."""
    import torch

    state = np.random.SeedSequence(list(seed)).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
