"""A trained RL model as a scheduler like any other: a scenario names it with
``{type: rl, algo: ppo, model_path: results/.../model.zip}`` and ``netsim run`` compares
it with the exact and heuristic schedulers on the same worlds.

The policy assigns the requesting users one after another, in the training scenario's
``rl.user_order``, as in training (:mod:`netsim.rl.env`), seeing the slot's observation (no fading) and the action mask.
The observation is scaled with the constants of the scenario it was trained on
(``scenario.yaml`` beside the model), and the cell must have the same users, RBs and
encoders as that scenario; a size-free model (``rl.policy: size_free``) runs on any
number of users and RBs (and, in the closed loop, BS cores) with the same encoders,
seeing the expected cost as the statistical schedulers do.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import numpy as np

from netsim.loading import load_scenario
from netsim.rl.assignment import problem_assignment, training_problem
from netsim.rl.observation import ObservationEncoder, observation_size
from netsim.rl.queue_env import queue_observation_size
from netsim.rl.size_free import SizeFreeEncoder, size_free_observation_size, size_free_spaces
from netsim.scenario import Scenario
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Allocation,
    ParameterError,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.rl.algorithms import ALGORITHM_NAMES, ALGORITHMS
from solvers.rl.size_free import SizeFreeActorCriticPolicy, SizeFreeDQNPolicy, SizeFreeSACPolicy

SIZE_FREE_POLICIES = (SizeFreeActorCriticPolicy, SizeFreeDQNPolicy, SizeFreeSACPolicy)


class RLParams(SchedulerParams):
    algo: Literal[ALGORITHM_NAMES] = "ppo"  # type: ignore[valid-type]
    model_path: str
    """The trained model (model.zip written by netsim train), relative to the scenario."""


def load_model(path: Path, algo: str, cell: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """The trained model at ``path`` as ``algo``, loaded once per file version: the
    scenario check and every seed's scheduler share it (inference leaves it unchanged).
    ``cell`` = (n_rbs, n_encoders): a size-free model's spaces set for a cell of that
    many RBs (its weights fit any)."""
    stat = Path(path).stat()
    return _load_model(str(Path(path).resolve()), algo, stat.st_mtime_ns, stat.st_size, cell)


@functools.lru_cache(maxsize=8)
def _load_model(path: str, algo: str, mtime_ns: int, size: int,  # type: ignore[no-untyped-def]
                cell: tuple[int, int] | None):
    custom = None if cell is None else size_free_spaces(*cell)
    return ALGORITHMS[algo][1].load(path, device="cpu", custom_objects=custom)


def check_model_file(path: Path, algo: str, scenario: Scenario) -> None:
    """Load the model as ``algo`` and check its spaces against those of the scenario it
    was trained on (``scenario``; the closed loop's observation is longer): a corrupt,
    truncated, other-algorithm or other-size file is a ParameterError here (so `netsim
    validate` sees it), not a crash in the middle of a run."""
    try:
        model = load_model(path, algo)
    except Exception as error:  # noqa: BLE001 - any failure to load is the same answer
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ParameterError("model_path", f"{path} cannot be loaded as a {algo} model "
                             f"({type(error).__name__}{': ' + first[:120] if first else ''})"
                             ) from None
    n_users, n_rbs = scenario.users.count, scenario.cell.n_rbs
    size_free = scenario.rl.policy == "size_free"
    if size_free != isinstance(model.policy, SIZE_FREE_POLICIES):
        raise ParameterError("model_path", f"{path}: its scenario.yaml says rl.policy: "
                             f"{scenario.rl.policy}, its network is not"
                             f"{'' if size_free else ' an mlp'}"
                             f"{' size-free' if size_free else ''}")
    if size_free:
        expected: tuple[int, ...] = (size_free_observation_size(n_rbs, len(scenario.encoders)),)
    elif scenario.delay_model == "analytic":
        expected = (observation_size(n_users, n_rbs),)
    else:
        expected = (queue_observation_size(n_users, n_rbs, scenario.base_station.cores),)
    actions = len(scenario.encoders) * n_rbs + 1  # every (encoder, RB), and "not served"
    if model.observation_space.shape != expected:
        raise ParameterError("model_path", f"{path}: its network takes observations of shape "
                             f"{model.observation_space.shape}, the scenario.yaml beside it "
                             f"gives {expected}")
    if getattr(model.action_space, "n", actions) != actions:
        raise ParameterError("model_path", f"{path}: its network has "
                             f"{model.action_space.n} actions, this scenario {actions}")


class RLScheduler(Scheduler):
    Params = RLParams
    uses_cost = False
    uses_observation = True

    @classmethod
    def prepare(cls, params: RLParams, scenario: Scenario) -> RLParams:
        path = Path(params.model_path)
        if not path.is_absolute() and scenario.source_dir is not None:
            path = scenario.source_dir / path
        if not path.is_file():
            raise ParameterError("model_path", f"no such file: {path}")
        trained_on = path.parent / "scenario.yaml"
        if not trained_on.is_file():
            raise ParameterError("model_path", f"{trained_on} (written by netsim train) is missing")
        training = load_scenario(trained_on)
        size_free = training.rl.policy == "size_free"  # runs on any users.count, cell.n_rbs
        if params.information != "statistical":  # else only its label would change
            raise ParameterError("information", (
                "a size-free model sees the expected cost, as it did in training"
                if size_free else "an MLP model decides from its observation alone, the "
                "same at every information level") + ": information must be statistical")
        problem = training_problem(training, scenario)
        if problem is not None:
            raise ParameterError(*problem)
        check_model_file(path, params.algo, training)
        return params.model_copy(update={"model_path": str(path.resolve())})

    def __init__(self, params: RLParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        path = Path(params.model_path)
        training = load_scenario(path.parent / "scenario.yaml")
        self.size_free = training.rl.policy == "size_free"
        self.algo, self.path = params.algo, path
        self.model = None if self.size_free else load_model(path, params.algo)
        self.observer = (SizeFreeEncoder if self.size_free
                         else ObservationEncoder).from_scenario(training)
        if self.size_free:
            self.uses_cost = True  # it reads the expected cost: charge its computation
        self.user_order = training.rl.user_order
        self.slot_duration_s = training.slot_duration_s
        self.queue_aware = training.delay_model == "des"  # trained in the closed loop

    def decide(self, problem: SchedulingProblem) -> Allocation:
        """The policy assigns the slot's requesting users one by one, through the same
        :class:`SlotAssignment` as in training."""
        seen = problem.observation
        n_users, n_encoders, n_rbs = problem.shape
        model = (load_model(self.path, self.algo, (n_rbs, n_encoders)) if self.size_free
                 else self.model)
        assignment = problem_assignment(self.observer, problem, self.user_order,
                                        self.slot_duration_s)
        while not assignment.done:
            action, _ = model.predict(assignment.observation(),
                                      action_masks=assignment.mask(), deterministic=True)
            assignment.act(int(action))
        row_of = {int(user): row for row, user in enumerate(seen.users)}
        encoder = np.full(n_users, NOT_SERVED, dtype=np.int64)
        rb = np.full(n_users, NOT_SERVED, dtype=np.int64)
        served = []  # rows in the order the policy served them
        for step in assignment.steps:
            if step.served:
                row = row_of[step.user]
                encoder[row], rb[row] = step.encoder, step.rb
                served.append(row)
        # in the closed loop the extractions go in the order the policy served, as in training
        return Allocation.from_pairs(encoder, rb, served if self.queue_aware else None)
