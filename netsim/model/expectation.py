"""The eq. 11 cost expected over the fading law, integrated piece by piece (DESIGN §3).

The SNR of a (user, RB) is mean_snr * g, g the fading power gain (mean 1) of the law
``cell.fading.model``; what a statistical scheduler minimises is E[cost] = int cost(g)
dF(g). The cost is the task loss plus two clipped penalties, and each is integrated
where it is smooth:

* **Task loss.** The profile interpolates it linearly in dB of the feature SNR (which
  is the SNR in the ``paper`` and ``analog`` modes), so between the gains where the SNR
  crosses two profile points it is a + c ln g, and beyond the profile's ends constant.
  Under Rayleigh fading (g ~ Exp(1)) int (a + c ln g) e^-g dg has a closed form with the
  exponential integral E1: over [x, y] it is a (e^-x - e^-y) + c (e^-x ln x - e^-y ln y
  + E1(x) - E1(y)). Under another law a times the piece's probability plus c times
  E[ln g; piece], integrated by the law's rule (below).
* **Delay and energy penalties** (eqs. 6, 7, 11). Both depend on the gain only through
  the air time t_T(g) = Z_m / (B log2(1 + mean_snr g)) (eqs. 2, 4), and each is a clip
  of a function affine in t_T: zero below one air time, saturated above another. Those
  air times are gains in closed form, g(t) = (2^(Z_m / (B t)) - 1) / mean_snr. Each
  penalty is thus a ramp in t_T (:func:`expected_ramp`): its expectation is the
  probabilities of its two flat ends (closed form for Rayleigh) plus, over the piece
  between them, (E[t_T; piece] - start P(piece)) / width, that piece's one integral.

The integration rules (:class:`Rayleigh`, :class:`GeneralLaw`): Rayleigh's masses are
closed-form and its integrals Gauss-Legendre in ln g on (0, 1] and [1, 64]
(:data:`RAYLEIGH_BINS`); any other law (Rician, Nakagami) takes its masses from scipy's
CDF and survival function and its integrals from Gauss-Legendre in ln g over the bins
between the law's quantiles (:data:`LAW_BIN_LEVELS`), which keep each integrand smooth
however narrow the law. Tested against scipy.integrate.quad of the model's own cost
times the law's density. :meth:`CellModel.quadrature_expected_cost` is the older rule,
the mean over equal-probability points of the law (``statistical.expectation:
quantiles``). It all holds for a feature SNR equal to the channel SNR (``paper`` and
``analog`` modes): the digital mode's bit errors make the loss non-linear in the SNR.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from types import EllipsisType
from typing import Protocol

import numpy as np
from scipy.special import exp1

from netsim.model import energy, transmission
from netsim.model.channel import power_gain_law
from netsim.model.taskloss import TaskProfile, task_loss_metric
from netsim.scenario import Fading, Scenario


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

    @property
    def gain_law(self) -> Rayleigh | GeneralLaw: ...

    def penalty_at_air_time(self, air_time_s: np.ndarray, user_cpu_hz: np.ndarray
                            ) -> np.ndarray: ...


GAUSS_NODES = 16
"""Gauss-Legendre nodes per smooth piece of the penalties."""
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(GAUSS_NODES)
_NODE_WEIGHTS = list(zip(_NODES.tolist(), _WEIGHTS.tolist(), strict=True))
_LN2 = math.log(2.0)


Integrand = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""f(use, g): a function of the gain for the elements selected by ``use`` (a mask, or
``...`` for every element), at gains ``g`` (nodes, *selected shape): every node of the
rule at once."""


class Rayleigh:
    """g ~ Exp(1): masses in closed form; integrals by Gauss-Legendre in ln g on each of
    :data:`RAYLEIGH_BINS` the piece overlaps (in each the integrand f(g) e^-g g is smooth
    in ln g; the CDF w = 1 - e^-g, used before, made the tail's integrand singular at
    w = 1 and erred by up to 7e-5)."""

    median = float(np.log(2.0))

    @staticmethod
    def below(gain: np.ndarray) -> np.ndarray:
        """P(g < gain)."""
        return -np.expm1(-gain)

    @staticmethod
    def mass(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """P(lower < g < upper), 0 where the piece is empty."""
        with np.errstate(invalid="ignore"):  # inf - inf where the piece is empty
            return np.where(lower < upper, np.exp(-lower) * -np.expm1(-(upper - lower)), 0.0)

    @staticmethod
    def integrate(lower: np.ndarray, upper: np.ndarray, f: Integrand) -> np.ndarray:
        """int_lower^upper f(g) e^-g dg, elementwise (0 where the piece is empty). Each
        bin's nodes are evaluated in one call of ``f``: on every element (no masking: the
        calls are many and small), or only on the elements whose piece overlaps the bin
        where those are at most :data:`SPARSE_BIN` of them (two or more: a sum over the
        nodes of one element alone would take numpy's pairwise order, not the same bits);
        a bin no piece overlaps is left out (it would add zeros)."""
        lower, upper = np.broadcast_arrays(np.asarray(lower, dtype=float),
                                           np.asarray(upper, dtype=float))
        total = np.zeros(lower.shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for bin_lo, bin_hi in itertools.pairwise(RAYLEIGH_BINS):
                lo, hi = np.maximum(lower, bin_lo), np.minimum(upper, bin_hi)
                use = (lo > 0.0) & (lo < hi)
                count = int(np.count_nonzero(use))
                if count == 0:
                    continue
                if 2 <= count <= SPARSE_BIN * use.size:
                    select: np.ndarray | EllipsisType = use
                    lo, hi = np.log(lo[use]), np.log(hi[use])
                else:
                    select = ...
                    lo, hi = np.log(np.where(use, lo, 1.0)), np.log(np.where(use, hi, 1.0))
                half, middle = (hi - lo) / 2, (hi + lo) / 2
                nodes = _NODES.reshape(-1, *(1,) * half.ndim)
                g = np.exp(middle + half * nodes)
                part = (_WEIGHTS.reshape(nodes.shape) * f(select, g) * np.exp(-g) * g
                        ).sum(axis=0)
                if select is ...:
                    total = total + np.where(use, half * part, 0.0)
                else:
                    overlap = np.zeros(lower.shape)
                    overlap[use] = half * part
                    total = total + overlap
            return total


SPARSE_BIN = 0.5
"""The largest share of the elements whose piece overlaps a Rayleigh bin for which the
bin's nodes are evaluated on those elements alone."""


RAYLEIGH_BINS = (0.0, 1.0, 64.0)
"""Bins of the Rayleigh integrals, in g: 16 Gauss-Legendre nodes in ln g on each keep the
moments of t_T within 1e-8 of quad (3,000 random pieces, from g = 1e-6 up); beyond
g = 64 the weight (e^-64 < 2e-28) is left out of the integrals, not of the masses."""


LAW_BIN_LEVELS = np.array([1e-13, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.15, 0.3, 0.5, 0.7,
                           0.85, 0.95, 0.99, 0.999, 1 - 1e-4, 1 - 1e-6, 1 - 1e-9, 1 - 1e-13])
"""Probability levels of the quantiles that bin a general law's integrals: within each
bin the density of ln g is smooth and holds a bounded share of the mass, whatever the
law's shape (a narrow Rician or Nakagami peak included); beyond the outer levels the
mass (1e-13 each side) is left out of the integrals, not of the masses."""


LAW_NODES, LAW_WEIGHTS = np.polynomial.legendre.leggauss(8)
"""Gauss-Legendre rule per bin of a general law (the bins keep the integrands smooth:
8 nodes stay within 1e-7 of quad, tested)."""


class LawFunctions:
    """A frozen scipy law's pdf, cdf and survival function on float arrays, with the
    numbers its public methods give (the law's own elementwise ``_pdf``, ``_cdf``,
    ``_sf`` inside its support; 0 or 1 outside it; NaN at NaN; tested bit for bit) but
    without their argument handling on every call (some 20–50 us a call: most of the
    time of pricing one request under a general law)."""

    def __init__(self, law) -> None:  # type: ignore[no-untyped-def] - frozen scipy law
        dist = law.dist
        shapes, loc, scale = dist._parse_args(*law.args, **law.kwds)
        self._dist = dist
        self._shapes = tuple(float(shape) for shape in shapes)
        self._loc, self._scale = float(loc), float(scale)
        self._low, self._high = (float(end) for end in dist._get_support(*self._shapes))

    def _standard(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x in the law's standard form, and the output with NaN where x is NaN."""
        z = (np.asarray(x, dtype=float) - self._loc) / self._scale
        return z, np.where(np.isnan(z), np.nan, 0.0)

    @staticmethod
    def _out(out: np.ndarray) -> np.ndarray:
        return out[()] if out.ndim == 0 else out

    def pdf(self, x: np.ndarray) -> np.ndarray:
        z, out = self._standard(x)
        inside = (self._low <= z) & (z <= self._high)
        out[inside] = self._dist._pdf(z[inside], *self._shapes) / self._scale
        return self._out(out)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        z, out = self._standard(x)
        inside = (self._low < z) & (z < self._high)
        out[z >= self._high] = 1.0
        out[inside] = self._dist._cdf(z[inside], *self._shapes)
        return self._out(out)

    def sf(self, x: np.ndarray) -> np.ndarray:
        z, out = self._standard(x)
        inside = (self._low < z) & (z < self._high)
        out[z <= self._low] = 1.0
        out[inside] = self._dist._sf(z[inside], *self._shapes)
        return self._out(out)


class GeneralLaw:
    """Any fading law with a scipy density: masses from its CDF and survival function;
    integrals by Gauss-Legendre in u = ln g over each bin between the law's quantiles at
    :data:`LAW_BIN_LEVELS` that the piece overlaps (the law evaluated through
    :class:`LawFunctions`)."""

    def __init__(self, law) -> None:  # type: ignore[no-untyped-def] - frozen scipy law
        self.law = law
        self._functions = LawFunctions(law)
        self.log_bins = np.log(law.ppf(LAW_BIN_LEVELS))
        self.median = float(law.median())

    def below(self, gain: np.ndarray) -> np.ndarray:
        return self._functions.cdf(gain)

    def mass(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        lower, upper = np.broadcast_arrays(lower, upper)
        mass = np.zeros(lower.shape)
        # above the median the survival function keeps the digits; each is evaluated only
        # on its side (scipy's ncx2 survival function overflows deep in the lower tail)
        tail = lower >= self.median
        law = self._functions
        mass[tail] = law.sf(lower[tail]) - law.sf(upper[tail])
        mass[~tail] = law.cdf(upper[~tail]) - law.cdf(lower[~tail])
        return np.where(lower < upper, np.maximum(mass, 0.0), 0.0)

    def integrate(self, lower: np.ndarray, upper: np.ndarray, f: Integrand) -> np.ndarray:
        out = np.zeros(np.shape(lower))
        with np.errstate(divide="ignore"):
            log_lower, log_upper = np.log(lower), np.log(upper)
        for bin_lo, bin_hi in itertools.pairwise(self.log_bins):
            lo, hi = np.maximum(log_lower, bin_lo), np.minimum(log_upper, bin_hi)
            use = lo < hi
            if not use.any():
                continue
            lo, hi = lo[use], hi[use]
            half, middle = (hi - lo) / 2, (hi + lo) / 2
            g = np.exp(middle + half * LAW_NODES[:, None])  # every node at once, (nodes, n)
            terms = LAW_WEIGHTS[:, None] * f(use, g) * self._functions.pdf(g) * g
            part = terms[0].copy()
            for term in terms[1:]:  # node after node: the same bits however many elements
                part += term        # share the bin (numpy's sum of one column is pairwise)
            out[use] += half * part
        return out


def integration_rules(fading: Fading) -> Rayleigh | GeneralLaw:
    """A fading law's integration rules (Rayleigh's in closed form where they exist);
    :attr:`CellModel.gain_law` keeps them, built once per model."""
    if fading.model == "rayleigh":
        return Rayleigh()
    return GeneralLaw(power_gain_law(fading))


def expected_loss(model: CellModel, mean_snr: np.ndarray) -> np.ndarray:
    """E over the fading law of the task loss at SNR mean_snr * g, (..., U, Q) -> (...,
    U, M, Q). Between two profile points the loss is values_k + slope_k (ln g - ln g_k),
    below the first and above the last constant: integrated in closed form under
    Rayleigh fading (:func:`_rayleigh_loss`), else by the law's rules
    (:func:`_law_loss`)."""
    mean_snr = np.asarray(mean_snr, dtype=float)
    profile, kind = model.profile, model.scenario.task.kind
    metric = task_loss_metric(kind)
    law = model.gain_law
    out = np.empty(mean_snr.shape[:-1] + (len(model.encoders),) + mean_snr.shape[-1:])
    with np.errstate(divide="ignore"):
        log_mean = np.log(mean_snr)[..., None]  # (..., U, Q, 1)
    for m, name in enumerate(model.encoders):
        log_point = np.asarray(profile.snr_db[name], dtype=float) * (np.log(10.0) / 10.0)
        values = np.asarray(profile.values[metric][name], dtype=float)
        if kind != "classify":
            values = 1.0 - values  # the loss is 1 - similarity
        log_gain = log_point - log_mean  # where the SNR crosses each profile point (..., P)
        slope = np.diff(values) / np.diff(log_point)  # (P - 1,)
        if isinstance(law, Rayleigh):
            out[..., m, :] = _rayleigh_loss(values, slope, log_gain)
        else:
            out[..., m, :] = _law_loss(law, values, slope, log_gain)
    return out


def _rayleigh_loss(values: np.ndarray, slope: np.ndarray, log_gain: np.ndarray
                   ) -> np.ndarray:
    """The loss's expectation under Rayleigh fading, in closed form (module docstring)."""
    gain = np.exp(log_gain)
    tail = np.exp(-gain)  # P(g > g_k)
    total = values[0] * -np.expm1(-gain[..., 0]) + values[-1] * tail[..., -1]
    if slope.size:
        log_x, log_y = log_gain[..., :-1], log_gain[..., 1:]
        tail_x, tail_y = tail[..., :-1], tail[..., 1:]
        # E1 once per crossing point (each is one piece's end and the next one's start);
        # 0 where e^-g is (E1(g) < e^-g / g: 0 too), as the pieces there are dropped
        live = tail > 0.0
        e1 = np.zeros_like(gain)
        e1[live] = exp1(gain[live])
        with np.errstate(invalid="ignore"):
            pieces = ((values[:-1] - slope * log_x) * (tail_x - tail_y)
                      + slope * (tail_x * log_x - tail_y * log_y + e1[..., :-1] - e1[..., 1:]))
        total = total + np.where(tail_x > 0.0, pieces, 0.0).sum(axis=-1)  # else ~e^-700
    return total


def _law_loss(law: GeneralLaw, values: np.ndarray, slope: np.ndarray, log_gain: np.ndarray
              ) -> np.ndarray:
    """The loss's expectation under any law: on each piece values_k times its mass plus
    slope_k times E[(ln g - ln g_k); piece], every piece at once, (..., P - 1)."""
    gain = np.exp(log_gain)
    total = values[0] * law.below(gain[..., 0]) + values[-1] * (1.0 - law.below(gain[..., -1]))
    if slope.size:
        start = np.broadcast_to(log_gain[..., :-1], gain[..., 1:].shape)
        relative_log = law.integrate(gain[..., :-1], gain[..., 1:],
                                     lambda use, g: np.log(g) - start[use])
        total = total + (values[:-1] * law.mass(gain[..., :-1], gain[..., 1:])
                         + slope * relative_log).sum(axis=-1)
    return total


def gain_at_air_time(bits: np.ndarray, mean_snr: np.ndarray, bandwidth_hz: float,
                     air_time_s: np.ndarray) -> np.ndarray:
    """The gain at which t_T = Z / (B log2(1 + mean_snr g)) (eqs. 2, 4) equals
    ``air_time_s``, broadcast: (2^(Z / (B t)) - 1) / mean_snr; +inf for t <= 0 (never
    that short), 0 for t = +inf (always shorter)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        gain = np.expm1(bits / (bandwidth_hz * air_time_s) * np.log(2.0)) / mean_snr
    gain = np.where(air_time_s <= 0.0, np.inf, gain)
    return np.where(np.isposinf(air_time_s), 0.0, gain)


_RAYLEIGH_BIN_PAIRS = list(itertools.pairwise(RAYLEIGH_BINS))


def rayleigh_ramp(bits: float, mean_snr: float, bandwidth_hz: float, start_s: float,
                  width_s: float, floor_s: float = -math.inf) -> float:
    """:func:`expected_ramp` of one element under Rayleigh fading, on Python floats: the
    same breakpoints, closed-form masses and Gauss-Legendre rules (within 1e-12 of it,
    tested), about 30 times faster than numpy's fixed cost per call on one element; what
    the closed loop prices one request with."""
    full = start_s + width_s
    low = max(start_s, floor_s)
    floor_value = min(max((floor_s - start_s) / width_s, 0.0), 1.0)
    scale = bits * _LN2 / bandwidth_hz  # t_T = scale / ln(1 + mean_snr g)

    def gain_at(air_time_s: float) -> float:
        if air_time_s <= 0.0 or mean_snr <= 0.0:
            return math.inf
        if math.isinf(air_time_s):
            return 0.0
        exponent = scale / air_time_s
        return math.expm1(exponent) / mean_snr if exponent < 709.0 else math.inf

    saturated = gain_at(full)
    flat = max(gain_at(low), saturated)
    total = -math.expm1(-saturated) + floor_value * math.exp(-flat)
    if not saturated < flat:
        return total
    mass = math.exp(-saturated) * -math.expm1(-(flat - saturated))
    if not mass > 0.0:
        return total
    moment = 0.0
    exp, log1p = math.exp, math.log1p  # looked up once: the loop below is the cost
    for bin_lo, bin_hi in _RAYLEIGH_BIN_PAIRS:  # as Rayleigh.integrate, bin by bin
        lo, hi = max(saturated, bin_lo), min(flat, bin_hi)
        if not 0.0 < lo < hi:
            continue
        lo, hi = math.log(lo), math.log(hi)
        half, middle = (hi - lo) / 2, (hi + lo) / 2
        part = 0.0
        for node, weight in _NODE_WEIGHTS:
            g = exp(middle + half * node)
            part += weight * (scale / log1p(mean_snr * g)) * exp(-g) * g
        moment += half * part
    mean_air = min(max(moment / mass, low), full)
    return total + mass * (mean_air - start_s) / width_s


def expected_ramp(law: Rayleigh | GeneralLaw, bits: np.ndarray, mean_snr: np.ndarray,
                  bandwidth_hz: float, start_s: np.ndarray, width_s: np.ndarray | float,
                  floor_s: np.ndarray | float = -np.inf) -> np.ndarray:
    """E over the fading law of clip((max(t_T(g), floor_s) - start_s) / width_s, 0, 1),
    t_T(g) = Z / (B log2(1 + mean_snr g)) (eqs. 2, 4), elementwise over the broadcast
    arguments (widths > 0).

    Every clipped penalty of eq. 11 that depends on the channel through the air time is
    this ramp: the energy penalty (eq. 7; energy affine in t_T) and the delay penalty of
    a transmission that starts at a known time, queueing included (the floor is the air
    time below which the receiving device's backlog, not the RB, sets the delay). Air
    time falls with the gain, so the ramp is its floor value above the gain where t_T =
    max(start, floor), 1 below the gain where t_T = start + width, and affine in t_T in
    between: that piece contributes (E[t_T; piece] - start P(piece)) / width, its one
    integral taken by the law's rules (module docstring)."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                   (bits, mean_snr, start_s, width_s, floor_s)))
    shape = arrays[0].shape
    bits, snr, start, width, floor = (a.ravel() for a in arrays)
    full = start + width
    low = np.maximum(start, floor)
    floor_value = np.clip((floor - start) / width, 0.0, 1.0)
    saturated = gain_at_air_time(bits, snr, bandwidth_hz, full)  # below it, t_T > full
    flat = np.maximum(gain_at_air_time(bits, snr, bandwidth_hz, low), saturated)
    total = law.below(saturated) + floor_value * law.mass(flat, np.full(flat.shape, np.inf))

    def air_time_where(use: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return transmission.shannon_air_time_s(bits[use], snr[use] * gain, bandwidth_hz)

    mass = law.mass(saturated, flat)
    has_mass = mass > 0.0
    if has_mass.any():
        moment = law.integrate(saturated, flat, air_time_where)
        mean_air = np.clip(moment / np.where(has_mass, mass, 1.0), low, full)
        total = total + np.where(has_mass, mass * (mean_air - start) / width, 0.0)
    return total.reshape(shape)


def _fixed_energy_j(model: CellModel, user_energy_j: np.ndarray) -> np.ndarray:
    """The energy of a choice that does not depend on the channel: the BS's extraction
    (eq. 7 without P t_T) plus the user's decoding (eq. 8), (..., U, M, 1)."""
    sc = model.scenario
    bs = sc.base_station
    return energy.bs_energy_j(bs.kappa, bs.cpu_hz, bs.cycles_per_bit, sc.task.image_bits,
                              model.relative_size, 0.0, np.zeros(1)) \
        + user_energy_j[..., None, None]


def expected_energy_penalty(model: CellModel, mean_snr: np.ndarray,
                            user_cpu_hz: np.ndarray) -> np.ndarray:
    """E over the fading law of lambda_E v_E (eqs. 7, 8, 11), (..., U, Q) -> (..., U, M,
    Q): the energy is the channel-free part plus P t_T, so v_E is a ramp in t_T
    (:func:`expected_ramp`) from (E_max - fixed) / P over E_max / P (P > 0); constant
    where t_T does not depend on the channel (``analog``, ``digital``). The timing-free
    cost a queue-aware statistical scheduler adds its expected delay penalty to."""
    sc = model.scenario
    mean_snr = np.asarray(mean_snr, dtype=float)
    cpu = np.broadcast_to(np.asarray(user_cpu_hz, dtype=float), mean_snr.shape[:-1])
    lam = sc.reward.lambda_energy
    if sc.transmission.mode != "paper":
        fixed_j = _fixed_energy_j(model, model.user_energy_j(cpu))  # (..., U, M, 1)
        power, limit = sc.cell.tx_power_w, sc.limits.max_energy_j
        air_s = transmission.transmission_delay_s(model.embed_dim, mean_snr,
                                                  sc.cell.rb_bandwidth_hz, sc.transmission)
        return lam * np.clip((fixed_j + power * air_s - limit) / limit, 0.0, 1.0)
    bits = transmission.feature_bits(model.embed_dim, sc.transmission)[:, None]
    return lam * expected_ramp(model.gain_law, bits, mean_snr[..., :, None, :],
                               sc.cell.rb_bandwidth_hz,
                               *energy_ramp_s(model, model.user_energy_j(cpu)))


def energy_ramp_s(model: CellModel, user_energy_j: np.ndarray) -> tuple[np.ndarray, float]:
    """Where v_E (eqs. 7, 8, 11) ramps in t_T for users of decoding energy E_U (..., U):
    it starts at (E_max - fixed) / P, fixed the energy of a choice that does not depend
    on the channel, (..., U, M, 1), and takes E_max / P to saturate (P > 0)."""
    sc = model.scenario
    power, limit = sc.cell.tx_power_w, sc.limits.max_energy_j
    return (limit - _fixed_energy_j(model, user_energy_j)) / power, limit / power


def expected_penalties(model: CellModel, mean_snr: np.ndarray,
                       user_cpu_hz: np.ndarray) -> np.ndarray:
    """E over the fading law of lambda_T v_T + lambda_E v_E, (..., U, Q) -> (..., U, M, Q).
    In ``paper`` mode each penalty is a ramp in t_T (:func:`expected_ramp`): v_T rises
    from t_T = T_max - t_E - t_C over T_max (eq. 6), v_E as in
    :func:`expected_energy_penalty`; each ramp's one integral is taken over its own
    rising piece only (where the other penalty alone changes, or neither does, nothing
    is integrated). In the other modes t_T does not depend on the channel: the penalty
    at that air time."""
    sc = model.scenario
    mean_snr = np.asarray(mean_snr, dtype=float)
    cpu = np.broadcast_to(np.asarray(user_cpu_hz, dtype=float), mean_snr.shape[:-1])
    if sc.transmission.mode != "paper":
        shape = mean_snr.shape[:-1] + (len(model.encoders),) + mean_snr.shape[-1:]
        return model.penalty_at_air_time(np.broadcast_to(transmission.transmission_delay_s(
            model.embed_dim, mean_snr, sc.cell.rb_bandwidth_hz, sc.transmission), shape), cpu)
    bits = transmission.feature_bits(model.embed_dim, sc.transmission)[:, None]  # (M, 1)
    fixed_delay_s = model.extraction_delay_s[:, None] + model.computing_delay_s(cpu)[..., None, None]
    max_delay_s = sc.limits.max_delay_s
    delay = sc.reward.lambda_delay * expected_ramp(
        model.gain_law, bits, mean_snr[..., :, None, :], sc.cell.rb_bandwidth_hz,
        max_delay_s - fixed_delay_s, max_delay_s)
    return delay + expected_energy_penalty(model, mean_snr, cpu)


def expected_cost(model: CellModel, mean_snr: np.ndarray, user_cpu_hz: np.ndarray
                  ) -> np.ndarray:
    """E over the fading law of the eq. 11 cost, (..., U, Q) -> (..., U, M, Q)."""
    return expected_loss(model, mean_snr) + expected_penalties(model, mean_snr, user_cpu_hz)
