"""The paper's MDP as a gymnasium environment (DESIGN §3).

The agent is the base station. One step assigns one requesting user an (encoder, RB)
pair, so a slot takes as many steps as users with a request, taken in the order
``rl.user_order`` (by default cell-edge users first, :func:`assignment_order`); an episode is
``rl.episode_slots`` slots of one random world (a fresh world per episode; a reset passes
over episodes nobody asks in).

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
No fading: the agent knows what the statistical baseline knows. With ``rl.policy:
size_free`` the observation is instead :mod:`netsim.rl.size_free`'s (per-RB rows, no
user index), whose length depends on Q only.

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
from typing import Any

import gymnasium as gym
import numpy as np

from netsim.model.cost import CellModel
from netsim.model.world import WorldTrace, generate_snapshots, generate_world
from netsim.rl.assignment import (
    SlotAssignment,
    Step,
    action_index,
    assignment_order,
    episode_over,
    trained_on_scenario,
    world_seed_option,
)
from netsim.rl.masks import MaskSpec, masks_from_observations  # noqa: F401 - the env's protocol
from netsim.rl.observation import OBS_BOUND, ObservationEncoder, observation_size
from netsim.rl.size_free import SizeFreeEncoder, SizeFreeSlot, size_free_observation_size
from netsim.scenario import Scenario
from netsim.simulation.runner import NoRequestsError, drop_penalties, slots_text

SEED_SPACE = 2**31 - 1
SNAPSHOT_BLOCK = 256
"""One-slot training worlds drawn per vectorised batch (see SlotAssignmentEnv.reset)."""
MAX_EMPTY_EPISODES = 10_000
"""Training episodes passed over at most, for want of a request, before a reset gives up."""
COST_CHUNK = 32
"""Slots of a world whose costs and observation parts are computed at once, when the
episodes reach them (slots 0-31, 32-63, ...; a last lone slot joins the chunk before
it): a short training or evaluation pays for the slots it plays, a long one for all, in
few vectorised calls."""


@dataclass(frozen=True)
class _Chunk:
    """The world's slots ``start`` to ``stop``: each (user, encoder, RB)'s realised cost
    and the reward's cost, (T, U, M, Q), the observer's slot templates and the users'
    mean-SNR features, (T, U, Q)."""

    start: int
    stop: int
    realised_cost: np.ndarray
    reward_cost: np.ndarray
    templates: np.ndarray | SizeFreeSlot
    snr_feature: np.ndarray


class SlotAssignmentEnv(gym.Env):
    """Sequential (encoder, RB) assignment, one user per step (``trained_on``: a trained
    model's folder, model.zip, scenario.yaml or Scenario, whose constants scale the
    observation, as netsim run shows that model this cell)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario, model: CellModel | None = None,
                 trained_on: Any = None) -> None:
        super().__init__()
        if scenario.users.arrivals.model == "poisson":
            raise ValueError("users.arrivals: poisson: the per-slot environment draws one "
                             "Bernoulli request per user and slot (Poisson requests queue: "
                             "the closed-loop QueueAssignmentEnv, netsim/QueueAssignment-v0)")
        if model is None:
            model = CellModel.from_scenario(scenario)
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
        # the observation's scales and user order: the training scenario's
        training = trained_on_scenario(trained_on, scenario, closed_loop=False)
        self.user_order = training.rl.user_order
        self.size_free = training.rl.policy == "size_free"
        if self.size_free:
            size = size_free_observation_size(self.n_rbs, self.n_encoders)
            self.observer = SizeFreeEncoder.from_scenario(training)
        else:
            size = observation_size(self.n_users, self.n_rbs)
            self.observer = ObservationEncoder.from_scenario(training)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (size,), np.float32)
        self.world: WorldTrace | None = None

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """The next episode: the next ``rl.episode_slots`` slots of the current random
        world, a new world (of ``rl.world_slots`` slots; by default a block of one-slot
        worlds, see :meth:`_training_world`) when it is used up or when a seed is given.
        ``options={"world_seed": s}`` plays exactly the world of that seed, from its
        first slot (evaluation)."""
        super().reset(seed=seed)
        world_seed = world_seed_option(options)
        if world_seed is not None:
            self.load_world(generate_world(self.scenario, world_seed))
            return self._observation(), {}
        episode = self.scenario.rl.episode_slots
        for _ in range(MAX_EMPTY_EPISODES):
            used_up = self.world is None or self.stop + episode > self.world.n_slots
            if seed is not None or used_up or not self._batched:  # a seed starts a new world
                self.load_world(self._training_world(int(self.np_random.integers(SEED_SPACE))),
                                stop=episode)
                self._batched, seed = True, None
            else:
                self.slot, self.stop = self.stop, self.stop + episode
                self._start_slot()
            if self.slot < self.stop:
                return self._observation(), {}
            # not a single request in the episode: nothing to decide, the next one
        raise NoRequestsError(f"no request arrived in {MAX_EMPTY_EPISODES} training episodes "
                              f"of {slots_text(episode)}: raise rl.episode_slots (or "
                              "users.arrivals' probability)")

    def _training_world(self, seed: int) -> WorldTrace:
        """With one-slot episodes and worlds (the default), SNAPSHOT_BLOCK independent
        one-slot worlds drawn at once (:func:`generate_snapshots`): a new world every
        episode, at a fraction of the cost; otherwise a world of ``rl.world_slots``."""
        if self._world_scenario.slots == 1:
            return generate_snapshots(self.scenario, seed, SNAPSHOT_BLOCK)
        return generate_world(self._world_scenario, seed)

    def load_world(self, world: WorldTrace, stop: int | None = None) -> None:
        """Start an episode on a given world trace, at its first slot, ending before
        slot ``stop`` (default: the whole trace). The slots' costs and observation parts
        are computed when the episodes reach them, COST_CHUNK slots at a time
        (:meth:`slot_costs`)."""
        self._batched = False
        self.world = world
        self._chunk: _Chunk | None = None
        self.slot = 0
        self.stop = world.n_slots if stop is None else stop
        self._start_slot()

    def slot_costs(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """The realised eq. 11 cost of every (user, encoder, RB) in ``slot`` of the
        current world, (U, M, Q), and the one the reward uses (the expected cost, or the
        realised one with ``rl.reward_model: realised``)."""
        chunk = self._chunk_of(slot)
        return chunk.realised_cost[slot - chunk.start], chunk.reward_cost[slot - chunk.start]

    def _chunk_of(self, slot: int) -> _Chunk:
        """The current world's tensors for the COST_CHUNK slots that hold ``slot``
        (computed unless in hand). Vectorised over the chunk's slots: the numbers of the
        whole world computed at once (numpy sums an axis of one element, a chunk of one
        slot in a one-user, one-encoder, one-RB cell, in another order: a chunk is one
        slot only when the world is; the whole world's own leakage penalty, in blocks of
        1,066 slots with M = Q = 1, leaves such a lone slot in a world of 1,067)."""
        chunk = self._chunk
        if chunk is None or not chunk.start <= slot < chunk.stop:
            n_slots = self.world.n_slots
            start = slot - slot % COST_CHUNK
            if start > 0 and n_slots - start == 1:
                start -= COST_CHUNK  # a last lone slot joins the chunk before it
            stop = start + COST_CHUNK if n_slots - start > COST_CHUNK + 1 else n_slots
            chunk = self._chunk = self._compute_chunk(start, stop)
        return chunk

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle (training checkpoints pickle the environment), also one pickled
        before the costs were computed chunk by chunk: its whole-world tensors are
        dropped and the chunks computed again, the same numbers."""
        for old in ("realised_cost", "reward_cost", "_templates", "_snr_feature"):
            state.pop(old, None)
        self.__dict__.update({"_chunk": None, **state})
        if "user_order" not in state:  # pickled before trained_on existed
            self.user_order = self.scenario.rl.user_order

    def _compute_chunk(self, start: int, stop: int) -> _Chunk:
        """The world's slots ``start`` to ``stop``: realised cost (eq. 11 under the slots'
        fading), the reward's cost, templates and SNR features, vectorised over them."""
        world, model, part = self.world, self.model, slice(start, stop)
        cpu_hz = world.cpu_hz_by_slot[part]
        interference_w, distance_m = world.interference_w[part], world.distance_m[part]
        snr = model.snr(distance_m, world.fading[part], interference_w)
        # the eavesdroppers (if any) enter the cost as leakage
        realised = model.cost(snr, cpu_hz, model.eavesdropper_snr(world, part))  # (T, U, M, Q)
        mean_snr = model.snr(distance_m, 1.0, interference_w)
        leakage_penalty = model.expected_leakage_penalty(
            model.eavesdropper_snr(world, part, faded=False))
        expected = (model.expected_cost_at(mean_snr, cpu_hz, leakage_penalty)
                    if self.scenario.rl.reward_model == "expected" or self.size_free
                    else None)
        reward = expected if self.scenario.rl.reward_model == "expected" else realised
        if self.size_free:  # the slots' features, their SNR feature among them
            templates = self.observer.slot_template(interference_w, distance_m, cpu_hz,
                                                    mean_snr, expected, self.penalty)
            return _Chunk(start, stop, realised, reward, templates, templates.snr)
        templates = self.observer.slot_template(interference_w, distance_m, cpu_hz, mean_snr)
        return _Chunk(start, stop, realised, reward, templates,
                      ObservationEncoder.snr_feature(mean_snr))

    def _start_slot(self) -> None:
        """Skip slots without requests; start the assignment of the next one."""
        while self.slot < self.stop:
            users = assignment_order(np.flatnonzero(self.world.active[self.slot]),
                                     self.world.distance_m[self.slot], self.user_order)
            if users.size:
                break
            self.slot += 1
        else:
            users = np.empty(0, dtype=np.int64)
        if not users.size:  # the episode is over: nobody to assign (no chunk to compute)
            self.assignment = None
            return
        chunk = self._chunk_of(self.slot)
        offset = self.slot - chunk.start
        template = chunk.templates.at(offset) if self.size_free else chunk.templates[offset]
        self.assignment = SlotAssignment(self.observer, [int(u) for u in users], template,
                                         chunk.snr_feature[offset], self.n_encoders,
                                         self.scenario.users.voluntary_drop)

    @property
    def current_user(self) -> int:
        """The user being assigned (ResetNeeded when nobody waits)."""
        if not self.awaiting_action:
            raise episode_over()
        return self.assignment.current_user

    # ----------------------------------------------------------------- interface
    def action_masks(self) -> np.ndarray:
        """Valid actions for the current user (sb3-contrib's masking protocol); every
        action with nobody to assign (what the all-zero observation's mask reads)."""
        if not self.awaiting_action:
            return np.ones(self.action_space.n, dtype=bool)
        return self.assignment.mask()

    @property
    def awaiting_action(self) -> bool:
        """Whether a user waits to be assigned: False before the first reset, after the
        episode's end, and on an evaluation world nobody asks in
        (``reset(options={"world_seed": s})``), whose observation is all zeros."""
        return self.world is not None and self.slot < self.stop

    def step(self, action: int):
        if not self.awaiting_action:
            raise episode_over()
        slot = self.slot
        step: Step = self.assignment.act(action_index(action, self.action_space.n))
        info: dict[str, Any] = {"invalid_action": not step.valid, "user": step.user,
                                "slot": slot}
        if step.served:
            realised, reward = self.slot_costs(slot)
            cost = float(realised[step.user, step.encoder, step.rb])
            learn_cost = float(reward[step.user, step.encoder, step.rb])
        else:
            cost = float(self.penalty[step.user])
            if not step.valid:
                cost += self.scenario.rl.invalid_action_penalty
            learn_cost = cost
        info["cost"] = cost
        if self.assignment.done:
            info["slot_steps"] = self.assignment.steps
            self.slot += 1
            self._start_slot()
        terminated = self.slot >= self.stop
        observation = (
            np.zeros(self.observation_space.shape, np.float32)
            if terminated
            else self.assignment.observation()
        )
        return observation, -learn_cost * self.scenario.rl.reward_scale, terminated, False, info

    def _observation(self) -> np.ndarray:
        if not self.awaiting_action:  # an evaluation world nobody asks in: nothing to decide
            return np.zeros(self.observation_space.shape, np.float32)
        return self.assignment.observation()
