"""What the policy sees (DESIGN §3): the observation vector, its layout and scales (the
masks read back from it: :mod:`netsim.rl.masks`). The parts and their order are listed in :mod:`netsim.rl.env`'s docstring."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from netsim.scenario import Scenario
from netsim.simulation.scheduling import QueueState

OBS_BOUND = 100.0
"""Observations are clipped to +-OBS_BOUND (reached only by absurd SNRs)."""


def observation_size(n_users: int, n_rbs: int) -> int:
    """3 Q + 3 U + U Q + 1 entries (see the module docstring)."""
    return 3 * n_rbs + 3 * n_users + n_users * n_rbs + 1


def clip_bound(values: np.ndarray) -> np.ndarray:
    """``values`` clipped to +-OBS_BOUND in place (np.clip's numbers without its wrapper's
    cost, which is most of the time on the short vectors of one step)."""
    return np.minimum(np.maximum(values, -OBS_BOUND, out=values), OBS_BOUND, out=values)


def drop_allowed(users_left: int, n_free: int, voluntary_drop: bool) -> bool:
    """Whether the current user may be left unserved (the mask's last action): voluntary
    drops, or more users left in the slot (the current one included) than free RBs."""
    return voluntary_drop or users_left > n_free


@cache
def observation_layout(n_users: int, n_rbs: int) -> dict[str, slice]:
    """Where each part of the observation lies, in order (see the module docstring)."""
    sizes = {"interference": n_rbs, "free": n_rbs, "distance": n_users, "clock": n_users,
             "mean_snr": n_users * n_rbs, "current_user": n_users, "current_snr": n_rbs,
             "users_left": 1}
    layout, start = {}, 0
    for name, size in sizes.items():
        layout[name] = slice(start, start + size)
        start += size
    return layout


@dataclass(frozen=True)
class QueueView:
    """What the closed loop shows at a slot boundary, in slots (/ slot duration):
    per user (0 for users with nothing waiting) and per resource."""

    device_backlog: np.ndarray
    """(U,) decoding still to go on each waiting user's device."""
    waiting: np.ndarray
    """(U,) requests waiting per user."""
    age: np.ndarray
    """(U,) age of each user's oldest waiting request."""
    core_work: np.ndarray
    """(cores,) remaining extraction work on each BS core."""
    rb_backlog: np.ndarray
    """(Q,) committed transmissions still to go on each RB."""


def queue_view(state: QueueState, users: np.ndarray, n_users: int,
               slot_duration_s: float) -> QueueView:
    """What a queue-aware scheduler sees at the boundary, in slots, per user (zeros for
    users with nothing waiting) and per resource: views into one array,
    :func:`queue_packed`."""
    packed = queue_packed(state, users, n_users, slot_duration_s)
    cores, n_rbs = state.core_free_s.size, state.rb_free_s.size
    device, waiting, age = packed[cores + n_rbs:].reshape(3, n_users)
    return QueueView(device, waiting, age, packed[:cores], packed[cores:cores + n_rbs])


def queue_packed(state: QueueState, users: np.ndarray, n_users: int,
                 slot_duration_s: float) -> np.ndarray:
    """:class:`QueueView`'s entries in one array, in the order of the MLP observation's
    queue part: cores, Q, then U device backlogs, waiting counts and ages."""
    now, cores, n_rbs = state.now_s, state.core_free_s.size, state.rb_free_s.size
    packed = np.zeros(cores + n_rbs + 3 * n_users)
    packed[:cores] = state.remaining_work_s() / slot_duration_s
    packed[cores:cores + n_rbs] = np.maximum(state.rb_free_s - now, 0.0) / slot_duration_s
    device, waiting, age = packed[cores + n_rbs:].reshape(3, n_users)
    device[users] = np.maximum(np.asarray(state.device_free_s) - now, 0.0) / slot_duration_s
    waiting[users] = state.queue_length
    age[users] = (now - state.arrival_s) / slot_duration_s
    return packed


@dataclass(frozen=True)
class FeatureScales:
    """How locations, interference and device clocks are scaled into features; the
    constants come from the training scenario, so a trained policy sees the same
    scales wherever it is used."""

    radius_m: float
    interference_mean_dbm: float
    interference_std_db: float
    cpu_low_hz: float
    cpu_span_hz: float

    @staticmethod
    def of(scenario: Scenario) -> dict[str, float]:
        """The scales of ``scenario``, as keyword arguments."""
        low, high = scenario.users.cpu_hz_range
        itf = scenario.cell.interference
        return {"radius_m": scenario.cell.radius_m, "interference_mean_dbm": itf.mean_dbm,
                "interference_std_db": max(itf.std_db, 1e-9), "cpu_low_hz": low,
                "cpu_span_hz": max(high - low, 1.0)}

    def interference_feature(self, interference_w: np.ndarray) -> np.ndarray:
        """Interference in dBm, standardised by the scenario's mean and spread."""
        interference_dbm = 10.0 * np.log10(np.asarray(interference_w) * 1e3)
        return (interference_dbm - self.interference_mean_dbm) / self.interference_std_db

    def distance_feature(self, distance_m: np.ndarray) -> np.ndarray:
        """Distance / cell radius."""
        return np.asarray(distance_m) / self.radius_m

    def clock_feature(self, user_cpu_hz: np.ndarray) -> np.ndarray:
        """Device clock, 0 .. 1 over the scenario's range."""
        return (np.asarray(user_cpu_hz) - self.cpu_low_hz) / self.cpu_span_hz


@dataclass(frozen=True)
class ObservationEncoder(FeatureScales):
    """Builds the observation vector of a cell of ``n_users`` users and ``n_rbs`` RBs."""

    n_users: int
    n_rbs: int

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ObservationEncoder:
        return cls(**FeatureScales.of(scenario), n_users=scenario.users.count,
                   n_rbs=scenario.cell.n_rbs)

    def slot_template(
        self, interference_w: np.ndarray, distance_m: np.ndarray, user_cpu_hz: np.ndarray,
        mean_snr: np.ndarray,
    ) -> np.ndarray:
        """The parts of a slot's observations that do not change within the slot
        (interference, distances, clocks); the rest is left 0 for :meth:`fill`. With a
        leading axis of slots (interference (S, Q), distances (S, U), mean SNRs
        (S, U, Q)), the templates of S slots at once, (S, size)."""
        slots = np.shape(interference_w)[:-1]
        n_rbs = np.shape(interference_w)[-1]
        part = observation_layout(self.n_users, n_rbs)
        template = np.zeros((*slots, observation_size(self.n_users, n_rbs)), dtype=np.float32)
        template[..., part["interference"]] = self.interference_feature(interference_w)
        template[..., part["distance"]] = self.distance_feature(distance_m)
        template[..., part["clock"]] = self.clock_feature(user_cpu_hz)
        template[..., part["mean_snr"]] = self.snr_feature(mean_snr).reshape(*slots, -1)
        return np.clip(template, -OBS_BOUND, OBS_BOUND)

    def fill(self, template: np.ndarray, free: np.ndarray, user: int,
             mean_snr_feature: np.ndarray, users_left: int) -> np.ndarray:
        """A copy of ``template`` with the step's free RBs, current user (one-hot), its
        mean SNR feature (:meth:`snr_feature`) and the users left."""
        part = observation_layout(self.n_users, free.size)
        observation = template.copy()
        observation[part["free"]] = free
        observation[part["current_user"].start + user] = 1.0
        observation[part["current_snr"]] = clip_bound(np.array(mean_snr_feature, dtype=float))
        observation[part["users_left"]] = users_left / self.n_users
        return observation

    def observe(self, assignment) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The observation before acting for ``assignment``'s current user (a
        :class:`netsim.rl.assignment.SlotAssignment`)."""
        user = assignment.current_user
        return self.fill(assignment.template, assignment.free, user,
                         assignment.snr_feature[user], assignment.users_left)

    def current_user(self, observation: np.ndarray) -> tuple[int, np.ndarray, float]:
        """Read back from an observation the user being assigned, its mean SNR on each
        RB (linear) and its device clock in Hz."""
        part = observation_layout(self.n_users, self.n_rbs)
        user = int(np.argmax(observation[part["current_user"]]))
        mean_snr = 10.0 ** observation[part["current_snr"]].astype(float)
        clock = observation[part["clock"]][user]
        return user, mean_snr, float(clock * self.cpu_span_hz + self.cpu_low_hz)

    @staticmethod
    def snr_feature(mean_snr: np.ndarray) -> np.ndarray:
        """Mean SNR in dB / 10."""
        return np.log10(mean_snr)

    def encode(
        self,
        interference_w: np.ndarray,
        free: np.ndarray,
        distance_m: np.ndarray,
        user_cpu_hz: np.ndarray,
        user: int,
        mean_snr: np.ndarray,
        users_left: int,
    ) -> np.ndarray:
        """One observation: RB interference, free RBs, all users' distances and clocks,
        the current user (one-hot), its mean SNR on every RB, and the users left."""
        template = self.slot_template(interference_w, distance_m, user_cpu_hz, mean_snr)
        return self.fill(template, free, user, self.snr_feature(mean_snr[user]), users_left)


@dataclass(frozen=True)
class MaskSpec:
    """Enough of the scenario to read action masks back from observations
    (:func:`netsim.rl.masks.masks_from_observations`). It lives here, beside the layout,
    because saved DQN and SAC models pickle it under this module's name."""

    n_users: int
    n_rbs: int
    n_encoders: int
    voluntary_drop: bool
    size_free: bool = False
    """The observation is the size-free one (:mod:`netsim.rl.size_free`), of any Q."""

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> MaskSpec:
        return cls(scenario.users.count, scenario.cell.n_rbs, len(scenario.encoders),
                   scenario.users.voluntary_drop, scenario.rl.policy == "size_free")
