"""The paper's MDP as a gymnasium environment (DESIGN §3).

The agent is the base station. One step assigns one requesting user an (encoder, RB)
pair, so a slot takes as many steps as users with a request, taken in the order
``rl.user_order`` (by default cell-edge users first, :func:`assignment_order`); an episode is
``rl.episode_slots`` slots of one random world (a fresh world per episode).

Observation (float32, documented in :func:`observation_size`):
  interference on each RB, normalised dB                          (Q)
  which RBs are still free this slot                              (Q)
  every user's distance / cell radius                             (U)
  every user's device clock, normalised to the scenario's range   (U)
  every user's mean SNR on every RB, dB / 10                      (U x Q)
  which user is being assigned now (one-hot)                      (U)
  that user's mean SNR on each RB, dB / 10                        (Q)
  users still to assign in this slot, this one included, / U      (1)
The paper's state is the first three; the device clocks are what the statistical
exact baseline also knows; the mean SNRs are a function of distances and interference
(not extra information) that spares the policy from learning the path-loss law, and
the rest tells the policy whom it is acting for;
with the free RBs and the users left, the action mask is a function of the observation
(:func:`masks_from_observations`), which off-policy learners use on replayed states.
No fading: the agent knows what the statistical baseline knows.

Action: Discrete(M * Q + 1): ``m * Q + q`` serves the user with encoder m on RB q;
the last action leaves the user unserved. ``action_masks()`` allows a free RB with any
encoder, and "unserved" only where the scenario allows a drop (voluntary drops, or
more users left in the slot than free RBs). A masked action is never remapped: the
user goes unserved at its drop penalty plus ``rl.invalid_action_penalty`` and
``info["invalid_action"]`` is set.

Reward: minus the eq. 11 cost of the user's assignment (the same
:class:`netsim.model.cost.CellModel` cost the exact solvers minimise), times
``rl.reward_scale``: by default its expectation over the fading the agent cannot see
(what the statistical optimum minimises), or with ``rl.reward_model: realised`` its
value under this slot's fading draw (the paper); ``info["cost"]`` always holds the
unscaled realised cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np

from netsim.model.cost import CellModel
from netsim.model.taskloss import load_profile, resolve_profile_path
from netsim.model.world import WorldTrace, generate_snapshots, generate_world
from netsim.scenario import Scenario
from netsim.simulation.runner import drop_penalties

SEED_SPACE = 2**31 - 1
SNAPSHOT_BLOCK = 256
"""One-slot training worlds drawn per vectorised batch (see SlotAssignmentEnv.reset)."""
OBS_BOUND = 100.0
"""Observations are clipped to +-OBS_BOUND (reached only by absurd SNRs)."""


def observation_size(n_users: int, n_rbs: int) -> int:
    """3 Q + 3 U + U Q + 1 entries (see the module docstring)."""
    return 3 * n_rbs + 3 * n_users + n_users * n_rbs + 1


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
class ObservationEncoder:
    """Builds the observation vector; its constants come from the training scenario, so a
    trained policy sees the same scales wherever it is used."""

    n_users: int
    radius_m: float
    interference_mean_dbm: float
    interference_std_db: float
    cpu_low_hz: float
    cpu_span_hz: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ObservationEncoder:
        low, high = scenario.users.cpu_hz_range
        itf = scenario.cell.interference
        return cls(scenario.users.count, scenario.cell.radius_m, itf.mean_dbm,
                   max(itf.std_db, 1e-9), low, max(high - low, 1.0))

    def slot_template(
        self, interference_w: np.ndarray, distance_m: np.ndarray, user_cpu_hz: np.ndarray,
        mean_snr: np.ndarray,
    ) -> np.ndarray:
        """The parts of a slot's observations that do not change within the slot
        (interference, distances, clocks); the rest is left 0 for :meth:`fill`."""
        n_rbs = np.shape(interference_w)[-1]
        part = observation_layout(self.n_users, n_rbs)
        interference_dbm = 10.0 * np.log10(np.asarray(interference_w) * 1e3)
        template = np.zeros(observation_size(self.n_users, n_rbs), dtype=np.float32)
        template[part["interference"]] = (
            (interference_dbm - self.interference_mean_dbm) / self.interference_std_db
        )
        template[part["distance"]] = np.asarray(distance_m) / self.radius_m
        template[part["clock"]] = (np.asarray(user_cpu_hz) - self.cpu_low_hz) / self.cpu_span_hz
        template[part["mean_snr"]] = self.snr_feature(mean_snr).ravel()
        return np.clip(template, -OBS_BOUND, OBS_BOUND)

    def fill(self, template: np.ndarray, free: np.ndarray, user: int,
             mean_snr_feature: np.ndarray, users_left: int) -> np.ndarray:
        """A copy of ``template`` with the step's free RBs, current user (one-hot), its
        mean SNR feature (:meth:`snr_feature`) and the users left."""
        part = observation_layout(self.n_users, free.size)
        observation = template.copy()
        observation[part["free"]] = free
        observation[part["current_user"].start + user] = 1.0
        observation[part["current_snr"]] = np.clip(mean_snr_feature, -OBS_BOUND, OBS_BOUND)
        observation[part["users_left"]] = users_left / self.n_users
        return observation

    def current_user(self, observation: np.ndarray) -> tuple[int, np.ndarray, float]:
        """Read back from an observation the user being assigned, its mean SNR on each
        RB (linear) and its device clock in Hz."""
        n_rbs = (observation.size - 3 * self.n_users - 1) // (3 + self.n_users)
        part = observation_layout(self.n_users, n_rbs)
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
    """Enough of the scenario to read action masks back from observations."""

    n_users: int
    n_rbs: int
    n_encoders: int
    voluntary_drop: bool

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> MaskSpec:
        return cls(scenario.users.count, scenario.cell.n_rbs, len(scenario.encoders),
                   scenario.users.voluntary_drop)


def masks_from_observations(observations: np.ndarray, spec: MaskSpec) -> np.ndarray:
    """Action masks (B, M Q + 1) of a batch of observations (B, size): the same as
    :func:`action_mask` at the step that produced each observation. An all-zero
    observation (after the episode's end) gets an all-true mask."""
    observations = np.atleast_2d(observations)
    part = observation_layout(spec.n_users, spec.n_rbs)
    free = observations[:, part["free"]] > 0.5
    users_left = np.rint(observations[:, part["users_left"].start] * spec.n_users)
    masks = np.concatenate(
        [np.tile(free, spec.n_encoders),
         (spec.voluntary_drop | (users_left > free.sum(axis=1)))[:, None]], axis=1
    )
    masks[~masks.any(axis=1)] = True
    return masks


def assignment_order(users: np.ndarray, distance_m: np.ndarray, rule: str) -> np.ndarray:
    """The requesting ``users`` in the order they are assigned (``rl.user_order``):
    farthest_first sorts them by decreasing distance (ties by index); index keeps them."""
    users = np.asarray(users)
    if rule == "index":
        return users
    return users[np.argsort(-np.asarray(distance_m)[users], kind="stable")]


def action_mask(free: np.ndarray, users_left: int, n_encoders: int, voluntary_drop: bool):
    """Valid actions: any encoder on a free RB; 'unserved' only where a drop is allowed
    (voluntary drops, or more users left in the slot than free RBs)."""
    mask = np.empty(n_encoders * free.size + 1, dtype=bool)
    mask[:-1].reshape(n_encoders, free.size)[:] = free
    mask[-1] = voluntary_drop or users_left > np.count_nonzero(free)
    return mask


class SlotAssignmentEnv(gym.Env):
    """Sequential (encoder, RB) assignment, one user per step."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario, model: CellModel | None = None) -> None:
        super().__init__()
        if model is None:
            model = CellModel(scenario, load_profile(resolve_profile_path(scenario)))
        episode = scenario.model_copy(update={"slots": scenario.rl.episode_slots})
        self._world_scenario = scenario.model_copy(
            update={"slots": max(scenario.rl.world_slots, scenario.rl.episode_slots)}
        )
        self._batched = False
        self.scenario = episode
        self.model = model
        self.n_users = scenario.users.count
        self.n_rbs = scenario.cell.n_rbs
        self.n_encoders = len(scenario.encoders)
        self.drop_action = self.n_encoders * self.n_rbs
        self.penalty = drop_penalties(scenario)
        self.action_space = gym.spaces.Discrete(self.drop_action + 1)
        size = observation_size(self.n_users, self.n_rbs)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (size,), np.float32)
        self.encoder = ObservationEncoder.from_scenario(scenario)
        self.world: WorldTrace | None = None

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """The next episode: the next ``rl.episode_slots`` slots of the current random
        world, a new world (of ``rl.world_slots`` slots; by default a block of one-slot
        worlds, see :meth:`_training_world`) when it is used up or when a seed is given.
        ``options={"world_seed": s}`` plays exactly the world of that seed, from its
        first slot (evaluation)."""
        super().reset(seed=seed)
        world_seed = (options or {}).get("world_seed")
        if world_seed is not None:
            self.load_world(generate_world(self.scenario, int(world_seed)))
            return self._observation(), {}
        episode = self.scenario.rl.episode_slots
        used_up = self.world is None or self.stop + episode > self.world.n_slots
        if seed is not None or used_up or not self._batched:  # a seed starts a new world
            self.load_world(self._training_world(int(self.np_random.integers(SEED_SPACE))),
                            stop=episode)
            self._batched = True
        else:
            self.slot, self.stop = self.stop, self.stop + episode
            self._start_slot()
        return self._observation(), {}

    def _training_world(self, seed: int) -> WorldTrace:
        """With one-slot episodes and worlds (the default), SNAPSHOT_BLOCK independent
        one-slot worlds drawn at once (:func:`generate_snapshots`): a new world every
        episode, at a fraction of the cost; otherwise a world of ``rl.world_slots``."""
        if self._world_scenario.slots == 1:
            return generate_snapshots(self.scenario, seed, SNAPSHOT_BLOCK)
        return generate_world(self._world_scenario, seed)

    def load_world(self, world: WorldTrace, stop: int | None = None) -> None:
        """Start an episode on a given world trace, at its first slot, ending before
        slot ``stop`` (default: the whole trace)."""
        self._batched = False
        self.world = world
        cpu_hz = world.cpu_hz_by_slot
        snr = self.model.snr(world.distance_m, world.fading, world.interference_w)
        self.realised_cost = self.model.cost(snr, cpu_hz)  # (T, U, M, Q)
        mean_snr = self.model.snr(world.distance_m, 1.0, world.interference_w)
        self.reward_cost = (
            self.model.quadrature_expected_cost(mean_snr, cpu_hz)
            if self.scenario.rl.reward_model == "expected"
            else self.realised_cost
        )
        self._snr_feature = self.encoder.snr_feature(mean_snr)  # (T, U, Q)
        self._templates = [
            self.encoder.slot_template(world.interference_w[t], world.distance_m[t],
                                       cpu_hz[t], mean_snr[t])
            for t in range(world.n_slots)
        ]
        self.slot = 0
        self.stop = world.n_slots if stop is None else stop
        self._start_slot()

    def _start_slot(self) -> None:
        while self.slot < self.stop:
            self.queue = list(assignment_order(
                np.flatnonzero(self.world.active[self.slot]), self.world.distance_m[self.slot],
                self.scenario.rl.user_order))
            if self.queue:
                break
            self.slot += 1
        self.free = np.ones(self.n_rbs, dtype=bool)
        self.decisions: list[tuple[int, int, int]] = []

    @property
    def current_user(self) -> int:
        return int(self.queue[0])

    # ----------------------------------------------------------------- interface
    def action_masks(self) -> np.ndarray:
        """Valid actions for the current user (sb3-contrib's masking protocol)."""
        return action_mask(self.free, len(self.queue), self.n_encoders,
                           self.scenario.users.voluntary_drop)

    def step(self, action: int):
        action = int(action)
        user = self.current_user
        valid = bool(self.action_masks()[action] if action == self.drop_action
                     else 0 <= action < self.drop_action and self.free[action % self.n_rbs])
        info: dict[str, Any] = {"invalid_action": not valid, "user": user, "slot": self.slot}
        if valid and action != self.drop_action:
            encoder, rb = divmod(action, self.n_rbs)
            cost = float(self.realised_cost[self.slot, user, encoder, rb])
            learn_cost = float(self.reward_cost[self.slot, user, encoder, rb])
            self.free[rb] = False
            self.decisions.append((user, encoder, rb))
        else:
            cost = float(self.penalty[user])
            if not valid:
                cost += self.scenario.rl.invalid_action_penalty
            learn_cost = cost
            self.decisions.append((user, -1, -1))
        info["cost"] = cost
        self.queue.pop(0)
        if not self.queue:
            info["slot_decisions"] = self.decisions
            self.slot += 1
            self._start_slot()
        terminated = self.slot >= self.stop
        observation = (
            np.zeros(self.observation_space.shape, np.float32)
            if terminated
            else self._observation()
        )
        return observation, -learn_cost * self.scenario.rl.reward_scale, terminated, False, info

    def _observation(self) -> np.ndarray:
        slot, user = self.slot, self.current_user
        return self.encoder.fill(self._templates[slot], self.free, user,
                                 self._snr_feature[slot, user], len(self.queue))
