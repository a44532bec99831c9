"""The assignment of one slot, user by user: the one place that knows the order of the
users, the free RBs, the action mask, the observation and what an action means. The
environment (:mod:`netsim.rl.env`), the RL scheduler (:mod:`solvers.rl.scheduler`) and
the evaluation (:mod:`netsim.rl.evaluation`) all step through it (mobile-env's handler
idea: the RL interface touches the simulation in one place).

Action ``m * Q + q`` serves the current user with encoder m on RB q; the last action,
``M * Q``, leaves it unserved (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from netsim.rl.observation import (
    ObservationEncoder,
    clip_bound,
    drop_allowed,
    queue_packed,
    queue_view,
)
from netsim.rl.size_free import SizeFreeEncoder, SizeFreeSlot
from netsim.scenario import MAX_SEED, Scenario
from netsim.simulation.scheduling import SchedulingProblem

NOT_SERVED = -1


def episode_over() -> gym.error.ResetNeeded:
    """The error of a step with nobody to assign, in either environment (gymnasium's own
    for a step before reset)."""
    return gym.error.ResetNeeded(
        "no request waits to be assigned (the episode is over, or its world holds no "
        "request, or the environment was never reset): call reset() first")


RESET_OPTIONS = ("world_seed",)
"""The keys a reset's ``options`` may hold."""


def world_seed_option(options: Mapping | None) -> int | None:
    """The ``world_seed`` of a reset's options (evaluation), a seed as the scenario's
    (0 .. 2**63 - 1) or None; ValueError (one line) for anything else (a float is not
    truncated), for options that are not a mapping, and for a key other than
    RESET_OPTIONS (a misspelt one would otherwise give a random world without a word)."""
    if options is not None and not isinstance(options, Mapping):
        raise ValueError(
            f"options: {options!r}: a dict of reset options (known: {', '.join(RESET_OPTIONS)})")
    unknown = sorted(str(key) for key in (options or {}) if key not in RESET_OPTIONS)
    if unknown:
        raise ValueError(f"options: unknown key {unknown[0]!r} (known: "
                         f"{', '.join(RESET_OPTIONS)})")
    seed = (options or {}).get("world_seed")
    if seed is None:
        return None
    if (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
            or not 0 <= seed <= MAX_SEED):
        raise ValueError(f"options['world_seed']: {seed!r}: must be an integer from 0 "
                         "to 2**63 - 1")
    return int(seed)


def action_index(action: Any, n_actions: int) -> int:
    """``action`` as the index it names: an integer, a numpy integer or a 0-d integer
    array (what gymnasium's Discrete space holds); ValueError (one line) for anything
    else, so that 2.5 or [3] is never read as an action. An index outside 0 .. n - 1 is
    an invalid action (penalised, the user left unserved), not an error."""
    value = action.item() if isinstance(action, np.ndarray) and action.ndim == 0 else action
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        shown = f"array of shape {action.shape}" if isinstance(action, np.ndarray) else repr(action)
        raise ValueError(  # noqa: TRY004 - a bad action is a ValueError, as a bad world seed
            f"action: {shown}: an integer index of the Discrete({n_actions}) action space")
    return int(value)


def training_problem(training: Scenario, scenario: Scenario) -> tuple[str, str] | None:
    """Why a model trained on ``training`` cannot decide in ``scenario`` — (the key to
    blame, the problem, one line) — or None: the same users and RBs (but for a size-free
    model) and encoders; an "unserved" action it learnt; a closed-loop model (it sees the
    queues) needs a closed loop with the same BS cores (but for a size-free model)."""
    size_free = training.rl.policy == "size_free"
    for what, here, there in (
        *(() if size_free else (
            ("users.count", scenario.users.count, training.users.count),
            ("cell.n_rbs", scenario.cell.n_rbs, training.cell.n_rbs))),
        ("encoders", scenario.encoders, training.encoders),
    ):
        if here != there:
            return "model_path", f"trained with {what} = {there}, this scenario has {here}"
    trained, here = _who_may_go_unserved(training), _who_may_go_unserved(scenario)
    if here and not trained:  # its "unserved" action was never valid in training
        return "model_path", ("trained where every user is served (users.count <= "
                              "cell.n_rbs, users.voluntary_drop: false), so it never learnt "
                              "to leave one unserved; this scenario lets users go unserved "
                              f"({here}): train on such a cell")
    if training.delay_model == "des":  # it sees the queues: only a closed loop shows them
        if scenario.delay_model != "des":
            return "model_path", ("trained in the closed loop (delay_model: des); it needs "
                                  "delay_model: des")
        if scenario.base_station.cores != training.base_station.cores and not size_free:
            return "model_path", (f"trained with base_station.cores = "
                                  f"{training.base_station.cores}, this scenario has "
                                  f"{scenario.base_station.cores}")
    return None


def _who_may_go_unserved(scenario: Scenario) -> str:
    """Why a user may be left unserved in the scenario ('' if never)."""
    if scenario.users.voluntary_drop:
        return "users.voluntary_drop: true"
    if scenario.users.count > scenario.cell.n_rbs:
        return f"{scenario.users.count} users on {scenario.cell.n_rbs} RBs"
    return ""


def trained_on_scenario(trained_on: Any, scenario: Scenario, closed_loop: bool) -> Scenario:
    """The scenario whose constants an environment's observations are scaled with: the
    one a model was trained on (``trained_on``: its training folder, its model.zip or
    scenario.yaml, or a Scenario), so that the model sees what ``netsim run`` shows it
    in ``scenario``; ``scenario`` itself if None. ValueError (one line) if that model
    cannot decide there (:func:`training_problem`), or if it was trained in the other
    environment (``closed_loop``: the queues are part of its observation or not)."""
    if trained_on is None:
        return scenario
    if isinstance(trained_on, Scenario):
        training = trained_on
    elif isinstance(trained_on, str | Path):
        from netsim.errors import ScenarioError
        from netsim.loading import load_scenario

        path = Path(trained_on)
        if path.is_dir():
            path = path / "scenario.yaml"
        elif path.suffix == ".zip":
            path = path.parent / "scenario.yaml"
        if not path.is_file():
            raise ValueError(f"trained_on: {path}: no such file (a training folder of "
                             "netsim train holds scenario.yaml)")
        try:
            training = load_scenario(path)
        except ScenarioError as error:
            raise ValueError(f"trained_on: {error}") from None
    else:
        raise ValueError(  # noqa: TRY004 - every bad argument here is a ValueError
            f"trained_on: {type(trained_on).__name__}: a training folder, its model.zip or "
            "scenario.yaml, or a Scenario")
    problem = training_problem(training, scenario)
    if problem is not None:
        raise ValueError(f"trained_on: {problem[1]}")
    if (training.delay_model == "des") != closed_loop:
        raise ValueError("trained_on: " + (
            "trained on the analytic per-slot model: use netsim/SlotAssignment-v0 (its "
            "observation has no queues)" if closed_loop
            else "trained in the closed loop: use netsim/QueueAssignment-v0"))
    return training


def assignment_order(users: np.ndarray, distance_m: np.ndarray, rule: str) -> np.ndarray:
    """The requesting ``users`` in the order they are assigned (``rl.user_order``):
    farthest_first sorts them by decreasing distance (ties by index); index keeps them."""
    users = np.asarray(users)
    if rule == "index":
        return users
    return users[np.argsort(-np.asarray(distance_m)[users], kind="stable")]


def action_mask(free: np.ndarray, users_left: int, n_encoders: int, voluntary_drop: bool
                ) -> np.ndarray:
    """Valid actions: any encoder on a free RB; 'unserved' only where a drop is allowed
    (voluntary drops, or more users left in the slot than free RBs)."""
    mask = np.empty(n_encoders * free.size + 1, dtype=bool)
    mask[:-1].reshape(n_encoders, free.size)[:] = free
    mask[-1] = drop_allowed(users_left, int(np.count_nonzero(free)), voluntary_drop)
    return mask


@dataclass(frozen=True)
class Step:
    """What one action did: the user it served (or not), the encoder and RB it took
    (NOT_SERVED for both when unserved), and whether the action was valid (an invalid
    action leaves the user unserved; it is never remapped)."""

    user: int
    encoder: int
    rb: int
    valid: bool

    @property
    def served(self) -> bool:
        return self.rb != NOT_SERVED


@dataclass
class SlotAssignment:
    """One slot's users assigned one per step, in ``rl.user_order``.

    :param observer: builds the observation (:class:`ObservationEncoder`, or
        :class:`netsim.rl.size_free.SizeFreeEncoder`), scaled with the training
        scenario's constants
    :param users: the requesting users, already in assignment order
    :param template: the slot's part of the observations (the observer's
        ``slot_template``; for the closed loop's MLP observation, followed by the queue
        features, which every observation of the slot ends with)
    :param snr_feature: every user's mean-SNR feature on every RB, (U, Q)
    :param n_encoders: encoders M of the action space
    :param voluntary_drop: whether a user may be left unserved while an RB is free
    """

    observer: ObservationEncoder | SizeFreeEncoder
    users: list[int]
    template: np.ndarray
    snr_feature: np.ndarray
    n_encoders: int
    voluntary_drop: bool
    free: np.ndarray = field(init=False)
    steps: list[Step] = field(init=False, default_factory=list)
    position: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.free = np.ones(self.snr_feature.shape[-1], dtype=bool)

    @property
    def n_rbs(self) -> int:
        return self.free.size

    @property
    def drop_action(self) -> int:
        return self.n_encoders * self.n_rbs

    @property
    def done(self) -> bool:
        return self.position >= len(self.users)

    @property
    def current_user(self) -> int:
        return int(self.users[self.position])

    @property
    def users_left(self) -> int:
        """Users still to assign, the current one included."""
        return len(self.users) - self.position

    def mask(self) -> np.ndarray:
        """Valid actions for the current user (sb3-contrib's masking protocol)."""
        return action_mask(self.free, self.users_left, self.n_encoders, self.voluntary_drop)

    def observation(self) -> np.ndarray:
        """What the policy sees before acting for the current user."""
        return self.observer.observe(self)

    def act(self, action: int) -> Step:
        """Carry out ``action`` for the current user and move on to the next."""
        action = int(action)
        user = self.current_user
        if action == self.drop_action:
            valid = bool(self.mask()[action])
        else:
            valid = 0 <= action < self.drop_action and bool(self.free[action % self.n_rbs])
        if valid and action != self.drop_action:
            encoder, rb = divmod(action, self.n_rbs)
            self.free[rb] = False
            step = Step(user, int(encoder), int(rb), True)
        else:
            step = Step(user, NOT_SERVED, NOT_SERVED, valid)
        self.steps.append(step)
        self.position += 1
        return step


def problem_assignment(observer: ObservationEncoder | SizeFreeEncoder,
                       problem: SchedulingProblem, user_order: str,
                       slot_duration_s: float,
                       template: np.ndarray | SizeFreeSlot | None = None,
                       snr_feature: np.ndarray | None = None) -> SlotAssignment:
    """The assignment of a scheduling problem's requesting users (its observation, and
    in the closed loop its queue state), as the closed-loop environment and the RL
    scheduler both see it: the size-free observer gets the rows' expected costs and
    penalties (statistical information) and the queue view; the MLP observation gets
    the queue features appended (to the slot's template, once). ``template`` and
    ``snr_feature`` (the users' mean-SNR feature, (U, Q)): this slot's, if the caller
    has them (computed for many slots at once): the MLP observer's slot template, or
    the size-free observer's slot features without the queue view (every user's row
    filled in: only the requesting users' rows are read)."""
    seen = problem.observation
    users, n_all = seen.users, seen.distance_m.size
    if isinstance(observer, SizeFreeEncoder):
        queue = (None if problem.queue is None
                 else queue_view(problem.queue, users, n_all, slot_duration_s))
        if template is None:
            cost = np.zeros((n_all, *problem.cost.shape[1:]))
            cost[users] = problem.cost
            penalty = np.zeros(n_all)
            penalty[users] = problem.drop_penalty
            template = observer.slot_template(seen.interference_w, seen.distance_m,
                                              seen.user_cpu_hz, seen.mean_snr, cost, penalty,
                                              queue)
        else:
            template = template.with_queue(queue)
    else:
        if template is None:
            template = observer.slot_template(seen.interference_w, seen.distance_m,
                                              seen.user_cpu_hz, seen.mean_snr)
        if problem.queue is not None:  # the template, then the queue features
            packed = queue_packed(problem.queue, users, observer.n_users, slot_duration_s)
            whole = np.empty(template.size + packed.size, dtype=np.float32)
            whole[:template.size] = template
            whole[template.size:] = clip_bound(packed)  # float32 as astype rounds it
            template = whole
    order = assignment_order(users, seen.distance_m, user_order)
    if snr_feature is None:  # the size-free features hold it already
        snr_feature = (template.snr if isinstance(template, SizeFreeSlot)
                       else ObservationEncoder.snr_feature(seen.mean_snr))
    return SlotAssignment(observer, order.tolist(), template, snr_feature, problem.shape[1],
                          problem.voluntary_drop)
