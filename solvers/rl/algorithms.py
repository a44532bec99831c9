"""The RL algorithms a scenario can train, built from the scenario's ``rl`` section.

- ``ppo``: MaskablePPO (sb3-contrib): PPO (Schulman et al. 2017) whose policy puts zero
  probability on masked actions (Huang & Ontanon 2020, invalid action masking).
- ``dqn``: :class:`solvers.rl.dqn.MaskableDQN`, DQN acting among valid actions only.
- ``sac``: :class:`solvers.rl.sac_discrete.SACDiscrete`, SAC for discrete actions
  (Christodoulou 2019), masked.

With ``rl.policy: size_free`` each takes its size-free network
(:mod:`solvers.rl.size_free`), one model for every cell size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from netsim.rl.masks import MaskSpec
from netsim.scenario import RL
from solvers.rl.dqn import MaskableDQN
from solvers.rl.sac_discrete import SACDiscrete
from solvers.rl.size_free import (
    SizeFreeActorCriticPolicy,
    SizeFreeDQNPolicy,
    SizeFreeSACPolicy,
)


def learning_rate(rl: RL) -> float | Callable[[float], float]:
    """rl.learning_rate, constant or falling linearly to 0 with SB3's progress_remaining
    (1 at the start of training, 0 at the end)."""
    if rl.learning_rate_schedule == "constant":
        return rl.learning_rate
    return LinearSchedule(rl.learning_rate, 0.0, 1.0)


def shared_settings(rl: RL, seed: int, tensorboard_dir: Path | None,
                    mask_spec: MaskSpec | None = None) -> dict:
    """Hyperparameters every algorithm takes alike (the same tuning effort for all)."""
    policy_kwargs: dict = {"net_arch": list(rl.net_arch)}
    if rl.policy == "size_free":
        policy_kwargs["n_encoders"] = mask_spec.n_encoders  # type: ignore[union-attr]
    return {
        "learning_rate": learning_rate(rl),
        "batch_size": rl.batch_size,
        "gamma": rl.gamma,
        "policy_kwargs": policy_kwargs,
        "tensorboard_log": None if tensorboard_dir is None else str(tensorboard_dir),
        "seed": seed,
        "device": "cpu",
    }


def make_ppo(env: VecEnv, rl: RL, seed: int, tensorboard_dir: Path | None,
             mask_spec: MaskSpec) -> MaskablePPO:
    return MaskablePPO(
        SizeFreeActorCriticPolicy if rl.policy == "size_free" else "MlpPolicy", env, n_steps=rl.n_steps, n_epochs=rl.n_epochs, gae_lambda=rl.gae_lambda,
        clip_range=rl.clip_range, ent_coef=rl.ent_coef,
        **shared_settings(rl, seed, tensorboard_dir, mask_spec),
    )


def make_dqn(env: VecEnv, rl: RL, seed: int, tensorboard_dir: Path | None,
             mask_spec: MaskSpec) -> MaskableDQN:
    return MaskableDQN(
        SizeFreeDQNPolicy if rl.policy == "size_free" else "MlpPolicy", env, mask_spec=mask_spec, buffer_size=rl.buffer_size,
        learning_starts=rl.learning_starts, train_freq=rl.train_freq,
        target_update_interval=rl.target_update_interval,
        exploration_fraction=rl.exploration_fraction,
        exploration_final_eps=rl.exploration_final_eps,
        **shared_settings(rl, seed, tensorboard_dir, mask_spec),
    )


def make_sac(env: VecEnv, rl: RL, seed: int, tensorboard_dir: Path | None,
             mask_spec: MaskSpec) -> SACDiscrete:
    return SACDiscrete(
        SizeFreeSACPolicy if rl.policy == "size_free" else "MlpPolicy", env, mask_spec=mask_spec, buffer_size=rl.buffer_size,
        learning_starts=rl.learning_starts, train_freq=rl.train_freq, tau=rl.tau,
        **shared_settings(rl, seed, tensorboard_dir, mask_spec),
    )


def masked_predict(model: BaseAlgorithm) -> Callable[[np.ndarray, np.ndarray], int]:
    """The trained policy as (observation, mask) -> action, deterministic."""

    def act(observation: np.ndarray, mask: np.ndarray) -> int:
        action, _ = model.predict(observation, action_masks=mask, deterministic=True)
        return int(action)

    return act


ALGORITHMS: dict[str, tuple[Callable[..., BaseAlgorithm], type[BaseAlgorithm]]] = {
    "ppo": (make_ppo, MaskablePPO),
    "dqn": (make_dqn, MaskableDQN),
    "sac": (make_sac, SACDiscrete),
}
"""name -> (constructor, class whose ``load`` restores a checkpoint)."""

ALGORITHM_NAMES = tuple(ALGORITHMS)

OFF_POLICY = frozenset({"dqn", "sac"})
"""Algorithms that learn from a replay buffer, after ``rl.learning_starts`` steps."""


def learns_nothing(rl: RL, algo: str, steps: int) -> str | None:
    """Why a training of ``steps`` steps leaves the model as it was initialised (one
    line), or None: SB3's off-policy algorithms collect ``rl.train_freq`` steps in each
    environment between updates, and update once more than ``rl.learning_starts``
    steps are in the replay buffer (a training ends at the end of such a rollout)."""
    rollout = rl.train_freq * rl.n_envs
    if algo in OFF_POLICY and -(-steps // rollout) * rollout <= rl.learning_starts:
        return (f"{algo}: {steps} steps train nothing: its first gradient step comes after "
                f"rl.learning_starts ({rl.learning_starts}) steps; lower rl.learning_starts "
                "or train longer")
    return None
