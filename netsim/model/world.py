"""The random world of one seed: user positions and devices, block fading, inter-cell
interference and request arrivals over all slots (DESIGN §2).

The trace does not depend on any scheduler's decisions, so every scheduler of a run
faces exactly the same world (common random numbers): differences between schedulers
are differences of decisions, not of luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from netsim.model.channel import dbm_to_w
from netsim.scenario import Scenario


@dataclass(frozen=True)
class WorldTrace:
    position_m: np.ndarray
    """(T, U, 2) user coordinates, BS at the origin."""
    distance_m: np.ndarray
    """(T, U)."""
    fading: np.ndarray
    """(T, U) or (T, U, Q): Rayleigh power gain o, E[o] = 1."""
    interference_w: np.ndarray
    """(T, Q) inter-cell interference power per RB."""
    active: np.ndarray
    """(T, U) bool: the user requests an image in this slot."""
    user_cpu_hz: np.ndarray
    """(U,) f_u of each user's device; (T, U) for :func:`generate_snapshots`."""
    eavesdropper_position_m: np.ndarray | None = None
    """(T, E, 2) eavesdropper coordinates; None without eavesdroppers."""
    eavesdropper_distance_m: np.ndarray | None = None
    """(T, E)."""
    eavesdropper_fading: np.ndarray | None = None
    """(T, E) or (T, E, Q): their fading power gains, drawn from the users' law."""

    @property
    def cpu_hz_by_slot(self) -> np.ndarray:
        """(T, U) the users' clocks in every slot (per world, or per slot for snapshots)."""
        return np.broadcast_to(self.user_cpu_hz, self.distance_m.shape)

    @property
    def n_slots(self) -> int:
        return self.distance_m.shape[0]


def world_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each random part of the world, from one seed."""
    names = ("positions", "mobility", "devices", "fading", "interference", "arrivals",
             "poisson_arrivals", "eavesdroppers", "eavesdropper_fading")
    # spawned children depend on their index only: a name added at the end leaves every
    # earlier stream, and so every earlier world, as it was
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


def initial_positions(
    n_users: int, min_distance_m: float, radius_m: float, rng: np.random.Generator
) -> np.ndarray:
    """Users uniform over the annulus min_distance <= d <= radius, (U, 2)."""
    radius = np.sqrt(rng.uniform(min_distance_m**2, radius_m**2, n_users))
    angle = rng.uniform(0.0, 2.0 * np.pi, n_users)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def random_walk(
    start_m: np.ndarray,
    n_slots: int,
    step_m: float,
    min_distance_m: float,
    radius_m: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """(T, U, 2) positions: each slot a step of ``step_m`` in a uniform direction; a step
    that would leave the annulus is taken backwards instead (a bounce), and a position
    is finally clipped radially into the annulus should both directions leave it."""
    angles = rng.uniform(0.0, 2.0 * np.pi, (n_slots - 1, start_m.shape[0]))
    steps = step_m * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    positions = np.empty((n_slots,) + start_m.shape)
    positions[0] = start_m

    def inside(points: np.ndarray) -> np.ndarray:
        r = np.hypot(points[:, 0], points[:, 1])
        return (r >= min_distance_m) & (r <= radius_m)

    for t in range(1, n_slots):  # each step depends on the last position
        forward = positions[t - 1] + steps[t - 1]
        moved = np.where(inside(forward)[:, None], forward, positions[t - 1] - steps[t - 1])
        r = np.hypot(moved[:, 0], moved[:, 1])
        positions[t] = moved * (np.clip(r, min_distance_m, radius_m) / np.maximum(r, 1e-12))[
            :, None
        ]
    return positions


def ar1_db(
    n_slots: int, n_rbs: int, mean_db: float, std_db: float, rho: float, rng: np.random.Generator
) -> np.ndarray:
    """Stationary AR(1) in dB: x[t] = mean + rho (x[t-1] - mean) + sqrt(1 - rho^2) std e[t]."""
    innovations = rng.standard_normal((n_slots, n_rbs))
    start = rng.standard_normal(n_rbs) * std_db
    scaled = np.sqrt(1.0 - rho**2) * std_db * innovations
    deviation, _ = lfilter([1.0], [1.0, -rho], scaled, axis=0, zi=(rho * start)[None, :])
    return mean_db + deviation


def fading_draw(scenario: Scenario, n_slots: int, rng: np.random.Generator,
                n_users: int | None = None) -> np.ndarray:
    """Block fading power gains of mean 1 (:func:`netsim.model.channel.power_gain_law`),
    (T, U) flat or (T, U, Q) per RB (``n_users`` receivers, default the users); ones
    without fading."""
    cell = scenario.cell
    n_users = scenario.users.count if n_users is None else n_users
    shape = (n_slots, n_users) if cell.fading.per == "user" else (n_slots, n_users, cell.n_rbs)
    law = cell.fading
    if law.model == "rayleigh":
        return rng.exponential(1.0, shape)
    if law.model == "rician":  # |LOS + scattered|^2, scattered CN(0, 1 / (K + 1))
        k = law.k_factor
        los, sigma = np.sqrt(k / (k + 1.0)), np.sqrt(0.5 / (k + 1.0))
        return (los + sigma * rng.standard_normal(shape)) ** 2 \
            + (sigma * rng.standard_normal(shape)) ** 2
    if law.model == "nakagami":
        return rng.gamma(law.m, 1.0 / law.m, shape)
    return np.ones(shape)


def eavesdropper_draw(scenario: Scenario, n_slots: int, rng: dict[str, np.random.Generator],
                      snapshots: bool = False) -> dict[str, np.ndarray | None]:
    """The eavesdroppers of one world (:class:`WorldTrace` fields): fixed positions
    (``eavesdroppers.positions_m``) or drawn uniformly over the cell's annulus, once
    for all slots (for ``snapshots``, once per slot: each its own world); their fading
    from the users' law; nothing without any."""
    eve, cell = scenario.eavesdroppers, scenario.cell
    if eve.count == 0:
        return {}
    if eve.positions_m is not None:
        start = np.asarray(eve.positions_m, dtype=float).reshape(eve.count, 2)
    else:
        draws = n_slots if snapshots else 1
        start = initial_positions(draws * eve.count, cell.min_distance_m, cell.radius_m,
                                  rng["eavesdroppers"]).reshape(draws, eve.count, 2)
    positions = np.broadcast_to(start, (n_slots, eve.count, 2)).copy()
    return {"eavesdropper_position_m": positions,
            "eavesdropper_distance_m": np.hypot(positions[..., 0], positions[..., 1]),
            "eavesdropper_fading": fading_draw(scenario, n_slots, rng["eavesdropper_fading"],
                                               eve.count)}


def generate_snapshots(scenario: Scenario, seed: int, count: int) -> WorldTrace:
    """``count`` independent one-slot worlds of one seed, stacked as slots: each its own
    layout, devices, fading, interference and arrivals, distributed exactly as the one
    slot of ``generate_world`` with ``slots: 1`` (the interference at its stationary
    law). Drawn in one vectorised pass, for RL training; user_cpu_hz is (count, U)."""
    rng = world_streams(seed)
    cell, users = scenario.cell, scenario.users
    n_users = users.count
    position = initial_positions(count * n_users, cell.min_distance_m, cell.radius_m,
                                 rng["positions"]).reshape(count, n_users, 2)
    low, high = users.cpu_hz_range
    cpu_hz = rng["devices"].uniform(low, high, (count, n_users))
    itf = cell.interference
    interference_dbm = ar1_db(count, cell.n_rbs, itf.mean_dbm, itf.std_db, 0.0,
                              rng["interference"])
    active = rng["arrivals"].random((count, n_users)) < users.arrivals.probability
    return WorldTrace(position, np.hypot(position[..., 0], position[..., 1]),
                      fading_draw(scenario, count, rng["fading"]),
                      dbm_to_w(interference_dbm), active, cpu_hz,
                      **eavesdropper_draw(scenario, count, rng, snapshots=True))


def generate_world(scenario: Scenario, seed: int) -> WorldTrace:
    """The whole random trace of one seed."""
    rng = world_streams(seed)
    cell, users = scenario.cell, scenario.users
    n_slots, n_users, n_rbs = scenario.slots, users.count, cell.n_rbs

    start = initial_positions(n_users, cell.min_distance_m, cell.radius_m, rng["positions"])
    if users.mobility.model == "random_walk" and users.mobility.speed_mps > 0:
        step_m = users.mobility.speed_mps * scenario.slot_duration_s
        positions = random_walk(
            start, n_slots, step_m, cell.min_distance_m, cell.radius_m, rng["mobility"]
        )
    else:
        positions = np.broadcast_to(start, (n_slots, n_users, 2)).copy()
    distance = np.hypot(positions[..., 0], positions[..., 1])

    low, high = users.cpu_hz_range
    cpu_hz = rng["devices"].uniform(low, high, n_users)

    fading = fading_draw(scenario, n_slots, rng["fading"])

    itf = cell.interference
    interference_dbm = ar1_db(
        n_slots, n_rbs, itf.mean_dbm, itf.std_db, itf.slot_correlation, rng["interference"]
    )
    active = rng["arrivals"].random((n_slots, n_users)) < users.arrivals.probability
    return WorldTrace(positions, distance, fading, dbm_to_w(interference_dbm), active, cpu_hz,
                      **eavesdropper_draw(scenario, n_slots, rng))
