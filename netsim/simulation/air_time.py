"""What a queue-aware scheduler knows of a transmission's air time t_T (eq. 4), and the
eq. 11 delay penalty it expects of a request whose transmission starts at a known time.

In the closed loop a request served with encoder m on RB q is delayed, queueing
included, by max(x + t_T, d) + t_C - a: its transmission starts at x (its extraction
done, its RB free), its device decodes for t_C from the later of the end of reception
and d (when the device is done with what it was sent before), and it arrived at a. Its
delay penalty is lambda_T clip((delay - T_max) / T_max, 0, 1) (eq. 11). How that is
known depends on the scheduler's information:

* :class:`RealisedAirTime`: an oracle knows t_T; the penalty is exact.
* :class:`FadedAirTime`: a statistical scheduler knows the mean SNR; the penalty is
  integrated over the fading law piece by piece (within 1e-4 of quad, tested; 1e-9
  worst seen under Rayleigh, 1e-13 under the others). As a function of t_T it is a ramp
  with floor d - x (:func:`netsim.model.expectation.expected_ramp`): the same integrals
  as the statistical optimum's expected cost, with the device's backlog as one more
  breakpoint.
* :class:`NodeAirTime`: the mean over the equal-probability fading nodes
  (``statistical.expectation: quantiles``, and modes the exact integrals do not cover).

RB reservations need one air time per choice: the realised one, or the one at the law's
median gain (the median node).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from netsim.model import expectation, transmission

ONE_AT_A_TIME = 64
"""Under Rayleigh fading, up to this many penalties are integrated one at a time on
Python floats (:func:`expectation.rayleigh_ramp`, ~7 us each), more at once by numpy
(:func:`expectation.expected_ramp`, ~200 us a call whatever its size; within 1e-12 of
the other). A slot's served rows are priced in chunks of this size
(:mod:`netsim.simulation.queue_cost`), so a request priced alone (the RL environment's
running cost) and among the rows of a slot get the same bits."""


class AirTime(Protocol):
    """What a scheduler knows of t_T for its rows (U_rows, M, Q)."""

    @property
    def reservation_s(self) -> np.ndarray:
        """(U_rows, M, Q) the air time an RB reservation holds the RB for."""
        ...

    def take(self, rows: np.ndarray) -> AirTime:
        """The same knowledge for a subset of the rows."""
        ...

    def delay_penalty(self, rows: np.ndarray, encoder: np.ndarray, rb: np.ndarray,
                      tx_start_s: np.ndarray, device_free_s: np.ndarray,
                      computing_s: np.ndarray, arrival_s: np.ndarray, max_delay_s: float,
                      lambda_delay: float) -> np.ndarray:
        """lambda_T clip((max(x + t_T, d) + t_C - a - T_max) / T_max, 0, 1) (eq. 11),
        expected over what is not known of t_T, elementwise over the broadcast
        arguments (row, encoder and RB indices; x, d, t_C, a in one time frame, s)."""
        ...

    def delay_penalty_one(self, row: int, encoder: int, rb: int, tx_start_s: float,
                          device_free_s: float, computing_s: float, arrival_s: float,
                          max_delay_s: float, lambda_delay: float) -> float:
        """:meth:`delay_penalty` of one request, on Python numbers, with the same bits."""
        ...


def _penalty_one(air_time_s: float, tx_start_s: float, device_free_s: float,
                 computing_s: float, arrival_s: float, max_delay_s: float,
                 lambda_delay: float) -> float:
    """:func:`_penalty` of one request on Python floats: the same IEEE operations in the
    same order, so the same bits (NaN included), without numpy's fixed cost per call."""
    decode_end = _maximum(tx_start_s + air_time_s, device_free_s) + computing_s
    delay = decode_end - arrival_s
    return lambda_delay * min(max((delay - max_delay_s) / max_delay_s, 0.0), 1.0)


def _maximum(a: float, b: float) -> float:
    """np.maximum of two floats: NaN if either is (Python's max drops a NaN second)."""
    return a if a >= b or math.isnan(a) else b


def _vector_one(air_time: AirTime, row, encoder, rb, *times) -> float:
    """:meth:`AirTime.delay_penalty_one` through the vectorised method (one element)."""
    return float(air_time.delay_penalty(np.array([row]), np.array([encoder]), np.array([rb]),
                                        *(np.array([t]) for t in times[:4]), *times[4:])[0])


def _penalty(air_time_s: np.ndarray, tx_start_s, device_free_s, computing_s, arrival_s,
             max_delay_s: float, lambda_delay: float) -> np.ndarray:
    """The delay penalty (eq. 11) at known air times."""
    decode_end = np.maximum(tx_start_s + air_time_s, device_free_s) + computing_s
    delay = decode_end - arrival_s
    return lambda_delay * np.clip((delay - max_delay_s) / max_delay_s, 0.0, 1.0)


@dataclass(frozen=True)
class RealisedAirTime:
    """An oracle's knowledge: the realised t_T, (U_rows, M, Q)."""

    transmission_s: np.ndarray

    @property
    def reservation_s(self) -> np.ndarray:
        return self.transmission_s

    def take(self, rows: np.ndarray) -> RealisedAirTime:
        return RealisedAirTime(self.transmission_s[rows])

    def delay_penalty(self, rows, encoder, rb, tx_start_s, device_free_s, computing_s,
                      arrival_s, max_delay_s, lambda_delay):
        return _penalty(self.transmission_s[rows, encoder, rb], tx_start_s, device_free_s,
                        computing_s, arrival_s, max_delay_s, lambda_delay)

    def delay_penalty_one(self, row, encoder, rb, tx_start_s, device_free_s, computing_s,
                          arrival_s, max_delay_s, lambda_delay):
        return _penalty_one(float(self.transmission_s[row, encoder, rb]), tx_start_s,
                            device_free_s, computing_s, arrival_s, max_delay_s, lambda_delay)


@dataclass(frozen=True)
class NodeAirTime:
    """t_T at the N equal-probability fading nodes, (N, U_rows, M, Q): the penalty is
    the mean over the nodes (each row's alone, so its bits do not depend on how many
    rows are priced together)."""

    transmission_s: np.ndarray

    @cached_property
    def reservation_s(self) -> np.ndarray:
        return self.transmission_s[self.transmission_s.shape[0] // 2]

    def take(self, rows: np.ndarray) -> NodeAirTime:
        return NodeAirTime(self.transmission_s[:, rows])

    def delay_penalty(self, rows, encoder, rb, tx_start_s, device_free_s, computing_s,
                      arrival_s, max_delay_s, lambda_delay):
        return _penalty(self.transmission_s[:, rows, encoder, rb], tx_start_s, device_free_s,
                        computing_s, arrival_s, max_delay_s, lambda_delay).mean(axis=0)

    def delay_penalty_one(self, row, encoder, rb, *times):
        return _vector_one(self, row, encoder, rb, *times)  # numpy's mean: its bits


def median_air_time_s(bits: np.ndarray, mean_snr: np.ndarray,
                      law: expectation.Rayleigh | expectation.GeneralLaw,
                      bandwidth_hz: float) -> np.ndarray:
    """(..., U, M, Q) t_T at the law's median gain (eqs. 2, 4): what an RB reservation
    holds the RB for, for bits (M,) and mean SNRs (..., U, Q)."""
    return transmission.shannon_air_time_s(
        bits[:, None], mean_snr[..., :, None, :] * law.median, bandwidth_hz)


@dataclass(frozen=True)
class FadedAirTime:
    """A statistical scheduler's knowledge: the mean SNR (U_rows, Q), t_T =
    Z_m / (B log2(1 + mean_snr g)) (eqs. 2, 4) with g drawn from the fading law; the
    penalty integrated piece by piece (``paper`` mode)."""

    mean_snr: np.ndarray
    bits: np.ndarray
    """(M,) Z_m, the bits of each encoder's features."""
    bandwidth_hz: float
    law: expectation.Rayleigh | expectation.GeneralLaw
    median_air_time: np.ndarray | None = field(default=None, repr=False, compare=False)
    """(U_rows, M, Q) :func:`median_air_time_s`, if the caller computed it already (for
    many slots at once); else computed when first needed."""

    @cached_property
    def reservation_s(self) -> np.ndarray:
        if self.median_air_time is not None:
            return self.median_air_time
        return median_air_time_s(self.bits, self.mean_snr, self.law, self.bandwidth_hz)

    def take(self, rows: np.ndarray) -> FadedAirTime:
        median = self.median_air_time
        return FadedAirTime(self.mean_snr[rows], self.bits, self.bandwidth_hz, self.law,
                            None if median is None else median[rows])

    def delay_penalty(self, rows, encoder, rb, tx_start_s, device_free_s, computing_s,
                      arrival_s, max_delay_s, lambda_delay):
        # delay > T_max once t_T > T_max + a - t_C - x; the device's backlog is the floor
        start_s = max_delay_s + arrival_s - computing_s - tx_start_s
        bits, snr = self.bits[encoder], self.mean_snr[rows, rb]
        floor_s = device_free_s - tx_start_s
        if isinstance(self.law, expectation.Rayleigh):
            arrays = np.broadcast_arrays(bits, snr, start_s, floor_s)
            if arrays[0].size <= ONE_AT_A_TIME:
                values = [expectation.rayleigh_ramp(b, s, self.bandwidth_hz, x, max_delay_s, f)
                          for b, s, x, f in zip(*(a.ravel().tolist() for a in arrays),
                                                strict=True)]
                return lambda_delay * np.array(values).reshape(arrays[0].shape)
        return lambda_delay * expectation.expected_ramp(
            self.law, bits, snr, self.bandwidth_hz, start_s, max_delay_s, floor_s)

    def delay_penalty_one(self, row, encoder, rb, tx_start_s, device_free_s, computing_s,
                          arrival_s, max_delay_s, lambda_delay):
        if not isinstance(self.law, expectation.Rayleigh):
            return _vector_one(self, row, encoder, rb, tx_start_s, device_free_s, computing_s,
                               arrival_s, max_delay_s, lambda_delay)
        start_s = max_delay_s + arrival_s - computing_s - tx_start_s  # as delay_penalty
        return lambda_delay * expectation.rayleigh_ramp(
            float(self.bits[encoder]), float(self.mean_snr[row, rb]), self.bandwidth_hz,
            start_s, max_delay_s, device_free_s - tx_start_s)
