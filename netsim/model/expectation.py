"""The eq. 11 cost expected over Rayleigh fading, integrated piece by piece (DESIGN §3).

Under Rayleigh fading the power gain is g ~ Exp(1) and the SNR of a (user, RB) is
mean_snr * g; what a statistical scheduler minimises is E[cost] = int_0^inf cost(g)
e^-g dg. The cost is the task loss plus two clipped penalties, and each piece is
integrated where it is smooth:

* **Task loss.** The profile interpolates it linearly in dB of the feature SNR (which
  is the SNR in the ``paper`` and ``analog`` modes), so between the gains where the SNR
  crosses two profile points it is a + c ln g, and beyond the profile's ends constant.
  int (a + c ln g) e^-g dg has a closed form with the exponential integral E1:
  over [x, y] it is a (e^-x - e^-y) + c (e^-x ln x - e^-y ln y + E1(x) - E1(y)).
* **Delay and energy penalties** (eqs. 6, 7, 11). Both depend on the gain only through
  the air time t_T(g) = Z_m / (B log2(1 + mean_snr g)) (eqs. 2, 4), and each is a clip
  of a linear function of t_T: zero below one air time, saturated above another. Those
  air times are gains in closed form, g(t) = (2^(Z_m / (B t)) - 1) / mean_snr; between
  them the penalties are smooth and are integrated with Gauss-Legendre rules, in ln g
  below g = 1 (where t_T varies on a log scale) and in the fading CDF w = 1 - e^-g
  above it (which absorbs the weight e^-g). Below the smallest breakpoint both
  penalties are constant.

This is what :meth:`CellModel.quadrature_expected_cost` approximates with
equal-probability fading points (``statistical.fading_quantiles``); tested against
scipy.integrate.quad. It holds for Rayleigh fading and a feature SNR equal to the
channel SNR (``paper`` and ``analog`` modes): the digital mode's bit errors make the
loss non-linear in the SNR, and the other fading laws have other weights.
"""

from __future__ import annotations

import itertools
from typing import Protocol

import numpy as np
from scipy.special import exp1

from netsim.model import energy, transmission
from netsim.model.taskloss import TaskProfile, task_loss_metric
from netsim.scenario import Scenario


class CellModel(Protocol):
    """What the integrals read of :class:`netsim.model.cost.CellModel` (which calls
    them, so this module does not import it)."""

    scenario: Scenario
    profile: TaskProfile
    encoders: list[str]
    embed_dim: np.ndarray
    relative_size: np.ndarray
    extraction_delay_s: np.ndarray

    def computing_delay_s(self, user_cpu_hz: np.ndarray) -> np.ndarray: ...

    def user_energy_j(self, user_cpu_hz: np.ndarray) -> np.ndarray: ...

    def penalty_at_air_time(self, air_time_s: np.ndarray, user_cpu_hz: np.ndarray
                            ) -> np.ndarray: ...

GAUSS_NODES = 16
"""Gauss-Legendre nodes per smooth piece of the penalties."""
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(GAUSS_NODES)


def expected_loss(model: CellModel, mean_snr: np.ndarray) -> np.ndarray:
    """E over g ~ Exp(1) of the task loss at SNR mean_snr * g, (..., U, Q) -> (..., U, M,
    Q), in closed form (module docstring)."""
    mean_snr = np.asarray(mean_snr, dtype=float)
    profile, kind = model.profile, model.scenario.task.kind
    metric = task_loss_metric(kind)
    out = np.empty(mean_snr.shape[:-1] + (len(model.encoders),) + mean_snr.shape[-1:])
    with np.errstate(divide="ignore"):
        log_mean = np.log(mean_snr)[..., None]  # (..., U, Q, 1)
    for m, name in enumerate(model.encoders):
        log_point = np.asarray(profile.snr_db[name], dtype=float) * (np.log(10.0) / 10.0)
        values = np.asarray(profile.values[metric][name], dtype=float)
        if kind != "classify":
            values = 1.0 - values  # the loss is 1 - similarity
        log_gain = log_point - log_mean  # where the SNR crosses each profile point
        gain = np.exp(log_gain)
        tail = np.exp(-gain)  # P(g > g_k)
        total = values[0] * -np.expm1(-gain[..., 0]) + values[-1] * tail[..., -1]
        if log_point.size > 1:  # loss = values_k + slope_k (ln g - ln g_k) on [g_k, g_k+1]
            slope = np.diff(values) / np.diff(log_point)
            x, y = gain[..., :-1], gain[..., 1:]
            log_x, log_y = log_gain[..., :-1], log_gain[..., 1:]
            tail_x, tail_y = tail[..., :-1], tail[..., 1:]
            with np.errstate(invalid="ignore"):
                pieces = ((values[:-1] - slope * log_x) * (tail_x - tail_y)
                          + slope * (tail_x * log_x - tail_y * log_y + exp1(x) - exp1(y)))
            total = total + np.where(tail_x > 0.0, pieces, 0.0).sum(axis=-1)  # else ~e^-700
        out[..., m, :] = total
    return out


def _gain_at(model: CellModel, mean_snr: np.ndarray, air_time_s: np.ndarray) -> np.ndarray:
    """The gain at which t_T (eqs. 2, 4) equals ``air_time_s`` (..., U, M, Q):
    (2^(Z_m / (B t)) - 1) / mean_snr; +inf for t <= 0 (never that short), 0 for
    t = +inf (always shorter)."""
    scenario = model.scenario
    bits = transmission.feature_bits(model.embed_dim, scenario.transmission)[:, None]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        gain = np.expm1(bits / (scenario.cell.rb_bandwidth_hz * air_time_s) * np.log(2.0))
        gain = gain / mean_snr
    gain = np.where(air_time_s <= 0.0, np.inf, gain)
    return np.where(np.isposinf(air_time_s), 0.0, gain)


def _switch_air_times_s(model: CellModel, computing_s: np.ndarray, user_energy_j: np.ndarray
                        ) -> list[np.ndarray]:
    """The air times at which the clips switch: T = T_max and 2 T_max (delay saturates),
    E = E_max and 2 E_max (energy), each (..., U, M, 1); none where t_T does not depend
    on the channel (``analog`` and ``digital`` modes) or the energy not on t_T (no
    transmit power)."""
    sc = model.scenario
    if sc.transmission.mode != "paper":
        return []
    bs, limits = sc.base_station, sc.limits
    fixed_delay = model.extraction_delay_s[:, None] + computing_s[..., None, None]
    switches = [limits.max_delay_s - fixed_delay, 2 * limits.max_delay_s - fixed_delay]
    power = sc.cell.tx_power_w
    if power > 0.0:
        fixed_energy = energy.bs_energy_j(bs.kappa, bs.cpu_hz, bs.cycles_per_bit,
                                          sc.task.image_bits, model.relative_size, 0.0,
                                          np.zeros(1)) + user_energy_j[..., None, None]
        switches += [(limits.max_energy_j - fixed_energy) / power,
                     (2 * limits.max_energy_j - fixed_energy) / power]
    return switches


def expected_penalties(model: CellModel, mean_snr: np.ndarray,
                       user_cpu_hz: np.ndarray) -> np.ndarray:
    """E over g ~ Exp(1) of lambda_T v_T + lambda_E v_E, (..., U, Q) -> (..., U, M, Q),
    piece by piece between the gains where the clips switch (module docstring): on a
    piece both penalties are affine in t_T, so their expectation there is the piece's
    probability times the penalty at the piece's mean air time."""
    sc = model.scenario
    mean_snr = np.asarray(mean_snr, dtype=float)
    cpu = np.broadcast_to(np.asarray(user_cpu_hz, dtype=float), mean_snr.shape[:-1])
    computing_s, user_j = model.computing_delay_s(cpu), model.user_energy_j(cpu)
    shape = mean_snr.shape[:-1] + (len(model.encoders),) + mean_snr.shape[-1:]
    snr_m = mean_snr[..., :, None, :]
    bits = transmission.feature_bits(model.embed_dim, sc.transmission)[:, None]  # (M, 1)
    bandwidth_hz = sc.cell.rb_bandwidth_hz

    def air_time(gain: np.ndarray) -> np.ndarray:  # eq. 4 at gains (..., U, M, Q)
        if sc.transmission.mode != "paper":
            return np.broadcast_to(transmission.transmission_delay_s(
                model.embed_dim, mean_snr, bandwidth_hz, sc.transmission), gain.shape)
        return transmission.shannon_air_time_s(bits, snr_m * gain, bandwidth_hz)

    def penalty(air_time_s: np.ndarray) -> np.ndarray:
        return model.penalty_at_air_time(air_time_s, cpu)

    switches = _switch_air_times_s(model, computing_s, user_j)
    edges = np.sort(np.stack([np.broadcast_to(_gain_at(model, snr_m, np.broadcast_to(s, shape)),
                                              shape) for s in switches]
                             + [np.full(shape, np.inf)], axis=0), axis=0)  # (S + 1, ...)
    # below the smallest switch both penalties are constant: take them at half of it
    first = edges[0]
    total = penalty(air_time(np.where(np.isfinite(first), first / 2.0, 1.0))) \
        * -np.expm1(-first)
    if not switches:
        return total
    # pieces exist only in paper mode: t_T = Z_m / (B log2(1 + mean_snr g)) (eqs. 2, 4);
    # each is integrated only where it is not empty
    snr_all, bits_all = np.broadcast_to(snr_m, shape), np.broadcast_to(bits, shape)

    def air_time_where(use: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return transmission.shannon_air_time_s(bits_all[use], snr_all[use] * gain,
                                               bandwidth_hz)

    for lower, upper in itertools.pairwise(edges):
        with np.errstate(invalid="ignore"):  # inf - inf where the piece is empty
            mass = np.where(lower < upper, np.exp(-lower) * -np.expm1(-(upper - lower)), 0.0)
        moment = np.zeros(shape)  # int t_T e^-g dg over the piece
        # from the switch up to min(next, 1): Gauss-Legendre in u = ln g
        use = (lower > 0.0) & (lower < np.minimum(upper, 1.0))
        if use.any():
            lo, hi = np.log(lower[use]), np.log(np.minimum(upper[use], 1.0))
            half, middle = (hi - lo) / 2, (hi + lo) / 2
            part = np.zeros(lo.shape)
            for node, weight in zip(_NODES, _WEIGHTS, strict=True):
                g = np.exp(middle + half * node)
                part += weight * air_time_where(use, g) * np.exp(-g) * g
            moment[use] += half * part
        # above gain 1: Gauss-Legendre in w = 1 - e^-g, which absorbs the weight e^-g
        use = (upper > 1.0) & (np.maximum(lower, 1.0) < upper)
        if use.any():
            lo = -np.expm1(-np.maximum(lower[use], 1.0))
            hi = -np.expm1(-upper[use])
            half, middle = (hi - lo) / 2, (hi + lo) / 2
            part = np.zeros(lo.shape)
            for node, weight in zip(_NODES, _WEIGHTS, strict=True):
                with np.errstate(divide="ignore"):  # w = 1 only in a piece of width 0
                    g = -np.log1p(-(middle + half * node))
                part += weight * air_time_where(use, g)
            moment[use] += half * part
        has_mass = mass > 0.0
        mean_air = np.where(has_mass, moment / np.where(has_mass, mass, 1.0), 1.0)
        total = total + np.where(has_mass, mass * penalty(mean_air), 0.0)
    return total


def expected_cost(model: CellModel, mean_snr: np.ndarray, user_cpu_hz: np.ndarray
                  ) -> np.ndarray:
    """E over Rayleigh fading of the eq. 11 cost, (..., U, Q) -> (..., U, M, Q)."""
    return expected_loss(model, mean_snr) + expected_penalties(model, mean_snr, user_cpu_hz)
