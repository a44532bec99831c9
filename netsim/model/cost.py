"""The one system model: every quantity of a slot over users x encoders x RBs, and the
cost that every scheduler minimises (paper eqs. 2–11).

The simulator, the exact solvers and (later) the RL environment all call
:class:`CellModel`; no other module computes rates, delays, energies or losses.

Cost of serving user u with encoder m on RB q (the negative of the paper's reward, eq. 11):

    cost = task_loss + lambda_T * v_T + lambda_E * v_E,
    v_T = clip((T - T_max) / T_max, 0, 1),   v_E = clip((E - E_max) / E_max, 0, 1),

with E = E_B + E_U the energy of one transmission. Violations are relative to the limit
and saturate at 1 (a result twice as late as allowed is as useless as a lost one); the
saturation keeps expected costs finite under Rayleigh fading, whose deep fades make the
expected air time infinite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from netsim.model import channel, delay, devices, energy, expectation, leakage, transmission
from netsim.model.encoders import ENCODERS, relative_size
from netsim.model.taskloss import (
    TaskProfile,
    load_profile,
    resolve_profile_path,
    task_loss,
    task_loss_metric,
)
from netsim.model.world import WorldTrace
from netsim.scenario import Scenario, exact_expectation_exists


@dataclass(frozen=True)
class SlotMetrics:
    """Every quantity of the model for all (user, encoder, RB) choices.

    Shapes: ``(..., U, M, Q)`` unless noted; leading axes are slots.
    """

    snr: np.ndarray
    """gamma_uq, (..., U, Q), linear."""
    rate_bps: np.ndarray
    """Shannon rate r_uq (eq. 2), (..., U, Q)."""
    feature_snr: np.ndarray
    """Per-element SNR of the received features, (..., U, Q), linear."""
    extraction_delay_s: np.ndarray
    """t_E (eq. 3), (M,)."""
    transmission_delay_s: np.ndarray
    """t_T (eq. 4)."""
    computing_delay_s: np.ndarray
    """t_C (eq. 5), (..., U)."""
    total_delay_s: np.ndarray
    """T (eq. 6)."""
    bs_energy_j: np.ndarray
    """E_B (eq. 7)."""
    user_energy_j: np.ndarray
    """E_U (eq. 8), (..., U)."""
    task_loss: np.ndarray
    accuracy: np.ndarray
    clip_similarity: np.ndarray
    cost: np.ndarray
    """Eq. 11, with lambda_L v_L of the leakage when eavesdroppers are present."""
    eavesdropper_snr: np.ndarray | None = None
    """The best-hearing eavesdropper's SNR on each RB, (..., Q), linear; None without
    eavesdroppers (netsim.model.leakage)."""
    leakage: np.ndarray | None = None
    """L, the task performance it reaches, (..., M, Q); None without eavesdroppers."""


@dataclass(frozen=True)
class DelaysEnergies:
    """Delays and energies of every (user, encoder, RB) choice (eqs. 4–8); shapes as in
    :class:`SlotMetrics`."""

    transmission_delay_s: np.ndarray
    computing_delay_s: np.ndarray
    total_delay_s: np.ndarray
    bs_energy_j: np.ndarray
    user_energy_j: np.ndarray

    @property
    def energy_j(self) -> np.ndarray:
        """E_B + E_U, (..., U, M, Q)."""
        return self.bs_energy_j + self.user_energy_j[..., None, None]


class CellModel:
    """The physics of one scenario, vectorised over slots x users x encoders x RBs."""

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> CellModel:
        """The model of a scenario with its own task-loss profile."""
        return cls(scenario, load_profile(resolve_profile_path(scenario)))

    def __init__(self, scenario: Scenario, profile: TaskProfile) -> None:
        self.scenario = scenario
        self.profile = profile
        self.encoders = list(scenario.encoders)
        self.embed_dim = np.array([ENCODERS[m].embed_dim for m in self.encoders], dtype=float)
        self.relative_size = np.array([relative_size(m) for m in self.encoders])
        self.noise_w = channel.noise_power_w(scenario.cell)
        self._tables: dict[bytes, ExpectedCostTable] = {}
        self._loss_table: tuple[np.ndarray, np.ndarray] | None = None
        self._exact_loss: ExpectedCostTable | None = None
        bs, task = scenario.base_station, scenario.task
        self.extraction_delay_s = delay.extraction_delay_s(
            bs.cycles_per_bit, task.image_bits, self.relative_size, bs.cpu_hz
        )

    # ------------------------------------------------------------------ channel
    def mean_gain(self, distance_m: np.ndarray) -> np.ndarray:
        """g(d_u), large-scale gain, (..., U)."""
        return channel.path_gain(distance_m, self.scenario.cell.pathloss)

    def snr(self, distance_m: np.ndarray, fading: np.ndarray, interference_w: np.ndarray):
        """gamma_uq with h_u = o_u g(d_u), (..., U, Q). distance_m is (..., U); fading has
        the same leading axes: (..., U) for flat fading or (..., U, Q) per RB."""
        gain = self.mean_gain(distance_m)
        if self.scenario.cell.fading.per == "user_rb":
            gain = gain[..., None] * fading
        else:
            gain = (gain * fading)[..., None]
        return channel.sinr(self.scenario.cell.tx_power_w, gain, interference_w, self.noise_w)

    def eavesdropper_snr(self, world: WorldTrace, part: slice | int,
                         faded: bool = True) -> np.ndarray | None:
        """gamma_eq of the world's eavesdroppers in slots ``part``, (..., E, Q), with
        their fading (``faded``) or at gain 1 (the mean SNR a statistical scheduler
        knows); None without eavesdroppers."""
        if world.eavesdropper_distance_m is None:
            return None
        fading = world.eavesdropper_fading[part] if faded else 1.0
        return self.snr(world.eavesdropper_distance_m[part], fading,
                        world.interference_w[part])

    def expected_leakage_penalty(self, eavesdropper_mean_snr: np.ndarray | None
                                 ) -> np.ndarray | None:
        """E[lambda_L v_L] over the eavesdroppers' fading from their mean SNR (..., E, Q):
        (..., M, Q), what a statistical scheduler adds to each (user, encoder, RB);
        None without eavesdroppers or a leakage limit. Computed once per slot by its
        callers and handed to the expected-cost methods."""
        if eavesdropper_mean_snr is None or self.scenario.limits.max_leakage is None:
            return None
        return leakage.expected_penalty(self, eavesdropper_mean_snr)

    def _with_leakage(self, cost: np.ndarray, eavesdropper_snr: np.ndarray | None
                      ) -> np.ndarray:
        """``cost`` (..., U, M, Q) plus lambda_L v_L of the leakage at the eavesdroppers'
        SNR (..., E, Q), if any."""
        if eavesdropper_snr is None or self.scenario.limits.max_leakage is None:
            return cost
        return _plus_penalty(cost, leakage.penalty(self, leakage.leakage(
            self, leakage.best_snr(eavesdropper_snr))))

    # ------------------------------------------------------------------- model
    def penalised_cost(
        self, loss: np.ndarray, total_delay_s: np.ndarray, total_energy_j: np.ndarray
    ) -> np.ndarray:
        """Negative reward of paper eq. 11 (see module docstring)."""
        reward = self.scenario.reward
        return (
            loss
            + reward.lambda_delay * self.delay_violation(total_delay_s)
            + reward.lambda_energy * self.energy_violation(total_energy_j)
        )

    def delay_violation(self, total_delay_s: np.ndarray) -> np.ndarray:
        """v_T = clip((T - T_max) / T_max, 0, 1)."""
        limit = self.scenario.limits.max_delay_s
        return np.clip((np.asarray(total_delay_s) - limit) / limit, 0.0, 1.0)

    def energy_violation(self, total_energy_j: np.ndarray) -> np.ndarray:
        """v_E = clip((E - E_max) / E_max, 0, 1)."""
        limit = self.scenario.limits.max_energy_j
        return np.clip((np.asarray(total_energy_j) - limit) / limit, 0.0, 1.0)

    @cached_property
    def device(self) -> tuple[float, float, float] | None:
        """(receiver FLOPs per image, FLOP/s, J/FLOP) of the users' device class
        (``users.device``, netsim/model/devices.py); None for the paper's cycles model."""
        device = self.scenario.users.device
        if device is None:
            return None
        if isinstance(device, str):
            device = devices.DEVICE_PROFILES[device]
        task = self.scenario.task
        flops = devices.receiver_flops(task.kind, self.encoders, task.denoising_steps)
        return flops, float(device.flops_per_s), float(device.joules_per_flop)

    def computing_delay_s(self, user_cpu_hz: np.ndarray) -> np.ndarray:
        """t_C per user, (..., U): eq. 5, c_u D s_d / f_u; or with a device class, the
        receiver's FLOPs / the device's FLOP/s (the same for every user)."""
        users, task = self.scenario.users, self.scenario.task
        if self.device is not None:
            flops, flops_per_s, _ = self.device
            return np.full(np.shape(user_cpu_hz),
                           devices.device_computing_delay_s(flops, flops_per_s))
        return delay.computing_delay_s(
            users.cycles_per_bit, task.image_bits, task.decoder_size, user_cpu_hz
        )

    def user_energy_j(self, user_cpu_hz: np.ndarray) -> np.ndarray:
        """E_U per user, (..., U): eq. 8, kappa_u f_u^2 c_u D s_d; or with a device class,
        the receiver's FLOPs x the device's J/FLOP."""
        users, task = self.scenario.users, self.scenario.task
        if self.device is not None:
            flops, _, joules_per_flop = self.device
            return np.full(np.shape(user_cpu_hz), devices.device_energy_j(flops, joules_per_flop))
        return energy.user_energy_j(
            users.kappa, user_cpu_hz, users.cycles_per_bit, task.image_bits, task.decoder_size
        )

    def _delays_energies(self, snr: np.ndarray, user_cpu_hz: np.ndarray) -> DelaysEnergies:
        """Delays and energies of every (user, encoder, RB) at SNR (..., U, Q) (eqs. 4–8)."""
        sc = self.scenario
        user_cpu_hz = np.broadcast_to(user_cpu_hz, snr.shape[:-1])
        t_t = transmission.transmission_delay_s(
            self.embed_dim, snr, sc.cell.rb_bandwidth_hz, sc.transmission
        )
        return self._timing_at_air_time(t_t, user_cpu_hz)

    def _timing_at_air_time(self, air_time_s: np.ndarray, user_cpu_hz: np.ndarray
                            ) -> DelaysEnergies:
        """Delays and energies (eqs. 5–8) of choices whose air time t_T is ``air_time_s``
        (..., U, M, Q), with user clocks (..., U)."""
        sc = self.scenario
        bs, task = sc.base_station, sc.task
        t_c = self.computing_delay_s(user_cpu_hz)
        e_b = energy.bs_energy_j(
            bs.kappa, bs.cpu_hz, bs.cycles_per_bit, task.image_bits, self.relative_size,
            sc.cell.tx_power_w, air_time_s,
        )
        e_u = self.user_energy_j(user_cpu_hz)
        total_delay = delay.total_delay_s(self.extraction_delay_s, air_time_s, t_c)
        return DelaysEnergies(air_time_s, t_c, total_delay, e_b, e_u)

    def penalty_at_air_time(self, air_time_s: np.ndarray, user_cpu_hz: np.ndarray
                            ) -> np.ndarray:
        """lambda_T v_T + lambda_E v_E (eqs. 6, 7, 11) of choices whose air time is
        ``air_time_s`` (..., U, M, Q), with user clocks (..., U): the cost without the
        task loss, which depends on the channel only through t_T."""
        timing = self._timing_at_air_time(air_time_s, np.broadcast_to(
            user_cpu_hz, np.shape(air_time_s)[:-2]))
        return self.penalised_cost(0.0, timing.total_delay_s, timing.energy_j)

    def _loss(self, snr: np.ndarray):
        """Received feature SNR (linear, dB) and task loss at channel SNR (..., U, Q)."""
        sc = self.scenario
        feature_snr = transmission.feature_snr(snr, sc.transmission)
        feature_snr_db = channel.linear_to_db(feature_snr)
        loss = task_loss(self.profile, sc.task.kind, self.encoders, feature_snr_db)
        return feature_snr, feature_snr_db, loss

    def _penalty(self, snr: np.ndarray, user_cpu_hz: np.ndarray) -> np.ndarray:
        """lambda_T v_T + lambda_E v_E, the cost without the task loss, (..., U, M, Q)."""
        timing = self._delays_energies(snr, user_cpu_hz)
        return self.penalised_cost(0.0, timing.total_delay_s, timing.energy_j)

    def static_cost(self, metrics: SlotMetrics) -> np.ndarray:
        """The part of the eq. 11 cost that does not depend on when a request is
        served: task loss + lambda_E v_E (+ lambda_L v_L), (..., U, M, Q). Adding
        lambda_T v_T of the request's delay gives its cost (the closed loop's delay
        includes queueing)."""
        energy = metrics.bs_energy_j + metrics.user_energy_j[..., None, None]
        static = metrics.task_loss + self.scenario.reward.lambda_energy * self.energy_violation(
            energy
        )
        if metrics.leakage is not None:
            static = static + leakage.penalty(self, metrics.leakage)[..., None, :, :]
        return static

    def expected_static_cost(
        self, mean_snr: np.ndarray, user_cpu_hz: np.ndarray,
        leakage_penalty: np.ndarray | None = None,
    ) -> np.ndarray:
        """For a scheduler that does not know this slot's fading (closed loop): the
        expected timing-free cost E[task loss + lambda_E v_E] (+ lambda_L v_L, the
        expected leakage penalty (..., M, Q) if given,
        :meth:`expected_leakage_penalty`), (..., U, M, Q), from mean SNR (..., U, Q) (one
        slot, or several) and clocks (U,): integrated exactly or by quadrature as
        ``statistical.expectation`` says (the queue-aware schedulers add the delay
        penalty, which depends on when the request is served). Without fading, the cost
        at the mean SNR."""
        mean_snr = np.asarray(mean_snr, dtype=float)
        if self.scenario.cell.fading.model == "none":
            timing = self._delays_energies(mean_snr, user_cpu_hz)
            cost = (self._loss(mean_snr)[-1] + self.scenario.reward.lambda_energy
                    * self.energy_violation(timing.energy_j))
        elif self.exact_expectation:
            cost = (self._exact_loss_table().lookup(channel.linear_to_db(mean_snr))
                    + expectation.expected_energy_penalty(self, mean_snr, user_cpu_hz))
        else:
            nodes = self.fading_nodes()
            snr = mean_snr[None] * nodes.reshape(-1, *(1,) * mean_snr.ndim)
            timing = self._delays_energies(snr, np.broadcast_to(user_cpu_hz, snr.shape[:-1]))
            energy = self.scenario.reward.lambda_energy * self.energy_violation(timing.energy_j)
            cost = self.expected_loss(mean_snr) + energy.mean(axis=0)
        return _plus_penalty(cost, leakage_penalty)

    def expected_static_one(self, user_cpu_hz: np.ndarray) -> ExpectedStaticOne | None:
        """:meth:`expected_static_cost` of one (user, encoder, RB) at a time, on Python
        floats, for users with clocks (U,) (within 1e-12 of it, tested, where mean SNR x
        gain stays above ~1e-4; below, the table's log2(1 + x) loses digits that the
        log1p here keeps: 1e-10 at -60 dB with 1 mW): the task loss's
        table read at one point and the energy penalty's ramp integrated for one element
        (:func:`expectation.rayleigh_ramp`), some 15 us a request against ~7 ms for a
        whole RL episode's (slot, user, encoder, RB) at once. None where that path does
        not exist: only under exact Rayleigh expectations in the ``paper`` mode with
        transmit power (elsewhere the whole table is the way)."""
        sc = self.scenario
        if not (self.exact_expectation and sc.cell.fading.model != "none"
                and sc.transmission.mode == "paper" and sc.cell.tx_power_w > 0.0
                and isinstance(self.gain_law, expectation.Rayleigh)):
            return None
        start_s, width_s = expectation.energy_ramp_s(  # start (U, M, 1)
            self, self.user_energy_j(np.asarray(user_cpu_hz, dtype=float)))
        bits = transmission.feature_bits(self.embed_dim, sc.transmission)
        return ExpectedStaticOne(
            loss=self._exact_loss_table(), start_s=start_s[..., 0].tolist(), width_s=width_s,
            bits=bits.tolist(), bandwidth_hz=sc.cell.rb_bandwidth_hz,
            lambda_energy=sc.reward.lambda_energy)

    def air_times_at_nodes_s(self, mean_snr: np.ndarray) -> np.ndarray:
        """t_T (eq. 4) at each equal-probability fading node, (N, ..., U, M, Q), from mean
        SNR (..., U, Q) (:meth:`fading_nodes`; one node at the mean SNR without fading
        or where t_T does not depend on the channel, outside ``paper`` mode): what a
        statistical scheduler knows of a transmission's air time where its expectation
        is taken by quadrature."""
        mean_snr = np.asarray(mean_snr, dtype=float)
        sc = self.scenario
        constant = sc.cell.fading.model == "none" or sc.transmission.mode != "paper"
        nodes = np.ones(1) if constant else self.fading_nodes()
        snr = mean_snr[None] * nodes.reshape(-1, *(1,) * mean_snr.ndim)
        return transmission.transmission_delay_s(self.embed_dim, snr,
                                                 self.scenario.cell.rb_bandwidth_hz,
                                                 self.scenario.transmission)

    def evaluate(self, snr: np.ndarray, user_cpu_hz: np.ndarray,
                 eavesdropper_snr: np.ndarray | None = None) -> SlotMetrics:
        """All metrics for SNR (..., U, Q), user clocks (..., U) or (U,) and, with
        eavesdroppers, their SNR (..., E, Q) (netsim.model.leakage)."""
        snr = np.asarray(snr, dtype=float)
        timing = self._delays_energies(snr, user_cpu_hz)
        feature_snr, feature_snr_db, loss = self._loss(snr)
        best = leak = None
        if eavesdropper_snr is not None:
            best = leakage.best_snr(eavesdropper_snr)
            leak = leakage.leakage(self, best)
        return SlotMetrics(
            snr=snr,
            rate_bps=channel.shannon_rate_bps(self.scenario.cell.rb_bandwidth_hz, snr),
            feature_snr=feature_snr,
            extraction_delay_s=self.extraction_delay_s,
            transmission_delay_s=timing.transmission_delay_s,
            computing_delay_s=timing.computing_delay_s,
            total_delay_s=timing.total_delay_s,
            bs_energy_j=timing.bs_energy_j,
            user_energy_j=timing.user_energy_j,
            task_loss=loss,
            accuracy=self.profile.lookup("accuracy", self.encoders, feature_snr_db),
            clip_similarity=self.profile.lookup(
                "clip_i2i_similarity", self.encoders, feature_snr_db
            ),
            cost=self._with_leakage(
                self.penalised_cost(loss, timing.total_delay_s, timing.energy_j),
                eavesdropper_snr),
            eavesdropper_snr=best,
            leakage=leak,
        )

    def cost(self, snr: np.ndarray, user_cpu_hz: np.ndarray,
             eavesdropper_snr: np.ndarray | None = None) -> np.ndarray:
        """Only the cost tensor (..., U, M, Q) (eq. 11, with the leakage penalty at the
        eavesdroppers' SNR (..., E, Q) if given) — what schedulers minimise."""
        snr = np.asarray(snr, dtype=float)
        timing = self._delays_energies(snr, user_cpu_hz)
        loss = self._loss(snr)[-1]
        return self._with_leakage(
            self.penalised_cost(loss, timing.total_delay_s, timing.energy_j),
            eavesdropper_snr)

    def fading_nodes(self) -> np.ndarray:
        """Equal-probability grid over the fading power gain o: the midpoint quantiles
        o_i = F^-1((i + 1/2) / N), i = 0..N-1, each of weight 1/N (Rayleigh:
        -ln(1 - (i + 1/2) / N); other laws: :func:`channel.power_gain_law`); a copy of
        the grid computed once per model."""
        return self._fading_nodes.copy()

    @cached_property
    def _fading_nodes(self) -> np.ndarray:
        n = self.scenario.statistical.fading_quantiles
        levels = (np.arange(n) + 0.5) / n
        fading = self.scenario.cell.fading
        if fading.model == "rayleigh":
            return -np.log1p(-levels)
        return channel.power_gain_law(fading).ppf(levels)

    @cached_property
    def gain_law(self) -> expectation.Rayleigh | expectation.GeneralLaw:
        """The fading law's integration rules for the exact expected cost."""
        return expectation.integration_rules(self.scenario.cell.fading)

    def quadrature_expected_cost(self, mean_snr: np.ndarray, user_cpu_hz: np.ndarray):
        """E over fading of the cost at mean SNR (..., U, Q) -> (..., U, M, Q), by
        quadrature on :meth:`fading_nodes`. The cost of one (user, RB) depends only on
        its own gain, so flat and per-RB fading share this one-dimensional integral.
        The delay and energy penalties are summed node by node; the task loss, which
        depends on the SNR alone, comes from :meth:`expected_loss`. Without fading, the
        cost at the mean SNR."""
        mean_snr = np.asarray(mean_snr, dtype=float)
        if self.scenario.cell.fading.model == "none":
            return self.cost(mean_snr, user_cpu_hz)
        nodes = self.fading_nodes()
        penalty = sum(self._penalty(mean_snr * node, user_cpu_hz) for node in nodes)
        return self.expected_loss(mean_snr) + penalty / nodes.size

    def expected_loss(self, mean_snr: np.ndarray) -> np.ndarray:
        """E over fading of the task loss at mean SNR (..., U, Q) -> (..., U, M, Q): the
        quadrature on :meth:`fading_nodes`, tabulated once per model over mean SNR
        (every TABLE_STEP_DB, linearly interpolated, clamped outside the table)."""
        if self._loss_table is None:
            grid_db = self._table_grid_db()
            snr = channel.db_to_linear(grid_db)[None, None, :] * self.fading_nodes()[:, None, None]
            self._loss_table = (grid_db, self._loss(snr)[-1].mean(axis=0)[0])  # (M, G)
        grid_db, table = self._loss_table
        mean_snr_db = channel.linear_to_db(mean_snr)
        out = np.empty(mean_snr_db.shape[:-1] + (len(self.encoders),) + mean_snr_db.shape[-1:])
        for m in range(len(self.encoders)):
            out[..., m, :] = np.interp(mean_snr_db, grid_db, table[m])
        return out

    def _table_grid_db(self, step_db: float = 0.05) -> np.ndarray:
        """Mean-SNR grid of the expected-value tables, every ``step_db``: the profile's
        range widened by 40 dB each way, and at least -60 to 100 dB."""
        low = min(min(s[0] for s in self.profile.snr_db.values()) - 40.0, -60.0)
        high = max(max(s[-1] for s in self.profile.snr_db.values()) + 40.0, 100.0)
        return np.arange(low, high + step_db / 2, step_db)

    @property
    def exact_expectation(self) -> bool:
        """Whether expected costs are integrated exactly (``statistical.expectation``)."""
        how = self.scenario.statistical.expectation
        return how == "exact" or (how == "auto" and exact_expectation_exists(self.scenario))

    def expected_cost_table(self, user_cpu_hz: np.ndarray) -> ExpectedCostTable:
        """The expected cost per (user, encoder), tabulated once over mean SNR in dB (the
        cost depends on the RB and the location only through it): exact
        (:mod:`netsim.model.expectation`) every :attr:`exact_table_step_db`, read by cubic
        interpolation, or :meth:`quadrature_expected_cost` every TABLE_STEP_DB, read
        linearly (``statistical.expectation``)."""
        key = np.asarray(user_cpu_hz, dtype=float).tobytes()
        if key not in self._tables:
            cpu = np.asarray(user_cpu_hz, dtype=float)
            step_db = self.exact_table_step_db if self.exact_expectation else TABLE_STEP_DB
            grid_db = self._table_grid_db(step_db)
            self._tables = {key: ExpectedCostTable.lazy(
                float(grid_db[0]), step_db, (cpu.size, len(self.encoders), grid_db.size),
                _TableValues(self, cpu, grid_db), cubic=self.exact_expectation)}
        return self._tables[key]

    def expected_cost_at(self, mean_snr: np.ndarray, user_cpu_hz: np.ndarray,
                         leakage_penalty: np.ndarray | None = None) -> np.ndarray:
        """E over the fading law of the cost at mean SNR (..., U, Q) -> (..., U, M, Q), for
        clocks (..., U) or (U,), computed directly (no per-device table): exact or by
        quadrature as ``statistical.expectation`` says; without fading, the cost at the
        mean SNR; plus the expected leakage penalty (..., M, Q) if given
        (:meth:`expected_leakage_penalty`). What the RL environment rewards by default."""
        mean_snr = np.asarray(mean_snr, dtype=float)
        if self.scenario.cell.fading.model == "none" or not self.exact_expectation:
            cost = self.quadrature_expected_cost(mean_snr, user_cpu_hz)
        else:
            cost = (self._exact_loss_table().lookup(channel.linear_to_db(mean_snr))
                    + expectation.expected_penalties(self, mean_snr, user_cpu_hz))
        return _plus_penalty(cost, leakage_penalty)

    @cached_property
    def exact_table_step_db(self) -> float:
        """Grid step of the exact tables: EXACT_TABLE_STEP_DB, finer for a fading law
        narrower than Rayleigh's (a twentieth of the law's spread in dB, half the distance
        between its 16th and 84th percentiles, but no finer than 0.01 dB): the narrower
        the law, the less it smooths the cost's kinks, and cubic interpolation needs a
        grid fine against that spread to stay within 1e-6 (tested)."""
        law = channel.power_gain_law(self.scenario.cell.fading)
        if law is None:
            return EXACT_TABLE_STEP_DB
        spread_db = 5.0 * np.log10(law.ppf(0.84) / law.ppf(0.16))
        return float(np.clip(spread_db / 20.0, 0.01, EXACT_TABLE_STEP_DB))

    def _exact_loss_table(self) -> ExpectedCostTable:
        """The exact expected task loss on the exact tables' grid, (1, M, G): it depends
        on no user, so it is computed once and serves every user (read cubically); and
        on nothing but the task, the fading law and the encoders' profile curves, so
        models that share those share it (:data:`_EXACT_LOSS_TABLES`)."""
        if self._exact_loss is None:
            step_db = self.exact_table_step_db
            grid_db = self._table_grid_db(step_db)
            key = self._exact_loss_key(grid_db)
            table = _EXACT_LOSS_TABLES.get(key)
            if table is None:
                loss = expectation.expected_loss(self, channel.db_to_linear(grid_db)[None, :])
                loss.flags.writeable = False  # shared between models
                table = ExpectedCostTable(float(grid_db[0]), step_db, loss, cubic=True)
                if len(_EXACT_LOSS_TABLES) >= EXACT_LOSS_TABLES_KEPT:
                    del _EXACT_LOSS_TABLES[next(iter(_EXACT_LOSS_TABLES))]  # the oldest
                _EXACT_LOSS_TABLES[key] = table
            self._exact_loss = table
        return self._exact_loss

    def _exact_loss_key(self, grid_db: np.ndarray) -> tuple:
        """Everything :meth:`_exact_loss_table` on the mean-SNR grid ``grid_db`` depends
        on: the task, the fading law, the grid and each encoder's profile curve (read
        now: a profile changed after the model was made gets a table of its own)."""
        sc, profile = self.scenario, self.profile
        metric = task_loss_metric(sc.task.kind)
        curves = tuple((name, np.asarray(profile.snr_db[name], dtype=float).tobytes(),
                        np.asarray(profile.values[metric][name], dtype=float).tobytes())
                       for name in self.encoders)
        return (sc.task.kind, sc.cell.fading.model_dump_json(), grid_db.tobytes(), curves)

    def expected_cost(
        self, distance_m: np.ndarray, interference_w: np.ndarray, user_cpu_hz: np.ndarray,
        leakage_penalty: np.ndarray | None = None,
    ) -> np.ndarray:
        """E over the fading law of the cost, (..., U, M, Q): what a scheduler that knows
        locations and interference but not this slot's fading minimises (DESIGN §3).

        Integrated on an equal-probability grid of the fading law (:meth:`fading_nodes`),
        read from a table over mean SNR built once per set of user devices, linearly
        interpolated every 0.05 dB (within 1 % of the direct quadrature; tested). Plus
        the expected leakage penalty (..., M, Q) if given
        (:meth:`expected_leakage_penalty`).
        """
        mean_snr = self.snr(distance_m, 1.0, interference_w)
        if self.scenario.cell.fading.model == "none":
            cost = self.cost(mean_snr, user_cpu_hz)
        else:
            cost = self.expected_cost_table(user_cpu_hz).lookup(channel.linear_to_db(mean_snr))
        return _plus_penalty(cost, leakage_penalty)


@dataclass(frozen=True)
class _TableValues:
    """The values of an expected-cost table (:meth:`CellModel.expected_cost_table`) at
    (user, grid point) pairs, each pair priced as a user of its own on one RB; a class
    at module level, so that a model holding a lazy table pickles."""

    model: CellModel
    cpu_hz: np.ndarray
    """(U,) the users' device clocks."""
    grid_db: np.ndarray
    """(G,) the table's mean-SNR grid."""

    def __call__(self, users: np.ndarray, index: np.ndarray) -> np.ndarray:
        """(n pairs, M) values of ``users`` at grid points ``index``."""
        model, cpu = self.model, self.cpu_hz
        mean_snr = channel.db_to_linear(self.grid_db[index])[:, None]  # (n, 1)
        if model.exact_expectation:  # the loss's table (1, M, G) is on the same grid
            return (model._exact_loss_table().values[0][:, index].T
                    + expectation.expected_penalties(model, mean_snr, cpu[users])[..., 0])
        return model.quadrature_expected_cost(mean_snr, cpu[users])[..., 0]


@dataclass(frozen=True)
class ExpectedStaticOne:
    """The expected timing-free cost E[task loss + lambda_E v_E] of one request
    (:meth:`CellModel.expected_static_one`): the same operations as
    :meth:`CellModel.expected_static_cost` for one element, on Python floats."""

    loss: ExpectedCostTable
    """The exact expected task loss, (1, M, G)."""
    start_s: list[list[float]]
    """[user][encoder] the air time at which the energy reaches E_max, (E_max - fixed) / P."""
    width_s: float
    """E_max / P: the air time over which v_E rises from 0 to 1."""
    bits: list[float]
    """[encoder] Z_m."""
    bandwidth_hz: float
    lambda_energy: float

    def __call__(self, user: int, encoder: int, mean_snr: float,
                 leakage_penalty: float | None = None) -> float:
        """The cost of ``user`` served with ``encoder`` on an RB of mean SNR ``mean_snr``
        (linear), plus the RB's expected leakage penalty for that encoder if given."""
        energy_penalty = self.lambda_energy * expectation.rayleigh_ramp(
            self.bits[encoder], mean_snr, self.bandwidth_hz, self.start_s[user][encoder],
            self.width_s)
        cost = self.loss.lookup_one(0, encoder, _db_one(mean_snr)) + energy_penalty
        return cost if leakage_penalty is None else cost + leakage_penalty


def _db_one(value: float) -> float:
    """:func:`channel.linear_to_db` of one float: -inf at 0, NaN below."""
    if value > 0.0:
        return 10.0 * math.log10(value)
    return -math.inf if value == 0.0 else math.nan


def _cubic_weights(t):  # type: ignore[no-untyped-def] - floats or arrays alike
    """The 4-point Lagrange weights of the grid nodes index - 1 .. index + 2 at
    t = position - index: the same operations on a float as on an array, so
    :meth:`ExpectedCostTable.lookup_one` reads :meth:`ExpectedCostTable.lookup`'s bits."""
    return (-t * (t - 1.0) * (t - 2.0) / 6.0, (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0,
            -(t + 1.0) * t * (t - 2.0) / 2.0, (t + 1.0) * t * (t - 1.0) / 6.0)


def _plus_penalty(cost: np.ndarray, penalty: np.ndarray | None) -> np.ndarray:
    """A cost (..., U, M, Q) plus a penalty of each (encoder, RB), (..., M, Q), if any."""
    return cost if penalty is None else cost + penalty[..., None, :, :]


_EXACT_LOSS_TABLES: dict[tuple, ExpectedCostTable] = {}
"""Exact expected-loss tables of this process, by :meth:`CellModel._exact_loss_key`: the
models of one run, of a training's environments and of a sweep's points share them."""
EXACT_LOSS_TABLES_KEPT = 16
"""At most this many are kept (the oldest goes first)."""
TABLE_STEP_DB = 0.05
"""Grid step of the quadrature tables, read linearly (within 1 % of the quadrature)."""
EXACT_TABLE_STEP_DB = 0.25
"""Grid step of the exact tables under Rayleigh fading (and the coarsest for any law):
the expected cost is smooth in mean SNR (the fading density smooths the cost's kinks),
so cubic interpolation on this grid stays within 1e-6 relative of the exact value
(tested)."""


@dataclass(frozen=True)
class ExpectedCostTable:
    """E[cost] per (user, encoder) on a uniform grid of mean SNR in dB."""

    low_db: float
    step_db: float
    values: np.ndarray
    """(U, M, G)."""
    cubic: bool = False
    """Read by 4-point (Lagrange) cubic interpolation instead of linear."""
    fill: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False)
    """For a table filled as it is read (:meth:`lazy`): the values of (user, grid index)
    pairs, (n, M); None: every value is there."""
    filled: np.ndarray | None = field(default=None, repr=False, compare=False)
    """(U, G) which (user, grid point) hold their values (a lazy table)."""

    @classmethod
    def lazy(cls, low_db: float, step_db: float, shape: tuple[int, int, int],
             fill: Callable[[np.ndarray, np.ndarray], np.ndarray], cubic: bool
             ) -> ExpectedCostTable:
        """A table whose values are computed by ``fill`` when a lookup first needs them:
        for each user, only the span of mean SNRs it meets (the grid runs from -60 dB to
        100 dB at least), each value with the bits it has in the whole table's
        computation (each value is computed on its own: elementwise, with reductions
        over fading only; tested)."""
        return cls(low_db, step_db, np.full(shape, np.nan), cubic, fill,
                   np.zeros((shape[0], shape[-1]), dtype=bool))

    def _complete(self, index: np.ndarray, before: int, after: int) -> None:
        """Compute the missing values around grid indices ``index`` (..., U, Q) (or any
        shape, for every user): from ``before`` points below each user's least index
        to ``after`` points above its largest."""
        n_users, size = self.filled.shape
        if index.ndim >= 2 and index.shape[-2] == n_users:
            per_user = np.moveaxis(index, -2, 0).reshape(n_users, -1)
            first, last = per_user.min(axis=1), per_user.max(axis=1)
        else:
            first = np.full(n_users, index.min())
            last = np.full(n_users, index.max())
        first, last = np.maximum(first - before, 0), np.minimum(last + after, size - 1)
        span = np.arange(size)
        wanted = (span >= first[:, None]) & (span <= last[:, None]) & ~self.filled
        users, points = np.nonzero(wanted)
        if users.size == 0:
            return
        if users.size == 1:  # two at least: a neighbour's value is recomputed as it was
            neighbour = points[0] + 1 if points[0] + 1 < size else points[0] - 1
            users, points = np.repeat(users, 2), np.array([points[0], neighbour])
        self.values[users, :, points] = self.fill(users, points)
        self.filled[users, points] = True

    @cached_property
    def _value_lists(self) -> list[list[list[float]]]:
        """The values as Python floats, [user][encoder][grid point] (a complete table)."""
        return self.values.tolist()

    def lookup_one(self, user: int, encoder: int, mean_snr_db: float) -> float:
        """:meth:`lookup` of one (user, encoder) at one mean SNR, on Python floats (the
        same operations, so the same bits); a table whose values are all there."""
        if self.fill is not None:
            raise ValueError("lookup_one reads a complete table, not a lazy one")
        values = self._value_lists[user][encoder]
        size = len(values)
        position = (mean_snr_db - self.low_db) / self.step_db
        if math.isnan(position):
            return math.nan
        position = min(max(position, 0.0), size - 1.0)
        if not self.cubic:
            index = min(int(position), size - 2)
            below, above = values[index], values[index + 1]
            return below + (position - index) * (above - below)
        index = min(max(int(position), 1), size - 3)
        weights = _cubic_weights(position - index)
        near = values[index - 1:index + 3]
        out = weights[0] * near[0]
        for k in (1, 2, 3):
            out = out + weights[k] * near[k]
        return out

    def lookup(self, mean_snr_db: np.ndarray) -> np.ndarray:
        """Interpolation at mean SNR (..., U, Q) -> (..., U, M, Q), clamped to the grid."""
        n_users, n_enc, size = self.values.shape
        position = np.clip((mean_snr_db - self.low_db) / self.step_db, 0.0, size - 1.0)
        users = np.arange(n_users)[:, None, None]
        encoders = np.arange(n_enc)[None, :, None]
        with np.errstate(invalid="ignore"):  # a NaN position: any index, its weights are NaN
            whole = position.astype(np.intp)
        if not self.cubic:  # a NaN position reads NaN (as the cubic read), not garbage
            index = np.clip(whole, 0, size - 2)
            if self.fill is not None and index.size:
                self._complete(index, 0, 1)
            weight = (position - index)[..., :, None, :]
            index = index[..., :, None, :]
            below = self.values[users, encoders, index]
            above = self.values[users, encoders, index + 1]
            return below + weight * (above - below)
        # nodes index-1 .. index+2 around the position (one-sided at the grid's ends)
        index = np.clip(whole, 1, size - 3)
        if self.fill is not None and index.size:
            self._complete(index, 1, 2)
        weights = _cubic_weights((position - index)[..., :, None, :])
        flat = ((users * n_enc + encoders) * size + index[..., :, None, :]).astype(np.intp)
        values = self.values.ravel()
        out = weights[0] * np.take(values, flat - 1)
        for k in (1, 2, 3):
            out = out + weights[k] * np.take(values, flat + (k - 1))
        return out
