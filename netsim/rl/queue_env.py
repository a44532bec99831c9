"""The closed loop as a gymnasium environment: the agent schedules inside the
discrete-event simulation, seeing the queues (DESIGN §2–3).

The environment steps the one closed-loop engine (:class:`ClosedLoop`, the same that
``netsim run`` uses under ``delay_model: des``): at each slot boundary with requests
waiting, the simulation stops, the agent assigns each waiting user's oldest request an
(encoder, RB) or leaves it waiting, one user per step through the same
:class:`SlotAssignment` as the per-slot environment, and the engine then carries the
decision out (extractions in the order the agent served the users) and runs on to the
next boundary. An episode is ``rl.episode_slots`` slots of a fresh random world with its
own traffic (set it well above 1: queues carry over between slots).

Observation (float32): the per-slot environment's (:mod:`netsim.rl.env`) followed by the
queue state the queue-aware schedulers see at the boundary (:class:`QueueState`), times
in slots (/ ``slot_duration_s``), zeros for users with nothing waiting:
  each core's remaining extraction work                           (cores)
  each RB's committed transmissions still to go                   (Q)
  each waiting user's device: its decoding still to go            (U)
  each user's waiting requests                                    (U)
  the age of each user's oldest waiting request                   (U)

With ``rl.policy: size_free``, the observation is :mod:`netsim.rl.size_free`'s, the
queue state in its per-RB rows and its header.

Action and mask: as in :mod:`netsim.rl.env`; "not served" leaves the request waiting
(to be served in a later slot, at the delay that costs), never dropped.

Reward: minus the eq. 11 cost of each request the agent serves, as the simulation
times it (queueing included, :class:`netsim.simulation.queue_cost.RunningCost`): by
default expected over the fading the agent cannot see, with ``rl.reward_model:
realised`` under this slot's fading; plus, on the step that ends a slot, minus the
penalty of every request the simulation lost meanwhile (queue limit, timeout) and, at
the episode's end, of every request still waiting. An episode's realised return is thus
minus the total cost ``netsim run`` records for the same world and decisions (a training
reset passes over worlds in which nothing is ever decided, which no step could price:
no request arrives, or each expires before a boundary offers it).

``info["cost"]`` is that realised cost of the step (the expected reward's own pricing
aside, a second pricing of each served request under the slot's fading, and the oracle
queue state it needs); ``report_cost=False`` skips it where the reward does not need it
(``rl.reward_model: expected``) and leaves the key out: the training environments
(:func:`solvers.rl.training.make_env`), whose infos nobody reads, run about a fifth
faster alone (docs/results.md).

What the agent sees and is priced by comes from the engine's ledger (the queues, each
request's reservations), never from the SimPy process that then realises a served
request: by default (``realise=False``) those processes are not run, and each served
request's service times in :meth:`result` are the ledger's, the same numbers (tested);
``realise=True`` runs them, as ``netsim run`` does.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from netsim.model.cost import CellModel
from netsim.model.world import generate_world
from netsim.rl.assignment import (
    SlotAssignment,
    action_index,
    episode_over,
    problem_assignment,
    trained_on_scenario,
    world_seed_option,
)
from netsim.rl.observation import OBS_BOUND, ObservationEncoder, observation_size
from netsim.rl.size_free import SizeFreeEncoder, SizeFreeSlot, size_free_observation_size
from netsim.scenario import Scenario
from netsim.simulation.closed_loop import BLOCKED, EXPIRED, SERVED, ClosedLoop, SlotSource
from netsim.simulation.queue_cost import RunningCost
from netsim.simulation.runner import NoRequestsError, drop_penalties, slots_text
from netsim.simulation.scheduling import Allocation, Scheduler, SchedulingProblem
from netsim.simulation.traffic import generate_traffic

SEED_SPACE = 2**31 - 1
MAX_EMPTY_WORLDS = 1000
"""Worlds drawn at most for an episode with at least one request."""


def queue_observation_size(n_users: int, n_rbs: int, cores: int) -> int:
    """The per-slot observation plus cores + Q + 3 U queue entries."""
    return observation_size(n_users, n_rbs) + cores + n_rbs + 3 * n_users


def check_closed_loop_scenario(scenario: Scenario, episodes: bool = True,
                               evaluation: bool = True) -> None:
    """ValueError (one line, naming the key) unless the scenario can be trained in the
    closed loop: delay_model des, and its episodes (``rl.episode_slots``) and evaluation
    worlds (``rl.eval_slots``) at least 2 slots long, as queues carry over from slot to
    slot (the environment checks its episodes only, the evaluation its worlds only)."""
    if scenario.delay_model != "des":
        raise ValueError("the closed-loop environment needs delay_model: des")
    spans = {"rl.episode_slots": (episodes, scenario.rl.episode_slots, "environment"),
             "rl.eval_slots": (evaluation, scenario.rl.eval_slots, "evaluation")}
    for key, (checked, slots, what) in spans.items():
        if checked and slots < 2:
            raise ValueError(f"{key}: {slots}: the closed-loop {what} needs {key} >= 2 "
                             "(queues carry over from slot to slot)")


class ExternalDecisions(Scheduler):
    """Stands in the closed loop for the agent: what it may see (the observation, the
    queues, and statistical information where the observation or the reward uses it,
    :attr:`QueueAssignmentEnv.information`); its decisions arrive through
    :meth:`ClosedLoop.submit`."""

    queue_aware = True
    uses_observation = True
    reads_static_table = False  # prices only the requests it serves (the reward)

    def decide(self, problem: SchedulingProblem) -> Allocation:
        raise RuntimeError("the environment's decisions are submitted, not asked for")


class QueueAssignmentEnv(gym.Env):
    """Sequential (encoder, RB) assignment inside the closed loop, one user per step
    (``realise``: run each served request as a SimPy process; ``report_cost``: the
    step's realised cost in ``info["cost"]``; ``trained_on``: a trained model's folder,
    model.zip, scenario.yaml or Scenario, whose constants scale the observation, as
    netsim run shows that model this cell; module docstring)."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's own attribute

    def __init__(self, scenario: Scenario, realise: bool = False,
                 report_cost: bool = True, trained_on: Any = None) -> None:
        super().__init__()
        check_closed_loop_scenario(scenario, evaluation=False)
        training = trained_on_scenario(trained_on, scenario, closed_loop=True)
        self.realise = realise
        self.report_cost = report_cost
        self.scenario = scenario.model_copy(update={"slots": scenario.rl.episode_slots})
        self.model = CellModel.from_scenario(self.scenario)
        self.n_users, self.n_rbs = scenario.users.count, scenario.cell.n_rbs
        self.n_encoders = len(scenario.encoders)
        self.cores = scenario.base_station.cores
        # the observation's scales, user order and slot length: the training scenario's
        self.tau = training.slot_duration_s
        self.user_order = training.rl.user_order
        self.penalty = drop_penalties(scenario)
        self.size_free = training.rl.policy == "size_free"
        self.observer = (SizeFreeEncoder if self.size_free
                         else ObservationEncoder).from_scenario(training)
        self.action_space = gym.spaces.Discrete(self.n_encoders * self.n_rbs + 1)
        size = (size_free_observation_size(self.n_rbs, self.n_encoders) if self.size_free
                else queue_observation_size(self.n_users, self.n_rbs, self.cores))
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (size,), np.float32)
        self.loop: ClosedLoop | None = None
        self.assignment: SlotAssignment | None = None
        self._episode = None

    @property
    def reward_model(self) -> str:
        return self.scenario.rl.reward_model

    @property
    def information(self) -> str:
        """The queue state the loop shows the agent: the statistical one prices the
        expected reward and holds the size-free observation's expected costs; the MLP
        observation reads only its queues and times, the same at either level, so an MLP
        agent rewarded with the realised cost is shown the oracle state (no expected
        timing-free cost to integrate over the fading nodes)."""
        return ("statistical" if self.size_free or self.reward_model == "expected"
                else "oracle")

    # ------------------------------------------------------------------ episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A new episode on a fresh world and its traffic; ``options={"world_seed": s}``
        plays exactly the world and traffic of that seed (evaluation)."""
        super().reset(seed=seed)
        world_seed = world_seed_option(options)
        for _ in range(MAX_EMPTY_WORLDS):
            chosen = (world_seed if world_seed is not None
                      else int(self.np_random.integers(SEED_SPACE)))
            if self._begin(chosen) or world_seed is not None:
                break  # a world without a single request is drawn again
        else:
            raise NoRequestsError(f"nothing to decide in {MAX_EMPTY_WORLDS} episodes of "
                                  f"{slots_text(self.scenario.slots)} (no request arrived, "
                                  "or each expired before a slot boundary offered it): "
                                  "raise rl.episode_slots (or users.queue.timeout_s)")
        return self._observation(), {}

    def _begin(self, seed: int) -> bool:
        """Start the episode of world ``seed``; False if nothing is ever decided in it."""
        world = generate_world(self.scenario, seed)
        traffic = generate_traffic(self.scenario, world, seed)
        agent = ExternalDecisions(ExternalDecisions.Params(information=self.information),
                                  np.random.default_rng(0))
        agent.uses_cost = self.size_free  # only the size-free observation shows the cost
        self.loop = ClosedLoop(self.model, world, traffic, agent, self.penalty, SlotSource(
            self.model, world, statistical=self.size_free, observation=True))
        self.loop.start(external=True, realise=self.realise)
        self._lost = np.zeros(traffic.count, dtype=bool)
        self._lost_seen = 0  # the loop's count of blocked and expired requests at the last look
        self._templates: tuple | None = None  # (chunk start, its templates, SNR features)
        self._episode: tuple[int, list[int]] = (seed, [])
        decided = self.loop.advance()
        self._start_slot()
        return decided

    # A live SimPy simulation cannot be pickled (training checkpoints pickle the
    # environment): the episode is kept as its world seed and the actions taken so far,
    # and replayed on unpickling — the engine is deterministic, so the state is exact.
    _LIVE = ("loop", "assignment", "_running", "_lost", "_lost_seen", "_templates", "_rows",
             "_served_rows", "_encoder", "_rb", "_slot")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._LIVE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickled before these options existed
        self.__dict__.update({"realise": False, "report_cost": True, **state})
        if "user_order" not in state:  # pickled before trained_on existed
            self.user_order = self.scenario.rl.user_order
        self.loop = self.assignment = None
        episode = state.get("_episode")
        if episode is not None:
            seed, actions = episode
            self._begin(seed)
            for action in actions:
                self.step(action)

    def _start_slot(self) -> None:
        loop = self.loop
        if loop.awaiting is None:  # nothing to decide in this episode
            self.assignment = None
            return
        problem, users, (_, offset, _) = loop.awaiting
        state = problem.queue
        self._rows = {int(u): row for row, u in enumerate(users)}
        self._slot = int(state.slot)
        # each served row's cost, as row_costs would give it: the realised one (the
        # info's cost, and the realised reward) and, for the expected reward, the
        # expected one
        self._running = {}
        if self.report_cost or self.reward_model == "realised":
            self._running["realised"] = RunningCost(
                state if self.information == "oracle" else
                loop.seen_as(state, users, offset, "oracle"))
        if self.reward_model == "expected":
            self._running["expected"] = RunningCost(state)
        template, snr_feature = self._slot_features(offset)
        self.assignment = problem_assignment(self.observer, problem, self.user_order,
                                             self.tau, template, snr_feature)
        self._served_rows: list[int] = []
        self._encoder = np.full(users.size, -1, dtype=np.int64)
        self._rb = np.full(users.size, -1, dtype=np.int64)

    def _slot_features(self, offset: int) -> tuple[np.ndarray | SizeFreeSlot, np.ndarray]:
        """The observer's slot template (MLP) or slot features (size-free, without the
        queue view) of the slot at ``offset`` in the source's chunk, and its users'
        mean-SNR feature; computed for the whole chunk at once (the same bits as slot by
        slot)."""
        source = self.loop.source
        if self._templates is None or self._templates[0] != source.start:
            world, part = self.loop.world, slice(source.start, source.stop)
            args = (world.interference_w[part], world.distance_m[part], world.user_cpu_hz,
                    source.mean_snr)
            if self.size_free:  # every user's expected cost (statistical information)
                args += (source.expected, self.loop.drop_penalty)
            templates = self.observer.slot_template(*args)
            snr_feature = (templates.snr if self.size_free
                           else ObservationEncoder.snr_feature(source.mean_snr))
            self._templates = (source.start, templates, snr_feature)
        _, templates, snr_feature = self._templates
        return templates.at(offset) if self.size_free else templates[offset], snr_feature[offset]

    # ----------------------------------------------------------------- interface
    def action_masks(self) -> np.ndarray:
        """Valid actions for the current user (sb3-contrib's masking protocol); every
        action with nobody to assign (what the all-zero observation's mask reads)."""
        if self.assignment is None:
            return np.ones(self.action_space.n, dtype=bool)
        return self.assignment.mask()

    @property
    def awaiting_action(self) -> bool:
        """Whether a user waits to be assigned: False before the first reset, after the
        episode's end, and on an evaluation world in which nothing is ever decided
        (``reset(options={"world_seed": s})``), whose observation is all zeros."""
        return self.assignment is not None

    def step(self, action: int):
        if self.assignment is None:
            raise episode_over()
        action = action_index(action, self.action_space.n)
        self._episode[1].append(action)
        step = self.assignment.act(action)
        info: dict[str, Any] = {"invalid_action": not step.valid, "user": step.user,
                                "slot": self._slot}
        learn, realised = 0.0, 0.0
        if step.served:
            row = self._rows[step.user]
            self._served_rows.append(row)
            self._encoder[row], self._rb[row] = step.encoder, step.rb
            costs = {name: running.add(row, step.encoder, step.rb)
                     for name, running in self._running.items()}
            realised = costs.get("realised", 0.0)
            learn = costs[self.reward_model]
        elif not step.valid:
            learn = realised = self.scenario.rl.invalid_action_penalty
        terminated = False
        if self.assignment.done:
            invalid = any(not done.valid for done in self.assignment.steps)
            self.loop.submit(self._allocation(), may_leave_waiting=invalid)
            more = self.loop.advance()
            lost = self._newly_lost(final=not more)
            learn, realised = learn + lost, realised + lost
            info["lost_cost"] = lost
            self._start_slot()
            terminated = not more
        if self.report_cost:
            info["cost"] = realised
        observation = (np.zeros(self.observation_space.shape, np.float32) if terminated
                       else self._observation())
        return observation, -learn * self.scenario.rl.reward_scale, terminated, False, info

    def _allocation(self) -> Allocation:
        """The slot's decision so far; extractions in the order the agent served."""
        return Allocation(self._encoder.copy(), self._rb.copy(),
                          cpu_order=np.array(self._served_rows, dtype=np.int64))

    def _newly_lost(self, final: bool) -> float:
        """Penalties of requests lost since the last look (and, at the end, of every
        request still waiting)."""
        loop = self.loop
        if not final and loop.lost == self._lost_seen:
            return 0.0  # none blocked or expired since the last look
        self._lost_seen = loop.lost
        outcome = loop.outcome
        lost = (outcome != SERVED) if final else (outcome == BLOCKED) | (outcome == EXPIRED)
        fresh = lost & ~self._lost
        self._lost |= fresh
        return float(self.penalty[loop.traffic.user[fresh]].sum())

    def _observation(self) -> np.ndarray:
        if self.assignment is None:
            return np.zeros(self.observation_space.shape, np.float32)
        return self.assignment.observation()

    def result(self):  # type: ignore[no-untyped-def]
        """The finished episode's records (:class:`LoopResult`), as ``netsim run``
        would record them; gymnasium's ResetNeeded before the first reset."""
        if self.loop is None:
            raise gym.error.ResetNeeded("no episode to record yet: call reset() first")
        return self.loop.finish()
